//! Athena's names for unaliased output columns: `_col0`, `_col1`, ... by position.
//!
//! Presto names a select item after the column it reads (`x`, `t.x`) or its alias; anything
//! else is `_col` and its position in the select list. DataFusion would name it after the
//! expression text (`count(*)`) and refuse two items with the same text.

use std::ops::ControlFlow;

use datafusion::sql::parser::Statement as DfStatement;
use datafusion::sql::sqlparser::ast::{
    Expr, Ident, Select, SelectItem, Statement, VisitMut, VisitorMut,
};

/// Gives every unaliased expression in every `SELECT` of `statement` Athena's `_colN` name.
///
/// Positions are counted from the start of the select list; items after a `*` keep
/// DataFusion's names, since the position depends on the width the `*` expands to.
pub fn name_columns_as_athena(statement: &mut DfStatement) {
    if let DfStatement::Statement(inner) = statement {
        if let Statement::Query(query) = inner.as_mut() {
            let _ = query.visit(&mut ColumnNamer);
        }
    }
}

struct ColumnNamer;

impl VisitorMut for ColumnNamer {
    type Break = ();

    fn pre_visit_select(&mut self, select: &mut Select) -> ControlFlow<()> {
        for (position, item) in select.projection.iter_mut().enumerate() {
            match item {
                SelectItem::Wildcard(_) | SelectItem::QualifiedWildcard(..) => break,
                SelectItem::UnnamedExpr(expr) if !names_itself(expr) => {
                    let expr = std::mem::replace(
                        expr,
                        Expr::value(datafusion::sql::sqlparser::ast::Value::Null),
                    );
                    *item = SelectItem::ExprWithAlias {
                        expr,
                        alias: Ident::new(format!("_col{position}")),
                    };
                }
                _ => {}
            }
        }
        ControlFlow::Continue(())
    }
}

/// A column reference, which keeps its own name.
fn names_itself(expr: &Expr) -> bool {
    match expr {
        Expr::Identifier(_) | Expr::CompoundIdentifier(_) => true,
        Expr::Nested(inner) => names_itself(inner),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use datafusion::sql::parser::DFParser;

    use super::*;

    fn named(sql: &str) -> String {
        let mut statement = DFParser::parse_sql(sql).unwrap().pop_front().unwrap();
        name_columns_as_athena(&mut statement);
        statement.to_string()
    }

    #[test]
    fn unaliased_expressions_are_named_by_position() {
        assert_eq!(
            named("SELECT a, t.b, count(*), sum(c) AS total, (d), cast(e AS varchar) FROM t"),
            "SELECT a, t.b, count(*) AS _col2, sum(c) AS total, (d), CAST(e AS VARCHAR) AS _col5 FROM t"
        );
        assert_eq!(
            named("WITH x AS (SELECT 1) SELECT * FROM x UNION ALL SELECT 2"),
            "WITH x AS (SELECT 1 AS _col0) SELECT * FROM x UNION ALL SELECT 2 AS _col0"
        );
        assert_eq!(
            named("SELECT *, count(*) OVER () FROM t"),
            "SELECT *, count(*) OVER () FROM t"
        );
    }
}
