//! Aggregates over whole window partitions (`sum(x) OVER (PARTITION BY k)`), computed chunk
//! by chunk and vectorised.
//!
//! DataFusion evaluates such windows with `WindowAggExec`, which holds its entire input,
//! concatenates it into one batch, calls each window expression once per partition and emits
//! the result as a single batch. AWS's billed-revenue report has about a hundred of them over
//! 400 000 line items in partitions of two or three rows: tens of millions of tiny
//! evaluations, one batch of a gigabyte that the next sort cannot reserve, and nothing that can
//! spill. The input arrives sorted by the partition keys, so [`GroupedWindowExec`] takes it a
//! chunk of whole partitions at a time and evaluates each aggregate over the chunk in one pass
//! with a grouped accumulator (the partition's position in the chunk is its group), then
//! spreads each result to its partition's rows. Memory is one chunk; results and row order are
//! `WindowAggExec`'s.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::array::{ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{cast, concat_batches, take};
use arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::utils::evaluate_partition_ranges;
use datafusion::common::Result;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::EmitTo;
use datafusion::physical_expr::window::{PlainAggregateWindowExpr, WindowExpr};
use datafusion::physical_expr::{PhysicalExpr, PhysicalSortExpr};
use datafusion::physical_expr_common::sort_expr::OrderingRequirements;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::windows::WindowAggExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    InputDistributionRequirements, PlanProperties, ReplaceChildrenOptions,
};
use futures::{Stream, StreamExt};

/// Rows gathered before a chunk is evaluated (plus the rest of the partition it ends in).
const CHUNK_ROWS: usize = 65_536;

/// Replaces each `WindowAggExec` whose expressions are all plain aggregates over whole
/// partitions with a [`GroupedWindowExec`].
#[derive(Debug, Default)]
pub struct GroupWholePartitionWindows;

impl PhysicalOptimizerRule for GroupWholePartitionWindows {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(window) = node.downcast_ref::<WindowAggExec>() else {
                return Ok(Transformed::no(node));
            };
            if !whole_partition_aggregates(window.window_expr()) {
                return Ok(Transformed::no(node));
            }
            let inner = Arc::new(window.clone());
            let exec = GroupedWindowExec::try_new(inner)?;
            Ok(Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>))
        })
        .data()
    }

    fn name(&self) -> &str {
        "group_whole_partition_windows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// True when every expression aggregates (without DISTINCT or FILTER) over its whole
/// partition, and all share non-empty partition keys.
fn whole_partition_aggregates(exprs: &[Arc<dyn WindowExpr>]) -> bool {
    let Some(first) = exprs.first() else {
        return false;
    };
    if first.partition_by().is_empty() {
        return false;
    }
    exprs.iter().all(|e| {
        let Some(plain) = e.as_any().downcast_ref::<PlainAggregateWindowExpr>() else {
            return false;
        };
        let frame = e.get_window_frame();
        let aggregate = plain.get_aggregate_expr();
        frame.start_bound.is_unbounded()
            && frame.end_bound.is_unbounded()
            && !aggregate.is_distinct()
            // FILTER (WHERE ...) is not reachable through the public API, but named.
            && !e.name().contains("FILTER (WHERE")
            && e.partition_by().len() == first.partition_by().len()
            && e.partition_by()
                .iter()
                .zip(first.partition_by())
                .all(|(a, b)| a.as_ref() == b.as_ref())
    })
}

/// Whole-partition window aggregates over input sorted by the partition keys.
#[derive(Debug)]
pub struct GroupedWindowExec {
    /// The plan it replaces: its input, expressions, schema, properties and requirements.
    inner: Arc<WindowAggExec>,
    partition_keys: Vec<PhysicalSortExpr>,
}

impl GroupedWindowExec {
    fn try_new(inner: Arc<WindowAggExec>) -> Result<Self> {
        let partition_keys = inner.partition_by_sort_keys()?;
        Ok(Self {
            inner,
            partition_keys,
        })
    }
}

impl DisplayAs for GroupedWindowExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "GroupedWindowExec: ")?;
        let names: Vec<&str> = self.inner.window_expr().iter().map(|e| e.name()).collect();
        match t {
            DisplayFormatType::TreeRender => write!(f, "{}", names.join(", ")),
            _ => write!(f, "wdw=[{}]", names.join(", ")),
        }
    }
}

impl ExecutionPlan for GroupedWindowExec {
    fn name(&self) -> &str {
        "GroupedWindowExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.inner.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.inner.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.inner.apply_expressions(f)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        self.inner.maintains_input_order()
    }

