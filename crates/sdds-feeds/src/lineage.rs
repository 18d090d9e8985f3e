//! Lineage columns: where every stored row came from.

use arrow::datatypes::{DataType, Field, TimeUnit};

use crate::catalog::UTC;

/// Object key the row was read from.
pub const SOURCE_KEY: &str = "_source_key";
/// 1-based line number in that object where the row's CSV record starts.
pub const SOURCE_LINE: &str = "_source_line";
/// Id of the sync that stored the row.
pub const SYNC_ID: &str = "_sync_id";
/// When the row was stored (UTC).
pub const INGESTED_AT: &str = "_ingested_at";

/// The lineage columns appended to every feed table.
pub fn fields() -> Vec<Field> {
    vec![
        Field::new(SOURCE_KEY, DataType::Utf8, false),
        Field::new(SOURCE_LINE, DataType::Int64, false),
        Field::new(SYNC_ID, DataType::Utf8, false),
        Field::new(
            INGESTED_AT,
            DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            false,
        ),
    ]
}

/// True for the names of lineage columns.
pub fn is_lineage(name: &str) -> bool {
    matches!(name, SOURCE_KEY | SOURCE_LINE | SYNC_ID | INGESTED_AT)
}

/// Lineage shared by all rows of one read of one object.
#[derive(Debug, Clone)]
pub struct Lineage {
    /// Object key.
    pub source_key: String,
    /// Sync id.
    pub sync_id: String,
    /// Ingestion instant, microseconds since the epoch (UTC).
    pub ingested_at_micros: i64,
}
