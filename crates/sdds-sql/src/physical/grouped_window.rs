//! Window functions over whole partitions (`sum(x) OVER (PARTITION BY k)`,
//! `first_value(x) OVER (PARTITION BY k ORDER BY o ROWS BETWEEN UNBOUNDED PRECEDING AND
//! UNBOUNDED FOLLOWING)`), computed a chunk of partitions at a time.
//!
//! DataFusion evaluates such windows with `WindowAggExec`, which holds its entire input,
//! concatenates it into one batch, calls each window expression once per partition and emits
//! the result as a single batch. AWS's billed-revenue report has about a hundred of them over
//! 400 000 line items (4 M at ten times the data) in partitions of two or three rows: tens of
//! millions of tiny evaluations, and an input of gigabytes held where the memory pool does not
//! see it (at 10 M billing events, 14 GB beyond a 3 GiB limit). The input arrives sorted by
//! the partition keys, so [`GroupedWindowExec`] takes it a chunk of whole partitions at a time.
//! Plain aggregates are evaluated over the chunk in one pass with a grouped accumulator (the
//! partition's position in the chunk is its group); any other window function as
//! `WindowAggExec` does, once per partition, over only the columns it reads. The input batches
//! are passed on as they came with the window values appended. Memory is one chunk; results
//! and row order are `WindowAggExec`'s.

use std::collections::VecDeque;
use std::fmt;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow::array::{Array, ArrayRef, RecordBatch, UInt32Array};
use arrow::compute::{cast, concat, concat_batches, take};
use arrow::datatypes::SchemaRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::utils::evaluate_partition_ranges;
use datafusion::common::Result;
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::logical_expr::EmitTo;
use datafusion::physical_expr::window::{PlainAggregateWindowExpr, WindowExpr};
use datafusion::physical_expr::PhysicalSortExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::windows::WindowAggExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, ReplaceChildrenOptions,
};
use futures::{Stream, StreamExt};

use super::narrow_window::{null_unread, nulled_schema, read_columns, rejoin, same_partition_keys};

/// Replaces each `WindowAggExec` over partitions (DataFusion's operator for windows whose frame
/// reaches the partition's end) with a [`GroupedWindowExec`].
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
            if !groupable(window)? {
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

/// True when all expressions share non-empty partition keys and the input is sorted on every
/// one of them, so that each run of equal keys is one window partition.
fn groupable(window: &WindowAggExec) -> Result<bool> {
    let exprs = window.window_expr();
    let Some(first) = exprs.first() else {
        return Ok(false);
    };
    if first.partition_by().is_empty() {
        return Ok(false);
    }
    let same_keys = exprs
        .iter()
        .all(|e| same_partition_keys(e.as_ref(), first.as_ref()));
    Ok(same_keys && window.partition_by_sort_keys()?.len() == first.partition_by().len())
}

/// `expr` as an aggregate, if it aggregates (without DISTINCT or FILTER) over its whole
/// partition: then a grouped accumulator computes it for all partitions of a chunk at once.
fn whole_partition_aggregate(expr: &Arc<dyn WindowExpr>) -> Option<&PlainAggregateWindowExpr> {
    let plain = expr.as_any().downcast_ref::<PlainAggregateWindowExpr>()?;
    let frame = expr.get_window_frame();
    let whole = frame.start_bound.is_unbounded()
        && frame.end_bound.is_unbounded()
        && !plain.get_aggregate_expr().is_distinct()
        // FILTER (WHERE ...) is not reachable through the public API, but named.
        && !expr.name().contains("FILTER (WHERE");
    whole.then_some(plain)
}

/// Window functions over whole partitions, on input sorted by the partition keys.
#[derive(Debug)]
pub struct GroupedWindowExec {
    /// The plan it replaces: its input, expressions, schema, properties and requirements.
    inner: Arc<WindowAggExec>,
    partition_keys: Vec<PhysicalSortExpr>,
}

impl GroupedWindowExec {
    /// The window expressions it evaluates.
    pub fn window_expr(&self) -> &[Arc<dyn WindowExpr>] {
        self.inner.window_expr()
    }

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

    forward_to_inner!();

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
        let chunk_rows = 2 * context.session_config().batch_size();
        let input = self.inner.input().execute(partition, context)?;
        let window_expr = self.inner.window_expr().to_vec();
        let input_schema = input.schema();
        let narrow_schema =
            nulled_schema(&input_schema, &read_columns(&input_schema, &window_expr));
        Ok(Box::pin(GroupedWindowStream {
            ready: VecDeque::new(),
            schema: self.inner.schema(),
            input,
            narrow_schema,
            window_expr,
            partition_keys: self.partition_keys.clone(),
            buffered: VecDeque::new(),
            buffered_rows: 0,
            chunk_rows,
            evaluate_at: chunk_rows,
            finished: false,
        }))
    }
}

