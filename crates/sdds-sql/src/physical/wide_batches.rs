//! Spilling operators over wide rows run in batches of a bounded size in bytes.
//!
//! A hash aggregate that outgrows its memory share sorts its groups and spills them in runs, and
//! a sort spills its sorted runs; both then merge the runs holding batches of each in memory
//! (a sort's merge takes four times a run's largest batch per run). Batches are the session's
//! `batch_size` rows whatever their width. AWS's collections report ends in a GROUP BY over
//! some 270 columns: at 10 M billing events its batches are 33 MB, 23 runs per partition, and
//! one partition's merge took 440 MB while the other could not get the 66 MB it needs to
//! start. AWS's billed-revenue report sorts its 4.3 M line items of some 100 columns for its
//! windows: with batches of tens of megabytes a merge within its share of the limit took a
//! handful of runs at a time, and each row was written and read back in several passes.
//! [`BoundWideSpillBatches`] runs such an aggregate or sort with fewer rows per batch (its input
//! keeps the session's), so a run's batch is a few megabytes, a merge starts in little memory
//! and takes many runs at once. Narrow rows keep the session's batch size.

use std::sync::Arc;

use arrow::datatypes::Schema;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode, TreeNodeRecursion};
use datafusion::common::{internal_datafusion_err, internal_err, Result};
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    ReplaceChildrenOptions,
};

/// Bytes a batch of a spilling operator's output should stay under.
const MAX_BATCH_BYTES: usize = 4 << 20;

/// Rows a batch keeps however wide its rows.
const MIN_BATCH_ROWS: usize = 512;

/// Bytes assumed per value of a variable-width column (its offset and a short string).
const VARIABLE_WIDTH_BYTES: usize = 20;

/// Runs each operator that can spill sorted runs (an aggregate that merges its input's groups,
/// a sort without a limit) and whose rows would make a batch bigger than [`MAX_BATCH_BYTES`]
/// with fewer rows per batch.
#[derive(Debug, Default)]
pub struct BoundWideSpillBatches;

impl PhysicalOptimizerRule for BoundWideSpillBatches {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let session_rows = config.execution.batch_size.get();
        plan.transform_up(|node| {
            let Some(rows) = wide_spill_batch_rows(node.as_ref(), session_rows) else {
                return Ok(Transformed::no(node));
            };
            let [input] = node.children()[..] else {
                return internal_err!("an aggregate or a sort has one input");
            };
            let input = BatchSizeExec::new(Arc::clone(input), session_rows);
            let bounded = Arc::clone(&node).replace_children(
                vec![Arc::new(input)],
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?;
            Ok(Transformed::yes(
                Arc::new(BatchSizeExec::new(bounded, rows)) as Arc<dyn ExecutionPlan>,
            ))
        })
        .data()
    }

    fn name(&self) -> &str {
        "bound_wide_spill_batches"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The rows per batch `plan` should run with when it may spill sorted runs (a grouping
/// aggregate that merges, a sort that keeps every row) and `session_rows` of its rows exceed
/// [`MAX_BATCH_BYTES`].
fn wide_spill_batch_rows(plan: &dyn ExecutionPlan, session_rows: usize) -> Option<usize> {
    let spills = if let Some(aggregate) = plan.downcast_ref::<AggregateExec>() {
        let merges = matches!(
            aggregate.mode(),
            AggregateMode::Final
                | AggregateMode::FinalPartitioned
                | AggregateMode::Single
                | AggregateMode::SinglePartitioned
        );
        merges && !aggregate.group_expr().expr().is_empty()
    } else {
        // A sort with a limit keeps its top rows in memory and never spills.
        plan.downcast_ref::<SortExec>()
            .is_some_and(|sort| sort.fetch().is_none())
    };
    if !spills {
        return None;
    }
    let row_bytes = estimated_row_bytes(&plan.schema()).max(1);
    let rows = (MAX_BATCH_BYTES / row_bytes).max(MIN_BATCH_ROWS);
    (rows < session_rows).then_some(rows)
}

/// A guess at the bytes a row of `schema` takes in a record batch.
fn estimated_row_bytes(schema: &Schema) -> usize {
    schema
        .fields()
        .iter()
        .map(|field| {
            field
                .data_type()
                .primitive_width()
                .unwrap_or(VARIABLE_WIDTH_BYTES)
        })
        .sum()
}

/// Its input, run with `batch_size` rows per batch (and so everything below it, up to the next
/// `BatchSizeExec`).
#[derive(Debug)]
pub struct BatchSizeExec {
    input: Arc<dyn ExecutionPlan>,
    batch_size: usize,
}

impl BatchSizeExec {
    /// `input` run with `batch_size` rows per batch.
    pub fn new(input: Arc<dyn ExecutionPlan>, batch_size: usize) -> Self {
        Self { input, batch_size }
    }
}

impl DisplayAs for BatchSizeExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "BatchSizeExec: rows={}", self.batch_size)
    }
}

impl ExecutionPlan for BatchSizeExec {
    fn name(&self) -> &str {
        "BatchSizeExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let [input] = <[_; 1]>::try_from(children)
            .map_err(|_| internal_datafusion_err!("BatchSizeExec has one input"))?;
        Ok(Arc::new(Self::new(input, self.batch_size)))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let config = context
            .session_config()
            .clone()
            .with_batch_size(self.batch_size);
        let context = super::with_config(&context, config);
        self.input.execute(partition, Arc::new(context))
    }
}
