//! `optimize`: each source object's small data files merged into one.
//!
//! Every daily sync appends one small file per grown object, so a year of syncs leaves a table
//! of hundreds of files, each opened by every query. Files are merged per source object, never
//! across objects: the sync state keeps knowing which files hold an object's rows, so a
//! rewritten object still replaces exactly its own rows, and incremental sync goes on as before.

use std::sync::Arc;

use deltalake::arrow::array::{new_null_array, ArrayRef, RecordBatch};
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::Action;
use deltalake::logstore::object_store::ObjectStoreExt;
use deltalake::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use deltalake::protocol::DeltaOperation;
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use deltalake::{DeltaTable, DeltaTableError, Path};
use sdds_feeds::{Catalog, Feed};
use serde::Serialize;

use crate::error::WarehouseError;
use crate::location::Warehouse;
use crate::state::{FileRef, TableState, COMMIT_INFO_KEY};
use crate::sync::{remove_action, writer_properties};

/// Files at least this large are left as they are (a month's first load, say): merging them
/// again every time would rewrite most of the table for little gain.
pub const SMALL_FILE_BYTES: i64 = 32 << 20;

/// The small files of one source object, merged into one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compaction {
    /// The source object.
    pub key: String,
    /// Its files to merge, in the order they were written.
    pub files: Vec<FileRef>,
}

/// The compactions a table's state calls for: each object with more than one small file.
pub fn plan(state: &TableState) -> Vec<Compaction> {
    state
        .objects
        .iter()
        .filter_map(|(key, object)| {
            let small: Vec<FileRef> = object
                .files
                .iter()
                .filter(|f| f.size < SMALL_FILE_BYTES)
                .cloned()
                .collect();
            (small.len() > 1).then(|| Compaction {
                key: key.clone(),
                files: small,
            })
        })
        .collect()
}

/// What `optimize` did to one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OptimizeReport {
    /// Table name.
    pub table: String,
    /// Data files before.
    pub files_before: usize,
    /// Data files after.
    pub files_after: usize,
    /// Delta version committed, if anything was merged.
    pub version: Option<u64>,
    /// Why the table failed, if it did (it is left as it was).
    pub error: Option<String>,
}

/// Merges the small files of every feed table and of the quarantine table's feeds; one Delta
/// commit per table that has any, with the data unchanged.
pub async fn optimize(
    warehouse: &Warehouse,
    catalog: &Catalog,
) -> Result<Vec<OptimizeReport>, WarehouseError> {
    warehouse.check_writable(catalog.feeds().iter().map(|f| f.name.as_str()))?;
    let mut reports = Vec::new();
    for feed in catalog.feeds() {
        let opened = warehouse.open_table(&feed.name, false).await;
        let optimized = match opened {
            Ok(table) => optimize_table(warehouse, &table, feed).await,
            Err(e) => Err(e),
        };
        let report = match optimized {
            Ok(report) => report,
            Err(e) => OptimizeReport {
                table: feed.name.clone(),
                error: Some(e.to_string()),
                ..Default::default()
            },
        };
        reports.push(report);
    }
    Ok(reports)
}

