//! Sync history: which Delta version of each table every sync produced.
//!
//! Syncs are numbered 1, 2, ... in commit order across the warehouse; only syncs that changed
//! something are recorded. `--version N` opens every table as it was right after sync N.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use futures::StreamExt;
use sdds_feeds::Catalog;
use serde::Serialize;

use crate::error::WarehouseError;
use crate::location::Warehouse;
use crate::quarantine::{self, SyncStamp, SYNC_KEY};
use crate::state::{TableState, COMMIT_INFO_KEY};

/// One sync's commit to one table.
#[derive(Debug, Clone, Serialize)]
pub struct TableCommit {
    /// Table name.
    pub table: String,
    /// Delta version the sync committed.
    pub version: u64,
    /// Rows added.
    pub rows_added: u64,
    /// Rows removed (rewritten objects).
    pub rows_removed: u64,
    /// Source bytes read.
    pub bytes_read: u64,
    /// Source objects the table holds after the sync.
    pub objects: usize,
}

/// One sync of the warehouse.
#[derive(Debug, Clone, Serialize)]
pub struct SyncEntry {
    /// 1-based sync number.
    pub number: usize,
    /// Sync id.
    pub sync_id: String,
    /// When it ran (RFC 3339).
    pub synced_at: String,
    /// Where the source was.
    pub source: String,
    /// The tables it changed.
    pub tables: Vec<TableCommit>,
}

/// Every recorded sync, oldest first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct History {
    /// The syncs.
    pub syncs: Vec<SyncEntry>,
}

impl History {
    /// Reads the sync history of every table of the catalog.
    pub async fn load(warehouse: &Warehouse, catalog: &Catalog) -> Result<History, WarehouseError> {
        let mut by_sync = BySync::new();
        for feed in catalog.feeds() {
            for (state, _) in
                stamped_commits::<TableState>(warehouse, &feed.name, COMMIT_INFO_KEY).await?
            {
                let entry = entry(&mut by_sync, &state.sync_id, &state.synced_at);
                entry.source.clone_from(&state.source);
                // `optimize` commits the sync's state again (files merged, data unchanged):
                // the sync then stands for the newer version, whose files a vacuum keeps.
                if let Some(seen) = entry.tables.iter_mut().find(|c| c.table == feed.name) {
                    seen.version = seen.version.max(state.version);
                    continue;
                }
                entry.tables.push(TableCommit {
                    table: feed.name.clone(),
                    version: state.version,
                    rows_added: state.rows_added,
                    rows_removed: state.rows_removed,
                    bytes_read: state.bytes_read,
                    objects: state.objects.len(),
                });
            }
        }
        // A sync whose rows were set aside but whose table commit never landed gets an entry
        // of its own.
        let table = quarantine::TABLE;
        for (stamp, read_version) in
            stamped_commits::<SyncStamp>(warehouse, table, SYNC_KEY).await?
        {
            // Quarantine commits never retry: each lands right after the version it read.
            let version = read_version.map_or(0, |v| v + 1);
            let entry = entry(&mut by_sync, &stamp.sync_id, &stamp.synced_at);
            match entry.tables.iter_mut().find(|c| c.table == table) {
                Some(seen) => {
                    seen.version = seen.version.max(version);
                    seen.rows_added += stamp.rows;
                }
                None => entry.tables.push(TableCommit {
                    table: table.to_string(),
                    version,
                    rows_added: stamp.rows,
                    rows_removed: 0,
                    bytes_read: 0,
                    objects: 0,
                }),
            }
        }
        let mut syncs: Vec<SyncEntry> = by_sync.into_values().collect();
        for (i, sync) in syncs.iter_mut().enumerate() {
            sync.number = i + 1;
            sync.tables.sort_by(|a, b| a.table.cmp(&b.table));
        }
        Ok(History { syncs })
    }

    /// The Delta version of every table right after sync `number` (`None`: not created yet).
    pub fn versions_after_sync(
        &self,
        number: usize,
    ) -> Result<HashMap<String, Option<u64>>, String> {
        if number == 0 || number > self.syncs.len() {
            return Err(format!(
                "no sync {number}: the warehouse has syncs 1 to {}",
                self.syncs.len()
            ));
        }
        Ok(self.versions_through(number))
    }

    /// The Delta version of every table as of instant `at`.
    pub fn versions_at(&self, at: DateTime<Utc>) -> HashMap<String, Option<u64>> {
        let count = self
            .syncs
            .iter()
            .take_while(|s| DateTime::parse_from_rfc3339(&s.synced_at).is_ok_and(|t| t <= at))
            .count();
        self.versions_through(count)
    }

    fn versions_through(&self, count: usize) -> HashMap<String, Option<u64>> {
        let mut versions: HashMap<String, Option<u64>> = HashMap::new();
        for sync in &self.syncs {
            for commit in &sync.tables {
                versions.entry(commit.table.clone()).or_insert(None);
                if sync.number <= count {
                    versions.insert(commit.table.clone(), Some(commit.version));
                }
            }
        }
        versions
    }
}

/// Syncs by (start time, id): the order they are numbered in.
type BySync = BTreeMap<(String, String), SyncEntry>;

/// The entry of sync `sync_id`, started at `synced_at`, added when it is not there yet.
fn entry<'a>(by_sync: &'a mut BySync, sync_id: &str, synced_at: &str) -> &'a mut SyncEntry {
    by_sync
        .entry((synced_at.to_string(), sync_id.to_string()))
        .or_insert_with(|| SyncEntry {
            number: 0,
            sync_id: sync_id.to_string(),
            synced_at: synced_at.to_string(),
            source: String::new(),
            tables: Vec::new(),
        })
}

/// What the commits of table `name` record under `key` in their `commitInfo`, newest first,
/// each with the version its commit read; commits without it are skipped.
async fn stamped_commits<T: serde::de::DeserializeOwned>(
    warehouse: &Warehouse,
    name: &str,
    key: &str,
) -> Result<Vec<(T, Option<u64>)>, WarehouseError> {
    let table = warehouse.open_table(name, false).await?;
    if table.version().is_none() {
        return Ok(Vec::new());
    }
    let mut stamped = Vec::new();
    let mut commits = table.history(None);
    while let Some(info) = commits.next().await {
        let info = info.map_err(|e| WarehouseError::delta(name, e))?;
        let Some(value) = info.info.get(key) else {
            continue;
        };
        let stamp = serde_json::from_value(value.clone()).map_err(|e| WarehouseError::State {
            table: name.to_string(),
            source: e,
        })?;
        stamped.push((stamp, info.read_version));
    }
    Ok(stamped)
}
