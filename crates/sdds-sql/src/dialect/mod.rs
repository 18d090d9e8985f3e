//! Athena's dialect on top of DataFusion: the function pack, SQL types, and the rewrites where
//! the two disagree. [`session_context`] builds a session with all of it.

mod coerced;
mod membership;
mod names;
mod planner;
mod rewrite;
mod types;

use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::common::{Result, ScalarValue};
use datafusion::execution::runtime_env::RuntimeEnv;
use datafusion::execution::session_state::SessionStateBuilder;
use datafusion::execution::FunctionRegistry;
use datafusion::logical_expr::Expr;
use datafusion::prelude::{SessionConfig, SessionContext};

use crate::functions;
use crate::memory_pool::finite_limit;

pub use coerced::AthenaCasts;
pub use membership::count_case_memberships;
pub use names::name_columns_as_athena;
pub use planner::PrestoExprs;
pub use rewrite::AthenaRewrite;
pub use types::PrestoTypes;

/// A session speaking Athena's dialect; with `today`, `now()` and `current_date` are fixed
/// to midnight UTC of that day.
pub fn session_context(
    mut config: SessionConfig,
    runtime: Arc<RuntimeEnv>,
    today: Option<NaiveDate>,
) -> Result<SessionContext> {
    // Athena reads 1.5 as DECIMAL(2,1), not DOUBLE.
    config.options_mut().sql_parser.parse_float_as_decimal = true;
    // Athena sorts NULLs last in either direction (ORDER BY, window orders, WITHIN GROUP).
    config.options_mut().sql_parser.default_null_ordering = "nulls_last".to_string();
    let memory_limit = finite_limit(runtime.memory_pool.as_ref());
    let mut builder = SessionStateBuilder::new()
        .with_config(config)
        .with_runtime_env(runtime)
        .with_default_features()
        .with_physical_optimizer_rules(crate::physical::optimizer_rules(memory_limit))
        .with_type_planner(Arc::new(PrestoTypes))
        .with_analyzer_rule(Arc::new(AthenaCasts::default()));
    for rule in crate::logical::optimizer_rules() {
        builder = builder.with_optimizer_rule(rule);
    }
    if let Some(planners) = builder.expr_planners() {
        planners.insert(0, Arc::new(PrestoExprs::default()));
    }
    let mut state = builder.build();
    state.register_function_rewrite(Arc::new(AthenaRewrite::default()))?;
    for function in functions::scalar_functions(today) {
        state.register_udf(Arc::new(function))?;
    }
    for function in functions::aggregate_functions() {
        state.register_udaf(Arc::new(function))?;
    }
    Ok(SessionContext::new_with_state(state))
}

/// True for the literal `''`.
fn is_empty_text(expr: &Expr) -> bool {
    matches!(
        expr,
        Expr::Literal(ScalarValue::Utf8(Some(s)) | ScalarValue::LargeUtf8(Some(s)) | ScalarValue::Utf8View(Some(s)), _)
            if s.is_empty()
    )
}
