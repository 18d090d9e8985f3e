//! `sync`: bring every feed table up to date with the source, one Delta commit per table.

use std::collections::HashMap;
use std::io::Read;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};
use deltalake::arrow::datatypes::{DataType, SchemaRef};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, MetadataExt, Remove, StructType};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter, WriteMode};
use deltalake::DeltaTable;
use futures::StreamExt;
use sdds_feeds::{Catalog, Decoded, Feed, FeedError, Lineage};
use sdds_source::{BlockingReader, ObjectInfo, Source};
use serde::Serialize;

use crate::decoding::DecodeTask;
use crate::error::WarehouseError;
use crate::location::Warehouse;
use crate::outcome::LastSync;
use crate::plan::{group_by_feed, read_tails, ObjectAction, PlannedRead, TablePlan};
use crate::quarantine::{self, QuarantineRows, Reread};
use crate::state::{FileRef, ObjectRead, ObjectState, TableState, COMMIT_INFO_KEY, TAIL_BYTES};

/// Settings of one sync run.
#[derive(Clone)]
pub struct SyncOptions {
    /// Id stamped on every row and commit of this run.
    pub sync_id: String,
    /// When the run started.
    pub started_at: DateTime<Utc>,
    /// Rows per record batch.
    pub batch_rows: usize,
    /// Tables synced at the same time.
    pub parallel_tables: usize,
    /// Called with the number of source bytes read, as they are read.
    pub on_bytes: Option<Arc<dyn Fn(u64) + Send + Sync>>,
    /// Called with the number of source bytes a table's plan will read, once planned.
    pub on_planned: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

impl SyncOptions {
    /// Options with a fresh sync id, starting now.
    pub fn new() -> SyncOptions {
        let started_at = Utc::now();
        let sync_id = format!(
            "{}-{}",
            started_at.format("%Y%m%dT%H%M%SZ"),
            &uuid::Uuid::new_v4().simple().to_string()[..8]
        );
        SyncOptions {
            sync_id,
            started_at,
            batch_rows: sdds_feeds::decode::DEFAULT_BATCH_ROWS,
            parallel_tables: 2,
            on_bytes: None,
            on_planned: None,
        }
    }
}

impl Default for SyncOptions {
    fn default() -> Self {
        SyncOptions::new()
    }
}

/// What a sync did to one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TableReport {
    /// Table name.
    pub table: String,
    /// Objects read for the first time.
    pub objects_new: usize,
    /// Objects of which only appended bytes were read.
    pub objects_grown: usize,
    /// Objects re-read because they were rewritten.
    pub objects_rewritten: usize,
    /// Objects with nothing new.
    pub objects_unchanged: usize,
    /// Objects no longer in the source (rows kept).
    pub objects_vanished: usize,
    /// Source bytes read, verification reads included.
    pub bytes_read: u64,
    /// Rows added.
    pub rows_added: u64,
    /// Rows removed because their object was rewritten.
    pub rows_removed: u64,
    /// Rows set aside in the quarantine table (see [`crate::quarantine`]).
    pub rows_quarantined: u64,
    /// Delta version committed, if any.
    pub version: Option<u64>,
    /// Why the table failed, if it did (nothing was written to it).
    pub error: Option<String>,
    /// Not attempted: an earlier table's failure ended the run (see
    /// [`WarehouseError::ends_the_run`]); the table is unchanged.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skipped: bool,
    /// What was loaded but deserves a look.
    pub warnings: Vec<SyncWarning>,
}

/// Something a sync loaded as well as it could, and says so.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, thiserror::Error)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SyncWarning {
    /// A file without some of the feed's columns: they are NULL in its rows.
    #[error("{key}: no column {}; its rows have NULL there", columns.join(", "))]
    MissingColumns {
        /// The source key.
        key: String,
        /// The feed's columns the header lacks.
        columns: Vec<String>,
    },
    /// A file with columns the feed does not know: each is kept, as a text column.
    #[error("{key}: new column {}, kept as text", columns.join(", "))]
    NewColumns {
        /// The source key.
        key: String,
        /// The header's columns the feed does not know.
        columns: Vec<String>,
    },
    /// A 0-byte file: nothing to load.
    #[error("{key}: empty file (0 bytes)")]
    EmptyFile {
        /// The source key.
        key: String,
    },
}