    fn required_input_ordering(&self) -> Vec<Option<OrderingRequirements>> {
        self.inner.required_input_ordering()
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.inner.input_distribution_requirements()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let inner = Arc::clone(&self.inner).replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )?;
        let Some(window) = inner.downcast_ref::<WindowAggExec>() else {
            return Ok(inner);
        };
        Ok(Arc::new(GroupedWindowExec::try_new(Arc::new(
            window.clone(),
        ))?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let batch_size = context.session_config().batch_size();
        let input = self.inner.input().execute(partition, context)?;
        Ok(Box::pin(GroupedWindowStream {
            batch_size,
            ready: VecDeque::new(),
            schema: self.inner.schema(),
            input,
            window_expr: self.inner.window_expr().to_vec(),
            partition_keys: self.partition_keys.clone(),
            buffered: Vec::new(),
            buffered_rows: 0,
            finished: false,
        }))
    }
}

struct GroupedWindowStream {
    batch_size: usize,
    /// Evaluated rows, in batches of `batch_size`, waiting to be taken.
    ready: VecDeque<RecordBatch>,
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    window_expr: Vec<Arc<dyn WindowExpr>>,
    partition_keys: Vec<PhysicalSortExpr>,
    buffered: Vec<RecordBatch>,
    buffered_rows: usize,
    finished: bool,
}

impl GroupedWindowStream {
    /// Evaluates the buffered rows' complete partitions (all of them at the end of the input)
    /// and keeps the rest.
    fn evaluate_chunk(&mut self, last: bool) -> Result<Option<RecordBatch>> {
        if self.buffered_rows == 0 {
            return Ok(None);
        }
        let batch = concat_batches(&self.input.schema(), &self.buffered)?;
        self.buffered.clear();
        let keys = self
            .partition_keys
            .iter()
            .map(|k| k.evaluate_to_sort_column(&batch))
            .collect::<Result<Vec<_>>>()?;
        let mut ranges = evaluate_partition_ranges(batch.num_rows(), &keys)?;
        if !last {
            // The last partition may continue in the next batches.
            // A non-empty batch has at least one partition range.
            #[allow(clippy::expect_used)]
            let open = ranges.pop().expect("a non-empty batch has a partition");
            if ranges.is_empty() {
                self.buffered.push(batch);
                return Ok(None);
            }
            self.buffered.push(batch.slice(open.start, open.len()));
            self.buffered_rows = open.len();
        } else {
            self.buffered_rows = 0;
        }
        let rows = ranges.last().map_or(0, |r| r.end);
        let chunk = batch.slice(0, rows);
        let mut group_of_row = Vec::with_capacity(rows);
        for (group, range) in ranges.iter().enumerate() {
            group_of_row.extend(std::iter::repeat_n(group, range.len()));
        }
        let spread = UInt32Array::from_iter_values(group_of_row.iter().map(|g| *g as u32));
        let mut columns = chunk.columns().to_vec();
        for expr in &self.window_expr {
            let values = per_partition(expr, &chunk, &ranges, &group_of_row)?;
            let values = take(values.as_ref(), &spread, None)?;
            let wanted = expr.field()?.data_type().clone();
            columns.push(if values.data_type() == &wanted {
                values
            } else {
                cast(&values, &wanted)?
            });
        }
        Ok(Some(RecordBatch::try_new(self.schema.clone(), columns)?))
    }
}

/// One aggregate over each partition of `chunk`: one value per range.
fn per_partition(
    expr: &Arc<dyn WindowExpr>,
    chunk: &RecordBatch,
    ranges: &[std::ops::Range<usize>],
    group_of_row: &[usize],
) -> Result<ArrayRef> {
    // The rule wraps only windows whose every expression is a PlainAggregateWindowExpr.
    #[allow(clippy::expect_used)]
    let plain = expr
        .as_any()
        .downcast_ref::<PlainAggregateWindowExpr>()
        .expect("checked by the rule");
    let aggregate = plain.get_aggregate_expr();
    let args = expr.evaluate_args(chunk)?;
    if aggregate.groups_accumulator_supported() {
        let mut accumulator = aggregate.create_groups_accumulator()?;
        accumulator.update_batch(&args, group_of_row, None, ranges.len())?;
        return accumulator.evaluate(EmitTo::All);
    }
    let mut values = Vec::with_capacity(ranges.len());
    for range in ranges {
        let mut accumulator = aggregate.create_accumulator()?;
        let slices: Vec<ArrayRef> = args
            .iter()
            .map(|a| a.slice(range.start, range.len()))
            .collect();
        accumulator.update_batch(&slices)?;
        values.push(accumulator.evaluate()?);
    }
    datafusion::common::ScalarValue::iter_to_array(values)
}

impl GroupedWindowStream {
    /// Queues an evaluated chunk in batches of the session's size.
    fn queue(&mut self, chunk: RecordBatch) {
        let mut offset = 0;
        while offset < chunk.num_rows() {
            let len = self.batch_size.min(chunk.num_rows() - offset);
            self.ready.push_back(chunk.slice(offset, len));
            offset += len;
        }
    }
}

impl Stream for GroupedWindowStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        loop {
            if let Some(batch) = self.ready.pop_front() {
                return Poll::Ready(Some(Ok(batch)));
            }
            if self.finished {
                return Poll::Ready(None);
            }
            let chunk = match self.input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(batch))) => {
                    self.buffered_rows += batch.num_rows();
                    self.buffered.push(batch);
                    if self.buffered_rows < CHUNK_ROWS {
                        continue;
                    }
                    self.evaluate_chunk(false)
                }
                Poll::Ready(None) => {
                    self.finished = true;
                    self.evaluate_chunk(true)
                }
            };
            match chunk {
                Ok(Some(chunk)) => self.queue(chunk),
                Ok(None) => {}
                Err(e) => return Poll::Ready(Some(Err(e))),
            }
        }
    }
}

impl RecordBatchStream for GroupedWindowStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}
