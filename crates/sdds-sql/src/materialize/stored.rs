//! A computed subplan's rows, kept in memory within the session's pool or spilled to disk, and
//! read back as a table with exact row counts.

use std::fmt;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use arrow::array::BooleanArray;
use arrow::compute::filter_record_batch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::reader::StreamReader;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::catalog::Session;
use datafusion::common::cast::as_boolean_array;
use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{
    internal_datafusion_err, internal_err, project_schema, ColumnStatistics, DFSchema, Result,
    Statistics,
};
use datafusion::datasource::{TableProvider, TableType};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::spill_file::SpillFile;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::utils::conjunction;
use datafusion::logical_expr::{Expr, TableProviderFilterPushDown};
use datafusion::physical_expr::conjunction as conjunction_physical;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::filter_pushdown::{
    ChildPushdownResult, FilterPushdownPhase, FilterPushdownPropagation, PushedDown,
};
use datafusion::physical_plan::memory::MemoryStream;
use datafusion::physical_plan::metrics::{
    ExecutionPlanMetricsSet, MetricBuilder, MetricsSet, SpillMetrics,
};
use datafusion::physical_plan::spill::get_record_batch_memory_size;
use datafusion::physical_plan::stream::{RecordBatchReceiverStream, RecordBatchStreamAdapter};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, Partitioning, PlanProperties, SpillManager,
    StatisticsArgs,
};
use futures::{StreamExt, TryStreamExt};

use super::sketch::ColumnSketches;
use crate::memory_pool::finite_limit;

/// Share of the memory pool that a statement's stored subplans may keep in memory together;
/// the rest of their rows go to disk, so the operators that read them keep room to work.
const MEMORY_SHARE: f64 = 0.25;

/// Bytes the stored subplans of one statement may keep in memory together.
pub fn memory_budget(runtime: &RuntimeEnv) -> usize {
    finite_limit(runtime.memory_pool.as_ref())
        .map_or(usize::MAX, |limit| (limit as f64 * MEMORY_SHARE) as usize)
}

/// The rows of one partition.
enum Rows {
    Memory(Vec<RecordBatch>),
    /// Spilled, with a few batches kept to estimate what a filter passes.
    Disk {
        file: Arc<dyn SpillFile>,
        sample: Vec<RecordBatch>,
    },
}

/// Rows of each spilled partition kept in memory as a sample (spread over the partition).
const SAMPLE_ROWS: usize = 16_384;

/// One output partition of a stored subplan.
struct Partition {
    rows: Rows,
    num_rows: usize,
}

/// The stored result of a subplan: its partitions, the memory they hold, and how to read the
/// spilled ones back.
pub struct StoredRows {
    name: String,
    schema: SchemaRef,
    partitions: Vec<Partition>,
    /// Null and distinct counts of every column.
    column_stats: Vec<ColumnStatistics>,
    spill: SpillManager,
    /// Keeps the in-memory rows counted in the session's pool for as long as they live.
    reservation: MemoryReservation,
    /// The columns whose hash (as `RepartitionExec` computes it) chose each row's partition,
    /// when the stored plan's output was hash-partitioned: a join or aggregate on them reads
    /// the partitions as they are instead of hashing every row again.
    hashed_by: Option<Vec<usize>>,
}

impl fmt::Debug for StoredRows {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredRows")
            .field("name", &self.name)
            .field("rows", &self.num_rows())
            .field("spilled_partitions", &self.spilled_partitions())
            .finish()
    }
}

impl StoredRows {
    /// Drains `streams` (one per partition, all at once as `collect_partitioned` does: a
    /// plan's partitions may wait on each other through its repartitions) into memory while
    /// the pool and `budget` bytes allow, and a partition into a spill file after that,
    /// compressed as `context`'s session compresses its spills.
    pub async fn store(
        name: &str,
        streams: Vec<SendableRecordBatchStream>,
        context: &TaskContext,
        budget: usize,
    ) -> Result<StoredRows> {
        // The executed plan's own schema: its types are what the batches hold (the logical
        // plan's may differ, e.g. in a timestamp's zone).
        let Some(schema) = streams.first().map(|s| s.schema()) else {
            return internal_err!("stored subplan {name} has no partitions");
        };
        let reservation = MemoryConsumer::new(format!("stored subplan {name}"))
            .with_can_spill(true)
            .register(context.memory_pool());
        let metrics = ExecutionPlanMetricsSet::new();
        let spill =
            crate::session::spill_manager(context, SpillMetrics::new(&metrics, 0), schema.clone());
        let stored = streams
            .into_iter()
            .map(|stream| store_partition(name, stream, &schema, &spill, &reservation, budget));
        let mut sketches = ColumnSketches::new(&schema);
        let mut partitions = Vec::new();
        for (partition, sketched) in futures::future::try_join_all(stored).await? {
            partitions.push(partition);
            sketches.merge(&sketched);
        }
        let total: usize = partitions.iter().map(|p| p.num_rows).sum();
        Ok(StoredRows {
            name: name.to_string(),
            schema,
            partitions,
            column_stats: sketches.statistics(total),
            spill,
            reservation,
            hashed_by: None,
        })
    }

