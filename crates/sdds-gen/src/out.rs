//! The bucket on disk: one `data.csv` per feed and partition, written through buffered
//! writers, either from scratch or by appending to the files a previous run left.

use std::fs::{self, File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::date::Month;
use crate::feeds::{header, Feed};
use crate::row::Row;
use crate::GenError;

/// A partition directory: the backfill bucket `year=2010/month=01` or a delivery month.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Partition {
    Backfill,
    Month(Month),
}

impl Partition {
    fn dir(self) -> String {
        let (y, m) = match self {
            Partition::Backfill => (2010, 1),
            Partition::Month(month) => month.ym(),
        };
        format!("year={y:04}/month={m:02}")
    }
}

/// Rows, bytes and files written for one feed.
#[derive(Clone, Copy, Debug, Default)]
pub struct FeedStats {
    pub files: u64,
    pub rows: u64,
    pub bytes: u64,
}

struct OpenFile {
    writer: BufWriter<File>,
}

/// Writes rows to the right `data.csv`, creating files (with their header) as needed.
pub struct Output {
    dir: PathBuf,
    append: bool,
    files: Vec<Option<OpenFile>>,
    part: Option<Partition>,
    writing: bool,
    scratch: Vec<u8>,
    error: Option<GenError>,
    pub stats: [FeedStats; 12],
}

impl Output {
    /// `append`: existing files are extended instead of created.
    pub fn new(dir: &Path, append: bool) -> Output {
        Output {
            dir: dir.to_path_buf(),
            append,
            files: (0..12).map(|_| None).collect(),
            part: None,
            writing: false,
            scratch: Vec::with_capacity(4096),
            error: None,
            stats: [FeedStats::default(); 12],
        }
    }

    /// Selects the partition of the day being generated and whether its rows are written.
    /// A new delivery month gets a file for every feed (header-only if nothing arrives).
    pub fn set_day(&mut self, part: Partition, writing: bool) {
        if self.part != Some(part) || !writing {
            self.close_all();
        }
        let opened_month = self.part == Some(part) && self.writing;
        self.part = Some(part);
        self.writing = writing;
        if writing && !opened_month {
            if let Partition::Month(_) = part {
                for feed in Feed::ALL {
                    if feed != Feed::LegacyIdMapping {
                        self.ensure_open(feed);
                    }
                }
            }
        }
    }

    /// Whether rows of the current day are written (callers skip formatting work if not).
    pub fn writing(&self) -> bool {
        self.writing
    }

    pub fn is_backfill(&self) -> bool {
        self.part == Some(Partition::Backfill)
    }

    /// Writes one row of `feed` built by `fill`.
    pub fn row(&mut self, feed: Feed, fill: impl FnOnce(&mut Row)) {
        if !self.writing {
            return;
        }
        self.scratch.clear();
        {
            let mut row = Row::new(&mut self.scratch);
            fill(&mut row);
            row.end();
        }
        self.ensure_open(feed);
        let stats = &mut self.stats[feed.index()];
        stats.rows += 1;
        stats.bytes += self.scratch.len() as u64;
        if let Some(file) = &mut self.files[feed.index()] {
            if let Err(e) = file.writer.write_all(&self.scratch) {
                self.error.get_or_insert(GenError::Io(e.to_string()));
            }
        }
    }

    fn ensure_open(&mut self, feed: Feed) {
        if self.files[feed.index()].is_some() || self.error.is_some() {
            return;
        }
        let Some(part) = self.part else { return };
        match self.open(feed, part) {
            Ok(file) => self.files[feed.index()] = Some(file),
            Err(e) => {
                self.error.get_or_insert(e);
            }
        }
    }

    fn open(&mut self, feed: Feed, part: Partition) -> Result<OpenFile, GenError> {
        let dir = self.dir.join(feed.name()).join(part.dir());
        let path = dir.join("data.csv");
        let io = |e: std::io::Error| GenError::Io(format!("{}: {e}", path.display()));
        fs::create_dir_all(&dir).map_err(io)?;
        let exists = path.exists();
        let file = if self.append {
            OpenOptions::new()
                .create(true)
                .append(true)
                .open(&path)
                .map_err(io)?
        } else {
            File::create(&path).map_err(io)?
        };
        let mut writer = BufWriter::with_capacity(1 << 18, file);
        let stats = &mut self.stats[feed.index()];
        if !(self.append && exists) {
            let head = header(feed, part == Partition::Backfill);
            writer.write_all(head.as_bytes()).map_err(io)?;
            stats.bytes += head.len() as u64;
            stats.files += 1;
        } else if stats.files == 0 {
            stats.files = 1;
        }
        Ok(OpenFile { writer })
    }

    fn close_all(&mut self) {
        for slot in &mut self.files {
            if let Some(mut file) = slot.take() {
                if let Err(e) = file.writer.flush() {
                    self.error.get_or_insert(GenError::Io(e.to_string()));
                }
            }
        }
    }

    /// The first I/O error so far, if any (checked once per day).
    pub fn check(&mut self) -> Result<(), GenError> {
        match self.error.take() {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Flushes and closes every file.
    pub fn finish(&mut self) -> Result<(), GenError> {
        self.close_all();
        self.check()
    }
}