/// What a sync did.
#[derive(Debug, Clone, Default, Serialize)]
pub struct SyncReport {
    /// The run's id.
    pub sync_id: String,
    /// Where the source was.
    pub source: String,
    /// One entry per feed table.
    pub tables: Vec<TableReport>,
    /// Source keys that are not feed files (unknown prefix or layout).
    pub ignored: Vec<String>,
}

impl SyncReport {
    /// Tables that failed (the ones not attempted included).
    pub fn failures(&self) -> impl Iterator<Item = &TableReport> {
        self.tables.iter().filter(|t| t.error.is_some())
    }

    /// Tables not attempted because the run stopped.
    pub fn skipped(&self) -> impl Iterator<Item = &TableReport> {
        self.tables.iter().filter(|t| t.skipped)
    }

    /// Sum of a per-table number.
    pub fn total(&self, f: impl Fn(&TableReport) -> u64) -> u64 {
        self.tables.iter().map(f).sum()
    }
}

/// Syncs every feed of the catalog from `source` into `warehouse`.
///
/// A table that fails is left exactly as it was and reported; the other tables proceed, unless
/// its error [ends the run](WarehouseError::ends_the_run): then the tables not yet started are
/// reported as skipped.
pub async fn sync(
    source: Arc<dyn Source>,
    warehouse: &Warehouse,
    catalog: &Catalog,
    options: &SyncOptions,
) -> Result<SyncReport, WarehouseError> {
    let tables = catalog.feeds().iter().map(|f| f.name.as_str());
    warehouse.check_writable(tables.chain([quarantine::TABLE]))?;
    let listed = source.list().await?;
    let found = listed.len();
    let (groups, ignored) = group_by_feed(catalog, listed);
    if groups.iter().all(|(_, objects)| objects.is_empty()) {
        return Err(WarehouseError::NoFeedFiles {
            location: source.location(),
            found,
            examples: ignored.iter().take(3).cloned().collect(),
        });
    }
    let run = RunContext {
        source: source.as_ref(),
        warehouse,
        options,
        quarantine_lock: tokio::sync::Mutex::new(()),
        stopped: AtomicBool::new(false),
    };
    // Largest first, each table started as soon as a slot frees: the biggest feed is the long
    // pole, and the small ones fill the other core around it instead of trailing after it.
    let mut groups: Vec<_> = groups.into_iter().enumerate().collect();
    groups.sort_by_key(|(index, (_, objects))| {
        (
            std::cmp::Reverse(objects.iter().map(|o| o.size).sum::<u64>()),
            *index,
        )
    });
    let mut tables = futures::stream::iter(groups)
        .map(|(index, (feed, objects))| {
            let run = &run;
            async move {
                let mut report = TableReport {
                    table: feed.name.clone(),
                    ..Default::default()
                };
                if run.stopped.load(Ordering::Relaxed) {
                    report.skipped = true;
                    report.error = Some(format!(
                        "{}: not synced, the sync stopped at an earlier error; unchanged",
                        feed.name
                    ));
                    return (index, report);
                }
                let table = match warehouse.open_table(&feed.name, true).await {
                    Ok(table) => table,
                    Err(e) => {
                        report.error = Some(e.to_string());
                        return (index, report);
                    }
                };
                if let Err(e) = sync_table(run, &table, feed, objects, &mut report).await {
                    if e.ends_the_run() {
                        run.stopped.store(true, Ordering::Relaxed);
                    }
                    report.error = Some(e.to_string());
                    report.version = None;
                    report.rows_added = 0;
                    report.rows_removed = 0;
                    report.rows_quarantined = 0;
                }
                record_outcome(&table, feed, options, &mut report).await;
                (index, report)
            }
        })
        .buffer_unordered(options.parallel_tables.max(1))
        .collect::<Vec<_>>()
        .await;
    tables.sort_by_key(|(index, _)| *index);
    let tables = tables.into_iter().map(|(_, report)| report).collect();
    Ok(SyncReport {
        sync_id: options.sync_id.clone(),
        source: source.location(),
        tables,
        ignored,
    })
}