struct GroupedWindowStream {
    /// Input rows with their window values, waiting to be taken.
    ready: VecDeque<RecordBatch>,
    schema: SchemaRef,
    input: SendableRecordBatchStream,
    /// The input's schema with the columns no expression reads typed `Null`.
    narrow_schema: SchemaRef,
    window_expr: Vec<Arc<dyn WindowExpr>>,
    partition_keys: Vec<PhysicalSortExpr>,
    /// Input rows not yet evaluated, as they came.
    buffered: VecDeque<RecordBatch>,
    buffered_rows: usize,
    /// Rows gathered before a chunk is evaluated (the partition it ends in waits for the
    /// next): two batches.
    chunk_rows: usize,
    /// Buffered rows at which the next chunk is evaluated: `chunk_rows`, or twice what was
    /// buffered when a partition had not ended yet (so a long one is scanned a few times, not
    /// once per batch).
    evaluate_at: usize,
    finished: bool,
}

impl GroupedWindowStream {
    /// Evaluates the buffered rows' complete partitions (all of them at the end of the input)
    /// and queues them with their window values; keeps the rest.
    fn evaluate_chunk(&mut self, last: bool) -> Result<()> {
        if self.buffered_rows == 0 {
            return Ok(());
        }
        let narrow = self
            .buffered
            .iter()
            .map(|b| null_unread(b, &self.narrow_schema))
            .collect::<Result<Vec<_>>>()?;
        let batch = concat_batches(&self.narrow_schema, &narrow)?;
        drop(narrow);
        let keys = self
            .partition_keys
            .iter()
            .map(|k| k.evaluate_to_sort_column(&batch))
            .collect::<Result<Vec<_>>>()?;
        let mut ranges = evaluate_partition_ranges(batch.num_rows(), &keys)?;
        if !last {
            // The last partition may continue in the next batches.
            ranges.pop();
            if ranges.is_empty() {
                self.evaluate_at = self.buffered_rows.saturating_mul(2);
                return Ok(());
            }
        }
        self.evaluate_at = self.chunk_rows;
        let rows = ranges.last().map_or(0, |r| r.end);
        let chunk = batch.slice(0, rows);
        let partitions = ChunkPartitions::new(ranges);
        let values = self
            .window_expr
            .iter()
            .map(|expr| evaluate(expr, &chunk, &partitions))
            .collect::<Result<Vec<_>>>()?;
        self.ready
            .extend(rejoin(&values, &mut self.buffered, &self.schema)?);
        self.buffered_rows -= rows;
        Ok(())
    }
}

/// The window partitions of a chunk, and for each row its partition's position (its group):
/// the same for every expression evaluated over the chunk.
struct ChunkPartitions {
    ranges: Vec<std::ops::Range<usize>>,
    group_of_row: Vec<usize>,
    /// `group_of_row` as `take` indices, spreading one value per partition to its rows.
    spread: UInt32Array,
}

impl ChunkPartitions {
    fn new(ranges: Vec<std::ops::Range<usize>>) -> Self {
        let mut group_of_row = Vec::with_capacity(ranges.last().map_or(0, |r| r.end));
        for (group, range) in ranges.iter().enumerate() {
            group_of_row.extend(std::iter::repeat_n(group, range.len()));
        }
        let spread = UInt32Array::from_iter_values(group_of_row.iter().map(|g| *g as u32));
        Self {
            ranges,
            group_of_row,
            spread,
        }
    }
}

