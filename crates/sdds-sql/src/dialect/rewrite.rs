//! Rewrites applied before type coercion, where DataFusion and Athena disagree:
//!
//! - `x = ''` / `x <> ''` on a typed value: Athena's tables are all text and an empty CSV field
//!   is `''`. Our text columns hold `''` too, so there the comparison is left alone; a typed
//!   column (timestamp, decimal, integer) has no empty value and holds NULL for an empty field,
//!   so `x = ''` becomes `x IS NULL` and `x <> ''` becomes `x IS NOT NULL`.
//! - `decimal / decimal` has Presto's result type (scale = the larger scale) and rounds half
//!   away from zero; an integer operand counts as `decimal(19,0)` (BIGINT) or smaller.
//! - `try(expr)`: casts inside become `TRY_CAST`, the fallible functions their NULL-yielding
//!   forms, and division by zero NULL.

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result};
use datafusion::logical_expr::expr::{Cast, ScalarFunction, TryCast};
use datafusion::logical_expr::expr_rewriter::FunctionRewrite;
use datafusion::logical_expr::{
    binary_expr, lit, BinaryExpr, Expr, ExprSchemable, Operator, ScalarUDF,
};

use crate::functions::args::is_text;
use crate::functions::control::Try;
use crate::functions::numeric::DecimalDivide;
use crate::functions::{self};

use super::is_empty_text;

/// The rewrites, registered as a DataFusion [`FunctionRewrite`].
#[derive(Debug)]
pub struct AthenaRewrite {
    divide: Arc<ScalarUDF>,
}

impl Default for AthenaRewrite {
    fn default() -> Self {
        Self {
            divide: Arc::new(ScalarUDF::from(DecimalDivide::new(Default::default()))),
        }
    }
}

impl FunctionRewrite for AthenaRewrite {
    fn name(&self) -> &str {
        "athena_rewrite"
    }

    fn rewrite(
        &self,
        expr: Expr,
        schema: &DFSchema,
        _config: &ConfigOptions,
    ) -> Result<Transformed<Expr>> {
        match expr {
            Expr::BinaryExpr(BinaryExpr { left, op, right })
                if matches!(op, Operator::Eq | Operator::NotEq)
                    && (is_empty_text(&left) || is_empty_text(&right)) =>
            {
                let (empty, other) = if is_empty_text(&left) {
                    (left, right)
                } else {
                    (right, left)
                };
                Ok(empty_comparison(*other, *empty, op == Operator::Eq, schema))
            }
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: Operator::Divide,
                right,
            }) => match (
                decimal_operand(&left, schema),
                decimal_operand(&right, schema),
            ) {
                (Some(l), Some(r)) if l.is_decimal || r.is_decimal => Ok(Transformed::yes(
                    self.divide.call(vec![l.cast(*left), r.cast(*right)]),
                )),
                _ => Ok(Transformed::no(binary_expr(
                    *left,
                    Operator::Divide,
                    *right,
                ))),
            },
            Expr::ScalarFunction(ScalarFunction { func, mut args })
                if func.name() == Try::NAME && args.len() == 1 =>
            {
                Ok(Transformed::yes(without_errors(args.remove(0))?))
            }
            other => Ok(Transformed::no(other)),
        }
    }
}

/// `other = ''` (`equal`) or `other <> ''` with Athena's answer on our typed storage.
///
/// The result never contains `typed = ''` again: DataFusion applies function rewrites once
/// more to the filters it pushes into a scan, after coercion.
fn empty_comparison(other: Expr, empty: Expr, equal: bool, schema: &DFSchema) -> Transformed<Expr> {
    match other.get_type(schema) {
        Ok(t) if !is_text(&t) && t != DataType::Null => Transformed::yes(if equal {
            other.is_null()
        } else {
            other.is_not_null()
        }),
        // Text compares as it does in Athena; what cannot be typed here is left to DataFusion.
        _ => Transformed::no(binary_expr(other, op(equal), empty)),
    }
}

fn op(equal: bool) -> Operator {
    if equal {
        Operator::Eq
    } else {
        Operator::NotEq
    }
}

/// An operand of a division: a decimal, or an integer that Presto reads as one.
struct DecimalOperand {
    is_decimal: bool,
    target: DataType,
}

impl DecimalOperand {
    fn cast(&self, expr: Expr) -> Expr {
        if self.is_decimal && matches!(self.target, DataType::Decimal128(..)) {
            expr
        } else {
            Expr::Cast(Cast::new(Box::new(expr), self.target.clone()))
        }
    }
}

fn decimal_operand(expr: &Expr, schema: &DFSchema) -> Option<DecimalOperand> {
    let data_type = expr.get_type(schema).ok()?;
    let (is_decimal, target) = match data_type {
        DataType::Decimal128(..) => (true, data_type),
        DataType::Decimal32(p, s) | DataType::Decimal64(p, s) => (true, DataType::Decimal128(p, s)),
        DataType::Decimal256(p, s) if p <= 38 => (true, DataType::Decimal128(p, s)),
        DataType::Int8 | DataType::UInt8 => (false, DataType::Decimal128(3, 0)),
        DataType::Int16 | DataType::UInt16 => (false, DataType::Decimal128(5, 0)),
        DataType::Int32 | DataType::UInt32 => (false, DataType::Decimal128(10, 0)),
        DataType::Int64 => (false, DataType::Decimal128(19, 0)),
        _ => return None,
    };
    Some(DecimalOperand { is_decimal, target })
}

/// The error-free form of `expr`, for `try(expr)`.
fn without_errors(expr: Expr) -> Result<Expr> {
    expr.transform_down(|e| {
        Ok(match e {
            Expr::Cast(Cast { expr, field }) => {
                Transformed::yes(Expr::TryCast(TryCast { expr, field }))
            }
            Expr::ScalarFunction(ScalarFunction { func, args }) => {
                match functions::lenient(func.name()) {
                    Some(lenient) => Transformed::yes(Arc::new(lenient).call(args)),
                    None => Transformed::no(Expr::ScalarFunction(ScalarFunction { func, args })),
                }
            }
            Expr::BinaryExpr(BinaryExpr {
                left,
                op: op @ (Operator::Divide | Operator::Modulo),
                right,
            }) => {
                let zero = lit(0i64);
                Transformed::yes(binary_expr(
                    *left,
                    op,
                    datafusion::functions::expr_fn::nullif(*right, zero),
                ))
            }
            other => Transformed::no(other),
        })
    })
    .map(|t| t.data)
}
