//! Query and report results as files finance tools open right: CSV (RFC 4180), JSON and
//! Parquet, plus the aligned text table, written locally or to S3.
//!
//! Text formats print money at its natural scale — two decimals unless the value has more,
//! never ten trailing zeros, never an exponent — and JSON carries decimals as strings, so that
//! no reader rounds a digit away.
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod cell;
mod error;
mod s3;
mod writer;

pub use cell::natural_scale;
pub use error::ExportError;
pub use s3::{quicksight_manifest, S3Destination};
pub use writer::{Format, ResultWriter};
