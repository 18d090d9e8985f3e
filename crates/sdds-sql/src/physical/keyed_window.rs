//! Chains of sorts and windows that sort only the columns they read.
//!
//! A window runs over rows sorted by its partition and order keys, and DataFusion sorts whole
//! rows. AWS's reports number and rank rows of 40 to 90 columns (billing events, categorized
//! line items) with `row_number()` and `dense_rank()` over a few keys, up to three windows in a
//! row, each sorting every column again: at 10 M billing events each of those sorts moves
//! 9 GB and spills and merges gigabytes of it. [`KeySortWindowExec`] runs the same sorts and
//! windows over the columns they read plus a row number, keeps the whole rows aside in the
//! order they came (in memory while the pool allows, then in spill files written and read
//! once), and gives each row its window values through its row number. Rows leave in the order
//! they came, not in the windows' order, so [`SortWindowKeysOnly`] uses it only where nothing
//! above needs that order.

use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array, UInt64Array};
use arrow::compute::concat;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt64Type};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{internal_err, DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::spill_file::SpillFile;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::window::WindowExpr;
use datafusion::physical_expr::{
    EquivalenceProperties, LexOrdering, Partitioning, PhysicalExpr, PhysicalSortExpr,
};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricValue, MetricsSet, RecordOutput, SpillMetrics,
};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::spill::get_record_batch_memory_size;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    InputDistributionRequirements, PlanProperties, ReplaceChildrenOptions, SpillManager,
};
use futures::{StreamExt, TryStreamExt};

use super::grouped_window::GroupedWindowExec;
use super::hashed_sort::{hashable_keys, is_sort, HashedKeys, HashedSortExec};
use super::narrow_window::{
    append_taken, batch_of, nulled_columns, nulled_schema, read_columns, window_exprs, StreamSource,
};
use super::ranking_window::RankingWindowExec;
use crate::lock;
use crate::memory_pool::finite_limit;

/// Columns the chain never reads below which keeping whole rows aside is not worth it.
const MIN_UNREAD_COLUMNS: usize = 4;

/// Whole rows kept aside may hold this fraction of the memory limit (over all partitions): the
/// rest stays for the chain's sorts, which would otherwise spill and merge what a row store
/// writes and reads only once.
const ROWS_SHARE: usize = 8;

/// Rows that did not fit in memory are written in files of about this size.
const SPILL_CHUNK_BYTES: usize = 64 << 20;

/// Below this many bytes held (about half of it rows), a chain's sort concatenates its batches
/// and sorts them once instead of sorting each batch and merging them all: at 10 M billing
/// events a partition's narrowed rows arrive in over 600 batches, and that merge cost five
/// times the one sort. Kept under 2 GiB so no concatenated string column outgrows its 32-bit
/// offsets; above it, DataFusion merges as before.
const SORT_ONCE_BYTES: usize = i32::MAX as usize;

/// Replaces each chain of sorts and windows (a window on top, a sort at the bottom) whose output
/// order nothing above needs, and which leaves at least [`MIN_UNREAD_COLUMNS`] columns unread,
/// with a [`KeySortWindowExec`].
#[derive(Debug, Default)]
pub struct SortWindowKeysOnly;

