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

/// What one sync read of one object: the input of [`ObjectState::advance`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRead {
    /// The object's rows read before are replaced (it was rewritten, or is read whole again).
    pub replace: bool,
    /// Bytes of the object consumed once this read is stored.
    pub consumed: u64,
    /// The object's ETag when listed.
    pub etag: Option<String>,
    /// The header the rows were read with (none: the file was set aside).
    pub header: Option<Vec<String>>,
    /// The line the read started at (1 for a whole object, [`ObjectState::next_line`] for
    /// appended bytes).
    pub first_line: u64,
    /// Line feeds the read consumed.
    pub lines: u64,
    /// Rows it stored.
    pub rows: u64,
    /// Rows it set aside.
    pub quarantined: u64,
    /// The last consumed bytes (at most [`TAIL_BYTES`]), verified next time.
    pub tail: Vec<u8>,
    /// Data files holding the rows it stored.
    pub files: Vec<FileRef>,
}

impl ObjectState {
    /// The line number of the first appended line, where a read of the bytes after
    /// [`Self::consumed`] starts.
    pub fn next_line(&self) -> u64 {
        self.lines + 1
    }

    /// The state after `read`: the object's rows and files so far plus the new ones, or only
    /// the new ones when it replaces them.
    pub fn advance(old: Option<ObjectState>, read: ObjectRead) -> ObjectState {
        let mut object = match (read.replace, old) {
            (false, Some(old)) => old,
            _ => ObjectState::default(),
        };
        object.consumed = read.consumed;
        object.etag = read.etag;
        object.header = read.header.unwrap_or_default();
        object.lines = read.first_line - 1 + read.lines;
        object.rows += read.rows;
        object.quarantined += read.quarantined;
        object.tail_crc = crc32fast::hash(&read.tail);
        object.files.extend(read.files);
        object.vanished = false;
        object
    }
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
                        source: e,
                    })?;
                return Ok(Some(state));
            }
        }
        Ok(None)
    }
}

#[cfg(test)]
mod tests {
    use super::{FileRef, ObjectRead, ObjectState};

    fn read(replace: bool, first_line: u64, rows: u64, file: &str) -> ObjectRead {
        ObjectRead {
            replace,
            consumed: 100 * first_line,
            etag: Some(format!("e{first_line}")),
            header: Some(vec!["id".into()]),
            first_line,
            lines: rows + u64::from(first_line == 1),
            rows,
            quarantined: 1,
            tail: b"tail".to_vec(),
            files: vec![FileRef {
                path: file.into(),
                size: 10,
            }],
        }
    }

    #[test]
    fn an_appended_read_adds_to_the_object_and_a_replacing_one_starts_it_over() {
        // A new object: a header line and 3 rows.
        let first = ObjectState::advance(None, read(false, 1, 3, "a.parquet"));
        assert_eq!((first.lines, first.rows, first.quarantined), (4, 3, 1));
        assert_eq!(first.next_line(), 5);
        // 2 rows appended from line 5.
        let grown = ObjectState::advance(Some(first.clone()), read(false, 5, 2, "b.parquet"));
        assert_eq!((grown.lines, grown.rows, grown.quarantined), (6, 5, 2));
        assert_eq!(grown.files.len(), 2);
        assert_eq!(grown.etag.as_deref(), Some("e5"));
        // Rewritten: read whole again, only its new rows and files count.
        let mut vanished = grown;
        vanished.vanished = true;
        let rewritten = ObjectState::advance(Some(vanished), read(true, 1, 1, "c.parquet"));
        assert_eq!(
            (rewritten.lines, rewritten.rows, rewritten.quarantined),
            (2, 1, 1)
        );
        assert_eq!(
            rewritten.files,
            vec![FileRef {
                path: "c.parquet".into(),
                size: 10
            }]
        );
        assert!(!rewritten.vanished);
        assert_eq!(rewritten.tail_crc, crc32fast::hash(b"tail"));
    }
}
