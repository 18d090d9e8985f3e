//! Where feeds come from: an S3 bucket, a bucket-shaped folder, or an embedded copy.
//!
//! Every source lists objects and streams byte ranges of them; [`BlockingReader`] turns such a
//! stream into a `std::io::Read` for the CSV decoder running on a blocking thread.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod blocking;
mod embedded;
mod error;
mod local;
mod s3;

use std::ops::Range;

use bytes::Bytes;
use futures::stream::BoxStream;

pub use blocking::BlockingReader;
pub use embedded::EmbeddedSource;
pub use error::{Problem, RefusalKind, S3Refusal, SourceError};
pub use local::LocalSource;
pub use s3::{S3Options, S3Source};

/// One object in a source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectInfo {
    /// Key relative to the source root, `/`-separated, e.g. `productfeed_v1/year=2026/month=10/data.csv`.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Changes whenever the object is written (S3 ETag; modification time for files).
    pub etag: Option<String>,
}

/// A stream of an object's bytes.
pub type ByteStream = BoxStream<'static, Result<Bytes, SourceError>>;

/// A bucket-shaped collection of feed files.
#[async_trait::async_trait]
pub trait Source: Send + Sync {
    /// Where it is, for messages (`/data/feeds`, `s3://bucket/prefix`, `embedded sample-feeds`).
    fn location(&self) -> String;
    /// Every object, sorted by key.
    async fn list(&self) -> Result<Vec<ObjectInfo>, SourceError>;
    /// Streams the bytes of `range` of an object as listed; fails rather than mixing in bytes
    /// of a different version of the object (S3: `If-Match` on its ETag).
    async fn read(&self, object: &ObjectInfo, range: Range<u64>)
        -> Result<ByteStream, SourceError>;

    /// Reads a small range whole (a verification read).
    async fn read_all(
        &self,
        object: &ObjectInfo,
        range: Range<u64>,
    ) -> Result<Vec<u8>, SourceError> {
        use futures::TryStreamExt;
        let key = &object.key;
        let expected = range.end - range.start;
        let chunks: Vec<Bytes> = self.read(object, range).await?.try_collect().await?;
        let data = chunks.concat();
        if data.len() as u64 != expected {
            return Err(SourceError::Read {
                key: key.to_string(),
                problem: Problem::EndedEarly {
                    missing: expected.saturating_sub(data.len() as u64),
                },
            });
        }
        Ok(data)
    }
}
