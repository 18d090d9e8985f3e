//! `validate`: what a sync of a source would set aside, found without writing anything.

use std::sync::Arc;

use sdds_feeds::{Catalog, Decoded, Feed, FeedError, Lineage, RowError};
use sdds_source::{BlockingReader, ObjectInfo, Source};
use serde::Serialize;

use crate::decoding::DecodeTask;
use crate::error::WarehouseError;
use crate::plan::group_by_feed;

/// Rejected rows shown per file.
const EXAMPLES: usize = 5;

/// What one source file would give.
#[derive(Debug, Clone, Serialize)]
pub struct FileFindings {
    /// The feed table it belongs to.
    pub table: String,
    /// The source key.
    pub key: String,
    /// Rows that would be stored.
    pub rows: u64,
    /// Rows that would be set aside in the quarantine table.
    pub rejected: u64,
    /// The first rejected rows.
    pub examples: Vec<RowError>,
    /// Why a sync would set the whole file aside, if it would.
    pub set_aside: Option<String>,
    /// Why the file cannot be read at all (its encoding, the source), if it cannot.
    pub error: Option<String>,
}

impl FileFindings {
    /// Whether a sync would store every row of the file.
    pub fn is_clean(&self) -> bool {
        self.rejected == 0 && self.set_aside.is_none() && self.error.is_none()
    }
}

/// What a sync of a source would find.
#[derive(Debug, Clone, Serialize)]
pub struct ValidationReport {
    /// Where the source was.
    pub source: String,
    /// One entry per feed file, in table and key order.
    pub files: Vec<FileFindings>,
    /// Source keys that are not feed files.
    pub ignored: Vec<String>,
}

impl ValidationReport {
    /// Whether a sync would store every row of every file.
    pub fn is_clean(&self) -> bool {
        self.files.iter().all(FileFindings::is_clean)
    }
}

/// Reads every feed file of `source` through the decoder a sync uses, writing nothing.
pub async fn validate(
    source: Arc<dyn Source>,
    catalog: &Catalog,
) -> Result<ValidationReport, WarehouseError> {
    let listed = source.list().await?;
    let (groups, ignored) = group_by_feed(catalog, listed);
    let mut files = Vec::new();
    for (feed, objects) in groups {
        for object in objects {
            files.push(check_file(source.as_ref(), feed, &object).await?);
        }
    }
    Ok(ValidationReport {
        source: source.location(),
        files,
        ignored,
    })
}

/// Decodes one whole file, counting what it would store and set aside.
async fn check_file(
    source: &dyn Source,
    feed: &Feed,
    object: &ObjectInfo,
) -> Result<FileFindings, WarehouseError> {
    let mut findings = FileFindings {
        table: feed.name.clone(),
        key: object.key.clone(),
        rows: 0,
        rejected: 0,
        examples: Vec::new(),
        set_aside: None,
        error: None,
    };
    let stream = source.read(object, 0..object.size).await?;
    let task = DecodeTask {
        target: feed.table_schema(),
        feed: feed.clone(),
        lineage: Lineage {
            source_key: object.key.clone(),
            sync_id: String::new(),
            ingested_at_micros: 0,
        },
        header: None,
        first_line: 1,
        batch_rows: sdds_feeds::decode::DEFAULT_BATCH_ROWS,
    };
    let (mut rx, decoder) = task.spawn(BlockingReader::spawn(stream));
    while let Some(item) = rx.recv().await {
        match item {
            Decoded::Batch(batch) => findings.rows += batch.num_rows() as u64,
            Decoded::Rejected(row) => {
                findings.rejected += 1;
                if findings.examples.len() < EXAMPLES {
                    findings.examples.push(row);
                }
            }
        }
    }
    match decoder.await {
        Ok(Ok(_)) => {}
        Ok(Err(FeedError::SetAside { problem, .. })) => {
            findings.set_aside = Some(problem.to_string())
        }
        Ok(Err(error)) => findings.error = Some(error.to_string()),
        Err(crashed) => findings.error = Some(format!("decoder crashed: {crashed}")),
    }
    Ok(findings)
}
