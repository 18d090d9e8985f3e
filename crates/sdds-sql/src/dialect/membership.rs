//! `x IN (SELECT ...)` as a `CASE WHEN` condition, which Athena runs and DataFusion cannot.
//!
//! DataFusion plans an `IN` subquery only in a filter; in a select list (AWS's archived
//! revenue-recognition queries test `offer_id IN (SELECT DISTINCT offer_id FROM cppo_offer_id)`
//! in a `CASE`) it fails with "Physical plan does not support logical expression
//! InSubquery". There it becomes a count of the matching rows, a scalar subquery DataFusion
//! turns into a join: `(SELECT count(*) FROM (<subquery>) AS m (v) WHERE m.v = x) > 0`. The
//! two differ only when `IN` would be NULL (a NULL `x`, or no match and a NULL among the
//! values), where the count gives false; a `WHEN` condition treats NULL as false, so only the
//! positive `IN` directly under `WHEN`, `AND`, `OR` or parentheses is rewritten.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{BinaryOperator, Expr, Statement, VisitMut, VisitorMut};
use datafusion::sql::sqlparser::dialect::GenericDialect;
use datafusion::sql::sqlparser::parser::Parser;

/// Rewrites every `IN` subquery that decides a `CASE WHEN` branch in `statement`.
pub fn count_case_memberships(statement: &mut DfStatement) {
    if let DfStatement::Statement(inner) = statement {
        if let Statement::Query(query) = inner.as_mut() {
            let _ = query.visit(&mut CaseMemberships);
        }
    }
}

struct CaseMemberships;

impl VisitorMut for CaseMemberships {
    type Break = ();

    fn post_visit_expr(&mut self, expr: &mut Expr) -> ControlFlow<()> {
        if let Expr::Case {
            operand: None,
            conditions,
            ..
        } = expr
        {
            for when in conditions {
                count_memberships(&mut when.condition);
            }
        }
        ControlFlow::Continue(())
    }
}

/// Rewrites the positive `IN` subqueries of `condition` reached through `AND`, `OR` and
/// parentheses.
fn count_memberships(condition: &mut Expr) {
    match condition {
        Expr::Nested(inner) => count_memberships(inner),
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And | BinaryOperator::Or,
            right,
        } => {
            count_memberships(left);
            count_memberships(right);
        }
        Expr::InSubquery {
            expr,
            subquery,
            negated: false,
        } => {
            let text = format!(
                "(SELECT count(*) FROM ({subquery}) AS __sdds_members (__sdds_member) \
                 WHERE __sdds_members.__sdds_member = ({expr})) > 0"
            );
            // What does not read back stays as it was, and fails as before.
            if let Ok(count) = Parser::new(&GenericDialect {})
                .try_with_sql(&text)
                .and_then(|mut parser| parser.parse_expr())
            {
                *condition = count;
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn rewritten(sql: &str) -> String {
        let mut statement = DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
        count_case_memberships(&mut statement);
        statement.to_string()
    }

    #[test]
    fn only_positive_memberships_under_when_become_counts() {
        assert_eq!(
            rewritten(
                "SELECT CASE WHEN o.id IN (SELECT DISTINCT id FROM p) AND o.x > 1 THEN 'a' \
                 ELSE 'b' END FROM o"
            ),
            "SELECT CASE WHEN (SELECT count(*) FROM (SELECT DISTINCT id FROM p) AS __sdds_members \
             (__sdds_member) WHERE __sdds_members.__sdds_member = (o.id)) > 0 AND o.x > 1 \
             THEN 'a' ELSE 'b' END FROM o"
        );
        for kept in [
            "SELECT CASE WHEN o.id NOT IN (SELECT id FROM p) THEN 'a' END FROM o",
            "SELECT CASE WHEN NOT o.id IN (SELECT id FROM p) THEN 'a' END FROM o",
            "SELECT o.id IN (SELECT id FROM p) FROM o",
            "SELECT * FROM o WHERE o.id IN (SELECT id FROM p)",
        ] {
            assert_eq!(rewritten(kept), kept);
        }
    }
}