/// Merges the small files of `table` as it was opened: when another writer has committed to it
/// since, the commit fails with [`WarehouseError::Conflict`] and nothing changes.
pub async fn optimize_table(
    warehouse: &Warehouse,
    table: &DeltaTable,
    feed: &Feed,
) -> Result<OptimizeReport, WarehouseError> {
    let name = feed.name.as_str();
    let delta = |e: DeltaTableError| WarehouseError::delta(name, e);
    let mut report = OptimizeReport {
        table: name.to_string(),
        ..Default::default()
    };
    let Some(version) = table.version() else {
        return Ok(report);
    };
    let Some(mut state) = TableState::load(table, name).await? else {
        return Ok(report);
    };
    report.files_before = state.objects.values().map(|o| o.files.len()).sum();
    report.files_after = report.files_before;
    let compactions = plan(&state);
    if compactions.is_empty() {
        return Ok(report);
    }
    let schema = table.snapshot().map_err(delta)?.snapshot().arrow_schema();
    let mut writer = RecordBatchWriter::try_new(
        warehouse.table_url(name).as_str(),
        schema.clone(),
        None,
        Some(warehouse.storage_options().clone()),
    )
    .map_err(delta)?
    .with_writer_properties(writer_properties(feed, &schema));
    let mut actions = Vec::new();
    let at = chrono::Utc::now();
    for compaction in &compactions {
        let merged = merge(table, &mut writer, &schema, &compaction.files)
            .await
            .inspect_err(|_| writer.reset())
            .map_err(delta)?;
        let Some(object) = state.objects.get_mut(&compaction.key) else {
            continue;
        };
        object.files.retain(|f| !compaction.files.contains(f));
        for mut add in merged {
            object.files.push(FileRef {
                path: add.path.clone(),
                size: add.size,
            });
            add.data_change = false;
            actions.push(Action::Add(add));
        }
        actions.extend(compaction.files.iter().map(|f| remove_action(f, at, false)));
    }
    report.files_after = state.objects.values().map(|o| o.files.len()).sum();
    // The sync's own state, files updated: `history` counts this commit as part of that sync.
    state.version = version + 1;
    let state_json = serde_json::to_value(&state).map_err(|e| WarehouseError::State {
        table: name.into(),
        source: e,
    })?;
    let properties = CommitProperties::default()
        .with_metadata([(COMMIT_INFO_KEY.to_string(), state_json)])
        .with_max_retries(0);
    let operation = DeltaOperation::Optimize {
        predicate: None,
        target_size: SMALL_FILE_BYTES,
    };
    let snapshot = table.snapshot().map_err(delta)?;
    let committed = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(Some(snapshot), table.log_store(), operation)
        .await
        .map_err(delta)?;
    report.version = Some(committed.version());
    Ok(report)
}

/// Reads `files` in order into `writer` as one new file; returns its add actions. Each file is
/// read whole: all are smaller than [`SMALL_FILE_BYTES`].
async fn merge(
    table: &DeltaTable,
    writer: &mut RecordBatchWriter,
    schema: &SchemaRef,
    files: &[FileRef],
) -> Result<Vec<deltalake::kernel::Add>, DeltaTableError> {
    let store = table.log_store().object_store(None);
    for file in files {
        let bytes = store
            .get(&Path::from(file.path.as_str()))
            .await?
            .bytes()
            .await?;
        for batch in ParquetRecordBatchReaderBuilder::try_new(bytes)?.build()? {
            writer.write(align(batch?, schema)?).await?;
        }
    }
    writer.flush().await
}

/// `batch` with the table's columns in the table's order: a file written before a column was
/// added lacks it (NULL there, as queries read it).
fn align(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, DeltaTableError> {
    let columns: Vec<ArrayRef> = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => Arc::clone(column),
            None => new_null_array(field.data_type(), batch.num_rows()),
        })
        .collect();
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::ObjectState;

    #[test]
    fn only_objects_with_several_small_files_are_merged() {
        let file = |path: &str, size: i64| FileRef {
            path: path.into(),
            size,
        };
        let mut state = TableState::default();
        let mut add = |key: &str, files: Vec<FileRef>| {
            state.objects.insert(
                key.into(),
                ObjectState {
                    files,
                    ..Default::default()
                },
            );
        };
        add("one", vec![file("a", 10)]);
        add(
            "daily",
            vec![
                file("big", SMALL_FILE_BYTES),
                file("d1", 10),
                file("d2", 20),
            ],
        );
        add(
            "big-only",
            vec![
                file("b1", SMALL_FILE_BYTES),
                file("b2", SMALL_FILE_BYTES + 1),
            ],
        );
        assert_eq!(
            plan(&state),
            vec![Compaction {
                key: "daily".into(),
                files: vec![file("d1", 10), file("d2", 20)],
            }]
        );
    }
}
