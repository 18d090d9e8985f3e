//! `sdds query`.

use std::io::{IsTerminal, Read};
use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use datafusion::error::DataFusionError;
use datafusion::execution::SendableRecordBatchStream;
use datafusion::prelude::SessionContext;
use datafusion::sql::parser::Statement;
use sdds_feeds::Catalog;
use sdds_sql::{
    check_read_only, execute_statement, execute_stream, open_session, parse_statements,
    SessionOptions, SqlError, TimeFilter,
};
use sdds_warehouse::{History, Warehouse};

use sdds_export::ResultWriter;

use crate::cli::{QueryArgs, ResourceArgs, TimeArgs};
use crate::config::Config;

/// Runs each statement of the SQL and prints its result.
pub async fn run(
    config: &Config,
    warehouse: &Warehouse,
    args: QueryArgs,
) -> anyhow::Result<ExitCode> {
    let sql = read_sql(&args)?;
    let statements = checked_statements(&sql, warehouse)?;
    let session = QuerySession::open(config, warehouse, &args.time, &args.resources).await?;
    refuse_binary_on_terminal(args.format.into(), "redirect stdout to a file")?;
    session.print(statements, args.format.into()).await?;
    Ok(ExitCode::SUCCESS)
}

/// The statements of `sql`, each checked before the first runs: a refused one leaves nothing
/// half done.
pub fn checked_statements(sql: &str, warehouse: &Warehouse) -> anyhow::Result<Vec<Statement>> {
    let statements = parse_statements(sql)?;
    if statements.is_empty() {
        anyhow::bail!("no SQL statement given");
    }
    for statement in &statements {
        check_read_only(statement, warehouse.root())?;
    }
    Ok(statements)
}

/// A session over the warehouse with the time-travel flags and the memory limit applied, shared
/// by `query` and `report`.
pub struct QuerySession {
    ctx: SessionContext,
    limit: usize,
}

impl QuerySession {
    /// Opens the session.
    pub async fn open(
        config: &Config,
        warehouse: &Warehouse,
        time: &TimeArgs,
        resources: &ResourceArgs,
    ) -> anyhow::Result<QuerySession> {
        let catalog = Catalog::builtin();
        let mut options = session_options(warehouse, &catalog, time).await?;
        options.resources = config.resources(resources)?;
        let limit = options.resources.memory_limit();
        let ctx = open_session(warehouse, &catalog, &options).await?;
        Ok(QuerySession { ctx, limit })
    }

    /// Plans `statement` and starts it.
    pub async fn stream(&self, statement: Statement) -> anyhow::Result<SendableRecordBatchStream> {
        let frame = execute_statement(&self.ctx, statement)
            .await
            .map_err(|e| self.explain(e.into()))?;
        execute_stream(frame)
            .await
            .map_err(|e| self.explain(e.into()))
    }

    /// `error`, with running out of the memory limit said as such.
    pub fn explain(&self, error: anyhow::Error) -> anyhow::Error {
        out_of_memory(error, self.limit)
    }

    /// Runs `statements` one after the other, printing each result on stdout.
    pub async fn print(
        &self,
        statements: Vec<Statement>,
        format: sdds_export::Format,
    ) -> anyhow::Result<()> {
        let mut writer = ResultWriter::new(std::io::stdout(), format, statements.len(), false)?;
        for statement in statements {
            let stream = self.stream(statement).await?;
            writer
                .write(stream)
                .await
                .map_err(|e| self.explain(e.into()))?;
        }
        writer.finish()?;
        Ok(())
    }

    /// The DataFusion session (for the shell's catalog commands).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }
}

/// Parquet is binary: refused on a terminal, where it would only garble the screen. `remedy`
/// says what to do instead.
pub fn refuse_binary_on_terminal(format: sdds_export::Format, remedy: &str) -> anyhow::Result<()> {
    if format == sdds_export::Format::Parquet && std::io::stdout().is_terminal() {
        anyhow::bail!("--format parquet writes binary data: {remedy}");
    }
    Ok(())
}

/// The SQL to run: the argument, the file, or stdin (`-f -`, or nothing given and stdin piped).
fn read_sql(args: &QueryArgs) -> anyhow::Result<String> {
    let from_stdin = || -> anyhow::Result<String> {
        let mut sql = String::new();
        std::io::stdin()
            .read_to_string(&mut sql)
            .context("cannot read SQL from stdin")?;
        Ok(sql)
    };
    match (&args.sql, &args.file) {
        (_, Some(path)) if path.as_os_str() == "-" => from_stdin(),
        (_, Some(path)) => {
            std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
        }
        (Some(sql), None) => Ok(sql.clone()),
        (None, None) if !std::io::stdin().is_terminal() => from_stdin(),
        (None, None) => anyhow::bail!("give SQL as an argument, with --file FILE, or on stdin"),
    }
}

/// `error`, with running out of the memory limit said as such.
fn out_of_memory(error: anyhow::Error, limit: usize) -> anyhow::Error {
    let detail = error.chain().find_map(|cause| {
        let datafusion = cause.downcast_ref::<DataFusionError>().or_else(|| {
            match cause.downcast_ref::<SqlError>() {
                Some(SqlError::DataFusion(e)) => Some(e),
                _ => None,
            }
        })?;
        match datafusion.find_root() {
            DataFusionError::ResourcesExhausted(detail) => Some(detail.clone()),
            _ => None,
        }
    });
    match detail {
        Some(detail) => {
            SqlError::classify(DataFusionError::ResourcesExhausted(detail), limit).into()
        }
        None => error,
    }
}

/// Parses a timestamp flag into a UTC instant.
pub fn instant(flag: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
    let micros =
        sdds_feeds::value::parse_timestamp(text).map_err(|e| anyhow::anyhow!("--{flag}: {e}"))?;
    DateTime::from_timestamp_micros(micros)
        .with_context(|| format!("--{flag}: {text} is out of range"))
}

/// Turns the time-travel flags into session options.
pub async fn session_options(
    warehouse: &Warehouse,
    catalog: &Catalog,
    time: &TimeArgs,
) -> anyhow::Result<SessionOptions> {
    let rfc3339 = |flag: &str, text: &Option<String>| -> anyhow::Result<Option<String>> {
        text.as_deref()
            .map(|t| Ok(instant(flag, t)?.to_rfc3339_opts(SecondsFormat::Micros, true)))
            .transpose()
    };
    let filter = TimeFilter {
        as_of: rfc3339("as-of", &time.as_of)?,
        known_at: rfc3339("known-at", &time.known_at)?,
    };
    let versions = match (time.version, &time.at) {
        (None, None) => None,
        (Some(n), _) => Some(
            History::load(warehouse, catalog)
                .await?
                .versions_after_sync(n)
                .map_err(anyhow::Error::msg)?,
        ),
        (None, Some(at)) => Some(
            History::load(warehouse, catalog)
                .await?
                .versions_at(instant("at", at)?),
        ),
    };
    let today = time
        .today
        .as_deref()
        .map(|text| {
            NaiveDate::parse_from_str(text.trim(), "%Y-%m-%d")
                .with_context(|| format!("--today: {text:?} is not a date like 2026-11-01"))
        })
        .transpose()?;
    Ok(SessionOptions {
        versions,
        time: filter,
        today,
        ..Default::default()
    })
}
