//! Sessions never write: the warehouse is written by `sdds sync` alone, so that its sync
//! history, status and time travel stay the truth about what it holds.
//!
//! Two layers: [`check_read_only`] refuses, before planning, every statement that would change
//! a table or write inside the warehouse (one clear message); [`ReadOnlyTable`] wraps every
//! registered table so that no plan can write through it even if a statement got past.

use std::borrow::Cow;
use std::sync::Arc;

use async_trait::async_trait;
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::catalog::{ScanArgs, ScanResult, Session, TableProvider};
use datafusion::common::{Constraints, Statistics};
use datafusion::datasource::TableType;
use datafusion::error::Result;
use datafusion::logical_expr::{Expr, LogicalPlan, TableProviderFilterPushDown};
use datafusion::physical_plan::ExecutionPlan;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::Statement as SqlStatement;
use url::Url;

use crate::error::SqlError;

/// Why a statement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// The statement changes a table (INSERT, UPDATE, DELETE, TRUNCATE, DROP, ALTER, ...).
    #[error("{keyword} would change a table; the warehouse is written by `sdds sync` alone")]
    Changes {
        /// The statement's first keyword.
        keyword: String,
    },
    /// `COPY … TO` or `CREATE EXTERNAL TABLE` at a location inside the warehouse.
    #[error("{keyword} {target} is inside the warehouse; write exports elsewhere")]
    InsideWarehouse {
        /// `COPY TO` or `CREATE EXTERNAL TABLE`.
        keyword: &'static str,
        /// The location given.
        target: String,
    },
}

/// Refuses `statement` if it would change a table or write inside the warehouse at `root`.
///
/// Queries, `EXPLAIN` of a query, `SHOW`, `DESCRIBE`, `SET`, session-only `CREATE VIEW` /
/// `CREATE TABLE … AS` and `COPY … TO` a place outside the warehouse (an export) are allowed.
pub fn check_read_only(statement: &Statement, root: &Url) -> Result<(), SqlError> {
    let refused = match statement {
        Statement::Statement(sql) => check_sql(sql),
        Statement::Explain(explain) => return check_read_only(&explain.statement, root),
        Statement::CopyTo(copy) => inside(&copy.target, root).then(|| Refusal::InsideWarehouse {
            keyword: "COPY TO",
            target: copy.target.clone(),
        }),
        Statement::CreateExternalTable(create) => create
            .locations
            .iter()
            .find(|location| inside(location, root))
            .map(|location| Refusal::InsideWarehouse {
                keyword: "CREATE EXTERNAL TABLE",
                target: location.clone(),
            }),
        Statement::Reset(_) => None,
    };
    match refused {
        Some(refusal) => Err(SqlError::ReadOnly(refusal)),
        None => Ok(()),
    }
}

fn check_sql(statement: &SqlStatement) -> Option<Refusal> {
    match statement {
        SqlStatement::Query(_)
        | SqlStatement::ExplainTable { .. }
        | SqlStatement::ShowTables { .. }
        | SqlStatement::ShowColumns { .. }
        | SqlStatement::ShowVariable { .. }
        | SqlStatement::ShowFunctions { .. }
        | SqlStatement::ShowCreate { .. }
        | SqlStatement::Set(_)
        | SqlStatement::CreateView(_)
        // Transactions and cursors only read here (what PostgreSQL clients send around queries).
        | SqlStatement::StartTransaction { .. }
        | SqlStatement::Commit { .. }
        | SqlStatement::Rollback { .. }
        | SqlStatement::Declare { .. }
        | SqlStatement::Fetch { .. }
        | SqlStatement::Close { .. }
        | SqlStatement::Execute { .. }
        | SqlStatement::Deallocate { .. }
        | SqlStatement::Discard { .. } => None,
        SqlStatement::Explain { statement, .. } | SqlStatement::Prepare { statement, .. } => {
            check_sql(statement)
        }
        // A session-only table; one with a location would be a file the session writes.
        SqlStatement::CreateTable(create) if !create.external && create.location.is_none() => None,
        other => Some(Refusal::Changes {
            keyword: keyword(other),
        }),
    }
}

/// The first keyword of a statement, for the message (`INSERT`, `DELETE`, `DROP`).
fn keyword(statement: &SqlStatement) -> String {
    let text = statement.to_string();
    let word = text.split_whitespace().next().unwrap_or("the statement");
    word.to_ascii_uppercase()
}

/// Whether `target` (a path or URL) lies inside the warehouse at `root`.
fn inside(target: &str, root: &Url) -> bool {
    let target_url = if target.contains("://") {
        Url::parse(target).ok()
    } else {
        let path = std::path::Path::new(target);
        let absolute = if path.is_absolute() {
            path.to_path_buf()
        } else {
            std::env::current_dir()
                .map(|dir| dir.join(path))
                .unwrap_or_else(|_| path.to_path_buf())
        };
        Url::from_file_path(normalize(&absolute)).ok()
    };
    match target_url {
        Some(url) => {
            let root = root.as_str().trim_end_matches('/');
            let url = url.as_str().trim_end_matches('/');
            url == root || url.starts_with(&format!("{root}/"))
        }
        // A target we cannot read as a location is not refused here; writing it fails later.
        None => false,
    }
}

