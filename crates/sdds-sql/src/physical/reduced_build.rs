//! A join too big to build on its preserved side builds on its other side, first reduced to
//! the keys the preserved side has.
//!
//! A hash join holds its whole build side in memory and cannot spill. An outer join builds on
//! its preserved side when the other side groups a join that only the preserved side's keys
//! keep small (see [`super::BuildOnKnownSide`]): the dynamic filter of those keys prunes it as
//! it is read. Where the preserved side reads stored CTEs (see [`crate::materialize`]), its size
//! is measured before the join runs: the bytes per row of the columns it reads times the rows
//! its filter passes. Past a share of the memory limit, the join is planned as
//!
//! ```text
//! other side  ⋉  keys of the preserved side      (a semi join: builds on the keys alone,
//!                                                  and its dynamic filter prunes as before)
//!     ⟖ preserved side                            (builds on what is left, streams the rows)
//! ```
//!
//! which reads the preserved side twice (once for its keys) and holds its keys instead of its
//! rows. At 10 M billing events AWS's disbursement SQL looks up its invoice mapping twice with
//! the 2.9 M disbursed line items as the build side (1.1 and 1.6 GB, held together); at 1 M
//! they are a tenth of that and keep the plain plan.
//!
//! Only such lookups (the other side groups a join over stored rows, and a filter reaches its
//! leaves) are planned this way, and at most two stacked on each other. A scan of a feed table
//! is not measured (its Parquet size is compressed), so a join whose sides read only feeds
//! keeps its plan.

use std::sync::Arc;

use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{JoinType, Result};
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::execution_plan::reset_plan_states;
use datafusion::physical_plan::joins::{HashJoinExec, PartitionMode};
use datafusion::physical_plan::projection::ProjectionExec;
use datafusion::physical_plan::ExecutionPlan;
use tracing::debug;

use super::build_side::{grouped_join, prunable};
use crate::materialize::StoredExec;

/// Share of the memory limit a hash join's build side may read from stored CTEs.
const BUILD_SHARE: usize = 8;

/// Semi joins a preserved side may already hold: each reduction reads the preserved side
/// twice, so reductions stacked on each other read it twice as often per level.
const MAX_REDUCTIONS_BELOW: usize = 2;

/// The rule; it belongs right after [`super::BuildOnKnownSide`], before dynamic filters are
/// wired.
#[derive(Debug)]
pub struct BuildOnReducedSide {
    /// Bytes a build side may read from stored CTEs.
    max_build: usize,
}

impl BuildOnReducedSide {
    /// The rule for a session limited to `memory_limit` bytes.
    pub fn new(memory_limit: usize) -> Self {
        BuildOnReducedSide {
            max_build: memory_limit / BUILD_SHARE,
        }
    }
}

impl PhysicalOptimizerRule for BuildOnReducedSide {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        _config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        plan.transform_up(|node| {
            let Some(join) = node.downcast_ref::<HashJoinExec>() else {
                return Ok(Transformed::no(node));
            };
            let lookup = matches!(join.join_type(), JoinType::Left | JoinType::Inner)
                && !join.null_aware
                && join.dynamic_expressions_produced().is_empty()
                && grouped_join(join.right())
                && prunable(join.right());
            if !lookup || reductions(join.left()) >= MAX_REDUCTIONS_BELOW {
                return Ok(Transformed::no(node));
            }
            let (Some(preserved), Some(other)) =
                (stored_bytes(join.left())?, stored_bytes(join.right())?)
            else {
                return Ok(Transformed::no(node));
            };
            if preserved <= self.max_build || other >= preserved {
                return Ok(Transformed::no(node));
            }
            debug!(
                preserved_bytes = preserved,
                other_bytes = other,
                "join builds on its other side, reduced to the preserved side's keys"
            );
            Ok(Transformed::yes(build_on_reduced_side(join)?))
        })
        .data()
    }

    fn name(&self) -> &str {
        "build_on_reduced_side"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// Semi joins below `plan` (the reductions of this rule among them).
fn reductions(plan: &Arc<dyn ExecutionPlan>) -> usize {
    let own = plan
        .downcast_ref::<HashJoinExec>()
        .is_some_and(|join| *join.join_type() == JoinType::RightSemi);
    usize::from(own) + plan.children().into_iter().map(reductions).sum::<usize>()
}

/// Bytes the stored CTEs below `plan` give it; `None` when it reads none.
fn stored_bytes(plan: &Arc<dyn ExecutionPlan>) -> Result<Option<usize>> {
    if let Some(stored) = plan.downcast_ref::<StoredExec>() {
        return stored.estimated_bytes().map(Some);
    }
    let mut total = None;
    for child in plan.children() {
        if let Some(bytes) = stored_bytes(child)? {
            total = Some(total.unwrap_or(0) + bytes);
        }
    }
    Ok(total)
}

/// `join` (building on its left side) rebuilt on its right side, reduced to the left's keys.
fn build_on_reduced_side(join: &HashJoinExec) -> Result<Arc<dyn ExecutionPlan>> {
    // The keys of a second, independent copy of the left side.
    let keys_input = reset_plan_states(Arc::clone(join.left()))?;
    // Each left key becomes column `key{i}` of the keys, matched to the right key.
    let (keys, on): (Vec<_>, Vec<_>) = join
        .on()
        .iter()
        .enumerate()
        .map(|(i, (left, right))| {
            let name = format!("key{i}");
            let key: Arc<dyn PhysicalExpr> = Arc::new(Column::new(&name, i));
            ((Arc::clone(left), name), (key, Arc::clone(right)))
        })
        .unzip();
    let keys = Arc::new(ProjectionExec::try_new(keys, keys_input)?);
    let reduced = HashJoinExec::try_new(
        keys,
        Arc::clone(join.right()),
        on,
        None,
        &JoinType::RightSemi,
        None,
        PartitionMode::CollectLeft,
        join.null_equality(),
        false,
    )?;
    let join = join
        .builder()
        .with_new_children(vec![Arc::clone(join.left()), Arc::new(reduced)])?
        .build()?;
    join.swap_inputs(*join.partition_mode())
}
