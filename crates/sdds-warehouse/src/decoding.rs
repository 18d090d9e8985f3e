//! The CSV decoder run on a blocking thread, feeding async code: shared by `sync` and
//! `validate`, so both read a file exactly the same way.

use std::io::Read;

use deltalake::arrow::datatypes::SchemaRef;
use sdds_feeds::{decode, DecodeJob, DecodeSummary, Decoded, Feed, FeedError, Lineage};
use tokio::sync::mpsc::Receiver;
use tokio::task::JoinHandle;

/// Decoded items in flight between the decoder and its consumer: memory stays bounded by a
/// few batches, whatever the file size.
const IN_FLIGHT: usize = 2;

/// A [`DecodeJob`] that owns its feed, to be run on a blocking thread.
pub(crate) struct DecodeTask {
    pub feed: Feed,
    pub target: SchemaRef,
    pub lineage: Lineage,
    pub header: Option<Vec<String>>,
    pub first_line: u64,
    pub batch_rows: usize,
}

/// The decoder's outcome: its summary and the input, handed back (the sync keeps its tail).
pub(crate) type Decoding<R> = JoinHandle<Result<(DecodeSummary, R), FeedError>>;

impl DecodeTask {
    /// Starts decoding `input`; batches and rejected rows arrive on the receiver. Dropping the
    /// receiver stops the decoder with [`FeedError::WriterStopped`].
    pub(crate) fn spawn<R: Read + Send + 'static>(
        self,
        mut input: R,
    ) -> (Receiver<Decoded>, Decoding<R>) {
        let (tx, rx) = tokio::sync::mpsc::channel(IN_FLIGHT);
        let DecodeTask {
            feed,
            target,
            lineage,
            header,
            first_line,
            batch_rows,
        } = self;
        let decoding = tokio::task::spawn_blocking(move || {
            let key = lineage.source_key.clone();
            let job = DecodeJob {
                feed: &feed,
                target,
                lineage,
                header,
                first_line,
                batch_rows,
            };
            let summary = decode(&mut input, job, |item| {
                tx.blocking_send(item)
                    .map_err(|_| FeedError::WriterStopped { key: key.clone() })
            })?;
            Ok((summary, input))
        });
        (rx, decoding)
    }
}
