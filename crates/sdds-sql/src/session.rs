//! Builds the DataFusion session: configuration, tables and views.

use std::collections::{HashMap, HashSet};
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use chrono::NaiveDate;
use datafusion::common::config::SpillCompression;
use datafusion::dataframe::DataFrame;
use datafusion::datasource::MemTable;
use datafusion::error::DataFusionError;
use datafusion::execution::memory_pool::TrackConsumersPool;
use datafusion::execution::runtime_env::{RuntimeEnv, RuntimeEnvBuilder};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::metrics::SpillMetrics;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SpillManager;
use datafusion::prelude::{SessionConfig, SessionContext};
use datafusion::sql::parser::Statement;
use deltalake::DeltaTable;
use futures::StreamExt;
use sdds_feeds::Catalog;
use sdds_warehouse::{quarantine, Warehouse};

use crate::dialect;
use crate::error::SqlError;
use crate::legacy::{legacy_view_sql, LEGACY_TABLES};
use crate::materialize::CtePlan;
use crate::memory_pool::{MergeCappedPool, SharePool};
use crate::readonly::ReadOnlyTable;
use crate::views::{self, TimeFilter};

/// How to open a session.
#[derive(Debug, Clone, Default)]
pub struct SessionOptions {
    /// Open each table at this Delta version instead of the latest (`None` in the map: the
    /// table did not exist yet, so it is empty). Tables missing from the map are at their latest.
    pub versions: Option<HashMap<String, Option<u64>>>,
    /// Business/system-time restriction of the views.
    pub time: TimeFilter,
    /// The day `current_date` is (and `now()` its midnight UTC); `None`: the real clock.
    pub today: Option<NaiveDate>,
    /// Memory limit and spill directory.
    pub resources: Resources,
}

/// What a session may use of the machine.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resources {
    /// Bytes the session's operators may hold; beyond it sorts, aggregates and stored subplans
    /// spill to disk, and what cannot spill fails with a clear error. `None`:
    /// [`default_memory_limit`].
    pub memory_limit: Option<usize>,
    /// Where spill files go; `None`: the system's temporary directory.
    pub spill_dir: Option<PathBuf>,
}

impl Resources {
    /// The memory limit in force.
    pub fn memory_limit(&self) -> usize {
        self.memory_limit.unwrap_or_else(default_memory_limit)
    }

    /// The runtime of a session limited to `limit` bytes (the [`Self::memory_limit`]).
    fn runtime(&self, limit: usize) -> Result<Arc<RuntimeEnv>, SqlError> {
        let pool =
            TrackConsumersPool::new(SharePool::new(limit), NonZeroUsize::MIN.saturating_add(4));
        let pool = MergeCappedPool::new(Arc::new(pool), limit / MERGE_SHARE);
        let mut builder = RuntimeEnvBuilder::new().with_memory_pool(Arc::new(pool));
        if let Some(dir) = &self.spill_dir {
            builder = builder.with_temp_file_path(dir);
        }
        Ok(builder.build_arc()?)
    }
}

/// How sorts, aggregations, window chains and stored CTEs compress what they spill, unless a
/// statement `SET`s `datafusion.execution.spill_compression`.
const SPILL_COMPRESSION: SpillCompression = SpillCompression::Lz4Frame;

/// A spill manager for rows of `schema`, compressing as `context`'s session does (see
/// [`SPILL_COMPRESSION`]).
pub(crate) fn spill_manager(
    context: &TaskContext,
    metrics: SpillMetrics,
    schema: SchemaRef,
) -> SpillManager {
    let compression = context
        .session_config()
        .options()
        .execution
        .spill_compression;
    SpillManager::new(context.runtime_env(), metrics, schema).with_compression_type(compression)
}

/// A hash join whose build side is below this fraction of the memory limit builds it once for
/// all partitions (DataFusion's default: 1 MB).
const SINGLE_PARTITION_JOIN_SHARE: usize = 32;

