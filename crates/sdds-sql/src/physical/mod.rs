//! Physical-plan rules and operators that keep AWS's reports fast and within memory.

/// The `ExecutionPlan` methods of an operator that runs in place of the one in its `inner`
/// field: its children, expressions, properties and requirements are that operator's, so plans
/// around it see no difference.
macro_rules! forward_to_inner {
    () => {
        fn properties(&self) -> &std::sync::Arc<datafusion::physical_plan::PlanProperties> {
            self.inner.properties()
        }

        fn children(&self) -> Vec<&std::sync::Arc<dyn datafusion::physical_plan::ExecutionPlan>> {
            self.inner.children()
        }

        fn apply_expressions(
            &self,
            f: &mut dyn FnMut(
                &std::sync::Arc<dyn datafusion::physical_expr::PhysicalExpr>,
            ) -> datafusion::common::Result<
                datafusion::common::tree_node::TreeNodeRecursion,
            >,
        ) -> datafusion::common::Result<datafusion::common::tree_node::TreeNodeRecursion> {
            self.inner.apply_expressions(f)
        }

        fn maintains_input_order(&self) -> Vec<bool> {
            self.inner.maintains_input_order()
        }

        fn required_input_ordering(
            &self,
        ) -> Vec<Option<datafusion::physical_expr_common::sort_expr::OrderingRequirements>> {
            self.inner.required_input_ordering()
        }

        fn input_distribution_requirements(
            &self,
        ) -> datafusion::physical_plan::InputDistributionRequirements {
            self.inner.input_distribution_requirements()
        }
    };
}

mod build_side;
mod grouped_window;
mod hashed_sort;
mod keyed_window;
mod lookup_join;
mod narrow_window;
mod ranking_window;
mod reduced_build;
mod wide_batches;

use std::sync::Arc;

use datafusion::execution::TaskContext;
use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::prelude::SessionConfig;

pub use build_side::BuildOnKnownSide;
pub use grouped_window::{GroupWholePartitionWindows, GroupedWindowExec};
pub use keyed_window::{KeySortWindowExec, SortWindowKeysOnly};
pub use lookup_join::{LookUpInPlace, LookupJoinExec};
pub use narrow_window::{NarrowWindowExec, NarrowWindowInputs};
pub use ranking_window::{CountRankingWindows, RankingWindowExec};
pub use reduced_build::BuildOnReducedSide;
pub use wide_batches::{BatchSizeExec, BoundWideSpillBatches};

/// Runs SQL in tests: its rows as pretty-printed lines and its physical plan.
#[cfg(test)]
pub(crate) use narrow_window::tests::sorted_rows;

/// DataFusion's physical optimizer rules with ours: [`BuildOnKnownSide`] and then
/// [`BuildOnReducedSide`] (for a session limited to `memory_limit` bytes) right after join
/// selection, [`CountRankingWindows`], [`GroupWholePartitionWindows`], [`SortWindowKeysOnly`]
/// and [`NarrowWindowInputs`] at the end (they keep every requirement of the plan they replace;
/// [`SortWindowKeysOnly`] acts only where no operator above needs its order), then
/// [`LookUpInPlace`] and last [`BoundWideSpillBatches`].
pub fn optimizer_rules(
    memory_limit: Option<usize>,
) -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let after = rules
        .iter()
        .position(|r| r.name() == "join_selection")
        .map_or(rules.len(), |i| i + 1);
    rules.insert(after, Arc::new(BuildOnKnownSide));
    if let Some(limit) = memory_limit {
        rules.insert(after + 1, Arc::new(BuildOnReducedSide::new(limit)));
    }
    rules.push(Arc::new(CountRankingWindows));
    rules.push(Arc::new(GroupWholePartitionWindows));
    rules.push(Arc::new(SortWindowKeysOnly));
    rules.push(Arc::new(NarrowWindowInputs));
    rules.push(Arc::new(LookUpInPlace));
    rules.push(Arc::new(BoundWideSpillBatches));
    rules
}

/// `context` with `config` in place of its session's: an operator tunes how what it runs
/// executes (batch size, sorting) without touching the session.
pub(crate) fn with_config(context: &TaskContext, config: SessionConfig) -> TaskContext {
    TaskContext::new(
        context.task_id(),
        context.session_id(),
        config,
        context.scalar_functions().clone(),
        context.higher_order_functions().clone(),
        context.aggregate_functions().clone(),
        context.window_functions().clone(),
        context.runtime_env(),
    )
}
