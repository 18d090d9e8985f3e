//! Window operators fed only the columns their expressions read.
//!
//! DataFusion's window operators cut their input into one record batch per window partition,
//! with every column. AWS's SQL deduplicates each feed with `row_number() OVER (PARTITION BY
//! <id> ...)` over all forty columns of the billing events: a million partitions of one row
//! each, forty array slices apiece, ten seconds of a one-second job. [`NarrowWindowExec`]
//! runs the same window operator over the input with every column it does not read replaced by
//! an all-null column (slicing one costs next to nothing), keeps the real columns aside, and
//! joins the window values back onto them: both operators keep their input's row order, so
//! the n-th output row belongs to the n-th input row.

use std::collections::VecDeque;
use std::fmt;
use std::sync::{Arc, Mutex};

use arrow::array::{ArrayRef, NullArray, RecordBatch, RecordBatchOptions, UInt32Array};
use arrow::compute::take;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{internal_err, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_expr::window::WindowExpr;
use datafusion::physical_expr::{EquivalenceProperties, Partitioning, PhysicalExpr};
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::{Boundedness, EmissionType};
use datafusion::physical_plan::metrics::{
    BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet, RecordOutput,
};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties,
    PlanProperties, ReplaceChildrenOptions,
};
use futures::StreamExt;

use crate::lock;

/// Unread columns below which narrowing is not worth a second stream.
const MIN_UNREAD_COLUMNS: usize = 4;

/// Wraps each window operator that carries at least [`MIN_UNREAD_COLUMNS`] columns its
/// expressions never read in a [`NarrowWindowExec`].
#[derive(Debug, Default)]
pub struct NarrowWindowInputs;

impl PhysicalOptimizerRule for NarrowWindowInputs {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            Ok(match NarrowWindowExec::wrap(&node) {
                Some(narrow) => Transformed::yes(Arc::new(narrow) as Arc<dyn ExecutionPlan>),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "narrow_window_inputs"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// A `BoundedWindowAggExec` or `WindowAggExec` that sees only the columns it reads.
#[derive(Debug)]
pub struct NarrowWindowExec {
    /// The plan it replaces: its input, expressions, schema, properties and requirements.
    inner: Arc<dyn ExecutionPlan>,
    /// The input's schema with each unread column typed `Null`, and the orderings that
    /// survive that.
    narrow_properties: Arc<PlanProperties>,
    /// How many window values each output row gets (the last columns of `inner`'s schema).
    window_columns: usize,
    metrics: ExecutionPlanMetricsSet,
}

impl NarrowWindowExec {
    /// The narrowed form of `node`, if it is a window operator with enough unread columns
    /// whose input ordering survives the narrowing.
    fn wrap(node: &Arc<dyn ExecutionPlan>) -> Option<Self> {
        let exprs = window_exprs(node.as_ref())?;
        let input = node.children().first().map(|c| Arc::clone(c))?;
        let input_schema = input.schema();
        let read = read_columns(&input_schema, exprs);
        if read.iter().filter(|r| !**r).count() < MIN_UNREAD_COLUMNS {
            return None;
        }
        let schema = nulled_schema(&input_schema, &read);
        // Each ordering of the input, up to its first sort key that reads a nulled column.
        let orderings = input
            .equivalence_properties()
            .oeq_class()
            .iter()
            .map(|ordering| {
                ordering
                    .iter()
                    .take_while(|key| collect_columns(&key.expr).iter().all(|c| read[c.index()]))
                    .cloned()
                    .collect::<Vec<_>>()
            });
        let narrow_properties = Arc::new(PlanProperties::new(
            EquivalenceProperties::new_with_orderings(schema, orderings),
            Partitioning::UnknownPartitioning(input.output_partitioning().partition_count()),
            EmissionType::Incremental,
            Boundedness::Bounded,
        ));
        let narrow = Self {
            inner: Arc::clone(node),
            narrow_properties,
            window_columns: exprs.len(),
            metrics: ExecutionPlanMetricsSet::new(),
        };
        // The operator checks its input's ordering again; if narrowing lost it, stay wide.
        let empty = Box::pin(RecordBatchStreamAdapter::new(
            narrow.narrow_properties.eq_properties.schema().clone(),
            futures::stream::empty(),
        ));
        narrow.over(empty).ok()?;
        Some(narrow)
    }

    /// The window operator over `stream`, the narrowed input of one of its partitions.
    fn over(&self, stream: SendableRecordBatchStream) -> Result<Arc<dyn ExecutionPlan>> {
        let source = StreamSource::new(stream, Arc::clone(&self.narrow_properties));
        Arc::clone(&self.inner).replace_children(
            vec![Arc::new(source)],
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )
    }
}

/// Which of `input`'s columns the window expressions read (as arguments, partition or order
/// keys).
pub(super) fn read_columns(input: &SchemaRef, exprs: &[Arc<dyn WindowExpr>]) -> Vec<bool> {
    let mut read = vec![false; input.fields().len()];
    for expr in exprs {
        let all = expr.all_expressions();
        let used = all
            .args
            .iter()
            .chain(&all.partition_by_exprs)
            .chain(&all.order_by_exprs);
        for column in used.flat_map(collect_columns) {
            read[column.index()] = true;
        }
    }
    read
}

/// `input` with each column not `read` typed `Null`.
pub(super) fn nulled_schema(input: &SchemaRef, read: &[bool]) -> SchemaRef {
    let fields = input.fields().iter().zip(read).map(|(field, read)| {
        if *read {
            Arc::clone(field)
        } else {
            Arc::new(Field::new(field.name(), DataType::Null, true))
        }
    });
    Arc::new(Schema::new_with_metadata(
        fields.collect::<Vec<_>>(),
        input.metadata().clone(),
    ))
}

/// Whether `b` partitions its rows by the same expressions as `a`.
pub(super) fn same_partition_keys(a: &dyn WindowExpr, b: &dyn WindowExpr) -> bool {
    a.partition_by().len() == b.partition_by().len()
        && a.partition_by()
            .iter()
            .zip(b.partition_by())
            .all(|(x, y)| x.as_ref() == y.as_ref())
}

/// The window expressions of a window operator; `None` for any other plan.
pub(super) fn window_exprs(plan: &dyn ExecutionPlan) -> Option<&[Arc<dyn WindowExpr>]> {
    if let Some(bounded) = plan.downcast_ref::<BoundedWindowAggExec>() {
        return Some(bounded.window_expr());
    }
    plan.downcast_ref::<WindowAggExec>()
        .map(|w| w.window_expr())
}

impl DisplayAs for NarrowWindowExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "NarrowWindowExec: ")?;
        self.inner.fmt_as(t, f)
    }
}