/// ... or, when its size in bytes is not known (a stored CTE's), below this many rows
/// (DataFusion's: 131 072).
const SINGLE_PARTITION_JOIN_ROWS: usize = 1_000_000;

/// A merge of spilled files may hold this fraction of the limit (see [`MergeCappedPool`]).
const MERGE_SHARE: usize = 8;

/// Most a query's pool may hold by default: with what the pool does not count (Parquet reading,
/// output buffers) a 1 M-event seller's largest AWS report then stays under 4 GB resident.
const DEFAULT_LIMIT_CAP: u64 = 3 << 30;

/// A quarter of the memory this process may use (the machine's, or its container's cgroup
/// limit when lower), at most [`DEFAULT_LIMIT_CAP`]: a nightly report shares the machine, and
/// beyond that sorts and stored CTEs spill, which costs far less than the memory saves.
pub fn default_memory_limit() -> usize {
    use sysinfo::{MemoryRefreshKind, RefreshKind, System};
    let system = System::new_with_specifics(
        RefreshKind::nothing().with_memory(MemoryRefreshKind::nothing().with_ram()),
    );
    let mut total = system.total_memory();
    if let Some(cgroup) = system.cgroup_limits() {
        if cgroup.total_memory > 0 {
            total = total.min(cgroup.total_memory);
        }
    }
    const FALLBACK: u64 = 4 << 30;
    let total = if total == 0 { FALLBACK } else { total };
    usize::try_from((total / 4).min(DEFAULT_LIMIT_CAP)).unwrap_or(usize::MAX)
}

/// The catalog every table and view is registered in (schema `default`).
pub const CATALOG: &str = "sdds";

/// Opens a session speaking Athena's dialect, with every feed table of the warehouse, its
/// views and the legacy table names registered.
pub async fn open_session(
    warehouse: &Warehouse,
    catalog: &Catalog,
    options: &SessionOptions,
) -> Result<SessionContext, SqlError> {
    let memory_limit = options.resources.memory_limit();
    let mut config = SessionConfig::new()
        .with_information_schema(true)
        .with_default_catalog_and_schema(CATALOG, "default");
    // Plain Utf8 strings: concatenating and `take`-ing byte-view arrays copies every buffer
    // handle, which multiplies through stacked joins (arrow 59).
    config
        .options_mut()
        .execution
        .parquet
        .schema_force_view_types = false;
    config.options_mut().sql_parser.map_string_types_to_utf8view = false;
    // A 10 M-event report spills tens of GB of text; LZ4 makes that a quarter. Uncompressed, AWS's
    // billed-revenue report wrote 90 GB there (34 GB on disk at once) and ran 9 % longer, as
    // spill outgrew the page cache; at 1 M, where it fits, uncompressed ran 13 % faster.
    config.options_mut().execution.spill_compression = SPILL_COMPRESSION;
    // A lookup of a 10 M-event seller (300 000 addresses, 30-60 MB) is still built once and
    // probed by every partition: partitioned instead, each of a report's stacked joins hashes
    // and copies its wide probe side once more (20 times 6 GB in AWS's billed-revenue report).
    let optimizer = &mut config.options_mut().optimizer;
    optimizer.hash_join_single_partition_threshold = memory_limit / SINGLE_PARTITION_JOIN_SHARE;
    optimizer.hash_join_single_partition_threshold_rows = SINGLE_PARTITION_JOIN_ROWS;
    // Rows already hashed on some of a GROUP BY's (or a window's) keys are grouped where they
    // are. DataFusion does so from 4 partitions up; below, it aggregates each partition, hashes
    // the partial groups again and aggregates once more: for AWS's line items (grouped on 22
    // columns, the first of which the joins below hashed them on) a sixth of the billed-revenue
    // report's time.
    optimizer.subset_repartition_threshold = 1;
    let ctx = dialect::session_context(
        config,
        options.resources.runtime(memory_limit)?,
        options.today,
    )?;
    for feed in catalog.feeds() {
        let table = open_pinned(warehouse, &feed.name, options).await?;
        register_table(&ctx, &feed.name, table, feed.table_schema()).await?;
    }
    // The rows syncs set aside, pinned with the feed tables (a warehouse whose quarantine
    // commits name no sync shows its latest state).
    let quarantine = open_pinned(warehouse, quarantine::TABLE, options).await?;
    register_table(&ctx, quarantine::TABLE, quarantine, quarantine::schema()).await?;
    for feed in catalog.feeds() {
        let current = views::current_view_sql(feed, &options.time);
        create_view(&ctx, &views::current_view_name(feed), &current).await?;
        if let Some(name) = views::history_view_name(feed) {
            create_view(&ctx, &name, &views::history_view_sql(feed, &options.time)).await?;
        }
    }
    for legacy in LEGACY_TABLES {
        if let Some(feed) = catalog.feed(legacy.feed) {
            create_view(&ctx, legacy.name, &legacy_view_sql(legacy, feed)).await?;
        }
    }
    Ok(ctx)
}

