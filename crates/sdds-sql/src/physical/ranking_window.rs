//! Ranking windows (`row_number()`, `rank()`, `dense_rank()`) counted in one pass over sorted
//! rows.
//!
//! DataFusion's window operators keep a buffer per window partition, keyed by the partition's
//! values as `ScalarValue`s, and cut each batch into one slice per partition. AWS's SQL
//! deduplicates every feed with `row_number() OVER (PARTITION BY <id> ORDER BY update_date
//! DESC)`, where nearly every partition is one row: at 10 M billing events that bookkeeping
//! is 37 s of CPU for what is a comparison per row. A ranking function needs only where
//! partitions and peer groups start, so [`RankingWindowExec`] compares each row's partition
//! and order keys, in Arrow's row format, with the row before it (the previous batch's last
//! row kept) and counts. Batches pass through as they came with the values appended; results
//! are the replaced operator's.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use arrow::compute::cast;
use arrow::datatypes::SchemaRef;
use arrow::row::{OwnedRow, RowConverter, Rows, SortField};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{internal_err, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::window::{StandardWindowExpr, WindowExpr};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet, RecordOutput,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowUDFExpr};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, InputOrderMode,
    ReplaceChildrenOptions,
};
use futures::StreamExt;

use super::narrow_window::{same_partition_keys, window_exprs};

/// Replaces each window operator over sorted input whose expressions are all `row_number()`,
/// `rank()` or `dense_rank()` over the same keys with a [`RankingWindowExec`].
#[derive(Debug, Default)]
pub struct CountRankingWindows;

impl PhysicalOptimizerRule for CountRankingWindows {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| match RankingWindowExec::try_new(Arc::clone(&node)) {
            Some(exec) => Ok(Transformed::yes(Arc::new(exec) as Arc<dyn ExecutionPlan>)),
            None => Ok(Transformed::no(node)),
        })
        .data()
    }

    fn name(&self) -> &str {
        "count_ranking_windows"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// What a ranking function counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ranking {
    RowNumber,
    Rank,
    DenseRank,
}

impl Ranking {
    fn of(expr: &Arc<dyn WindowExpr>) -> Option<Self> {
        let standard = expr.as_any().downcast_ref::<StandardWindowExpr>()?;
        let udf = standard
            .get_standard_func_expr()
            .as_any()
            .downcast_ref::<WindowUDFExpr>()?;
        if !udf.args().is_empty() {
            return None;
        }
        match udf.fun().name() {
            "row_number" => Some(Self::RowNumber),
            "rank" => Some(Self::Rank),
            "dense_rank" => Some(Self::DenseRank),
            _ => None,
        }
    }
}

/// Ranking functions over input sorted by their partition keys and then their order keys.
#[derive(Debug)]
pub struct RankingWindowExec {
    /// The window operator it replaces: its input, expressions, schema, properties and
    /// requirements.
    inner: Arc<dyn ExecutionPlan>,
    rankings: Vec<Ranking>,
    metrics: ExecutionPlanMetricsSet,
}

impl RankingWindowExec {
    /// `plan` replaced, if it is a window operator over sorted input whose expressions all
    /// rank over the same partition and order keys.
    fn try_new(plan: Arc<dyn ExecutionPlan>) -> Option<Self> {
        if let Some(bounded) = plan.downcast_ref::<BoundedWindowAggExec>() {
            if bounded.input_order_mode != InputOrderMode::Sorted {
                return None;
            }
        }
        let exprs = window_exprs(plan.as_ref())?;
        let first = exprs.first()?;
        let same_keys = exprs.iter().all(|e| {
            same_partition_keys(e.as_ref(), first.as_ref()) && e.order_by() == first.order_by()
        });
        if !same_keys {
            return None;
        }
        let rankings = exprs.iter().map(Ranking::of).collect::<Option<Vec<_>>>()?;
        Some(Self {
            inner: plan,
            rankings,
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }

    /// The window expressions it evaluates.
    pub fn window_expr(&self) -> &[Arc<dyn WindowExpr>] {
        window_exprs(self.inner.as_ref()).unwrap_or_default()
    }

    fn input(&self) -> Result<&Arc<dyn ExecutionPlan>> {
        match self.inner.children().first() {
            Some(input) => Ok(input),
            None => internal_err!("a window operator has one input"),
        }
    }
}

impl DisplayAs for RankingWindowExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let names: Vec<&str> = self.window_expr().iter().map(|e| e.name()).collect();
        match t {
            DisplayFormatType::TreeRender => write!(f, "{}", names.join(", ")),
            _ => write!(f, "RankingWindowExec: wdw=[{}]", names.join(", ")),
        }
    }
}