impl PhysicalOptimizerRule for SortWindowKeysOnly {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        // A statement's rows have no order unless it sorts them, and its sort needs nothing below.
        rewrite(plan, false)
    }

    fn name(&self) -> &str {
        "sort_window_keys_only"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `plan` with its chains replaced; `order_needed`: whether anything above relies on the order
/// of `plan`'s rows.
fn rewrite(plan: Arc<dyn ExecutionPlan>, order_needed: bool) -> Result<Arc<dyn ExecutionPlan>> {
    if !order_needed {
        if let Some(keyed) = KeySortWindowExec::try_new(&plan)? {
            // The chain's bottom sort reads its input in any order.
            let input = rewrite(Arc::clone(&keyed.input), false)?;
            return Ok(Arc::new(keyed.with_input(input)));
        }
    }
    let children = plan.children();
    if children.is_empty() {
        return Ok(plan);
    }
    let required = plan.required_input_ordering();
    let maintains = plan.maintains_input_order();
    let mut changed = false;
    let mut rewritten = Vec::with_capacity(children.len());
    for (i, child) in children.into_iter().enumerate() {
        let needed = required.get(i).is_some_and(Option::is_some)
            || (order_needed && maintains.get(i).copied().unwrap_or(true));
        let new = rewrite(Arc::clone(child), needed)?;
        changed |= !Arc::ptr_eq(&new, child);
        rewritten.push(new);
    }
    if changed {
        plan.replace_children(
            rewritten,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    } else {
        Ok(plan)
    }
}

/// The window expressions of a window operator, ours included; `None` for any other plan.
pub(super) fn chain_window_exprs(plan: &dyn ExecutionPlan) -> Option<&[Arc<dyn WindowExpr>]> {
    window_exprs(plan)
        .or_else(|| {
            plan.downcast_ref::<GroupedWindowExec>()
                .map(GroupedWindowExec::window_expr)
        })
        .or_else(|| {
            plan.downcast_ref::<RankingWindowExec>()
                .map(RankingWindowExec::window_expr)
        })
}

/// A chain of sorts and windows run over the columns it reads and a row number, the whole rows
/// kept aside and given their window values by row number, in the order they came.
#[derive(Debug)]
pub struct KeySortWindowExec {
    /// The windows and sorts it replaces, top first, each rebuilt over the narrowed rows.
    chain: Vec<Arc<dyn ExecutionPlan>>,
    /// The input of the chain's bottom sort.
    input: Arc<dyn ExecutionPlan>,
    /// The input's columns with those the chain does not read typed `Null`, except the one at
    /// `row_slot`, which carries row numbers; no ordering, the input's partition count.
    narrow_properties: Arc<PlanProperties>,
    row_slot: usize,
    /// The hashes of partition keys the chain's sorts order by first.
    hashed: Vec<HashedKeys>,
    /// How many window values each row gets (the last columns of the output).
    window_columns: usize,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
    /// The chains each execution ran, whose sorts' and windows' metrics count as this one's.
    executed: Mutex<Vec<Arc<dyn ExecutionPlan>>>,
}

impl KeySortWindowExec {
    /// The keyed form of the chain `top` heads, if it is one worth keying.
    fn try_new(top: &Arc<dyn ExecutionPlan>) -> Result<Option<Self>> {
        if chain_window_exprs(top.as_ref()).is_none() {
            return Ok(None);
        }
        let mut chain = Vec::new();
        let mut node = Arc::clone(top);
        loop {
            let Some(child) = node.children().first().map(|c| Arc::clone(c)) else {
                break;
            };
            let link = match node.downcast_ref::<SortExec>() {
                Some(sort) => {
                    sort.fetch().is_none()
                        && (sort.preserve_partitioning()
                            || child.output_partitioning().partition_count() == 1)
                }
                None => chain_window_exprs(node.as_ref()).is_some(),
            };
            if !link {
                break;
            }
            chain.push(node);
            node = child;
        }
        // Windows at the bottom read their input's order; the chain starts at a sort.
        while chain
            .last()
            .is_some_and(|n| n.downcast_ref::<SortExec>().is_none())
        {
            chain.pop();
        }
        let Some(bottom) = chain.last() else {
            return Ok(None);
        };
        let Some(input) = bottom.children().first().map(|c| Arc::clone(c)) else {
            return Ok(None);
        };
        let input_schema = input.schema();
        let read = chain_reads(&chain, input_schema.fields().len());
        let Some(row_slot) = read.iter().position(|r| !r) else {
            return Ok(None);
        };
        if read.iter().filter(|r| !**r).count() < MIN_UNREAD_COLUMNS {
            return Ok(None);
        }
        let narrow_schema = with_u64_slots(&nulled_schema(&input_schema, &read), &[row_slot]);
        let partitions = input.output_partitioning().partition_count();
        let narrow_properties = narrow_plan_properties(narrow_schema, partitions);
        let properties = output_properties(top.schema(), &input);
        let mut keyed = Self {
            window_columns: top.schema().fields().len() - input_schema.fields().len(),
            chain,
            input,
            narrow_properties,
            row_slot,
            hashed: Vec::new(),
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
            executed: Mutex::new(Vec::new()),
        };
        // Rebuilt over the narrowed rows, each window must still find its input in order.
        let Ok(rebuilt) = keyed.over_nothing() else {
            return Ok(None);
        };
        if !orderings_hold(&rebuilt)?
            || rebuilt.schema().fields().len()
                != keyed.properties.eq_properties.schema().fields().len()
        {
            return Ok(None);
        }
        keyed.hash_partition_keys(&read)?;
        Ok(Some(keyed))
    }

    /// Sorts whose windows partition by text first by a hash of those keys, kept in a column
    /// the chain does not read: a window needs each partition's rows together, not partitions
    /// in key order, and comparing hashes costs a fraction of comparing long identifiers (the
    /// sorts of AWS's reports spend most of their time in `memcmp`). Rows of equal hash stay
    /// ordered by the keys themselves, so colliding keys stay apart.
    fn hash_partition_keys(&mut self, read: &[bool]) -> Result<()> {
        let schema = self.input.schema();
        let width = schema.fields().len();
        let mut free = (0..width).filter(|&i| !read[i] && i != self.row_slot);
        let mut chain = self.chain.clone();
        let mut hashed: Vec<HashedKeys> = Vec::new();
        for i in 1..chain.len() {
            let Some(sort) = chain[i].downcast_ref::<SortExec>() else {
                continue;
            };
            let Some(columns) = hashable_keys(&chain[..i], sort, &schema) else {
                continue;
            };
            let slot = match hashed.iter().find(|h| h.columns == columns) {
                Some(h) => h.slot,
                None => {
                    let Some(slot) = free.next() else { break };
                    hashed.push(HashedKeys {
                        slot,
                        columns: columns.clone(),
                    });
                    slot
                }
            };
            let hash = PhysicalSortExpr::new_default(Arc::new(Column::new(
                &format!("{}_hash", schema.field(slot).name()),
                slot,
            )));
            let Some(ordering) =
                LexOrdering::new(std::iter::once(hash).chain(sort.expr().iter().cloned()))
            else {
                continue;
            };
            let hashed_sort = SortExec::new(ordering, Arc::clone(sort.input()))
                .with_preserve_partitioning(sort.preserve_partitioning());
            chain[i] = Arc::new(HashedSortExec {
                stated: Arc::clone(&chain[i]),
                sort: Arc::new(hashed_sort),
            });
        }
        if hashed.is_empty() {
            return Ok(());
        }
        let slots: Vec<usize> = hashed.iter().map(|h| h.slot).collect();
        let narrow_properties = narrow_plan_properties(
            with_u64_slots(&self.narrow_schema(), &slots),
            self.narrow_properties.partitioning.partition_count(),
        );
        let unhashed = std::mem::replace(&mut self.chain, chain);
        let narrow = std::mem::replace(&mut self.narrow_properties, narrow_properties);
        self.hashed = hashed;
        if !orderings_hold(&self.over_nothing()?)? {
            self.chain = unhashed;
            self.narrow_properties = narrow;
            self.hashed.clear();
        }
        Ok(())
    }

    /// The same chain over `input`.
    fn with_input(&self, input: Arc<dyn ExecutionPlan>) -> Self {
        Self {
            chain: self.chain.clone(),
            properties: output_properties(self.schema(), &input),
            input,
            narrow_properties: Arc::clone(&self.narrow_properties),
            row_slot: self.row_slot,
            hashed: self.hashed.clone(),
            window_columns: self.window_columns,
            metrics: ExecutionPlanMetricsSet::new(),
            executed: Mutex::new(Vec::new()),
        }
    }

    fn narrow_schema(&self) -> SchemaRef {
        Arc::clone(self.narrow_properties.eq_properties.schema())
    }

    /// The chain rebuilt over no rows, to check what it requires of its input.
    fn over_nothing(&self) -> Result<Arc<dyn ExecutionPlan>> {
        let empty = RecordBatchStreamAdapter::new(self.narrow_schema(), futures::stream::empty());
        self.over(Box::pin(empty))
    }

    /// The chain rebuilt over `stream`, one partition's narrowed rows.
    fn over(&self, stream: SendableRecordBatchStream) -> Result<Arc<dyn ExecutionPlan>> {
        let source: Arc<dyn ExecutionPlan> = Arc::new(StreamSource::new(
            stream,
            Arc::clone(&self.narrow_properties),
        ));
        self.chain.iter().rev().try_fold(source, |child, node| {
            Arc::clone(node).replace_children(
                vec![child],
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )
        })
    }
}

/// The rows of `input`'s partitions with window values appended, in no particular order.
fn output_properties(schema: SchemaRef, input: &Arc<dyn ExecutionPlan>) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        input.output_partitioning().clone(),
        EmissionType::Final,
        Boundedness::Bounded,
    ))
}

