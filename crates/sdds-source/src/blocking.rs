//! Bridges an async byte stream to a blocking `Read`, with a bounded buffer in between.

use std::io::Read;

use bytes::{Buf, Bytes};
use futures::StreamExt;
use tokio::sync::mpsc::{channel, Receiver};

use crate::{ByteStream, SourceError};

/// Chunks buffered between the network and the decoder.
const BUFFERED_CHUNKS: usize = 8;

/// A `Read` over a [`ByteStream`], pumped by a task on the current tokio runtime.
///
/// Memory stays bounded: at most a few chunks wait between the stream and the reader.
/// Read it from a blocking thread (`spawn_blocking`), never from async code.
pub struct BlockingReader {
    chunks: Receiver<Result<Bytes, SourceError>>,
    current: Bytes,
}

impl BlockingReader {
    /// Starts pumping `stream`; must be called inside a tokio runtime.
    pub fn spawn(mut stream: ByteStream) -> BlockingReader {
        let (tx, rx) = channel(BUFFERED_CHUNKS);
        tokio::spawn(async move {
            while let Some(item) = stream.next().await {
                let failed = item.is_err();
                if tx.send(item).await.is_err() || failed {
                    break;
                }
            }
        });
        BlockingReader {
            chunks: rx,
            current: Bytes::new(),
        }
    }
}

impl Read for BlockingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        while !self.current.has_remaining() {
            match self.chunks.blocking_recv() {
                Some(Ok(chunk)) => self.current = chunk,
                Some(Err(e)) => return Err(std::io::Error::other(e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.current.remaining());
        self.current.copy_to_slice(&mut buf[..n]);
        Ok(n)
    }
}