/// Records how this sync ended for the table, when it did anything or failed (a table with no
/// objects and no data is left alone). Failing to record is itself the table's error.
///
/// `table` is the table as it was before this sync.
async fn record_outcome(
    table: &DeltaTable,
    feed: &Feed,
    options: &SyncOptions,
    report: &mut TableReport,
) {
    if report.error.is_none() && report.version.is_none() && table.version().is_none() {
        return;
    }
    let record = LastSync {
        sync_id: options.sync_id.clone(),
        at: options
            .started_at
            .to_rfc3339_opts(SecondsFormat::Millis, true),
        error: report.error.clone(),
    };
    if let Err(e) = record.store(table, &feed.name).await {
        report.error.get_or_insert_with(|| e.to_string());
    }
}

/// Rows per Parquet row group while writing. The writer holds a row group's encoded pages in
/// memory until it is complete, so this bounds a sync's memory per table (a month of billing
/// events is one row group otherwise); smaller groups also let queries skip more by statistics.
const ROW_GROUP_ROWS: usize = 64 * 1024;

/// Snappy, bounded row groups, and no min/max statistics on text columns: the feeds' text is
/// ids (random, so every file spans the whole range) and enumerations every monthly file holds
/// all of, so those statistics never let a query skip a file, while comparing every value to
/// keep them was a sixth of a full sync's CPU. Numbers, decimals and timestamps keep theirs.
///
/// No dictionary for the feed's one-column key either: it is distinct in (nearly) every row,
/// so its dictionary overflows and the writer falls back to plain values after hashing a
/// megabyte of them per row group. The files come out the same size, the sync a few per cent
/// faster.
pub(crate) fn writer_properties(
    feed: &Feed,
    schema: &SchemaRef,
) -> deltalake::parquet::file::properties::WriterProperties {
    use deltalake::parquet::basic::Compression;
    use deltalake::parquet::file::properties::EnabledStatistics;
    use deltalake::parquet::schema::types::ColumnPath;
    let mut builder = deltalake::parquet::file::properties::WriterProperties::builder()
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_compression(Compression::SNAPPY);
    for field in schema.fields() {
        if field.data_type().is_string() {
            let column = ColumnPath::from(field.name().as_str());
            builder =
                builder.set_column_statistics_enabled(column.clone(), EnabledStatistics::None);
            if feed.unique_column() == Some(field.name().as_str()) {
                builder = builder.set_column_dictionary_enabled(column, false);
            }
        }
    }
    builder.build()
}

/// Fails when a stored column's type differs from the catalog's (say a column first kept as
/// text and later declared decimal): decoding new values for it would otherwise lose them.
fn check_stored_types(feed: &Feed, stored: &SchemaRef) -> Result<(), WarehouseError> {
    let wanted = feed.table_schema();
    for field in wanted.fields() {
        let Ok(have) = stored.field_with_name(field.name()) else {
            continue;
        };
        if !same_type(have.data_type(), field.data_type()) {
            return Err(WarehouseError::TypeConflict {
                table: feed.name.clone(),
                column: field.name().clone(),
                stored: have.data_type().clone(),
                catalog: field.data_type().clone(),
            });
        }
    }
    Ok(())
}

/// Type equality up to how a UTC zone is spelled and string encodings.
fn same_type(a: &DataType, b: &DataType) -> bool {
    use DataType::*;
    let utc = |zone: &Option<std::sync::Arc<str>>| {
        zone.as_deref()
            .map(|z| matches!(z, "UTC" | "+00:00" | "Z" | "Etc/UTC"))
    };
    match (a, b) {
        (Timestamp(ua, za), Timestamp(ub, zb)) => ua == ub && utc(za) == utc(zb),
        (Utf8 | LargeUtf8 | Utf8View, Utf8 | LargeUtf8 | Utf8View) => true,
        _ => a == b,
    }
}

/// What the tables synced side by side in one run share.
struct RunContext<'a> {
    source: &'a dyn Source,
    warehouse: &'a Warehouse,
    options: &'a SyncOptions,
    /// Every table's quarantined rows go to one table, a commit at a time.
    quarantine_lock: tokio::sync::Mutex<()>,
    /// A table failed in a way every later table would too.
    stopped: AtomicBool,
}

