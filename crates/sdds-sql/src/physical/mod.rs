//! Physical-plan rules and operators that keep AWS's reports fast and within memory.

mod build_side;
mod grouped_window;

use std::sync::Arc;

use datafusion::physical_optimizer::optimizer::PhysicalOptimizer;
use datafusion::physical_optimizer::PhysicalOptimizerRule;

pub use build_side::BuildOnKnownSide;
pub use grouped_window::{GroupWholePartitionWindows, GroupedWindowExec};

/// DataFusion's physical optimizer rules with ours: [`BuildOnKnownSide`] right after join
/// selection, [`GroupWholePartitionWindows`] at the end (it keeps every requirement of the
/// plan it replaces).
pub fn optimizer_rules() -> Vec<Arc<dyn PhysicalOptimizerRule + Send + Sync>> {
    let mut rules = PhysicalOptimizer::new().rules;
    let after = rules
        .iter()
        .position(|r| r.name() == "join_selection")
        .map_or(rules.len(), |i| i + 1);
    rules.insert(after, Arc::new(BuildOnKnownSide));
    rules.push(Arc::new(GroupWholePartitionWindows));
    rules
}
