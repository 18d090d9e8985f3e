//! Errors of writing results.

/// What can go wrong writing results.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// Writing to the output failed (a closed pipe, a full disk).
    #[error("cannot write the output")]
    Io(#[from] std::io::Error),
    /// Arrow could not format or encode a value.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// Encoding Parquet failed.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// Computing the results failed.
    #[error("computing the results")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// Parquet holds one table: several statements cannot share a file.
    #[error("Parquet output holds one result; {0} statements were given")]
    SeveralResultsInParquet(usize),
    /// A destination that is not `s3://bucket/key`.
    #[error("{0}: expected s3://bucket/key")]
    BadS3Url(String),
    /// QuickSight's S3 manifest lists CSV or JSON files, not Parquet.
    #[error("a QuickSight manifest can describe CSV or JSON exports, not {0}")]
    ManifestFormat(&'static str),
    /// The upload failed.
    #[error("cannot write {url} ({tried}): {message}")]
    Upload {
        /// The destination.
        url: String,
        /// Profile, region and endpoint used.
        tried: String,
        /// The service's or the connection's error.
        message: String,
    },
}