    /// The rows, known to be partitioned as `partitioning` (the stored plan's output
    /// partitioning) says when it hashes plain columns into as many partitions as stored.
    pub fn partitioned_as(mut self, partitioning: &Partitioning) -> StoredRows {
        if let Partitioning::Hash(exprs, count) = partitioning {
            if *count == self.partitions.len() {
                self.hashed_by = exprs
                    .iter()
                    .map(|e| e.downcast_ref::<Column>().map(Column::index))
                    .collect();
            }
        }
        self
    }

    /// Rows stored.
    pub fn num_rows(&self) -> usize {
        self.partitions.iter().map(|p| p.num_rows).sum()
    }

    /// Bytes held in memory.
    pub fn memory_size(&self) -> usize {
        self.reservation.size()
    }

    /// Partitions that went to disk.
    pub fn spilled_partitions(&self) -> usize {
        self.partitions
            .iter()
            .filter(|p| matches!(p.rows, Rows::Disk { .. }))
            .count()
    }

    fn read(
        &self,
        partition: usize,
        projection: Option<&Vec<usize>>,
    ) -> Result<SendableRecordBatchStream> {
        let part = &self.partitions[partition];
        match &part.rows {
            Rows::Memory(batches) => Ok(Box::pin(MemoryStream::try_new(
                batches.clone(),
                project_schema(&self.schema, projection)?,
                projection.cloned(),
            )?)),
            Rows::Disk { file, .. } => {
                if let Some(path) = file.path() {
                    return read_spilled(path, file, &self.schema, projection);
                }
                let stream = self.spill.read_spill_as_stream(file.clone(), None)?;
                let Some(indices) = projection.cloned() else {
                    return Ok(stream);
                };
                let schema = project_schema(&self.schema, Some(&indices))?;
                let projected = stream.and_then(move |batch| {
                    let indices = indices.clone();
                    async move { Ok(batch.project(&indices)?) }
                });
                Ok(Box::pin(RecordBatchStreamAdapter::new(schema, projected)))
            }
        }
    }
}

/// Reads a spilled partition's file, decoding only the projected columns: a stored CTE keeps
/// all of its columns (AWS's categorized line items have 75), and each reader takes a few.
fn read_spilled(
    path: &Path,
    file: &Arc<dyn SpillFile>,
    schema: &SchemaRef,
    projection: Option<&Vec<usize>>,
) -> Result<SendableRecordBatchStream> {
    let path = path.to_path_buf();
    // Held until the file is read: dropping the last handle deletes it.
    let file = Arc::clone(file);
    let projection = projection.cloned();
    let mut builder =
        RecordBatchReceiverStream::builder(project_schema(schema, projection.as_ref())?, 2);
    let tx = builder.tx();
    builder.spawn_blocking(move || {
        let _file = file;
        let reader = StreamReader::try_new_buffered(std::fs::File::open(&path)?, projection)?;
        // SAFETY: this process wrote the file, from batches of the stored schema, with the
        // same IPC writer that DataFusion's own spill reader trusts without validation.
        let reader = unsafe { reader.with_skip_validation(true) };
        for batch in reader {
            if tx.blocking_send(batch.map_err(Into::into)).is_err() {
                break;
            }
        }
        Ok(())
    });
    Ok(builder.build())
}