async fn sync_table(
    run: &RunContext<'_>,
    table: &DeltaTable,
    feed: &Feed,
    objects: Vec<ObjectInfo>,
    report: &mut TableReport,
) -> Result<(), WarehouseError> {
    let (source, warehouse, options) = (run.source, run.warehouse, run.options);
    let name = feed.name.as_str();
    let delta = |e: deltalake::DeltaTableError| WarehouseError::delta(name, e);
    let url = warehouse.table_url(name);
    let exists = table.version().is_some();
    if !exists && objects.is_empty() {
        return Ok(());
    }
    let old_state = if exists {
        TableState::load(table, name).await?
    } else {
        None
    };
    let plan = TablePlan::new(objects, old_state.as_ref());
    report.objects_unchanged = plan.count(ObjectAction::Unchanged);
    report.objects_vanished = plan.vanished.len();
    if exists && plan.is_noop() {
        return Ok(());
    }
    let tails = read_tails(source, &plan, old_state.as_ref()).await?;
    let reads = plan.reads(old_state.as_ref(), &tails);
    let count = |action| reads.iter().filter(|r| r.action == action).count();
    report.objects_new = count(ObjectAction::New);
    report.objects_grown = count(ObjectAction::Grown);
    report.objects_rewritten = count(ObjectAction::Rewritten);
    report.bytes_read = reads.iter().map(|r| r.verified_bytes).sum();
    if let Some(on_planned) = &options.on_planned {
        on_planned(reads.iter().map(|r| r.range.end - r.range.start).sum());
    }

    let table_schema: SchemaRef = if exists {
        let stored = table.snapshot().map_err(delta)?.snapshot().arrow_schema();
        check_stored_types(feed, &stored)?;
        stored
    } else {
        feed.table_schema()
    };
    let writer = RecordBatchWriter::try_new(
        url.as_str(),
        table_schema.clone(),
        None,
        Some(warehouse.storage_options().clone()),
    )
    .map_err(delta)?
    .with_writer_properties(writer_properties(feed, &table_schema));
    let mut state = old_state.unwrap_or_default();
    for key in &plan.vanished {
        if let Some(object) = state.objects.get_mut(key) {
            object.vanished = true;
        }
    }
    let mut read = TableRead {
        writer,
        quarantined: QuarantineRows::new(warehouse, name, &options.sync_id, options.started_at),
        rereads: Vec::new(),
        removes: Vec::new(),
        adds: Vec::new(),
    };
    for planned in &reads {
        let old = state.objects.get(&planned.object.key).cloned();
        let object = read.object(run, feed, planned, old, report).await?;
        state.objects.insert(planned.object.key.clone(), object);
    }
    let TableRead {
        writer,
        quarantined,
        rereads,
        removes,
        adds,
    } = read;

    {
        let _one_at_a_time = run.quarantine_lock.lock().await;
        report.rows_quarantined = quarantine::commit(warehouse, &rereads, quarantined).await?;
    }
    state.sync_id = options.sync_id.clone();
    // Commits never retry, so this commit lands right after the version it read, or as 0.
    state.version = table.version().map_or(0, |v| v + 1);
    state.synced_at = options
        .started_at
        .to_rfc3339_opts(SecondsFormat::Millis, true);
    state.source = source.location();
    state.rows_added = report.rows_added;
    state.rows_removed = report.rows_removed;
    state.bytes_read = report.bytes_read;
    let mut actions: Vec<Action> = removes;
    actions.extend(adds);
    let pending = PendingCommit {
        state,
        actions,
        stored_schema: table_schema,
        schema: writer.arrow_schema(),
    };
    report.version = Some(commit_table(table, feed, pending).await?);
    Ok(())
}

/// The read step of one table's sync: each planned object read into the table's writer and
/// the quarantine, gathering what the commit will carry.
struct TableRead {
    writer: RecordBatchWriter,
    quarantined: QuarantineRows,
    /// Where each object was read from (what it had quarantined from there is stale).
    rereads: Vec<Reread>,
    /// The files of objects whose rows are replaced.
    removes: Vec<Action>,
    /// The files written.
    adds: Vec<Action>,
}

