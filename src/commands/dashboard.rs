//! `sdds report dashboard`: the bundled reports drawn as one self-contained HTML page.

use std::io::{IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::Context;
use arrow::record_batch::RecordBatch;
use futures::TryStreamExt;
use sdds_dashboard::{Dashboard, Header, Inputs, Rows, REPORTS};
use sdds_export::S3Destination;
use sdds_feeds::Catalog;
use sdds_sql::ReportParams;
use sdds_warehouse::{History, Warehouse};

use crate::aws::Aws;
use crate::cli::ReportArgs;
use crate::commands::query::QuerySession;
use crate::commands::report::{bound_statement, catalog};
use crate::config::Config;

/// The name `sdds report` takes for the dashboard.
pub const NAME: &str = "dashboard";

/// Runs the reports the dashboard is drawn from and writes the page to `--out` (a file or an
/// `s3://` URL) or stdout.
pub async fn run(
    config: &Config,
    aws: &Aws,
    warehouse: &Warehouse,
    args: ReportArgs,
) -> anyhow::Result<ExitCode> {
    anyhow::ensure!(
        args.from.is_none() && args.to.is_none(),
        "the dashboard takes --today, --broker and --currency (each section has its report's period)"
    );
    anyhow::ensure!(
        args.format.is_none() && !args.bom && !args.quicksight_manifest,
        "the dashboard is an HTML page: give --out dashboard.html"
    );
    let reports = catalog()?;
    let session = QuerySession::open(config, warehouse, &args.time, &args.resources).await?;
    let mut results: Vec<Vec<RecordBatch>> = Vec::new();
    for name in REPORTS {
        let report = reports.get(name)?;
        let params = ReportParams {
            broker: args.broker.clone().filter(|_| report.takes("broker")),
            currency: args.currency.clone().filter(|_| report.takes("currency")),
            ..ReportParams::default()
        };
        let statement = bound_statement(report, &params)?;
        results.push(
            collect(&session, statement)
                .await
                .with_context(|| format!("report {name}"))?,
        );
    }
    let header = header(warehouse, &session, &args).await?;
    let [seller_of_record, uncollected, collections, renewals] = &results[..] else {
        anyhow::bail!("the dashboard needs {} reports", REPORTS.len());
    };
    let dashboard = Dashboard::new(
        header,
        Inputs {
            seller_of_record,
            uncollected,
            collections,
            renewals,
        },
    )?;
    write(aws, args.out.as_deref(), &dashboard.html()?).await?;
    Ok(ExitCode::SUCCESS)
}

async fn collect(
    session: &QuerySession,
    statement: datafusion::sql::parser::Statement,
) -> anyhow::Result<Vec<RecordBatch>> {
    let stream = session.stream(statement).await?;
    stream
        .try_collect()
        .await
        .map_err(|e| session.explain(e.into()))
}

/// One value of a one-row query, as text.
async fn value(session: &QuerySession, sql: &str) -> anyhow::Result<Option<String>> {
    let statement = sdds_sql::parse_statements(sql)?.remove(0);
    let batches = collect(session, statement).await?;
    let text = Rows::new("header", &batches)
        .iter()
        .next()
        .map(|row| row.text("value"))
        .transpose()?;
    Ok(text.filter(|t| !t.is_empty()))
}

/// The warehouse facts the page's header gives.
async fn header(
    warehouse: &Warehouse,
    session: &QuerySession,
    args: &ReportArgs,
) -> anyhow::Result<Header> {
    let history = History::load(warehouse, &Catalog::builtin()).await?;
    let today = match &args.time.today {
        Some(day) => day.clone(),
        None => chrono::Utc::now().date_naive().to_string(),
    };
    let newest = value(
        session,
        "SELECT date_format(max(insert_date), '%Y-%m-%d %H:%i UTC') AS value FROM billingeventfeed_v1",
    )
    .await?;
    let quarantined = value(session, "SELECT count(*) AS value FROM quarantine").await?;
    Ok(Header {
        warehouse: warehouse.display_location(),
        today,
        last_sync: history.syncs.last().map(|sync| readable(&sync.synced_at)),
        newest_record: newest,
        quarantined: quarantined.and_then(|n| n.parse().ok()).unwrap_or(0),
        broker: args.broker.clone(),
        currency: args.currency.clone(),
    })
}

/// An RFC 3339 instant as `2026-11-24 23:57 UTC`; other text as it is.
fn readable(instant: &str) -> String {
    chrono::DateTime::parse_from_rfc3339(instant)
        .map(|t| {
            t.with_timezone(&chrono::Utc)
                .format("%Y-%m-%d %H:%M UTC")
                .to_string()
        })
        .unwrap_or_else(|_| instant.to_string())
}

/// Writes the page: a file (whole or not at all), an S3 object, or stdout.
async fn write(aws: &Aws, out: Option<&str>, html: &str) -> anyhow::Result<()> {
    let Some(out) = out else {
        std::io::stdout().write_all(html.as_bytes())?;
        return Ok(());
    };
    if out.starts_with("s3://") {
        let object = S3Destination::parse(out)?;
        let mut staged = tempfile::NamedTempFile::new()?;
        staged.write_all(html.as_bytes())?;
        let (config, options) = aws.sdk().await;
        object
            .upload(staged.path(), config, options, "text/html; charset=utf-8")
            .await?;
    } else {
        let path = Path::new(out);
        let dir = path
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let mut staged = crate::commands::report::staged_file(dir)
            .with_context(|| format!("cannot write in {}", dir.display()))?;
        staged.write_all(html.as_bytes())?;
        staged
            .persist(path)
            .with_context(|| format!("cannot write {out}"))?;
    }
    if std::io::stderr().is_terminal() {
        eprintln!("dashboard written to {out}");
    }
    Ok(())
}