/// Stores one partition: in memory until its first batch that does not fit, then all of it
/// (what memory held included) in a spill file. Also sketches its columns.
async fn store_partition(
    name: &str,
    mut stream: SendableRecordBatchStream,
    schema: &SchemaRef,
    spill: &SpillManager,
    reservation: &MemoryReservation,
    budget: usize,
) -> Result<(Partition, ColumnSketches)> {
    let mut sketches = ColumnSketches::new(schema);
    let mut batches = Vec::new();
    let mut num_rows = 0;
    // In memory while there is room ...
    let mut overflow = None;
    while let Some(batch) = stream.next().await {
        let batch = conform(batch?, schema)?;
        sketches.update(&batch)?;
        num_rows += batch.num_rows();
        let size = get_record_batch_memory_size(&batch);
        if reservation.size() + size <= budget && reservation.try_grow(size).is_ok() {
            batches.push(batch);
        } else {
            overflow = Some(batch);
            break;
        }
    }
    let Some(overflow) = overflow else {
        let rows = Rows::Memory(batches);
        return Ok((Partition { rows, num_rows }, sketches));
    };
    // ... then this partition goes to disk, what it held in memory included.
    let mut file = spill.create_in_progress_file(&format!("stored subplan {name}"))?;
    let held: usize = batches.iter().map(get_record_batch_memory_size).sum();
    let mut sample = Sample::default();
    for batch in batches.iter().chain(std::iter::once(&overflow)) {
        file.append_batch(batch)?;
        sample.offer(batch);
    }
    drop(batches);
    reservation.shrink(held);
    while let Some(batch) = stream.next().await {
        let batch = conform(batch?, schema)?;
        sketches.update(&batch)?;
        num_rows += batch.num_rows();
        file.append_batch(&batch)?;
        sample.offer(&batch);
    }
    let rows = match file.finish()? {
        Some(file) => Rows::Disk {
            file,
            sample: sample.batches,
        },
        None => Rows::Memory(Vec::new()),
    };
    Ok((Partition { rows, num_rows }, sketches))
}

/// Every few batches of a spilled partition, compacted, up to [`SAMPLE_ROWS`] rows: doubling
/// the stride whenever it fills keeps it spread over the whole partition.
#[derive(Default)]
struct Sample {
    batches: Vec<RecordBatch>,
    seen: usize,
    stride: usize,
}

impl Sample {
    fn offer(&mut self, batch: &RecordBatch) {
        self.stride = self.stride.max(1);
        self.seen += 1;
        if !self.seen.is_multiple_of(self.stride) {
            return;
        }
        let rows: usize = self.batches.iter().map(RecordBatch::num_rows).sum();
        if rows + batch.num_rows() > SAMPLE_ROWS {
            self.stride *= 2;
            let mut kept = 0;
            self.batches.retain(|_| {
                kept += 1;
                kept % 2 == 0
            });
            return;
        }
        // A copy, so the sample does not hold the batch's (possibly larger) buffers.
        if let Ok(copy) = arrow::compute::concat_batches(&batch.schema(), [batch]) {
            self.batches.push(copy);
        }
    }
}

/// Gives a batch the stored schema (partitions may differ in nullability or metadata).
fn conform(batch: RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    if batch.schema().as_ref() == schema.as_ref() {
        return Ok(batch);
    }
    Ok(RecordBatch::try_new(
        schema.clone(),
        batch.columns().to_vec(),
    )?)
}

/// A stored subplan as a table. It is registered, and what reads it planned, before its rows
/// exist: those plans say which of its columns are read, and only those are stored
/// ([`StoredTable::fill`]). It is scanned once they are.
#[derive(Debug)]
pub struct StoredTable {
    /// The subplan's schema: every column it gives, stored or not.
    schema: SchemaRef,
    rows: OnceLock<Arc<StoredRows>>,
}

impl StoredTable {
    /// The table of a subplan giving `schema`, still without rows.
    pub fn pending(schema: SchemaRef) -> StoredTable {
        StoredTable {
            schema,
            rows: OnceLock::new(),
        }
    }

    /// Gives the table its rows: some or all of its columns, by name. A table is filled once.
    pub fn fill(&self, rows: StoredRows) -> Result<()> {
        for field in rows.schema.fields() {
            let declared = self.schema.field_with_name(field.name())?;
            if declared.data_type() != field.data_type() {
                return internal_err!(
                    "stored column {} is {}, planned as {}",
                    field.name(),
                    field.data_type(),
                    declared.data_type()
                );
            }
        }
        self.rows
            .set(Arc::new(rows))
            .map_err(|_| internal_datafusion_err!("stored rows given twice"))
    }

