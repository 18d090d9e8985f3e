//! `status`: what each table holds.

use sdds_feeds::{lineage, Catalog};
use serde::Serialize;

use crate::error::WarehouseError;
use crate::location::Warehouse;
use crate::outcome::LastSync;
use crate::state::TableState;

/// The state of one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableStatus {
    /// Table name.
    pub table: String,
    /// Delta version, or none if the table does not exist yet.
    pub version: Option<u64>,
    /// Rows stored.
    pub rows: u64,
    /// Rows of its source objects set aside in the quarantine table.
    pub rows_quarantined: u64,
    /// When the last sync committed (RFC 3339).
    pub last_sync: Option<String>,
    /// Id of the last sync.
    pub last_sync_id: Option<String>,
    /// Columns the table holds that the feed's schema does not know (AWS added them; they are
    /// kept as text).
    pub new_columns: Vec<String>,
    /// Source objects consumed.
    pub objects: usize,
    /// Source objects that have vanished from the source.
    pub objects_vanished: usize,
    /// How the last sync that touched the table ended: `ok` or `failed`.
    pub last_outcome: Option<&'static str>,
    /// Why it failed (the table holds what the sync before it committed).
    pub last_error: Option<String>,
}

impl TableStatus {
    /// Whether the last sync that touched the table failed.
    pub fn failed(&self) -> bool {
        self.last_error.is_some()
    }
}

/// Reads the status of one table.
pub async fn table_status(
    warehouse: &Warehouse,
    table: &str,
) -> Result<TableStatus, WarehouseError> {
    let delta = warehouse.open_table(table, false).await?;
    let version = delta.version();
    let state = match version {
        Some(_) => TableState::load(&delta, table).await?,
        None => None,
    };
    let last = LastSync::load(&delta, table).await?;
    let new_columns = match (version, Catalog::builtin().feed(table)) {
        (Some(_), Some(feed)) => {
            let schema = delta
                .snapshot()
                .map_err(|e| WarehouseError::delta(table, e))?
                .snapshot()
                .arrow_schema();
            schema
                .fields()
                .iter()
                .map(|f| f.name())
                .filter(|name| feed.column(name).is_none() && !lineage::is_lineage(name))
                .cloned()
                .collect()
        }
        _ => Vec::new(),
    };
    Ok(TableStatus {
        last_outcome: last
            .as_ref()
            .map(|l| if l.error.is_some() { "failed" } else { "ok" }),
        last_error: last.and_then(|l| l.error),
        table: table.to_string(),
        version,
        rows: state.as_ref().map_or(0, TableState::rows),
        rows_quarantined: state.as_ref().map_or(0, TableState::quarantined),
        last_sync: state.as_ref().map(|s| s.synced_at.clone()),
        last_sync_id: state.as_ref().map(|s| s.sync_id.clone()),
        new_columns,
        objects: state.as_ref().map_or(0, |s| s.objects.len()),
        objects_vanished: state
            .as_ref()
            .map_or(0, |s| s.objects.values().filter(|o| o.vanished).count()),
    })
}