/// One window expression over `chunk`, whose rows are `partitions`: a value per row.
fn evaluate(
    expr: &Arc<dyn WindowExpr>,
    chunk: &RecordBatch,
    partitions: &ChunkPartitions,
) -> Result<ArrayRef> {
    let Some(plain) = whole_partition_aggregate(expr) else {
        // As WindowAggExec does: once per partition.
        let values = partitions
            .ranges
            .iter()
            .map(|r| expr.evaluate(&chunk.slice(r.start, r.len())))
            .collect::<Result<Vec<_>>>()?;
        let values: Vec<&dyn Array> = values.iter().map(|v| v.as_ref()).collect();
        return Ok(concat(&values)?);
    };
    let values = per_partition(plain, expr, chunk, partitions)?;
    let values = take(values.as_ref(), &partitions.spread, None)?;
    let wanted = expr.field()?.data_type().clone();
    Ok(if values.data_type() == &wanted {
        values
    } else {
        cast(&values, &wanted)?
    })
}

/// One aggregate over each partition of `chunk`: one value per range.
fn per_partition(
    plain: &PlainAggregateWindowExpr,
    expr: &Arc<dyn WindowExpr>,
    chunk: &RecordBatch,
    partitions: &ChunkPartitions,
) -> Result<ArrayRef> {
    let ranges = &partitions.ranges;
    let aggregate = plain.get_aggregate_expr();
    let args = expr.evaluate_args(chunk)?;
    if aggregate.groups_accumulator_supported() {
        let mut accumulator = aggregate.create_groups_accumulator()?;
        accumulator.update_batch(&args, &partitions.group_of_row, None, ranges.len())?;
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
            let evaluated = match self.input.poll_next_unpin(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Some(Err(e))),
                Poll::Ready(Some(Ok(batch))) => {
                    self.buffered_rows += batch.num_rows();
                    self.buffered.push_back(batch);
                    if self.buffered_rows < self.evaluate_at {
                        continue;
                    }
                    self.evaluate_chunk(false)
                }
                Poll::Ready(None) => {
                    self.finished = true;
                    self.evaluate_chunk(true)
                }
            };
            if let Err(e) = evaluated {
                return Poll::Ready(Some(Err(e)));
            }
        }
    }
}

impl RecordBatchStream for GroupedWindowStream {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::GroupWholePartitionWindows;
    use crate::physical::narrow_window::tests::{context, sorted_rows};

    #[tokio::test]
    async fn grouped_windows_give_window_agg_exec_rows() {
        let whole = "ROWS BETWEEN UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING";
        let queries = [
            // Plain aggregates: the grouped accumulators.
            "SELECT *, sum(v) OVER (PARTITION BY k) AS total, count(*) OVER (PARTITION BY k) \
                 AS n, max(w3) OVER (PARTITION BY k) AS m, avg(v) OVER (PARTITION BY k) AS a \
                 FROM t"
                .to_string(),
            // Ordered value functions and DISTINCT: evaluated once per partition.
            format!(
                "SELECT *, first_value(v) OVER (PARTITION BY k ORDER BY o DESC, w1 {whole}) \
                     AS f, last_value(w2) OVER (PARTITION BY k ORDER BY o DESC, w1 {whole}) \
                     AS l, sum(v) OVER (PARTITION BY k ORDER BY o DESC, w1 {whole}) AS s FROM t"
            ),
            "SELECT k, o, count(DISTINCT o) OVER (PARTITION BY k) AS d FROM t".to_string(),
        ];
        for sql in &queries {
            let (plain, plain_plan) = sorted_rows(&context(vec![]), sql).await;
            let (grouped, grouped_plan) =
                sorted_rows(&context(vec![Arc::new(GroupWholePartitionWindows)]), sql).await;
            assert!(plain_plan.contains("WindowAggExec"), "{plain_plan}");
            assert!(grouped_plan.contains("GroupedWindowExec"), "{grouped_plan}");
            assert!(!grouped_plan.contains(" WindowAggExec"), "{grouped_plan}");
            assert_eq!(grouped.len(), 40, "{sql}");
            assert_eq!(grouped, plain, "{sql}\n{grouped_plan}");
        }
    }
}