    /// `projection` (over all the subplan's columns) over the stored ones.
    fn stored_projection(
        &self,
        rows: &StoredRows,
        projection: Option<&Vec<usize>>,
    ) -> Result<Vec<usize>> {
        let all: Vec<usize> = (0..self.schema.fields().len()).collect();
        projection
            .unwrap_or(&all)
            .iter()
            .map(|&i| {
                let name = self.schema.field(i).name();
                rows.schema.index_of(name).map_err(|_| {
                    internal_datafusion_err!(
                        "column {name} of a stored subplan is read but was not stored"
                    )
                })
            })
            .collect()
    }
}

#[async_trait]
impl TableProvider for StoredTable {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn table_type(&self) -> TableType {
        TableType::Temporary
    }

    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        _limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let Some(rows) = self.rows.get() else {
            return internal_err!("a stored subplan is read before it is computed");
        };
        let projection = self.stored_projection(rows, projection)?;
        let predicate = match conjunction(filters.iter().cloned()) {
            Some(expr) => {
                let schema = DFSchema::try_from(rows.schema.as_ref().clone())?;
                Some(state.create_physical_expr(expr, &schema)?)
            }
            None => None,
        };
        Ok(Arc::new(StoredExec::try_new(
            rows.clone(),
            Some(projection),
            predicate,
            state.config().target_partitions(),
        )?))
    }

    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        // Every filter is applied in the scan, and counted when planned: a join then knows
        // exactly how many rows a filtered stored CTE gives.
        Ok(vec![TableProviderFilterPushDown::Exact; filters.len()])
    }
}

/// Reads a stored subplan, one partition per stored partition, filtered and projected.
#[derive(Debug)]
pub struct StoredExec {
    rows: Arc<StoredRows>,
    projection: Option<Vec<usize>>,
    predicate: Option<Arc<dyn PhysicalExpr>>,
    /// Rows each partition gives: exact for the ones in memory (the predicate is counted when
    /// planned), at most the stored rows for spilled ones.
    rows_out: Vec<Precision<usize>>,
    /// Filters pushed into the physical plan, over the output columns: a join's dynamic filter
    /// (its build side's keys) among them, which only holds its values once the build side is
    /// read, so it is evaluated as rows are read and not counted in the statistics.
    pushed: Option<Arc<dyn PhysicalExpr>>,
    properties: Arc<PlanProperties>,
    /// Rows given per partition: how much a pushed filter pruned shows in EXPLAIN ANALYZE.
    metrics: ExecutionPlanMetricsSet,
}

