//! Hash joins build on the side whose size is known.
//!
//! DataFusion builds a hash join's table from the side it estimates smaller. Its estimates
//! through a chain of aggregates, windows and outer joins can be off by orders of magnitude: in
//! AWS's billed-revenue report a 300 000-row line-item set was estimated at 8 000 rows and
//! became the build side of twelve stacked left joins against a 35 000-row address table,
//! holding twelve copies of itself. A stored CTE (see [`crate::materialize`]) knows its row
//! count exactly. When one side of a join is known exactly and the other only estimated, this
//! rule builds on the known side if it is smaller than the largest input the estimated side is
//! derived from (what that side may grow to), and small enough to hold.
//!
//! The other way round, an outer join does not build on its nullable side when that side is a
//! DISTINCT or GROUP BY over a join (a lookup CTE that is inlined, see [`crate::materialize`]):
//! no estimate bounds what its join yields, one key shared by many rows on both sides can
//! multiply it past every input, and as the probe side it gets the preserved side's keys as a
//! dynamic filter, which prunes its inputs before its join runs when no window or sort stands
//! between it and them. The preserved side is built instead, whatever its size: every one of its
//! rows reaches the join's output anyway, so holding it costs what the result does, where the
//! grouped side has no bound at all.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::stats::Precision;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::JoinType;
use datafusion::common::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::AggregateExec;
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::filter::FilterExec;
use datafusion::physical_plan::joins::{
    CrossJoinExec, HashJoinExec, NestedLoopJoinExec, SortMergeJoinExec,
};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::sorts::sort::SortExec;
use datafusion::physical_plan::windows::{BoundedWindowAggExec, WindowAggExec};
use datafusion::physical_plan::{ExecutionPlan, StatisticsArgs, StatisticsContext};

use super::{GroupedWindowExec, NarrowWindowExec, RankingWindowExec};

/// Rows a known side may have to be made the build side.
const MAX_KNOWN_BUILD_ROWS: usize = 2_000_000;

/// The rule; it belongs right after DataFusion's `join_selection`.
#[derive(Debug, Default)]
pub struct BuildOnKnownSide;

impl PhysicalOptimizerRule for BuildOnKnownSide {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !config.optimizer.join_reordering {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            if !join.join_type().supports_swap()
                || join.null_aware
                || !join.dynamic_expressions_produced().is_empty()
            {
                return Ok(Transformed::no(node));
            }
            let swap = match (rows(join.left())?, rows(join.right())?) {
                (Precision::Exact(_), _) => false,
                (_, Precision::Exact(right)) => {
                    right <= MAX_KNOWN_BUILD_ROWS
                        && largest_input(join.left())?.is_some_and(|left| right < left)
                }
                _ => {
                    *join.join_type() == JoinType::Right
                        && grouped_join(join.left())
                        && prunable(join.left())
                }
            };
            if swap {
                Ok(Transformed::yes(join.swap_inputs(*join.partition_mode())?))
            } else {
                Ok(Transformed::no(node))
            }
        })
        .data()
    }

    fn name(&self) -> &str {
        "build_on_known_side"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// True when `plan` groups (DISTINCT or GROUP BY) the output of a join, seen through the
/// operators that only move, project or filter rows.
pub(super) fn grouped_join(plan: &Arc<dyn ExecutionPlan>) -> bool {
    let mut node = plan;
    let mut grouped = false;
    loop {
        if node.is::<AggregateExec>() {
            grouped = true;
        } else if node.is::<HashJoinExec>()
            || node.is::<SortMergeJoinExec>()
            || node.is::<NestedLoopJoinExec>()
            || node.is::<CrossJoinExec>()
        {
            return grouped;
        } else if !(node.is::<ProjectionExec>()
            || node.is::<RepartitionExec>()
            || node.is::<CoalescePartitionsExec>()
            || node.is::<FilterExec>())
        {
            return false;
        }
        match node.children().as_slice() {
            [child] => node = child,
            _ => return false,
        }
    }
}

/// True when a filter pushed into `plan` can reach one of its leaves: no window or sort (which
/// need every row of their input) stands in the way on some path down. A dynamic filter then
/// prunes rows before the joins and groupings above that leaf run.
pub(super) fn prunable(plan: &Arc<dyn ExecutionPlan>) -> bool {
    if plan.is::<SortExec>()
        || plan.is::<BoundedWindowAggExec>()
        || plan.is::<WindowAggExec>()
        || plan.is::<GroupedWindowExec>()
        || plan.is::<NarrowWindowExec>()
        || plan.is::<RankingWindowExec>()
    {
        return false;
    }
    let children = plan.children();
    children.is_empty() || children.into_iter().any(prunable)
}

/// The row count of the largest leaf below `plan`: the size its estimate may really reach.
fn largest_input(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<usize>> {
    let children = plan.children();
    if children.is_empty() {
        return Ok(rows(plan)?.get_value().copied());
    }
    let mut largest = None;
    for child in children {
        largest = largest.max(largest_input(child)?);
    }
    Ok(largest)
}

fn rows(plan: &Arc<dyn ExecutionPlan>) -> Result<Precision<usize>> {
    Ok(StatisticsContext::new()
        .compute(plan.as_ref(), &StatisticsArgs::new())?
        .num_rows)
}