impl ExecutionPlan for NarrowWindowExec {
    fn name(&self) -> &str {
        "NarrowWindowExec"
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
        Ok(match Self::wrap(&inner) {
            Some(narrow) => Arc::new(narrow),
            None => inner,
        })
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let Some(input) = self.inner.children().first().map(|c| Arc::clone(c)) else {
            return internal_err!("a window operator has one input");
        };
        let wide = input.execute(partition, Arc::clone(&context))?;
        let kept = Arc::new(Mutex::new(VecDeque::<RecordBatch>::new()));
        let narrow_schema = Arc::clone(self.narrow_properties.eq_properties.schema());
        let batch_schema = Arc::clone(&narrow_schema);
        let keep = Arc::clone(&kept);
        let narrowed = wide.map(move |batch| {
            let batch = batch?;
            let narrow = null_unread(&batch, &batch_schema)?;
            lock(&keep).push_back(batch);
            Ok(narrow)
        });
        let narrowed = Box::pin(RecordBatchStreamAdapter::new(narrow_schema, narrowed));
        let values = self.over(narrowed)?.execute(partition, context)?;
        let schema = self.inner.schema();
        let window_columns = self.window_columns;
        let out_schema = Arc::clone(&schema);
        let output = BaselineMetrics::new(&self.metrics, partition);
        let joined = values.flat_map(move |batch| {
            let timer = output.elapsed_compute().timer();
            let joined = batch.and_then(|values| {
                let first = values.num_columns() - window_columns;
                rejoin(&values.columns()[first..], &mut lock(&kept), &out_schema)
            });
            timer.done();
            futures::stream::iter(match joined {
                Ok(batches) => batches
                    .into_iter()
                    .map(|b| Ok(b.record_output(&output)))
                    .collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, joined)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// `batch` with every column typed `Null` in `schema` replaced by an all-null column.
pub(super) fn null_unread(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch> {
    batch_of(schema, nulled_columns(batch, schema), batch.num_rows())
}

/// `batch`'s columns, those typed `Null` in `schema` replaced by all-null columns.
pub(super) fn nulled_columns(batch: &RecordBatch, schema: &SchemaRef) -> Vec<ArrayRef> {
    let rows = batch.num_rows();
    batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(column, field)| match field.data_type() {
            DataType::Null => Arc::new(NullArray::new(rows)) as ArrayRef,
            _ => Arc::clone(column),
        })
        .collect()
}

/// A batch of `rows` rows: stated, since its columns may all be `Null`-typed.
pub(super) fn batch_of(
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
    rows: usize,
) -> Result<RecordBatch> {
    let options = RecordBatchOptions::new().with_row_count(Some(rows));
    Ok(RecordBatch::try_new_with_options(
        Arc::clone(schema),
        columns,
        &options,
    )?)
}

/// `columns` with each of `values` taken at `indices` appended: copied, not sliced, since a
/// slice would be counted at its whole array's size by every operator that reserves memory
/// for the batch (and by a spill file's merge).
pub(super) fn append_taken(
    schema: &SchemaRef,
    mut columns: Vec<ArrayRef>,
    values: &[ArrayRef],
    indices: &UInt32Array,
) -> Result<RecordBatch> {
    for value in values {
        columns.push(take(value.as_ref(), indices, None)?);
    }
    batch_of(schema, columns, indices.len())
}

/// The kept input rows that `values` (window columns, one value per row, in input order)
/// belong to, with those columns appended: one batch per kept batch they span, so the input
/// columns are not concatenated.
pub(super) fn rejoin(
    values: &[ArrayRef],
    kept: &mut VecDeque<RecordBatch>,
    schema: &SchemaRef,
) -> Result<Vec<RecordBatch>> {
    let rows = values.first().map_or(0, |v| v.len());
    let mut out = Vec::new();
    let mut offset = 0;
    while offset < rows {
        let Some(front) = kept.pop_front() else {
            return internal_err!("a window operator returned more rows than it was given");
        };
        let len = front.num_rows().min(rows - offset);
        if len < front.num_rows() {
            kept.push_front(front.slice(len, front.num_rows() - len));
        }
        let rows = UInt32Array::from_iter_values(offset as u32..(offset + len) as u32);
        let columns = front.slice(0, len).columns().to_vec();
        out.push(append_taken(schema, columns, values, &rows)?);
        offset += len;
    }
    Ok(out)
}

/// A leaf that hands out a stream built beforehand, once.
pub(super) struct StreamSource {
    stream: Mutex<Option<SendableRecordBatchStream>>,
    properties: Arc<PlanProperties>,
}

impl StreamSource {
    /// A source of `stream`, whose schema, orderings and partition count `properties` give.
    pub(super) fn new(stream: SendableRecordBatchStream, properties: Arc<PlanProperties>) -> Self {
        Self {
            stream: Mutex::new(Some(stream)),
            properties,
        }
    }
}

impl fmt::Debug for StreamSource {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.debug_struct("StreamSource").finish_non_exhaustive()
    }
}

impl DisplayAs for StreamSource {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "StreamSource")
    }
}

impl ExecutionPlan for StreamSource {
    fn name(&self) -> &str {
        "StreamSource"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        Vec::new()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
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
        _partition: usize,
        _context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        match lock(&self.stream).take() {
            Some(stream) => Ok(stream),
            None => internal_err!("a narrowed window's input is read once"),
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use std::sync::Arc;

    use arrow::array::{Int64Array, RecordBatch, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use datafusion::datasource::MemTable;
    use datafusion::execution::SessionStateBuilder;
    use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
    use datafusion::physical_optimizer::PhysicalOptimizerRule;
    use datafusion::prelude::{SessionConfig, SessionContext};

    use super::NarrowWindowInputs;

    /// 40 rows in batches of three over two partitions: window partitions of one to five rows
    /// that straddle batches, and five text columns no window reads.
    fn table() -> Arc<MemTable> {
        let mut fields = vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("o", DataType::Int64, false),
            Field::new("v", DataType::Int64, true),
        ];
        fields.extend((1..=5).map(|i| Field::new(format!("w{i}"), DataType::Utf8, true)));
        let schema = Arc::new(Schema::new(fields));
        let batch = |rows: std::ops::Range<i64>| {
            let mut columns: Vec<arrow::array::ArrayRef> = vec![
                Arc::new(StringArray::from_iter(
                    rows.clone()
                        .map(|r| (r % 7 != 6).then(|| format!("k{}", r / 3 % 5))),
                )),
                Arc::new(Int64Array::from_iter_values(
                    rows.clone().map(|r| (r * 7) % 11),
                )),
                Arc::new(Int64Array::from_iter(
                    rows.clone().map(|r| (r % 4 != 0).then_some(r)),
                )),
            ];
            for i in 1..=5 {
                columns.push(Arc::new(StringArray::from_iter_values(
                    rows.clone().map(|r| format!("w{i}-{r}")),
                )));
            }
            RecordBatch::try_new(schema.clone(), columns).unwrap()
        };
        let partition = |start: i64| {
            (start..start + 20)
                .step_by(3)
                .map(|s| batch(s..(s + 3).min(start + 20)))
                .collect()
        };
        Arc::new(MemTable::try_new(schema.clone(), vec![partition(0), partition(20)]).unwrap())
    }

    /// A session over [`table`] in batches of three, with `rules` after DataFusion's own.
    pub(in crate::physical) fn context(
        rules: Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>>,
    ) -> SessionContext {
        let mut all = PhysicalOptimizer::new().rules;
        all.extend(rules);
        let config = SessionConfig::new()
            .with_target_partitions(2)
            .with_batch_size(3);
        let state = SessionStateBuilder::new()
            .with_config(config)
            .with_default_features()
            .with_physical_optimizer_rules(all)
            .build();
        let ctx = SessionContext::new_with_state(state);
        ctx.register_table("t", table()).unwrap();
        ctx
    }

    /// The rows of `sql`, sorted, and its physical plan.
    pub(crate) async fn sorted_rows(ctx: &SessionContext, sql: &str) -> (Vec<String>, String) {
        let (mut rows, plan) = rows(ctx, sql).await;
        rows.sort();
        (rows, plan)
    }

    /// The rows of `sql`, in the order they came, and its physical plan.
    pub(crate) async fn rows(ctx: &SessionContext, sql: &str) -> (Vec<String>, String) {
        let frame = ctx.sql(sql).await.unwrap();
        let plan = frame.clone().create_physical_plan().await.unwrap();
        let text = datafusion::physical_plan::displayable(plan.as_ref())
            .indent(true)
            .to_string();
        let batches = frame.collect().await.unwrap();
        let rows: Vec<String> = arrow::util::pretty::pretty_format_batches(&batches)
            .unwrap()
            .to_string()
            .lines()
            .filter(|l| l.starts_with('|'))
            .skip(1)
            .map(str::to_string)
            .collect();
        (rows, text)
    }

    #[tokio::test]
    async fn narrowed_windows_give_the_wide_operators_rows() {
        let queries = [
            "SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) AS rn, \
                    lag(v) OVER (PARTITION BY k ORDER BY o, w1) AS prev, \
                    dense_rank() OVER (PARTITION BY k ORDER BY o) AS dr FROM t",
            "SELECT * FROM (SELECT *, row_number() OVER (PARTITION BY k ORDER BY o DESC, w1) AS rn \
                 FROM t) WHERE rn = 1",
            "SELECT *, first_value(v) OVER (PARTITION BY k ORDER BY o, w1 ROWS BETWEEN \
                    UNBOUNDED PRECEDING AND UNBOUNDED FOLLOWING) AS first, \
                    sum(v) OVER (PARTITION BY k) AS total FROM t",
        ];
        for sql in queries {
            let (wide, wide_plan) = sorted_rows(&context(vec![]), sql).await;
            let (narrow, narrow_plan) =
                sorted_rows(&context(vec![Arc::new(NarrowWindowInputs)]), sql).await;
            assert!(!wide_plan.contains("NarrowWindowExec"), "{wide_plan}");
            assert!(narrow_plan.contains("NarrowWindowExec"), "{narrow_plan}");
            assert_eq!(
                narrow.len(),
                if sql.contains("rn = 1") { 6 } else { 40 },
                "{sql}"
            );
            assert_eq!(narrow, wide, "{sql}\n{narrow_plan}");
        }
    }
}