impl StoredExec {
    /// The scan of `rows`, as a plan of `target_partitions` partitions reads it.
    fn try_new(
        rows: Arc<StoredRows>,
        projection: Option<Vec<usize>>,
        predicate: Option<Arc<dyn PhysicalExpr>>,
        target_partitions: usize,
    ) -> Result<StoredExec> {
        let schema = project_schema(&rows.schema, projection.as_ref())?;
        let partitioning =
            output_partitioning(&rows, projection.as_deref(), &schema, target_partitions);
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            partitioning,
            EmissionType::Incremental,
            Boundedness::Bounded,
        );
        let rows_out = rows
            .partitions
            .iter()
            .map(|p| match (&p.rows, &predicate) {
                (_, None) => Ok(Precision::Exact(p.num_rows)),
                (Rows::Memory(batches), Some(predicate)) => {
                    let mut passing = 0;
                    for batch in batches {
                        passing += selection(predicate, batch)?.true_count();
                    }
                    Ok(Precision::Exact(passing))
                }
                (Rows::Disk { sample, .. }, Some(predicate)) => {
                    // Estimated from the sample's share of passing rows.
                    let (mut passing, mut seen) = (0, 0);
                    for batch in sample {
                        passing += selection(predicate, batch)?.true_count();
                        seen += batch.num_rows();
                    }
                    let share = if seen == 0 {
                        1.0
                    } else {
                        passing as f64 / seen as f64
                    };
                    Ok(Precision::Inexact(
                        (p.num_rows as f64 * share).ceil() as usize
                    ))
                }
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(StoredExec {
            rows,
            projection,
            predicate,
            rows_out,
            pushed: None,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// One partition's rows with the scan's predicate and projection applied.
    fn read(&self, partition: usize) -> Result<SendableRecordBatchStream> {
        let Some(predicate) = self.predicate.clone() else {
            return self.rows.read(partition, self.projection.as_ref());
        };
        let schema = self.schema();
        let projection = self.projection.clone();
        let filtered = self.rows.read(partition, None)?.and_then(move |batch| {
            let kept = selection(&predicate, &batch).and_then(|mask| {
                let kept = filter_record_batch(&batch, &mask)?;
                Ok(match &projection {
                    Some(columns) => kept.project(columns)?,
                    None => kept,
                })
            });
            async move { kept }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, filtered)))
    }

    /// Bytes the rows this scan gives take in memory: what a hash join built on them holds.
    /// Measured on the rows a partition keeps in memory (or its sample, when it spilled), per
    /// projected row, times the rows the partition gives (estimated when it spilled).
    pub fn estimated_bytes(&self) -> Result<usize> {
        let mut total = 0.0;
        for (partition, out) in self.rows.partitions.iter().zip(&self.rows_out) {
            let measured = match &partition.rows {
                Rows::Memory(batches) => batches,
                Rows::Disk { sample, .. } => sample,
            };
            let (mut bytes, mut rows) = (0, 0);
            for batch in measured {
                let batch = match &self.projection {
                    Some(columns) => batch.project(columns)?,
                    None => batch.clone(),
                };
                bytes += get_record_batch_memory_size(&batch);
                rows += batch.num_rows();
            }
            if rows > 0 {
                let out = out.get_value().copied().unwrap_or(partition.num_rows);
                total += bytes as f64 / rows as f64 * out as f64;
            }
        }
        Ok(total as usize)
    }

    fn total_rows(&self) -> Precision<usize> {
        self.rows_out
            .iter()
            .fold(Precision::Exact(0), |sum, rows| sum.add(rows))
    }
}

/// The stored rows' hash partitioning over the scan's `projection` (giving `schema`), when
/// every hashed column is projected and the partitions are as many as the reading plan's: the
/// other side of a partitioned join is hashed into that many, and must pair up with these.
fn output_partitioning(
    rows: &StoredRows,
    projection: Option<&[usize]>,
    schema: &SchemaRef,
    target_partitions: usize,
) -> Partitioning {
    let count = rows.partitions.len();
    let hashed = rows
        .hashed_by
        .as_ref()
        .filter(|_| count == target_partitions)
        .and_then(|columns| {
            columns
                .iter()
                .map(|&column| {
                    let at = match projection {
                        Some(projection) => projection.iter().position(|&p| p == column)?,
                        None => column,
                    };
                    let expr: Arc<dyn PhysicalExpr> =
                        Arc::new(Column::new(schema.field(at).name(), at));
                    Some(expr)
                })
                .collect::<Option<Vec<_>>>()
        });
    match hashed {
        Some(exprs) => Partitioning::Hash(exprs, count),
        None => Partitioning::UnknownPartitioning(count),
    }
}

/// Which rows of `batch` pass `predicate`.
fn selection(predicate: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<BooleanArray> {
    let mask = predicate.evaluate(batch)?.into_array(batch.num_rows())?;
    Ok(as_boolean_array(&mask)?.clone())
}

impl DisplayAs for StoredExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "StoredExec: {}, rows={}, columns={}, spilled_partitions={}",
            self.rows.name,
            self.rows.num_rows(),
            self.rows.schema.fields().len(),
            self.rows.spilled_partitions()
        )?;
        if let Some(predicate) = &self.predicate {
            write!(
                f,
                ", predicate={predicate}, rows_passing={:?}",
                self.total_rows()
            )?;
        }
        if let Some(pushed) = &self.pushed {
            write!(f, ", pushed={pushed}")?;
        }
        Ok(())
    }
}

impl ExecutionPlan for StoredExec {
    fn name(&self) -> &str {
        "StoredExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![]
    }

    /// Reports the pushed filters too: a hash join only fills its dynamic filter when it finds
    /// the filter among the expressions of its probe side's plan.
    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for expr in self.predicate.iter().chain(&self.pushed) {
            if f(expr)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        _children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(self)
    }

    fn execute(
        &self,
        partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let stream = self.read(partition)?;
        let schema = stream.schema();
        let pushed = self.pushed.clone();
        let output_rows = MetricBuilder::new(&self.metrics).output_rows(partition);
        let filtered = stream.and_then(move |batch| {
            let kept = match &pushed {
                Some(pushed) => selection(pushed, &batch)
                    .and_then(|mask| Ok(filter_record_batch(&batch, &mask)?)),
                None => Ok(batch),
            };
            if let Ok(kept) = &kept {
                output_rows.add(kept.num_rows());
            }
            async move { kept }
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, filtered)))
    }