/// Which of the chain input's `width` columns its sorts and windows read.
fn chain_reads(chain: &[Arc<dyn ExecutionPlan>], width: usize) -> Vec<bool> {
    let mut read = vec![false; width];
    let mut mark = |index: usize| {
        if let Some(r) = read.get_mut(index) {
            *r = true;
        }
    };
    for node in chain {
        if let Some(sort) = node.downcast_ref::<SortExec>() {
            for key in sort.expr().iter() {
                collect_columns(&key.expr)
                    .iter()
                    .for_each(|c| mark(c.index()));
            }
        } else if let (Some(exprs), Some(input)) =
            (chain_window_exprs(node.as_ref()), node.children().first())
        {
            let reads = read_columns(&input.schema(), exprs);
            reads
                .iter()
                .enumerate()
                .filter(|(_, r)| **r)
                .for_each(|(i, _)| mark(i));
        }
    }
    read
}

/// `schema` with the columns at `slots` holding row numbers or key hashes.
fn with_u64_slots(schema: &SchemaRef, slots: &[usize]) -> SchemaRef {
    let mut fields: Vec<Arc<Field>> = schema.fields().iter().cloned().collect();
    for &slot in slots {
        fields[slot] = Arc::new(Field::new(fields[slot].name(), DataType::UInt64, false));
    }
    Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone()))
}

