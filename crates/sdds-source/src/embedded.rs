//! Objects held in memory: the sample bucket compiled into the binary, and test fixtures.

use std::collections::BTreeMap;
use std::ops::Range;

use bytes::Bytes;
use futures::StreamExt;

use crate::{ByteStream, ObjectInfo, Problem, Source, SourceError};

/// Objects held in memory, keyed like the bucket.
#[derive(Debug, Clone, Default)]
pub struct EmbeddedSource {
    name: String,
    objects: BTreeMap<String, Bytes>,
}

impl EmbeddedSource {
    /// A source called `name` holding `objects` (key, content).
    pub fn new<'a>(
        name: &str,
        objects: impl IntoIterator<Item = (&'a str, &'static [u8])>,
    ) -> EmbeddedSource {
        let objects = objects
            .into_iter()
            .map(|(k, v)| (k.to_string(), Bytes::from_static(v)))
            .collect();
        EmbeddedSource {
            name: name.to_string(),
            objects,
        }
    }
}

#[async_trait::async_trait]
impl Source for EmbeddedSource {
    fn location(&self) -> String {
        self.name.clone()
    }

    async fn list(&self) -> Result<Vec<ObjectInfo>, SourceError> {
        Ok(self
            .objects
            .iter()
            .map(|(key, data)| ObjectInfo {
                key: key.clone(),
                size: data.len() as u64,
                etag: Some(format!("{:08x}", crc32fast::hash(data))),
            })
            .collect())
    }

    async fn read(
        &self,
        object: &ObjectInfo,
        range: Range<u64>,
    ) -> Result<ByteStream, SourceError> {
        let key = object.key.as_str();
        let data = self.objects.get(key).ok_or_else(|| SourceError::Read {
            key: key.to_string(),
            problem: Problem::Missing,
        })?;
        if range.end > data.len() as u64 || range.start > range.end {
            return Err(SourceError::Read {
                key: key.to_string(),
                problem: Problem::OutOfRange {
                    start: range.start,
                    end: range.end,
                },
            });
        }
        let slice = data.slice(range.start as usize..range.end as usize);
        Ok(futures::stream::once(async move { Ok(slice) }).boxed())
    }
}
