//! `SUBSTRING(x FROM s FOR n)` and `substring(x, s)` planned with Presto's positions.

use std::sync::Arc;

use datafusion::common::Result;
use datafusion::logical_expr::planner::{ExprPlanner, PlannerResult};
use datafusion::logical_expr::{Expr, ScalarUDF};

use crate::functions::text::Substr;

/// Plans the SQL `SUBSTRING` syntax to [`Substr`].
#[derive(Debug)]
pub struct PrestoExprs {
    substr: Arc<ScalarUDF>,
}

impl Default for PrestoExprs {
    fn default() -> Self {
        Self {
            substr: Arc::new(ScalarUDF::from(Substr::default())),
        }
    }
}

impl ExprPlanner for PrestoExprs {
    fn plan_substring(&self, args: Vec<Expr>) -> Result<PlannerResult<Vec<Expr>>> {
        Ok(PlannerResult::Planned(self.substr.call(args)))
    }
}