/// The narrowed rows' properties: no ordering, the input's partition count.
fn narrow_plan_properties(schema: SchemaRef, partitions: usize) -> Arc<PlanProperties> {
    Arc::new(PlanProperties::new(
        EquivalenceProperties::new(schema),
        Partitioning::UnknownPartitioning(partitions),
        EmissionType::Incremental,
        Boundedness::Bounded,
    ))
}

/// Whether every ordering `plan` and its descendants require of their inputs is there.
fn orderings_hold(plan: &Arc<dyn ExecutionPlan>) -> Result<bool> {
    for (child, required) in plan
        .children()
        .into_iter()
        .zip(plan.required_input_ordering())
    {
        if let Some(required) = required {
            if !child
                .equivalence_properties()
                .ordering_satisfy_requirement(required.into_single())?
            {
                return Ok(false);
            }
        }
        if !orderings_hold(child)? {
            return Ok(false);
        }
    }
    Ok(true)
}

impl DisplayAs for KeySortWindowExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = self
            .chain
            .iter()
            .rev()
            .filter_map(|n| chain_window_exprs(n.as_ref()))
            .flatten()
            .map(|e| e.name())
            .collect();
        let sorts = self.chain.iter().filter(|n| is_sort(n.as_ref())).count();
        let hashed = self
            .chain
            .iter()
            .filter(|n| n.downcast_ref::<HashedSortExec>().is_some())
            .count();
        write!(
            f,
            "KeySortWindowExec: wdw=[{}], sorts={sorts}, by_key_hash={hashed}, row_slot={}",
            names.join(", "),
            self.row_slot
        )
    }
}