/// `path` with `.` and `..` resolved, and symbolic links resolved for the part that exists,
/// so that `warehouse/../warehouse/x` and a link into the warehouse are both seen as inside.
fn normalize(path: &std::path::Path) -> std::path::PathBuf {
    let mut clean = std::path::PathBuf::new();
    for part in path.components() {
        match part {
            std::path::Component::ParentDir => {
                clean.pop();
            }
            std::path::Component::CurDir => {}
            other => clean.push(other),
        }
    }
    // Resolve links on the longest existing ancestor, then add back the rest.
    let mut existing = clean.clone();
    let mut rest = Vec::new();
    while !existing.exists() {
        match existing.file_name() {
            Some(name) => rest.push(name.to_os_string()),
            None => break,
        }
        existing.pop();
    }
    let mut resolved = std::fs::canonicalize(&existing).unwrap_or(existing);
    for name in rest.into_iter().rev() {
        resolved.push(name);
    }
    resolved
}

/// A table that can be read and never written: every write method keeps DataFusion's default,
/// which refuses.
#[derive(Debug)]
pub struct ReadOnlyTable {
    inner: Arc<dyn TableProvider>,
}

impl ReadOnlyTable {
    /// Wraps `inner`.
    pub fn wrap(inner: Arc<dyn TableProvider>) -> Arc<dyn TableProvider> {
        Arc::new(ReadOnlyTable { inner })
    }
}

#[async_trait]
impl TableProvider for ReadOnlyTable {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
    fn constraints(&self) -> Option<&Constraints> {
        self.inner.constraints()
    }
    fn table_type(&self) -> TableType {
        self.inner.table_type()
    }
    fn get_table_definition(&self) -> Option<&str> {
        self.inner.get_table_definition()
    }
    fn get_logical_plan(&'_ self) -> Option<Cow<'_, LogicalPlan>> {
        self.inner.get_logical_plan()
    }
    fn get_column_default(&self, column: &str) -> Option<&Expr> {
        self.inner.get_column_default(column)
    }
    async fn scan(
        &self,
        state: &dyn Session,
        projection: Option<&Vec<usize>>,
        filters: &[Expr],
        limit: Option<usize>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        self.inner.scan(state, projection, filters, limit).await
    }
    async fn scan_with_args<'a>(
        &self,
        state: &dyn Session,
        args: ScanArgs<'a>,
    ) -> Result<ScanResult> {
        self.inner.scan_with_args(state, args).await
    }
    fn supports_filters_pushdown(
        &self,
        filters: &[&Expr],
    ) -> Result<Vec<TableProviderFilterPushDown>> {
        self.inner.supports_filters_pushdown(filters)
    }
    fn statistics(&self) -> Option<Statistics> {
        self.inner.statistics()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verdict(sql: &str, root: &Url) -> Result<(), String> {
        let statements = crate::parse_statements(sql).map_err(|e| e.to_string())?;
        check_read_only(&statements[0], root).map_err(|e| e.to_string())
    }

    #[test]
    fn reads_pass_and_writes_are_refused() {
        let root = Url::parse("file:///data/wh/").unwrap();
        for ok in [
            "SELECT 1",
            "EXPLAIN SELECT 1",
            "SHOW TABLES",
            "SET datafusion.execution.batch_size = 1024",
            "CREATE VIEW v AS SELECT 1",
            "CREATE TABLE t AS SELECT 1",
            "COPY (SELECT 1) TO '/tmp/out.csv'",
            "COPY (SELECT 1) TO 's3://other-bucket/out.parquet'",
            "BEGIN",
            "COMMIT",
            "PREPARE p(INT) AS SELECT $1",
            "EXECUTE p(1)",
        ] {
            assert_eq!(verdict(ok, &root), Ok(()), "{ok}");
        }
        for (sql, word) in [
            ("INSERT INTO t SELECT 1", "INSERT"),
            ("insert into t values (1)", "INSERT"),
            ("DELETE FROM t", "DELETE"),
            ("UPDATE t SET a = 1", "UPDATE"),
            ("TRUNCATE TABLE t", "TRUNCATE"),
            ("DROP TABLE t", "DROP"),
            ("EXPLAIN ANALYZE INSERT INTO t SELECT 1", "INSERT"),
            ("PREPARE p(INT) AS DELETE FROM t WHERE a = $1", "DELETE"),
        ] {
            let refused = verdict(sql, &root).unwrap_err();
            assert!(
                refused.starts_with(&format!("sdds query is read-only: {word} would change")),
                "{sql}: {refused}"
            );
        }
        for sql in [
            "COPY (SELECT 1) TO '/data/wh/billingeventfeed_v1/x.parquet'",
            "COPY (SELECT 1) TO '/data/wh/../wh/x.csv'",
            "CREATE EXTERNAL TABLE e STORED AS PARQUET LOCATION '/data/wh/billingeventfeed_v1/'",
        ] {
            let refused = verdict(sql, &root).unwrap_err();
            assert!(
                refused.contains("is inside the warehouse"),
                "{sql}: {refused}"
            );
        }
        let s3 = Url::parse("s3://bucket/wh/").unwrap();
        assert!(verdict("COPY (SELECT 1) TO 's3://bucket/wh/t/x.csv'", &s3).is_err());
        assert_eq!(
            verdict("COPY (SELECT 1) TO 's3://bucket/whx/x.csv'", &s3),
            Ok(())
        );
    }
}