impl TableRead {
    /// Reads what is new of one object; returns its state once committed.
    async fn object(
        &mut self,
        run: &RunContext<'_>,
        feed: &Feed,
        read: &PlannedRead,
        old: Option<ObjectState>,
        report: &mut TableReport,
    ) -> Result<ObjectState, WarehouseError> {
        let (source, options) = (run.source, run.options);
        let key = &read.object.key;
        if read.object.size == 0 {
            report
                .warnings
                .push(SyncWarning::EmptyFile { key: key.clone() });
        }
        report.bytes_read += read.range.end - read.range.start;
        if let (true, Some(old)) = (read.replace, &old) {
            report.rows_removed += old.rows;
            let at = options.started_at;
            self.removes
                .extend(old.files.iter().map(|f| remove_action(f, at, true)));
        }
        let lineage = Lineage {
            source_key: key.clone(),
            sync_id: options.sync_id.clone(),
            ingested_at_micros: options.started_at.timestamp_micros(),
        };
        self.rereads.push(Reread {
            source_key: key.clone(),
            from_line: (read.range.start > 0).then_some(read.first_line),
        });
        let outcome = read_object(
            source,
            feed,
            read,
            lineage,
            &mut self.writer,
            &mut self.quarantined,
            options,
        )
        .await?;
        if let Some(header) = &outcome.header {
            report.warnings.extend(header_warnings(feed, key, header));
        }
        let new_adds = self
            .writer
            .flush()
            .await
            .map_err(|e| WarehouseError::delta(&feed.name, e))?;
        let files: Vec<FileRef> = new_adds
            .iter()
            .map(|a| FileRef {
                path: a.path.clone(),
                size: a.size,
            })
            .collect();
        self.adds.extend(new_adds.into_iter().map(Action::Add));
        report.rows_added += outcome.rows;
        let header = outcome
            .header
            .map(|header| read.header.clone().unwrap_or(header));
        Ok(ObjectState::advance(
            old,
            ObjectRead {
                replace: read.replace,
                consumed: read.range.end,
                etag: read.object.etag.clone(),
                header,
                first_line: read.first_line,
                lines: outcome.lines,
                rows: outcome.rows,
                quarantined: outcome.quarantined,
                tail: outcome.tail,
                files,
            },
        ))
    }
}

/// What a file's header says that deserves a look: feed columns it lacks, columns the feed
/// does not know.
fn header_warnings(feed: &Feed, key: &str, header: &[String]) -> Vec<SyncWarning> {
    let mut warnings = Vec::new();
    let columns = missing_columns(feed, header);
    if !columns.is_empty() {
        warnings.push(SyncWarning::MissingColumns {
            key: key.to_string(),
            columns,
        });
    }
    let columns = sdds_feeds::unknown_headers(feed, header);
    if !columns.is_empty() {
        warnings.push(SyncWarning::NewColumns {
            key: key.to_string(),
            columns,
        });
    }
    warnings
}

/// What one table's sync commits: the data files added and removed, the new state, and the
/// schema the files have.
struct PendingCommit {
    state: TableState,
    actions: Vec<Action>,
    /// The table's schema before this sync.
    stored_schema: SchemaRef,
    /// The files' schema: the stored one, plus any columns new in the source.
    schema: SchemaRef,
}

/// Whether files of schema `written` add columns to a table of schema `stored`; a column both
/// have must have the same type in both (a mismatch would store values the table cannot read
/// back as they were), and no stored column may be missing from `written`.
fn schema_grows(
    table: &str,
    stored: &SchemaRef,
    written: &SchemaRef,
) -> Result<bool, WarehouseError> {
    for field in stored.fields() {
        let have = written.field_with_name(field.name()).ok();
        if !have.is_some_and(|have| same_type(field.data_type(), have.data_type())) {
            return Err(WarehouseError::TypeConflict {
                table: table.to_string(),
                column: field.name().clone(),
                stored: field.data_type().clone(),
                catalog: have.map_or(DataType::Null, |h| h.data_type().clone()),
            });
        }
    }
    Ok(written.fields().len() > stored.fields().len())
}