impl ExecutionPlan for KeySortWindowExec {
    fn name(&self) -> &str {
        "KeySortWindowExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        for node in &self.chain {
            if node.apply_expressions(f)? == TreeNodeRecursion::Stop {
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        // The lowest window's: the sorts keep their input's partitions.
        match self
            .chain
            .iter()
            .rev()
            .find(|n| chain_window_exprs(n.as_ref()).is_some())
        {
            Some(window) => window.input_distribution_requirements(),
            None => self.chain[0].input_distribution_requirements(),
        }
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| DataFusionError::Internal("a window chain has one input".into()))?;
        Ok(Arc::new(self.with_input(input)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let wide = self.input.execute(partition, Arc::clone(&context))?;
        let spill = crate::session::spill_manager(
            &context,
            SpillMetrics::new(&self.metrics, partition),
            self.input.schema(),
        );
        let reservation = MemoryConsumer::new(format!("KeySortWindowExec[{partition}] rows"))
            .with_can_spill(true)
            .register(context.memory_pool());
        let partitions = self.input.output_partitioning().partition_count();
        let memory_cap = finite_limit(context.memory_pool().as_ref())
            .map_or(usize::MAX, |limit| limit / ROWS_SHARE / partitions.max(1));
        let store = RowStore::new(spill, reservation, memory_cap, SPILL_CHUNK_BYTES);
        let rows = Arc::new(Mutex::new(Some(store)));
        let narrowed = narrow(
            wide,
            Arc::clone(&rows),
            self.narrow_schema(),
            self.row_slot,
            self.hashed.clone(),
        );
        let chain = self.over(narrowed)?;
        let windows = chain.execute(partition, Arc::new(sorting_once(&context)))?;
        lock(&self.executed).push(chain);
        let values = MemoryConsumer::new(format!("KeySortWindowExec[{partition}] values"))
            .register(context.memory_pool());
        let (row_slot, window_columns) = (self.row_slot, self.window_columns);
        let schema = self.schema();
        let output = BaselineMetrics::new(&self.metrics, partition);
        let joined = futures::stream::once(async move {
            let values = WindowValues::collect(windows, row_slot, window_columns, values).await?;
            let Some(rows) = lock(&rows).take() else {
                return internal_err!("a window chain's rows are read once");
            };
            if rows.rows != values.positions.len() {
                return internal_err!(
                    "a window chain returned {} rows of {}",
                    values.positions.len(),
                    rows.rows
                );
            }
            let mut offset = 0;
            let joined = rows.read()?.map(move |batch| {
                let timer = output.elapsed_compute().timer();
                let batch = batch.and_then(|batch| {
                    let joined = values.attach(&batch, offset, &schema);
                    offset += batch.num_rows();
                    joined
                });
                timer.done();
                batch.map(|b| b.record_output(&output))
            });
            Ok::<_, DataFusionError>(joined)
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            joined,
        )))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        let mut metrics = self.metrics.clone_inner();
        for chain in lock(&self.executed).iter() {
            let mut node = Some(chain);
            while let Some(plan) = node {
                // Their time and spills; their rows are this operator's.
                for metric in plan.metrics().iter().flat_map(|m| m.iter()) {
                    if matches!(
                        metric.value(),
                        MetricValue::ElapsedCompute(_)
                            | MetricValue::SpillCount(_)
                            | MetricValue::SpilledBytes(_)
                            | MetricValue::SpilledRows(_)
                    ) {
                        metrics.push(Arc::clone(metric));
                    }
                }
                node = plan.children().into_iter().next();
            }
        }
        Some(metrics)
    }
}

/// `context` with its sorts concatenating and sorting in memory up to [`SORT_ONCE_BYTES`]; the
/// chain's rows are narrow, so what it sorts in memory is mostly keys.
fn sorting_once(context: &TaskContext) -> TaskContext {
    let mut config = context.session_config().clone();
    config.options_mut().execution.sort_in_place_threshold_bytes = SORT_ONCE_BYTES;
    super::with_config(context, config)
}

/// `wide`'s batches, each stored in `rows` and passed on with the unread columns nulled and
/// row numbers at `row_slot`.
fn narrow(
    wide: SendableRecordBatchStream,
    rows: Arc<Mutex<Option<RowStore>>>,
    schema: SchemaRef,
    row_slot: usize,
    hashed: Vec<HashedKeys>,
) -> SendableRecordBatchStream {
    let mut next = 0_u64;
    let narrow_schema = Arc::clone(&schema);
    let narrowed = wide.map(move |batch| {
        let batch = batch?;
        let count = batch.num_rows();
        let mut columns = nulled_columns(&batch, &narrow_schema);
        columns[row_slot] = Arc::new(UInt64Array::from_iter_values(next..next + count as u64));
        for keys in &hashed {
            columns[keys.slot] = keys.hashes(&batch)?;
        }
        next += count as u64;
        let narrow = batch_of(&narrow_schema, columns, count)?;
        match lock(&rows).as_mut() {
            Some(store) => store.push(batch)?,
            None => return internal_err!("a window chain's rows were read before its windows"),
        }
        Ok(narrow)
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, narrowed))
}

/// Whole input rows in the order they came: in memory while the pool allows, then in spill
/// files.
struct RowStore {
    rows: usize,
    memory: Vec<RecordBatch>,
    /// Bytes of rows kept in memory at most, so the chain's sorts keep the pool.
    memory_cap: usize,
    /// Rows past memory not yet written, and the files written.
    pending: Vec<RecordBatch>,
    pending_bytes: usize,
    files: Vec<Arc<dyn SpillFile>>,
    spill: SpillManager,
    reservation: MemoryReservation,
    /// Bytes written to one spill file.
    chunk_bytes: usize,
}

impl RowStore {
    fn new(
        spill: SpillManager,
        reservation: MemoryReservation,
        memory_cap: usize,
        chunk_bytes: usize,
    ) -> Self {
        Self {
            rows: 0,
            memory: Vec::new(),
            memory_cap,
            pending: Vec::new(),
            pending_bytes: 0,
            files: Vec::new(),
            spill,
            reservation,
            chunk_bytes,
        }
    }