/// Opens table `name` at the version `options` pins it to (its latest without a pin); `None`
/// when it did not exist at that point.
async fn open_pinned(
    warehouse: &Warehouse,
    name: &str,
    options: &SessionOptions,
) -> Result<Option<DeltaTable>, SqlError> {
    let mut table = warehouse.open_table(name, false).await?;
    let pinned = options.versions.as_ref().and_then(|v| v.get(name).copied());
    let exists = match pinned {
        Some(Some(version)) if table.version().is_some() => {
            table
                .load_version(version)
                .await
                .map_err(|source| SqlError::Delta {
                    table: name.to_string(),
                    source,
                })?;
            true
        }
        Some(_) => false,
        None => table.version().is_some(),
    };
    Ok(exists.then_some(table))
}

/// Registers a Delta table read-only under `name`; without one, an empty table of `schema`.
async fn register_table(
    ctx: &SessionContext,
    name: &str,
    table: Option<DeltaTable>,
    schema: SchemaRef,
) -> Result<(), SqlError> {
    let Some(table) = table else {
        let empty = MemTable::try_new(schema, vec![vec![]])?;
        ctx.register_table(name, ReadOnlyTable::wrap(Arc::new(empty)))?;
        return Ok(());
    };
    let state = ctx.state();
    table
        .update_datafusion_session(&state)
        .map_err(|source| SqlError::Delta {
            table: name.to_string(),
            source,
        })?;
    // Built with the session so the scan reads strings as the session asks (plain Utf8).
    let provider = table.table_provider().with_session(Arc::new(state)).await?;
    ctx.register_table(name, ReadOnlyTable::wrap(provider))?;
    Ok(())
}

/// Plans one statement and starts it: unaliased columns get Athena's names (`_col0`, ...), and
/// the CTEs it references more than once are computed first, once each (see
/// [`crate::materialize`]).
pub async fn execute_statement(
    ctx: &SessionContext,
    statement: Statement,
) -> Result<DataFrame, SqlError> {
    plan_statement(ctx, statement)
        .await
        .map_err(|error| name_unknown_table(ctx, error))
}

async fn plan_statement(
    ctx: &SessionContext,
    mut statement: Statement,
) -> Result<DataFrame, SqlError> {
    dialect::name_columns_as_athena(&mut statement);
    dialect::count_case_memberships(&mut statement);
    let aggregates: HashSet<String> = ctx.state().aggregate_functions().keys().cloned().collect();
    let plan = match CtePlan::new(&mut statement, &aggregates) {
        Some(ctes) => ctes.execute(ctx, statement).await?,
        None => ctx.state().statement_to_plan(statement).await?,
    };
    Ok(ctx.execute_logical_plan(plan).await?)
}