/// Commits `pending` as the table's next version (creating the table on its first sync), with
/// the state in the same commit; returns the version.
async fn commit_table(
    table: &DeltaTable,
    feed: &Feed,
    pending: PendingCommit,
) -> Result<u64, WarehouseError> {
    let name = feed.name.as_str();
    let delta = |e: deltalake::DeltaTableError| WarehouseError::delta(name, e);
    let state_json = serde_json::to_value(&pending.state).map_err(|e| WarehouseError::State {
        table: name.into(),
        source: e,
    })?;
    let properties = CommitProperties::default()
        .with_metadata([
            (COMMIT_INFO_KEY.to_string(), state_json),
            (
                "engineInfo".to_string(),
                format!("sdds {}", env!("CARGO_PKG_VERSION")).into(),
            ),
        ])
        .with_max_retries(0);
    let final_schema: StructType = pending
        .schema
        .as_ref()
        .try_into_kernel()
        .map_err(|e| delta(e.into()))?;
    let mut actions = pending.actions;
    if table.version().is_none() {
        let created = table
            .create()
            .with_table_name(name)
            .with_comment(feed.description.clone())
            .with_columns(final_schema.fields().cloned())
            .with_actions(actions)
            .with_commit_properties(properties)
            .await
            .map_err(delta)?;
        return Ok(created.version().unwrap_or(0));
    }
    let snapshot = table.snapshot().map_err(delta)?;
    if schema_grows(name, &pending.stored_schema, &pending.schema)? {
        let metadata = snapshot
            .metadata()
            .clone()
            .with_schema(&final_schema)
            .map_err(|e| delta(e.into()))?;
        actions.push(Action::Metadata(metadata));
    }
    let operation = DeltaOperation::Write {
        mode: SaveMode::Append,
        partition_by: None,
        predicate: None,
    };
    let finalized = CommitBuilder::from(properties)
        .with_actions(actions)
        .build(Some(snapshot), table.log_store(), operation)
        .await
        .map_err(delta)?;
    Ok(finalized.version())
}

/// The feed's columns that `header` does not have (names compared without case).
fn missing_columns(feed: &Feed, header: &[String]) -> Vec<String> {
    feed.columns
        .iter()
        .filter(|c| {
            !header
                .iter()
                .any(|h| h.trim().eq_ignore_ascii_case(&c.name))
        })
        .map(|c| c.name.clone())
        .collect()
}

/// What reading one object produced.
struct ObjectOutcome {
    rows: u64,
    /// Rows set aside.
    quarantined: u64,
    lines: u64,
    header: Option<Vec<String>>,
    /// The last [`TAIL_BYTES`] bytes consumed.
    tail: Vec<u8>,
}

/// Streams one object range through the decoder (on a blocking thread) into the writer, and
/// its rows that cannot be stored into `quarantined`.
async fn read_object(
    source: &dyn Source,
    feed: &Feed,
    read: &PlannedRead,
    lineage: Lineage,
    writer: &mut RecordBatchWriter,
    quarantined: &mut QuarantineRows,
    options: &SyncOptions,
) -> Result<ObjectOutcome, WarehouseError> {
    let table = feed.name.clone();
    let stream = source.read(&read.object, read.range.clone()).await?;
    let reader = BlockingReader::spawn(stream);
    let input = TailKeeper::new(reader, read.tail_prefix.clone(), options.on_bytes.clone());
    let task = DecodeTask {
        feed: feed.clone(),
        target: writer.arrow_schema(),
        lineage,
        header: read.header.clone(),
        first_line: read.first_line,
        batch_rows: options.batch_rows,
    };
    let (mut rx, decoder) = task.spawn(input);
    let mut write_error = None;
    let before = quarantined.len();
    while let Some(item) = rx.recv().await {
        let written = match item {
            Decoded::Batch(batch) => writer
                .write_with_mode(batch, WriteMode::MergeSchema)
                .await
                .map_err(|e| WarehouseError::delta(&table, e)),
            Decoded::Rejected(row) => quarantined.push(&read.object.key, &row).await,
        };
        if let Err(e) = written {
            write_error = Some(e);
            break;
        }
    }
    drop(rx);
    let decoded = decoder.await.map_err(|e| WarehouseError::DecoderCrashed {
        table: table.clone(),
        source: e,
    })?;
    if let Some(e) = write_error {
        writer.reset();
        return Err(e);
    }
    let (summary, input) = match decoded {
        // Nothing of it was written: one quarantined row stands for the file. Its state keeps
        // no header, so that when it changes it is read again whole.
        Err(FeedError::SetAside {
            problem, header, ..
        }) => {
            let row = sdds_feeds::RowError {
                line: read.first_line,
                column: None,
                reason: format!("file set aside: {problem}"),
                raw: header.join(","),
            };
            quarantined.push(&read.object.key, &row).await?;
            return Ok(ObjectOutcome {
                rows: 0,
                quarantined: 1,
                lines: 0,
                header: None,
                tail: Vec::new(),
            });
        }
        other => other
            .inspect_err(|_| writer.reset())
            .map_err(input_failure)?,
    };
    Ok(ObjectOutcome {
        rows: summary.rows,
        quarantined: quarantined.len() - before,
        lines: summary.lines,
        header: summary.header,
        tail: input.tail(),
    })
}