    fn push(&mut self, batch: RecordBatch) -> Result<()> {
        self.rows += batch.num_rows();
        let size = get_record_batch_memory_size(&batch);
        // Once a batch went past memory, all later ones follow it, keeping the order. Until
        // then the reservation holds exactly the rows in memory.
        if self.files.is_empty()
            && self.pending.is_empty()
            && self.reservation.size() + size <= self.memory_cap
            && self.reservation.try_grow(size).is_ok()
        {
            self.memory.push(batch);
            return Ok(());
        }
        // Counted while it waits for its file, so the pool sees it.
        self.reservation.grow(size);
        self.pending_bytes += size;
        self.pending.push(batch);
        if self.pending_bytes >= self.chunk_bytes {
            self.write_pending()?;
        }
        Ok(())
    }

    fn write_pending(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        let written = std::mem::take(&mut self.pending_bytes);
        if let Some(file) = self
            .spill
            .spill_record_batch_and_finish(&pending, "KeySortWindowExec rows")?
        {
            self.files.push(file);
        }
        self.reservation
            .shrink(written.min(self.reservation.size()));
        Ok(())
    }

    /// The rows, in the order they came; memory is given back as they leave.
    fn read(mut self) -> Result<SendableRecordBatchStream> {
        if !self.files.is_empty() {
            self.write_pending()?;
        }
        let schema = Arc::clone(self.spill.schema());
        let reservation = self.reservation;
        let memory =
            futures::stream::iter(self.memory.into_iter().chain(self.pending)).map(move |batch| {
                reservation.shrink(get_record_batch_memory_size(&batch).min(reservation.size()));
                Ok(batch)
            });
        let spill = self.spill;
        let disk = futures::stream::iter(self.files)
            .map(move |file| spill.read_spill_as_stream(file, None))
            .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            schema,
            memory.chain(disk),
        )))
    }
}

/// The window values of every row, indexed by row number.
struct WindowValues {
    /// One array per window column, in the chain's output order.
    columns: Vec<ArrayRef>,
    /// For each row number, its position in `columns`.
    positions: Vec<u32>,
    _reservation: MemoryReservation,
}

