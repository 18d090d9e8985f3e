//! Runs one query for a client, as `sdds query` runs it, within the server's limits, and
//! streams its rows in the client's format.

use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use datafusion_postgres::arrow_pg::datatypes::{arrow_schema_to_pg_fields, encode_recordbatch};
use datafusion_postgres::pgwire;
use futures::{stream, StreamExt};
use pgwire::api::portal::Format;
use pgwire::api::results::{QueryResponse, SendableRowStream};
use pgwire::api::ClientInfo;
use pgwire::error::{ErrorInfo, PgWireError, PgWireResult};
use pgwire::messages::data::DataRow;
use pgwire::types::format::FormatOptions;
use sdds_sql::SqlError;
use tokio::time::Instant;

/// What one statement may take.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// Longest a statement may run, planning and streaming included (a client's own
    /// `SET statement_timeout` may shorten it).
    pub(crate) statement_timeout: Option<Duration>,
    /// Most rows one result may have; a larger one ends in an error, never silently cut.
    pub(crate) max_rows: Option<u64>,
    /// The session's memory limit, named when a query runs out of it.
    pub(crate) memory_limit: usize,
}

impl Limits {
    /// When the statement `client` starts now must end.
    pub(crate) fn deadline<C: ClientInfo + ?Sized>(&self, client: &C) -> Option<Instant> {
        // Where the SET hook keeps the client's `statement_timeout` (0: none).
        let asked = client
            .metadata()
            .get("statement_timeout_ms")
            .and_then(|ms| ms.parse::<u64>().ok())
            .filter(|ms| *ms > 0)
            .map(Duration::from_millis);
        let timeout = match (self.statement_timeout, asked) {
            (Some(server), Some(client)) => Some(server.min(client)),
            (server, client) => server.or(client),
        }?;
        Some(Instant::now() + timeout)
    }
}

/// Plans and starts `statement` as `sdds query` does (Athena's column names, shared CTEs
/// computed once); its rows stream as the client reads them, within `limits`.
pub(crate) async fn run<C: ClientInfo + ?Sized>(
    client: &C,
    ctx: &SessionContext,
    statement: Statement,
    format: &Format,
    limits: &Limits,
) -> PgWireResult<QueryResponse> {
    let deadline = limits.deadline(client);
    let started = async {
        let frame = sdds_sql::execute_statement(ctx, statement).await?;
        sdds_sql::execute_stream(frame).await
    };
    let batches = match deadline {
        Some(deadline) => tokio::time::timeout_at(deadline, started)
            .await
            .map_err(|_| timed_out())?,
        None => started.await,
    }
    .map_err(|e| sql_error(e, limits.memory_limit))?;
    let options = Arc::new(FormatOptions::from_client_metadata(client.metadata()));
    let fields = Arc::new(arrow_schema_to_pg_fields(
        &batches.schema(),
        format,
        Some(options),
    )?);
    let encoding = Arc::clone(&fields);
    let memory_limit = limits.memory_limit;
    let rows = batches.flat_map(move |batch| {
        let rows: Box<dyn Iterator<Item = PgWireResult<DataRow>> + Send> = match batch {
            Ok(batch) => encode_recordbatch(Arc::clone(&encoding), batch),
            Err(e) => Box::new(std::iter::once(Err(sql_error(e.into(), memory_limit)))),
        };
        stream::iter(rows)
    });
    Ok(limits.apply(QueryResponse::new(fields, rows), deadline))
}

impl Limits {
    /// `response`, ended by an error at `deadline` or past the row limit.
    pub(crate) fn apply(
        &self,
        mut response: QueryResponse,
        deadline: Option<Instant>,
    ) -> QueryResponse {
        if deadline.is_none() && self.max_rows.is_none() {
            return response;
        }
        struct State {
            rows: SendableRowStream,
            deadline: Option<Pin<Box<tokio::time::Sleep>>>,
            count: u64,
            ended: bool,
        }
        let state = State {
            rows: std::mem::replace(&mut response.data_rows, Box::pin(stream::empty())),
            deadline: deadline.map(|at| Box::pin(tokio::time::sleep_until(at))),
            count: 0,
            ended: false,
        };
        let max_rows = self.max_rows;
        response.data_rows = Box::pin(stream::unfold(state, move |mut state| async move {
            if state.ended {
                return None;
            }
            let State { rows, deadline, .. } = &mut state;
            let next = match deadline {
                Some(deadline) => tokio::select! {
                    biased;
                    row = rows.next() => row,
                    () = deadline.as_mut() => Some(Err(timed_out())),
                },
                None => rows.next().await,
            };
            let item = match next? {
                Ok(row) => {
                    state.count += 1;
                    match max_rows {
                        Some(max) if state.count > max => Err(too_many_rows(max)),
                        _ => Ok(row),
                    }
                }
                Err(e) => Err(e),
            };
            state.ended = item.is_err();
            Some((item, state))
        }));
        response
    }
}

/// An error as PostgreSQL sends it: `code` is its SQLSTATE.
pub(crate) fn user_error(code: &str, message: impl std::fmt::Display) -> PgWireError {
    PgWireError::UserError(Box::new(ErrorInfo::new(
        "ERROR".to_string(),
        code.to_string(),
        message.to_string(),
    )))
}

fn timed_out() -> PgWireError {
    user_error("57014", "canceling statement due to statement timeout")
}

fn too_many_rows(max: u64) -> PgWireError {
    user_error(
        "54000",
        format!("the result has more than {max} rows, the server's --max-rows: add a LIMIT or aggregate"),
    )
}

/// `error` with its SQLSTATE, and running out of memory said as `sdds query` says it.
pub(crate) fn sql_error(error: SqlError, memory_limit: usize) -> PgWireError {
    let error = match error {
        SqlError::DataFusion(e) => SqlError::classify(e, memory_limit),
        other => other,
    };
    let code = match &error {
        SqlError::Syntax(_) => "42601",
        SqlError::UnknownTable { .. } => "42P01",
        SqlError::ReadOnly(_) => "25006",
        SqlError::MemoryLimit { .. } => "53200",
        _ => "XX000",
    };
    user_error(code, error)
}