/// A decoder error, as the source's own when reading the source is what failed.
fn input_failure(error: FeedError) -> WarehouseError {
    match error {
        FeedError::Input { key, source } => match source.downcast::<sdds_source::SourceError>() {
            Ok(source) => WarehouseError::Source(source),
            Err(source) => FeedError::Input { key, source }.into(),
        },
        other => other.into(),
    }
}

/// Passes bytes through, keeping the last [`TAIL_BYTES`] and reporting progress.
struct TailKeeper<R> {
    inner: R,
    tail: Vec<u8>,
    on_bytes: Option<Arc<dyn Fn(u64) + Send + Sync>>,
}

impl<R: Read> TailKeeper<R> {
    fn new(inner: R, prefix: Vec<u8>, on_bytes: Option<Arc<dyn Fn(u64) + Send + Sync>>) -> Self {
        TailKeeper {
            inner,
            tail: prefix,
            on_bytes,
        }
    }

    fn tail(mut self) -> Vec<u8> {
        let keep = self.tail.len().saturating_sub(TAIL_BYTES as usize);
        self.tail.drain(..keep);
        self.tail
    }
}

impl<R: Read> Read for TailKeeper<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.tail.extend_from_slice(&buf[..n]);
        if self.tail.len() > 4 * TAIL_BYTES as usize {
            let keep = self.tail.len() - TAIL_BYTES as usize;
            self.tail.drain(..keep);
        }
        if let Some(f) = &self.on_bytes {
            f(n as u64);
        }
        Ok(n)
    }
}

/// Removes `file` at `at`; `data_change` is false when its rows stay in other files (optimize).
pub(crate) fn remove_action(file: &FileRef, at: DateTime<Utc>, data_change: bool) -> Action {
    Action::Remove(Remove {
        path: file.path.clone(),
        data_change,
        deletion_timestamp: Some(at.timestamp_millis()),
        extended_file_metadata: Some(true),
        partition_values: Some(HashMap::new()),
        size: Some(file.size),
        tags: None,
        deletion_vector: None,
        base_row_id: None,
        default_row_commit_version: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::datatypes::{Field, Schema, TimeUnit};

    fn schema(fields: &[(&str, DataType)]) -> SchemaRef {
        Arc::new(Schema::new(
            fields
                .iter()
                .map(|(name, t)| Field::new(*name, t.clone(), true))
                .collect::<Vec<_>>(),
        ))
    }

    #[test]
    fn schema_evolution_is_checked_by_type_not_by_column_count() {
        let utc = |zone: &str| DataType::Timestamp(TimeUnit::Microsecond, Some(zone.into()));
        let stored = schema(&[("id", DataType::Utf8), ("at", utc("UTC"))]);
        let same = schema(&[("id", DataType::Utf8View), ("at", utc("+00:00"))]);
        assert!(!schema_grows("t", &stored, &same).unwrap());
        let wider = schema(&[
            ("id", DataType::Utf8),
            ("at", utc("UTC")),
            ("new", DataType::Utf8),
        ]);
        assert!(schema_grows("t", &stored, &wider).unwrap());
        // As many columns as before, one of them of another type.
        let retyped = schema(&[("id", DataType::Utf8), ("at", DataType::Utf8)]);
        let err = schema_grows("t", &stored, &retyped)
            .unwrap_err()
            .to_string();
        assert!(err.contains("column at is stored as Timestamp"), "{err}");
        // As many columns as before, one renamed.
        let renamed = schema(&[("id", DataType::Utf8), ("when", utc("UTC"))]);
        assert!(schema_grows("t", &stored, &renamed).is_err());
    }
}