impl WindowValues {
    /// Drains the chain's output, keeping the row numbers at `row_slot` and the last
    /// `window_columns` columns.
    async fn collect(
        mut windows: SendableRecordBatchStream,
        row_slot: usize,
        window_columns: usize,
        reservation: MemoryReservation,
    ) -> Result<Self> {
        let mut numbers = Vec::new();
        let mut parts: Vec<Vec<ArrayRef>> = vec![Vec::new(); window_columns];
        while let Some(batch) = windows.next().await {
            let batch = batch?;
            let first = batch.num_columns() - window_columns;
            numbers.push(Arc::clone(batch.column(row_slot)));
            for (part, column) in parts.iter_mut().zip(&batch.columns()[first..]) {
                reservation.grow(column.get_array_memory_size());
                part.push(Arc::clone(column));
            }
        }
        drop(windows);
        let rows: usize = numbers.iter().map(|n| n.len()).sum();
        if u32::try_from(rows).is_err() {
            return internal_err!("a window chain's partition has more than 2^32 rows");
        }
        let mut positions = vec![u32::MAX; rows];
        reservation.grow(rows * std::mem::size_of::<u32>());
        let mut position = 0_u32;
        for number in &numbers {
            for &row in number.as_primitive::<UInt64Type>().values() {
                match positions.get_mut(row as usize) {
                    Some(slot) if *slot == u32::MAX => *slot = position,
                    _ => {
                        return internal_err!(
                            "a window chain returned row {row} twice or beyond its input"
                        )
                    }
                }
                position += 1;
            }
        }
        let columns = parts
            .iter()
            .map(|part| {
                let arrays: Vec<&dyn Array> = part.iter().map(|a| a.as_ref()).collect();
                concat(&arrays)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self {
            columns,
            positions,
            _reservation: reservation,
        })
    }

    /// `batch`, the rows numbered from `offset`, with their window values appended.
    fn attach(
        &self,
        batch: &RecordBatch,
        offset: usize,
        schema: &SchemaRef,
    ) -> Result<RecordBatch> {
        let count = batch.num_rows();
        let Some(positions) = self.positions.get(offset..offset + count) else {
            return internal_err!("a window chain returned fewer rows than it was given");
        };
        let indices = UInt32Array::from(positions.to_vec());
        append_taken(schema, batch.columns().to_vec(), &self.columns, &indices)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, UInt64Array};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::execution::memory_pool::{GreedyMemoryPool, MemoryConsumer, MemoryPool};
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::physical_plan::metrics::{ExecutionPlanMetricsSet, SpillMetrics};
    use datafusion::physical_plan::SpillManager;
    use futures::TryStreamExt;

    use super::{RowStore, SortWindowKeysOnly};
    use crate::physical::hashed_sort::HashedKeys;
    use crate::physical::narrow_window::tests::{context, rows, sorted_rows};
    use crate::physical::GroupWholePartitionWindows;

    fn keyed() -> datafusion::prelude::SessionContext {
        context(vec![
            Arc::new(GroupWholePartitionWindows),
            Arc::new(SortWindowKeysOnly),
        ])
    }

    #[tokio::test]
    async fn keyed_chains_give_the_sorted_chains_rows() {
        let queries = [
            "SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) AS rn, \
                    lag(v) OVER (PARTITION BY k ORDER BY o, w1) AS prev, \
                    dense_rank() OVER (PARTITION BY k ORDER BY o) AS dr FROM t",
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) AS rn \
                 FROM t) WHERE rn = 1",
            "SELECT *, first_value(v) OVER (PARTITION BY k ORDER BY o, w1 ROWS BETWEEN \
                    UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first, \
                    max(w1) OVER (PARTITION BY k, o) AS top, \
                    dense_rank() OVER (ORDER BY o) AS overall FROM t",
        ];
        for sql in queries {
            let (sorted, sorted_plan) = sorted_rows(&context(vec![]), sql).await;
            let (keyed, keyed_plan) = sorted_rows(&keyed(), sql).await;
            assert!(keyed_plan.contains("KeySortWindowExec"), "{keyed_plan}");
            assert!(sorted_plan.contains("SortExec"), "{sorted_plan}");
            // A window over all rows needs its one partition merged in order: that sort stays.
            if !sql.contains("overall") {
                assert!(!keyed_plan.contains("SortExec"), "{keyed_plan}");
            }
            assert_eq!(
                keyed.len(),
                if sql.contains("rn = 1") { 6 } else { 40 },
                "{sql}"
            );
            assert_eq!(keyed, sorted, "{sql}\n{keyed_plan}");
        }
    }

    #[tokio::test]
    async fn sorts_for_text_partitions_go_by_key_hash() {
        // Partitions by text (`k`) sort by hash; by a number (`o`) or by nothing they do not.
        let cases = [
            (
                "SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) AS rn, \
                        max(w2) OVER (PARTITION BY o) AS top FROM t",
                &["PARTITION BY [t.o] ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING], sorts=1, by_key_hash=0",
                  "RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW], sorts=1, by_key_hash=1"][..],
            ),
            (
                "SELECT *, dense_rank() OVER (PARTITION BY k, o ORDER BY w1) AS dr FROM t",
                &["sorts=1, by_key_hash=1"][..],
            ),
            (
                // Three sorts by the same key, each below the one hashed before it.
                "SELECT *, dense_rank() OVER (PARTITION BY k ORDER BY w1) AS d1, \
                        dense_rank() OVER (PARTITION BY k ORDER BY w2 DESC) AS d2, \
                        dense_rank() OVER (PARTITION BY k ORDER BY o) AS d3 FROM t",
                &["sorts=3, by_key_hash=3"][..],
            ),
            (
                "SELECT *, dense_rank() OVER (PARTITION BY o ORDER BY w1) AS dr, \
                        row_number() OVER (ORDER BY w2) AS overall FROM t",
                &["by_key_hash=0"][..],
            ),
        ];
        for (sql, expected) in cases {
            let (sorted, _) = sorted_rows(&context(vec![]), sql).await;
            let (keyed, plan) = sorted_rows(&keyed(), sql).await;
            for part in expected {
                assert!(plan.contains(part), "{part}\n{sql}\n{plan}");
            }
            assert!(
                !plan.contains("by_key_hash=1") || sql.contains("BY k"),
                "{plan}"
            );
            assert_eq!(keyed.len(), 40);
            assert_eq!(keyed, sorted, "{sql}\n{plan}");
        }
    }

    #[test]
    fn hashes_of_equal_keys_are_equal_and_nulls_hash_alike() {
        let keys = HashedKeys {
            slot: 1,
            columns: vec![0],
        };
        let schema = Arc::new(Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("h", DataType::Null, true),
        ]));
        let batch = RecordBatch::try_new(
            schema,
            vec![
                Arc::new(arrow::array::StringArray::from(vec![
                    Some("a"),
                    Some("b"),
                    None,
                    Some("a"),
                    None,
                ])),
                Arc::new(arrow::array::NullArray::new(5)),
            ],
        )
        .unwrap();
        let hashes = keys.hashes(&batch).unwrap();
        let hashes = hashes.as_any().downcast_ref::<UInt64Array>().unwrap();
        assert_eq!(hashes.value(0), hashes.value(3));
        assert_eq!(hashes.value(2), hashes.value(4));
        assert_ne!(hashes.value(0), hashes.value(1));
        assert_ne!(hashes.value(0), hashes.value(2));
    }

    #[test]
    fn a_chain_sorts_once_with_the_session_it_runs_in() {
        let session = keyed();
        let task = session.task_ctx();
        let once = super::sorting_once(&task);
        let execution = &once.session_config().options().execution;
        assert_eq!(
            execution.sort_in_place_threshold_bytes,
            super::SORT_ONCE_BYTES
        );
        assert_ne!(
            task.session_config()
                .options()
                .execution
                .sort_in_place_threshold_bytes,
            super::SORT_ONCE_BYTES
        );
        assert_eq!(execution.batch_size.get(), 3);
        assert_eq!(once.session_id(), task.session_id());
        assert!(Arc::ptr_eq(once.memory_pool(), task.memory_pool()));
        assert_eq!(once.scalar_functions().len(), task.scalar_functions().len());
        assert_eq!(once.window_functions().len(), task.window_functions().len());
    }

    #[tokio::test]
    async fn a_chain_whose_order_is_needed_stays_sorted() {
        let sql = "SELECT k, o, w1, w2, w3, w4, w5, \
                   row_number() OVER (PARTITION BY k ORDER BY o, w1) AS rn \
                   FROM t ORDER BY k, o, w1";
        let (sorted, _) = rows(&context(vec![]), sql).await;
        let (keyed, plan) = rows(&keyed(), sql).await;
        assert!(!plan.contains("KeySortWindowExec"), "{plan}");
        assert_eq!(keyed.len(), 40);
        assert_eq!(keyed, sorted, "{plan}");
    }

    #[tokio::test]
    async fn rows_past_memory_come_back_from_spill_files_in_order() {
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let batches: Vec<RecordBatch> = (0..7)
            .map(|b| {
                let values = Int64Array::from_iter_values(b * 100..b * 100 + 100);
                RecordBatch::try_new(schema.clone(), vec![Arc::new(values)]).unwrap()
            })
            .collect();
        let size = super::get_record_batch_memory_size(&batches[0]);
        // Room for two batches; the rest go to files of two batches each.
        let pool: Arc<dyn MemoryPool> = Arc::new(GreedyMemoryPool::new(2 * size));
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_pool(Arc::clone(&pool))
            .build_arc()
            .unwrap();
        let metrics = ExecutionPlanMetricsSet::new();
        let spill = SpillManager::new(
            Arc::clone(&runtime),
            SpillMetrics::new(&metrics, 0),
            Arc::clone(&schema),
        );
        let reservation = MemoryConsumer::new("rows").register(&pool);
        let mut store = RowStore::new(spill, reservation, usize::MAX, 2 * size);
        for batch in &batches {
            store.push(batch.clone()).unwrap();
        }
        assert_eq!(store.rows, 700);
        assert_eq!(store.memory.len(), 2);
        assert_eq!(store.files.len(), 2);
        let read: Vec<RecordBatch> = store.read().unwrap().try_collect().await.unwrap();
        let values: Vec<i64> = read
            .iter()
            .flat_map(|b| {
                let column = b.column(0).as_any().downcast_ref::<Int64Array>().unwrap();
                column.values().to_vec()
            })
            .collect();
        assert_eq!(values, (0..700).collect::<Vec<i64>>());
        assert_eq!(pool.reserved(), 0);
        // Held to its cap, a store keeps fewer batches in memory though the pool has room.
        let spill = SpillManager::new(runtime, SpillMetrics::new(&metrics, 1), schema);
        let reservation = MemoryConsumer::new("capped rows").register(&pool);
        let mut capped = RowStore::new(spill, reservation, size, 10 * size);
        for batch in &batches[..3] {
            capped.push(batch.clone()).unwrap();
        }
        assert_eq!((capped.memory.len(), capped.pending.len()), (1, 2));
        drop(capped);
        let spilled = metrics.clone_inner();
        assert_eq!(spilled.spill_count(), Some(3));
        assert_eq!(spilled.spilled_rows(), Some(500));
    }
}
