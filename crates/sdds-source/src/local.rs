//! A local folder laid out like the bucket.

use std::io::{Read, Seek};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use futures::StreamExt;

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
        let path = self.path_of(key);
        let mut file = tokio::task::spawn_blocking(move || {
            let mut file = std::fs::File::open(path)?;
            file.seek(std::io::SeekFrom::Start(range.start))?;
            Ok::<_, std::io::Error>(file)
        })
        .await
        .map_err(|e| err(std::io::Error::other(e)))?
        .map_err(err)?;
        // One blocking task reads the whole range, a chunk at a time, straight from the file
        // into each chunk's buffer (`tokio::fs` would hand every chunk to the blocking pool
        // and copy it once more through its own buffer).
        let (tx, rx) = tokio::sync::mpsc::channel(2);
        let key = key.to_string();
        let mut remaining = range.end.saturating_sub(range.start);
        tokio::task::spawn_blocking(move || {
            while remaining > 0 {
                let want = remaining.min(CHUNK as u64);
                let mut chunk = Vec::with_capacity(want as usize);
                let read = (&mut file).take(want).read_to_end(&mut chunk);
                let item = match read {
                    Ok(0) => Err(Problem::EndedEarly { missing: remaining }),
                    Ok(n) => {
                        remaining -= n as u64;
                        Ok(Bytes::from(chunk))
                    }
                    Err(e) => Err(Problem::Io(e)),
                };
                let failed = item.is_err();
                let item = item.map_err(|problem| SourceError::Read {
                    key: key.clone(),
                    problem,
                });
                if tx.blocking_send(item).is_err() || failed {
                    break;
                }
            }
        });
        let stream = futures::stream::unfold(rx, |mut rx| async move {
            rx.recv().await.map(|item| (item, rx))
        });
        Ok(stream.boxed())
    }
}

#[cfg(test)]
mod tests {
    use futures::TryStreamExt;

    use super::*;

    async fn read(
        source: &LocalSource,
        object: &ObjectInfo,
        range: Range<u64>,
    ) -> Result<Vec<u8>, SourceError> {
        let chunks: Vec<Bytes> = source.read(object, range).await?.try_collect().await?;
        Ok(chunks.concat())
    }

    #[tokio::test]
    async fn reads_exactly_the_range_across_chunks_and_fails_when_the_file_is_short() {
        let dir = tempfile::tempdir().unwrap();
        let data: Vec<u8> = (0..CHUNK * 2 + 1000).map(|i| (i % 251) as u8).collect();
        std::fs::create_dir_all(dir.path().join("feed_v1")).unwrap();
        std::fs::write(dir.path().join("feed_v1/data.csv"), &data).unwrap();
        let source = LocalSource::new(dir.path()).unwrap();
        let listed = source.list().await.unwrap();
        let object = &listed[0];
        assert_eq!(
            (object.key.as_str(), object.size),
            ("feed_v1/data.csv", data.len() as u64)
        );

        let range = 10..(CHUNK as u64 * 2 + 500);
        let bytes = read(&source, object, range.clone()).await.unwrap();
        assert_eq!(bytes, data[range.start as usize..range.end as usize]);
        assert!(read(&source, object, 5..5).await.unwrap().is_empty());

        // The file shrank after it was listed: the read says how much is missing.
        let past_end = (data.len() as u64 - 100)..(data.len() as u64 + 50);
        let err = read(&source, object, past_end).await.unwrap_err();
        assert!(
            matches!(
                err,
                SourceError::Read {
                    problem: Problem::EndedEarly { missing: 50 },
                    ..
                }
            ),
            "{err}"
        );
    }
}
