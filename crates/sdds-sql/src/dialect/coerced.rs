//! Rewrites applied after type coercion, on the casts it inserted:
//!
//! - `''` cast to a non-text type is NULL: an empty field is NULL in a typed column, so
//!   `coalesce(ts, '')`, `nullif(amount, '')` and `CASE ... ELSE '' END` plan and mean "empty".
//! - A timestamp cast to text takes Athena's form, `2026-09-15 10:20:30.743 UTC`.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::expr::{Cast, TryCast};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{Expr, ExprSchemable, LogicalPlan, ScalarUDF};
use datafusion::optimizer::AnalyzerRule;

use super::is_empty_text;
use crate::functions::args::is_text;
use crate::functions::time::TimestampText;

/// The post-coercion rewrites, as a DataFusion [`AnalyzerRule`].
#[derive(Debug)]
pub struct AthenaCasts {
    timestamp_text: Arc<ScalarUDF>,
}

impl Default for AthenaCasts {
    fn default() -> Self {
        Self {
            timestamp_text: Arc::new(ScalarUDF::from(TimestampText::default())),
        }
    }
}

impl AnalyzerRule for AthenaCasts {
    fn name(&self) -> &str {
        "athena_casts"
    }

    fn analyze(&self, plan: LogicalPlan, _config: &ConfigOptions) -> Result<LogicalPlan> {
        plan.transform_up_with_subqueries(|plan| {
            let schema = merge_schema(&plan.inputs());
            let names = NamePreserver::new(&plan);
            plan.map_expressions(|expr| {
                let name = names.save(&expr);
                let rewritten = expr.transform_up(|e| self.rewrite(e, &schema))?;
                Ok(rewritten.update_data(|e| name.restore(e)))
            })
        })
        .map(|t| t.data)
    }
}

impl AthenaCasts {
    fn rewrite(
        &self,
        expr: Expr,
        schema: &datafusion::common::DFSchema,
    ) -> Result<Transformed<Expr>> {
        let (inner, target) = match &expr {
            Expr::Cast(Cast { expr, field }) | Expr::TryCast(TryCast { expr, field }) => {
                (expr.as_ref(), field.data_type())
            }
            _ => return Ok(Transformed::no(expr)),
        };
        if !is_text(target) && is_empty_text(inner) {
            return Ok(Transformed::yes(Expr::Literal(
                ScalarValue::try_from(target)?,
                None,
            )));
        }
        if is_text(target) {
            if let Ok(DataType::Timestamp(..)) = inner.get_type(schema) {
                let text = self.timestamp_text.call(vec![inner.clone()]);
                let text = if target == &DataType::Utf8 {
                    text
                } else {
                    Expr::Cast(Cast::new(Box::new(text), target.clone()))
                };
                return Ok(Transformed::yes(text));
            }
        }
        Ok(Transformed::no(expr))
    }
}
