//! Sorts for windows that partition by text, by a hash of the keys first.
//!
//! A window needs each partition's rows together and in order, not the partitions in key
//! order. Ordering by a 64-bit hash of the partition keys, then by the keys and the window's
//! order, keeps that, and comparing hashes costs a fraction of comparing long identifiers.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, UInt64Array};
use arrow::datatypes::SchemaRef;
use datafusion::common::hash_utils::{create_hashes_with_hasher, QualityRandomState};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::Result;
use datafusion::execution::{SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::window::WindowExpr;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::MetricsSet;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::{
    ChildrenPropertiesMode, DisplayAs, DisplayFormatType, ExecutionPlan,
    InputDistributionRequirements, PlanProperties, ReplaceChildrenOptions,
};

use super::keyed_window::chain_window_exprs;
use super::narrow_window::same_partition_keys;

/// A column of the narrowed rows holding the hash of some of the input's columns.
#[derive(Debug, Clone)]
pub(super) struct HashedKeys {
    pub(super) slot: usize,
    pub(super) columns: Vec<usize>,
}

/// Hashes partition keys the same way in every partition and run.
const KEY_HASH: QualityRandomState = QualityRandomState::with_seed(0x5dd5);

impl HashedKeys {
    pub(super) fn hashes(&self, batch: &RecordBatch) -> Result<ArrayRef> {
        let mut hashes = vec![0_u64; batch.num_rows()];
        let columns: Vec<&ArrayRef> = self.columns.iter().map(|&c| batch.column(c)).collect();
        create_hashes_with_hasher(columns, &KEY_HASH, &mut hashes)?;
        Ok(Arc::new(UInt64Array::from(hashes)))
    }
}

/// The input columns (of `schema`) `sort` orders by first, when they are the text partition
/// keys of every window above it up to the next sort (`above`, top first; a sort there may
/// already be hashed).
pub(super) fn hashable_keys(
    above: &[Arc<dyn ExecutionPlan>],
    sort: &SortExec,
    schema: &SchemaRef,
) -> Option<Vec<usize>> {
    let windows: Vec<&[Arc<dyn WindowExpr>]> = above
        .iter()
        .rev()
        .take_while(|n| !is_sort(n.as_ref()))
        .map(|n| chain_window_exprs(n.as_ref()))
        .collect::<Option<_>>()?;
    let first = windows.first()?.first()?;
    if !windows
        .iter()
        .flat_map(|w| w.iter())
        .all(|e| same_partition_keys(first.as_ref(), e.as_ref()))
    {
        return None;
    }
    let mut columns: Vec<usize> = first
        .partition_by()
        .iter()
        .map(|e| {
            e.downcast_ref::<Column>()
                .map(Column::index)
                .filter(|&i| i < schema.fields().len())
        })
        .collect::<Option<_>>()?;
    let mut leading: Vec<usize> = sort
        .expr()
        .iter()
        .take(columns.len())
        .map(|k| k.expr.downcast_ref::<Column>().map(Column::index))
        .collect::<Option<_>>()?;
    columns.sort_unstable();
    leading.sort_unstable();
    let text = columns
        .iter()
        .any(|&c| !schema.field(c).data_type().is_primitive());
    (!columns.is_empty() && columns == leading && text).then_some(columns)
}

pub(super) fn is_sort(plan: &dyn ExecutionPlan) -> bool {
    plan.downcast_ref::<SortExec>().is_some() || plan.downcast_ref::<HashedSortExec>().is_some()
}

/// A sort by a hash of its windows' partition keys first. It gives each partition's rows
/// together and in order, which is all the windows above read, so it states the ordering of
/// the sort it stands for (`stated`), whose properties and requirements it has.
#[derive(Debug)]
pub(super) struct HashedSortExec {
    pub(super) stated: Arc<dyn ExecutionPlan>,
    pub(super) sort: Arc<dyn ExecutionPlan>,
}

impl DisplayAs for HashedSortExec {
    fn fmt_as(&self, t: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "HashedSortExec: ")?;
        match self.sort.downcast_ref::<SortExec>() {
            Some(sort) => sort.fmt_as(t, f),
            None => Ok(()),
        }
    }
}

impl ExecutionPlan for HashedSortExec {
    fn name(&self) -> &str {
        "HashedSortExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.stated.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        self.sort.children()
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.sort.apply_expressions(f)
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![false]
    }

    fn input_distribution_requirements(&self) -> InputDistributionRequirements {
        self.stated.input_distribution_requirements()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self {
            stated: Arc::clone(&self.stated).replace_children(
                children.clone(),
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?,
            sort: Arc::clone(&self.sort).replace_children(
                children,
                ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
            )?,
        }))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        self.sort.execute(partition, context)
    }

    fn metrics(&self) -> Option<MetricsSet> {
        self.sort.metrics()
    }
}
