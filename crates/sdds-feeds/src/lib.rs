//! The SDDS feed catalog and typed CSV decoding.
//!
//! `schemas/*.toml` describe every feed; [`Catalog::builtin`] embeds them. [`decode()`] turns a
//! feed's CSV into Arrow record batches with exact decimals, UTC timestamps and lineage columns.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod catalog;
pub mod decode;
pub mod error;
pub mod lineage;
pub mod value;

pub use catalog::{Catalog, Column, ColumnType, Feed, HistoryKind};
pub use decode::{decode, read_header, unknown_headers, DecodeJob, DecodeSummary, Decoded};
pub use error::{FeedError, FileProblem, RowError};
pub use lineage::Lineage;
