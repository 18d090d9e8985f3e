//! What the server adds to datafusion-postgres's handling of each statement: the read-only
//! rule and `sdds query`'s way of planning queries.

use async_trait::async_trait;
use datafusion::common::ParamValues;
use datafusion::logical_expr::LogicalPlan;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use datafusion::sql::sqlparser::ast::{Set, Statement as SqlStatement};
use datafusion_postgres::hooks::HookClient;
use datafusion_postgres::pgwire;
use datafusion_postgres::QueryHook;
use pgwire::api::portal::Format;
use pgwire::api::results::Response;
use pgwire::api::ClientInfo;
use pgwire::error::PgWireResult;
use url::Url;

use crate::query::{self, sql_error, user_error, Limits};

/// Refuses, before planning, every statement `sdds query` refuses (the warehouse is written by
/// `sdds sync` alone), and changes to the engine's settings, which every client shares.
pub(crate) struct ReadOnly {
    pub(crate) root: Url,
    pub(crate) memory_limit: usize,
}

impl ReadOnly {
    fn check(&self, statement: &SqlStatement) -> Option<PgWireResult<()>> {
        if let SqlStatement::Set(Set::SingleAssignment { variable, .. }) = statement {
            let name = variable.to_string().to_ascii_lowercase();
            if name.starts_with("datafusion.") {
                return Some(Err(user_error(
                    "55P02",
                    format!("{name} is shared by every client of this server: set it with `sdds serve`'s options"),
                )));
            }
        }
        let statement = Statement::Statement(Box::new(statement.clone()));
        sdds_sql::check_read_only(&statement, &self.root)
            .err()
            .map(|refused| Err(sql_error(refused, self.memory_limit)))
    }
}

#[async_trait]
impl QueryHook for ReadOnly {
    async fn handle_simple_query(
        &self,
        statement: &SqlStatement,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        self.check(statement)
            .map(|refused| refused.map(|()| Response::EmptyQuery))
    }

    async fn handle_extended_parse_query(
        &self,
        statement: &SqlStatement,
        _ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        self.check(statement)
            .map(|refused| refused.map(|()| LogicalPlan::default()))
    }

    async fn handle_extended_query(
        &self,
        _statement: &SqlStatement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        None
    }
}

/// Plans queries as `sdds query` does, so a report returns the same columns and runs with the
/// same memory behaviour over the wire as on the command line.
pub(crate) struct AthenaQueries {
    pub(crate) limits: Limits,
}

/// `statement` as `sdds query` plans it, if it is a query.
pub(crate) fn as_query(statement: &SqlStatement) -> Option<Statement> {
    let SqlStatement::Query(_) = statement else {
        return None;
    };
    let mut statement = Statement::Statement(Box::new(statement.clone()));
    sdds_sql::dialect::name_columns_as_athena(&mut statement);
    Some(statement)
}

#[async_trait]
impl QueryHook for AthenaQueries {
    async fn handle_simple_query(
        &self,
        statement: &SqlStatement,
        ctx: &SessionContext,
        client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        let statement = as_query(statement)?;
        let response = query::run(client, ctx, statement, &Format::UnifiedText, &self.limits).await;
        Some(response.map(Response::Query))
    }

    /// Plans with Athena's column names, so what Describe reports is what the query returns.
    async fn handle_extended_parse_query(
        &self,
        statement: &SqlStatement,
        ctx: &SessionContext,
        _client: &(dyn ClientInfo + Send + Sync),
    ) -> Option<PgWireResult<LogicalPlan>> {
        let statement = as_query(statement)?;
        let planned = ctx.state().statement_to_plan(statement).await;
        Some(planned.map_err(|e| sql_error(e.into(), self.limits.memory_limit)))
    }

    async fn handle_extended_query(
        &self,
        _statement: &SqlStatement,
        _plan: &LogicalPlan,
        _params: &ParamValues,
        _ctx: &SessionContext,
        _client: &mut dyn HookClient,
    ) -> Option<PgWireResult<Response>> {
        // Queries are run by the service, which knows the result format the client asked for.
        None
    }
}
