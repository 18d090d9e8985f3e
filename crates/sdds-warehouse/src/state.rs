//! The record of consumed source state, stored in each sync commit's `commitInfo`.
//!
//! Because it is written in the same Delta commit as the data it describes, the two can never
//! disagree: after a crash the table holds exactly the rows its state says it consumed.

use std::collections::BTreeMap;

use deltalake::DeltaTable;
use futures::StreamExt;
use serde::{Deserialize, Serialize};

use crate::error::WarehouseError;

/// The key under which sdds stores its state in `commitInfo`.
pub const COMMIT_INFO_KEY: &str = "sdds";

/// Bytes before the consumed end that are checksummed to detect rewrites cheaply.
pub const TAIL_BYTES: u64 = 4096;

/// A data file written for one source object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRef {
    /// Path relative to the table root.
    pub path: String,
    /// Size in bytes.
    pub size: i64,
}

/// How much of one source object the table holds.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectState {
    /// Bytes consumed from the start of the object.
    pub consumed: u64,
    /// Object ETag (or file modification stamp) when last read.
    pub etag: Option<String>,
    /// The header line's fields.
    pub header: Vec<String>,
    /// Line feeds consumed (the next appended line is `lines + 1`).
    pub lines: u64,
    /// Rows stored for the object.
    pub rows: u64,
    /// CRC-32 of the last [`TAIL_BYTES`] consumed bytes (or fewer, for small objects).
    pub tail_crc: u32,
    /// Data files holding the object's rows.
    pub files: Vec<FileRef>,
    /// Rows of the object set aside in the quarantine table.
    #[serde(default)]
    pub quarantined: u64,
    /// The object has disappeared from the source (its rows are kept).
    #[serde(default)]
    pub vanished: bool,
}

/// The state of a table after a sync.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// Id of the sync that wrote this state.
    pub sync_id: String,
    /// Delta version of the commit carrying this state.
    #[serde(default)]
    pub version: u64,
    /// When that sync committed (RFC 3339, UTC).
    pub synced_at: String,
    /// Where the source was.
    pub source: String,
    /// Rows this sync added.
    pub rows_added: u64,
    /// Rows this sync removed (objects re-read after a rewrite).
    pub rows_removed: u64,
    /// Source bytes this sync read.
    pub bytes_read: u64,
    /// Per source object key.
    pub objects: BTreeMap<String, ObjectState>,
}

impl TableState {
    /// Rows currently stored, by this state.
    pub fn rows(&self) -> u64 {
        self.objects.values().map(|o| o.rows).sum()
    }

    /// Rows of the stored objects set aside in the quarantine table.
    pub fn quarantined(&self) -> u64 {
        self.objects.values().map(|o| o.quarantined).sum()
    }

    /// Reads the state of the table's loaded version: the newest commit that carries one.
    pub async fn load(
        table: &DeltaTable,
        name: &str,
    ) -> Result<Option<TableState>, WarehouseError> {
        let mut history = table.history(None);
        while let Some(info) = history.next().await {
            let info = info.map_err(|e| WarehouseError::delta(name, e))?;
            if let Some(value) = info.info.get(COMMIT_INFO_KEY) {
                let state =
                    serde_json::from_value(value.clone()).map_err(|e| WarehouseError::State {
                        table: name.to_string(),
                        reason: e.to_string(),
                    })?;
                return Ok(Some(state));
            }
        }
        Ok(None)
    }
}