    fn handle_child_pushdown_result(
        &self,
        _phase: FilterPushdownPhase,
        child_pushdown_result: ChildPushdownResult,
        _config: &ConfigOptions,
    ) -> Result<FilterPushdownPropagation<Arc<dyn ExecutionPlan>>> {
        let filters: Vec<Arc<dyn PhysicalExpr>> = child_pushdown_result
            .parent_filters
            .into_iter()
            .map(|f| f.filter)
            .collect();
        if filters.is_empty() {
            return Ok(FilterPushdownPropagation::with_parent_pushdown_result(
                vec![],
            ));
        }
        let accepted = vec![PushedDown::Yes; filters.len()];
        let pushed = self.pushed.iter().cloned().chain(filters);
        let node = StoredExec {
            rows: self.rows.clone(),
            projection: self.projection.clone(),
            predicate: self.predicate.clone(),
            rows_out: self.rows_out.clone(),
            pushed: Some(conjunction_physical(pushed)),
            properties: self.properties.clone(),
            metrics: ExecutionPlanMetricsSet::new(),
        };
        Ok(
            FilterPushdownPropagation::with_parent_pushdown_result(accepted)
                .with_updated_node(Arc::new(node) as Arc<dyn ExecutionPlan>),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }

    fn statistics_from_inputs(
        &self,
        _input_stats: &[Arc<Statistics>],
        args: &StatisticsArgs,
    ) -> Result<Arc<Statistics>> {
        let rows = match args.partition() {
            Some(i) => self.rows_out[i],
            None => self.total_rows(),
        };
        let columns: Vec<usize> = match &self.projection {
            Some(columns) => columns.clone(),
            None => (0..self.rows.schema.fields().len()).collect(),
        };
        let most = rows.get_value().copied();
        let column_statistics = columns
            .iter()
            .map(|&c| {
                let mut stats = self.rows.column_stats[c].clone();
                if self.predicate.is_some() || args.partition().is_some() {
                    // A part of the rows: no more distinct values than rows, nulls unknown.
                    stats.null_count = stats.null_count.to_inexact();
                    stats.distinct_count = match (stats.distinct_count, most) {
                        (Precision::Inexact(d), Some(m)) => Precision::Inexact(d.min(m)),
                        (other, _) => other,
                    };
                }
                stats
            })
            .collect();
        Ok(Arc::new(Statistics {
            num_rows: rows,
            total_byte_size: Precision::Absent,
            column_statistics,
        }))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use arrow::array::Int64Array;
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::common::config::SpillCompression;
    use datafusion::prelude::SessionConfig;

    use super::*;

    fn batch(schema: &SchemaRef, values: &[i64]) -> RecordBatch {
        let column = Arc::new(Int64Array::from(values.to_vec()));
        RecordBatch::try_new(schema.clone(), vec![column]).unwrap()
    }

    #[tokio::test]
    async fn partitions_that_wait_on_each_other_are_stored() {
        // Partition 0 gives its rows only once partition 1 has been read, as a repartitioned
        // plan's outputs may: read one partition after the other, this never ends.
        let schema: SchemaRef =
            Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let (ready, wait) = tokio::sync::oneshot::channel::<()>();
        let first = {
            let rows = batch(&schema, &[1, 2]);
            futures::stream::once(async move {
                wait.await.ok();
                Ok(rows)
            })
        };
        let second = {
            let rows = batch(&schema, &[3]);
            futures::stream::once(async move {
                ready.send(()).ok();
                Ok(rows)
            })
        };
        let streams: Vec<SendableRecordBatchStream> = vec![
            Box::pin(RecordBatchStreamAdapter::new(schema.clone(), first)),
            Box::pin(RecordBatchStreamAdapter::new(schema.clone(), second)),
        ];
        let stored = tokio::time::timeout(
            Duration::from_secs(10),
            StoredRows::store("t", streams, &TaskContext::default(), usize::MAX),
        )
        .await
        .expect("storing waited on a partition that was never read")
        .unwrap();
        assert_eq!(stored.num_rows(), 3);
        assert_eq!(stored.partitions[0].num_rows, 2);
        assert_eq!(stored.spilled_partitions(), 0);
    }

    #[tokio::test]
    async fn spilled_runs_and_repeating_values_read_back_as_they_were() {
        // LZ4 codes a run as a match overlapping its own output: zero-filled buffers (offset
        // 1), and values repeating every 2 to 40 bytes, in and around the 32-byte line between
        // the decoder's short and long copies (vendor/lz4_flex/PATCHED.md).
        let repeating: Vec<Vec<u8>> = (1..=40_usize)
            .flat_map(|period| {
                [5, 32, 33, 100, 4099].map(move |len| {
                    (0..len)
                        .map(|i| u8::try_from(i % period * 5 + 1).unwrap())
                        .collect()
                })
            })
            .collect();
        let rows = repeating.len();
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("zeros", DataType::Int64, true),
            Field::new("repeating", DataType::Binary, false),
        ]));
        let zeros = Int64Array::from_iter((0..rows).map(|i| (i % 50 != 7).then_some(0)));
        let values = arrow::array::BinaryArray::from_iter_values(&repeating);
        let written =
            RecordBatch::try_new(schema.clone(), vec![Arc::new(zeros), Arc::new(values)]).unwrap();
        // Compressed as the session compresses its spills.
        for compression in [SpillCompression::Lz4Frame, SpillCompression::Uncompressed] {
            let stream = futures::stream::iter([Ok(written.clone())]);
            let streams: Vec<SendableRecordBatchStream> = vec![Box::pin(
                RecordBatchStreamAdapter::new(schema.clone(), stream),
            )];
            let mut config = SessionConfig::new();
            config.options_mut().execution.spill_compression = compression;
            let context = TaskContext::default().with_session_config(config);
            let stored = StoredRows::store("t", streams, &context, 0).await.unwrap();
            let Rows::Disk { file, .. } = &stored.partitions[0].rows else {
                panic!("a budget of 0 spills");
            };
            let on_disk = std::fs::metadata(file.path().unwrap()).unwrap().len();
            let compressed = on_disk * 4 < get_record_batch_memory_size(&written) as u64;
            assert_eq!(
                compressed,
                compression == SpillCompression::Lz4Frame,
                "{on_disk} bytes on disk with {compression:?}"
            );
            let read: Vec<RecordBatch> = stored.read(0, None).unwrap().try_collect().await.unwrap();
            assert_eq!(read, vec![written.clone()]);
            let projected: Vec<RecordBatch> = stored
                .read(0, Some(&vec![1]))
                .unwrap()
                .try_collect()
                .await
                .unwrap();
            assert_eq!(projected, vec![written.project(&[1]).unwrap()]);
        }
    }

    #[tokio::test]
    async fn a_scan_is_hash_partitioned_only_where_its_readers_can_pair_with_it() {
        let schema: SchemaRef = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Int64, false),
            Field::new("v", DataType::Int64, false),
        ]));
        let pair = |values: &[i64]| {
            let column = Arc::new(Int64Array::from(values.to_vec()));
            RecordBatch::try_new(schema.clone(), vec![column.clone(), column]).unwrap()
        };
        let streams: Vec<SendableRecordBatchStream> = [pair(&[1, 2]), pair(&[3])]
            .into_iter()
            .map(|batch| {
                let stream = futures::stream::iter([Ok(batch)]);
                Box::pin(RecordBatchStreamAdapter::new(schema.clone(), stream))
                    as SendableRecordBatchStream
            })
            .collect();
        let key: Arc<dyn PhysicalExpr> = Arc::new(Column::new("k", 0));
        let rows = StoredRows::store("t", streams, &TaskContext::default(), usize::MAX)
            .await
            .unwrap()
            .partitioned_as(&Partitioning::Hash(vec![key], 2));
        let partitioning = |projection: Option<&[usize]>, target: usize| {
            let schema = project_schema(&rows.schema, projection.map(|p| p.to_vec()).as_ref());
            output_partitioning(&rows, projection, &schema.unwrap(), target).to_string()
        };
        assert_eq!(partitioning(None, 2), "Hash([k@0], 2)");
        // The key moves with the projection, and without it nothing is known.
        assert_eq!(partitioning(Some(&[1, 0]), 2), "Hash([k@1], 2)");
        assert_eq!(partitioning(Some(&[1]), 2), "UnknownPartitioning(2)");
        // A plan of 4 partitions hashes the other side of a join into 4.
        assert_eq!(partitioning(None, 4), "UnknownPartitioning(2)");
    }
}