impl ExecutionPlan for RankingWindowExec {
    fn name(&self) -> &str {
        "RankingWindowExec"
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
        Ok(match RankingWindowExec::try_new(Arc::clone(&inner)) {
            Some(exec) => Arc::new(exec),
            None => inner,
        })
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input()?.execute(partition, context)?;
        let first = &self.window_expr()[0];
        let mut partitions = Keys::new(first.partition_by(), &input.schema())?;
        let order: Vec<Arc<dyn PhysicalExpr>> = first
            .order_by()
            .iter()
            .map(|s| Arc::clone(&s.expr))
            .collect();
        let mut peers = Keys::new(&order, &input.schema())?;
        let mut counter = Counter::default();
        let rankings = self.rankings.clone();
        let schema = self.schema();
        let output = BaselineMetrics::new(&self.metrics, partition);
        let stream_schema = Arc::clone(&schema);
        let ranked = input.map(move |batch| {
            let batch = batch?;
            let timer = output.elapsed_compute().timer();
            let starts = partitions.starts(&batch)?;
            let peer_starts = peers.starts(&batch)?;
            let values = counter.count(&starts, &peer_starts, &rankings);
            let ranked = appended(&stream_schema, &batch, values);
            timer.done();
            ranked.map(|b| b.record_output(&output))
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, ranked)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The columns of `batch` and the counted values, cast to the types of `schema`'s last fields.
fn appended(
    schema: &SchemaRef,
    batch: &RecordBatch,
    values: Vec<UInt64Array>,
) -> Result<RecordBatch> {
    let first = batch.num_columns();
    let mut columns = batch.columns().to_vec();
    for (i, value) in values.into_iter().enumerate() {
        let value: ArrayRef = Arc::new(value);
        columns.push(cast(&value, schema.field(first + i).data_type())?);
    }
    Ok(RecordBatch::try_new(Arc::clone(schema), columns)?)
}

/// Where runs of equal key values start, across batches.
struct Keys {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    /// `None` without keys: all rows are then one run.
    converter: Option<RowConverter>,
    /// The key values of the last row seen.
    last: Option<OwnedRow>,
    /// Whether a row was seen.
    seen: bool,
}

impl Keys {
    fn new(exprs: &[Arc<dyn PhysicalExpr>], schema: &SchemaRef) -> Result<Self> {
        let converter = match exprs.is_empty() {
            true => None,
            false => {
                let fields = exprs
                    .iter()
                    .map(|e| Ok(SortField::new(e.data_type(schema)?)))
                    .collect::<Result<Vec<_>>>()?;
                Some(RowConverter::new(fields)?)
            }
        };
        Ok(Self {
            exprs: exprs.to_vec(),
            converter,
            last: None,
            seen: false,
        })
    }

    /// For each row of `batch`, whether it starts a run: the input's first row, and each row
    /// whose keys differ from the row's before it.
    fn starts(&mut self, batch: &RecordBatch) -> Result<Vec<bool>> {
        let count = batch.num_rows();
        let mut starts = vec![false; count];
        if count == 0 {
            return Ok(starts);
        }
        starts[0] = !self.seen;
        self.seen = true;
        let Some(converter) = &self.converter else {
            return Ok(starts);
        };
        let columns = self
            .exprs
            .iter()
            .map(|e| e.evaluate(batch)?.into_array(count))
            .collect::<Result<Vec<_>>>()?;
        let rows: Rows = converter.convert_columns(&columns)?;
        if let Some(last) = &self.last {
            starts[0] = last.row() != rows.row(0);
        }
        for (i, start) in starts.iter_mut().enumerate().skip(1) {
            *start = rows.row(i) != rows.row(i - 1);
        }
        self.last = Some(rows.row(count - 1).owned());
        Ok(starts)
    }
}

/// The position of the current row in its partition and peer group, across batches.
#[derive(Debug, Default)]
struct Counter {
    row_number: u64,
    rank: u64,
    dense_rank: u64,
}

impl Counter {
    /// The values of `rankings` for a batch whose partitions start at `partition_starts` and
    /// peer groups (rows with equal order keys) at `peer_starts`.
    fn count(
        &mut self,
        partition_starts: &[bool],
        peer_starts: &[bool],
        rankings: &[Ranking],
    ) -> Vec<UInt64Array> {
        let mut values = vec![Vec::with_capacity(partition_starts.len()); rankings.len()];
        for (&partition_start, &peer_start) in partition_starts.iter().zip(peer_starts) {
            if partition_start {
                *self = Self {
                    row_number: 1,
                    rank: 1,
                    dense_rank: 1,
                };
            } else {
                self.row_number += 1;
                if peer_start {
                    self.rank = self.row_number;
                    self.dense_rank += 1;
                }
            }
            for (column, ranking) in values.iter_mut().zip(rankings) {
                column.push(self.value(*ranking));
            }
        }
        values.into_iter().map(UInt64Array::from).collect()
    }

    /// The current row's value of `ranking`.
    fn value(&self, ranking: Ranking) -> u64 {
        match ranking {
            Ranking::RowNumber => self.row_number,
            Ranking::Rank => self.rank,
            Ranking::DenseRank => self.dense_rank,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::CountRankingWindows;
    use crate::physical::narrow_window::tests::{context, sorted_rows};
    use crate::physical::SortWindowKeysOnly;

    #[tokio::test]
    async fn counted_rankings_give_the_window_operators_rows() {
        // Over `t`: batches of three, partitions of one to five rows straddling them, NULL
        // keys, ties in `o`.
        let queries = [
            "SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) AS rn, \
                    rank() OVER (PARTITION BY k ORDER BY o DESC, w1) AS r FROM t",
            "SELECT k, o, rank() OVER (PARTITION BY k ORDER BY o) AS r, \
                    dense_rank() OVER (PARTITION BY k ORDER BY o) AS dr FROM t",
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) AS rn \
                 FROM t) WHERE rn = 1",
            "SELECT k, o, w1, row_number() OVER (ORDER BY o, w1) AS rn, \
                    dense_rank() OVER (ORDER BY o) AS dr FROM t",
            "SELECT k, w1, rank() OVER (PARTITION BY k) AS r, \
                    dense_rank() OVER (PARTITION BY k) AS dr FROM t",
            "SELECT k, w1, rank() OVER (PARTITION BY k, o % 2 ORDER BY v DESC) AS r FROM t",
        ];
        for sql in queries {
            let (windowed, windowed_plan) = sorted_rows(&context(vec![]), sql).await;
            let (counted, counted_plan) =
                sorted_rows(&context(vec![Arc::new(CountRankingWindows)]), sql).await;
            assert!(windowed_plan.contains("WindowAggExec"), "{windowed_plan}");
            assert!(counted_plan.contains("RankingWindowExec"), "{counted_plan}");
            assert!(!counted_plan.contains("WindowAggExec"), "{counted_plan}");
            assert_eq!(
                counted.len(),
                if sql.contains("rn = 1") { 6 } else { 40 },
                "{sql}"
            );
            assert_eq!(counted, windowed, "{sql}\n{counted_plan}");
        }
    }

    #[tokio::test]
    async fn other_window_functions_keep_their_operator() {
        let sql = "SELECT k, row_number() OVER (PARTITION BY k ORDER BY o, w1) AS rn, \
                   lag(v) OVER (PARTITION BY k ORDER BY o, w1) AS prev FROM t";
        let (_, plan) = sorted_rows(&context(vec![Arc::new(CountRankingWindows)]), sql).await;
        assert!(!plan.contains("RankingWindowExec"), "{plan}");
    }

    #[tokio::test]
    async fn key_sorted_chains_count_their_rankings() {
        let sql = "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) \
                   AS rn, dense_rank() OVER (PARTITION BY w2 ORDER BY o) AS dr FROM t) WHERE rn = 1";
        let (windowed, _) = sorted_rows(&context(vec![]), sql).await;
        let rules: Vec<
            Arc<dyn datafusion::physical_optimizer::PhysicalOptimizerRule + Send + Sync>,
        > = vec![Arc::new(CountRankingWindows), Arc::new(SortWindowKeysOnly)];
        let (counted, plan) = sorted_rows(&context(rules), sql).await;
        assert!(plan.contains("KeySortWindowExec"), "{plan}");
        assert!(!plan.contains("WindowAggExec"), "{plan}");
        assert_eq!(counted.len(), 6);
        assert_eq!(counted, windowed, "{plan}");
    }
}
