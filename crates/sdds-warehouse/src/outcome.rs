//! The outcome of the last sync that touched each table, kept next to its Delta log.
//!
//! A failed sync commits nothing, so the Delta log alone cannot say that a table's last sync
//! failed; `status` would show stale data as if it were current. Each sync therefore writes
//! `_sdds_last_sync.json` in the table's directory (a name Delta and vacuum ignore).

use deltalake::logstore::object_store::{ObjectStoreExt, PutPayload};
use deltalake::{DeltaTable, Path};
use serde::{Deserialize, Serialize};

use crate::error::WarehouseError;

const FILE: &str = "_sdds_last_sync.json";

/// How the last sync of a table ended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LastSync {
    /// The sync's id.
    pub sync_id: String,
    /// When it started (RFC 3339).
    pub at: String,
    /// Why it failed; `None` when it succeeded.
    pub error: Option<String>,
}

impl LastSync {
    /// Records `self` for `table`.
    pub async fn store(&self, table: &DeltaTable, name: &str) -> Result<(), WarehouseError> {
        let bytes = serde_json::to_vec(self).map_err(|e| WarehouseError::Outcome {
            table: name.to_string(),
            file: FILE,
            source: e,
        })?;
        table
            .log_store()
            .object_store(None)
            .put(&Path::from(FILE), PutPayload::from(bytes))
            .await
            .map_err(|e| WarehouseError::delta(name, e.into()))?;
        Ok(())
    }

    /// The record for `table`, if a sync has written one.
    pub async fn load(table: &DeltaTable, name: &str) -> Result<Option<LastSync>, WarehouseError> {
        let store = table.log_store().object_store(None);
        let bytes = match store.get(&Path::from(FILE)).await {
            Ok(found) => found
                .bytes()
                .await
                .map_err(|e| WarehouseError::delta(name, e.into()))?,
            Err(deltalake::ObjectStoreError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(WarehouseError::delta(name, e.into())),
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| WarehouseError::Outcome {
                table: name.to_string(),
                file: FILE,
                source: e,
            })
    }
}
