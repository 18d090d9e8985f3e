//! `sdds query`.

use std::process::ExitCode;

use anyhow::Context;
use chrono::{DateTime, NaiveDate, SecondsFormat, Utc};
use datafusion::sql::parser::DFParser;
use sdds_feeds::Catalog;
use sdds_sql::{open_session, SessionOptions, TimeFilter};
use sdds_warehouse::{History, Warehouse};

use crate::cli::{QueryArgs, TimeArgs};
use crate::print::write_batches;

/// Runs each statement of the SQL and prints its result.
pub async fn run(warehouse: &Warehouse, args: QueryArgs) -> anyhow::Result<ExitCode> {
    let sql = match (&args.sql, &args.file) {
        (_, Some(path)) => std::fs::read_to_string(path)
            .with_context(|| format!("cannot read {}", path.display()))?,
        (Some(sql), None) => sql.clone(),
        (None, None) => anyhow::bail!("give SQL or --file"),
    };
    let catalog = Catalog::builtin();
    let options = session_options(warehouse, &catalog, &args.time).await?;
    let ctx = open_session(warehouse, &catalog, &options).await?;
    let statements = DFParser::parse_sql(&sql).context("SQL syntax")?;
    if statements.is_empty() {
        anyhow::bail!("no SQL statement given");
    }
    let mut stdout = std::io::stdout().lock();
    for statement in statements {
        let plan = ctx.state().statement_to_plan(statement).await?;
        let frame = ctx.execute_logical_plan(plan).await?;
        let schema = std::sync::Arc::new(frame.schema().as_arrow().clone());
        let mut batches = frame.collect().await?;
        if batches.is_empty() {
            // An empty result still has a header (CSV) and columns (table).
            batches.push(arrow::record_batch::RecordBatch::new_empty(schema));
        }
        write_batches(&mut stdout, &batches, args.format)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// Parses a timestamp flag into a UTC instant.
fn instant(flag: &str, text: &str) -> anyhow::Result<DateTime<Utc>> {
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
    })
}