/// Starts `frame`. At trace level (`-vvv`) its physical plan is logged with its metrics when
/// the stream ends or fails: where a statement's time, rows and spills went.
pub async fn execute_stream(frame: DataFrame) -> Result<SendableRecordBatchStream, SqlError> {
    let task = Arc::new(frame.task_ctx());
    let physical = frame.create_physical_plan().await?;
    let stream = datafusion::physical_plan::execute_stream(Arc::clone(&physical), task)?;
    if !tracing::enabled!(tracing::Level::TRACE) {
        return Ok(stream);
    }
    let schema = stream.schema();
    let mut plan = Some(physical);
    let mut log = move || {
        if let Some(plan) = plan.take() {
            tracing::trace!(
                plan = %DisplayableExecutionPlan::with_metrics(plan.as_ref()).indent(true),
                "statement plan with metrics"
            );
        }
    };
    let traced = stream
        .map(Some)
        .chain(futures::stream::once(async { None }))
        .filter_map(move |item| {
            if !matches!(item, Some(Ok(_))) {
                log();
            }
            futures::future::ready(item)
        });
    Ok(Box::pin(RecordBatchStreamAdapter::new(schema, traced)))
}

/// DataFusion's "table 'sdds.default.x' not found", said with the name as written and the
/// closest name the session has.
fn name_unknown_table(ctx: &SessionContext, error: SqlError) -> SqlError {
    let SqlError::DataFusion(datafusion) = &error else {
        return error;
    };
    let message = datafusion.find_root().to_string();
    let Some(name) = message
        .split_once("table '")
        .and_then(|(_, rest)| rest.split_once("' not found"))
        .map(|(qualified, _)| {
            qualified
                .rsplit('.')
                .next()
                .unwrap_or(qualified)
                .to_string()
        })
    else {
        return error;
    };
    let known = ctx
        .catalog("sdds")
        .and_then(|catalog| catalog.schema("default"))
        .map(|schema| schema.table_names())
        .unwrap_or_default();
    let suggestion = closest_name(&name, &known);
    SqlError::UnknownTable { name, suggestion }
}

/// The name in `known` most like `name`: one it starts with or that starts with it, else the
/// most similar one if similar enough to be a typo.
fn closest_name(name: &str, known: &[String]) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    let by_prefix = known
        .iter()
        .filter(|k| k.starts_with(&lower) || lower.starts_with(k.as_str()))
        .min_by_key(|k| k.len().abs_diff(lower.len()));
    by_prefix.cloned().or_else(|| {
        known
            .iter()
            .map(|k| (strsim::jaro_winkler(&lower, k), k))
            .filter(|(score, _)| *score >= 0.85)
            .max_by(|a, b| a.0.total_cmp(&b.0))
            .map(|(_, k)| k.clone())
    })
}

/// Parses `sql`: one or more `;`-separated statements.
pub fn parse_statements(sql: &str) -> Result<Vec<Statement>, SqlError> {
    match datafusion::sql::parser::DFParser::parse_sql(sql) {
        Ok(statements) => Ok(statements.into_iter().collect()),
        Err(DataFusionError::SQL(parser, _)) => Err(SqlError::Syntax(*parser)),
        Err(other) => Err(other.into()),
    }
}

/// Runs one SQL statement, as [`execute_statement`] does.
pub async fn run_sql(ctx: &SessionContext, sql: &str) -> Result<DataFrame, SqlError> {
    let mut statements = parse_statements(sql)?;
    if statements.len() != 1 {
        return Err(SqlError::DataFusion(
            datafusion::error::DataFusionError::Plan(format!(
                "expected one statement, found {}",
                statements.len()
            )),
        ));
    }
    execute_statement(ctx, statements.remove(0)).await
}

async fn create_view(ctx: &SessionContext, name: &str, query: &str) -> Result<(), SqlError> {
    ctx.sql(&format!("CREATE VIEW {name} AS {query}"))
        .await?
        .collect()
        .await?;
    Ok(())
}
