//! A local folder laid out like the bucket.

use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use futures::StreamExt;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use crate::{ByteStream, ObjectInfo, Problem, Source, SourceError};

const CHUNK: usize = 256 * 1024;

/// Feed files under a local directory.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
}

impl LocalSource {
    /// A source rooted at `root`, which must be a directory.
    pub fn new(root: impl Into<PathBuf>) -> Result<LocalSource, SourceError> {
        let root = root.into();
        if !root.is_dir() {
            return Err(SourceError::Location {
                location: root.display().to_string(),
                problem: Problem::NotADirectory,
            });
        }
        Ok(LocalSource { root })
    }

    fn path_of(&self, key: &str) -> PathBuf {
        key.split('/')
            .fold(self.root.clone(), |p, part| p.join(part))
    }
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let meta = entry.metadata()?;
        let path = entry.path();
        if meta.is_dir() {
            walk(root, &path, out)?;
        } else if meta.is_file() {
            // The walk starts at `root`, so every path is below it.
            let Ok(rel) = path.strip_prefix(root) else {
                continue;
            };
            let key = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            let modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
                .map(|d| format!("{}-{}", d.as_nanos(), meta.len()));
            out.push(ObjectInfo {
                key,
                size: meta.len(),
                etag: modified,
            });
        }
    }
    Ok(())
}

#[async_trait::async_trait]
impl Source for LocalSource {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    async fn list(&self) -> Result<Vec<ObjectInfo>, SourceError> {
        let root = self.root.clone();
        let mut objects = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            walk(&root, &root, &mut out).map(|_| out)
        })
        .await
        .map_err(|e| SourceError::Location {
            location: self.location(),
            problem: Problem::Io(e.into()),
        })?
        .map_err(|e| SourceError::Location {
            location: self.location(),
            problem: Problem::Io(e),
        })?;
        objects.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(objects)
    }

    async fn read(
        &self,
        object: &ObjectInfo,
        range: Range<u64>,
    ) -> Result<ByteStream, SourceError> {
        let key = object.key.as_str();
        let err = |e: std::io::Error| SourceError::Read {
            key: key.to_string(),
            problem: Problem::Io(e),
        };
        let mut file = tokio::fs::File::open(self.path_of(key))
            .await
            .map_err(err)?;
        file.seek(std::io::SeekFrom::Start(range.start))
            .await
            .map_err(err)?;
        let key = key.to_string();
        let remaining = range.end.saturating_sub(range.start);
        let stream = futures::stream::unfold((file, remaining), move |(mut file, remaining)| {
            let key = key.clone();
            async move {
                if remaining == 0 {
                    return None;
                }
                let mut buf = vec![0u8; CHUNK.min(remaining as usize)];
                match file.read(&mut buf).await {
                    Ok(0) => Some((
                        Err(SourceError::Read {
                            key,
                            problem: Problem::EndedEarly { missing: remaining },
                        }),
                        (file, 0),
                    )),
                    Ok(n) => {
                        buf.truncate(n);
                        Some((Ok(buf.into()), (file, remaining - n as u64)))
                    }
                    Err(e) => Some((
                        Err(SourceError::Read {
                            key,
                            problem: Problem::Io(e),
                        }),
                        (file, 0),
                    )),
                }
            }
        });
        Ok(stream.boxed())
    }
}
