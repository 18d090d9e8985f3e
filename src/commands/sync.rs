//! `sdds sync`.

use std::io::IsTerminal;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use sdds_feeds::Catalog;
use sdds_source::{LocalSource, Source};
use sdds_warehouse::{SyncOptions, SyncReport, Warehouse};

use crate::aws::Aws;
use crate::cli::SyncArgs;
use crate::config::Config;
use crate::{sample, EXIT_PARTIAL, EXIT_QUARANTINED};

/// Opens the source named by `location`.
pub async fn open_source(location: &str, aws: &Aws) -> anyhow::Result<Arc<dyn Source>> {
    if location == sample::NAME {
        return Ok(Arc::new(sample::source()));
    }
    if location.starts_with("s3://") {
        return Ok(Arc::new(aws.source(location).await?));
    }
    if location.contains("://") {
        anyhow::bail!("source {location}: use s3://bucket[/prefix], a directory, or `sample`");
    }
    Ok(Arc::new(LocalSource::new(location)?))
}

/// Runs a sync and reports it.
pub async fn run(
    config: &Config,
    aws: &Aws,
    warehouse: &Warehouse,
    args: SyncArgs,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let source = open_source(&config.source(args.source.as_deref()), aws).await?;
    let catalog = Catalog::builtin();
    let mut options = SyncOptions::new();
    let progress = (!quiet && std::io::stderr().is_terminal()).then(|| {
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "syncing {wide_bar} {bytes}/{total_bytes} ({bytes_per_sec}, {eta} left)",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    });
    if let Some(bar) = &progress {
        let planned = bar.clone();
        options.on_planned = Some(Arc::new(move |n| planned.inc_length(n)));
        let bar = bar.clone();
        options.on_bytes = Some(Arc::new(move |n| bar.inc(n)));
    }
    let started = Instant::now();
    let report = sdds_warehouse::sync(source, warehouse, &catalog, &options)
        .await
        .context("sync failed")?;
    if let Some(bar) = progress {
        bar.finish_and_clear();
    }
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        let mut value = serde_json::to_value(&report)?;
        value["duration_seconds"] = serde_json::json!((seconds * 1000.0).round() / 1000.0);
        writeln!(
            std::io::stdout(),
            "{}",
            serde_json::to_string_pretty(&value)?
        )?;
    } else if !quiet {
        eprint!("{}", summary(&report, seconds));
    }
    let failures: Vec<_> = report.failures().collect();
    for failed in failures.iter().filter(|t| !t.skipped) {
        eprintln!("error: {}", failed.error.as_deref().unwrap_or_default());
    }
    let skipped: Vec<&str> = report.skipped().map(|t| t.table.as_str()).collect();
    if !skipped.is_empty() {
        eprintln!(
            "error: the sync stopped there; {} tables were not synced and are unchanged: {}",
            skipped.len(),
            skipped.join(", ")
        );
    }
    let quarantined = report.total(|t| t.rows_quarantined);
    if quarantined > 0 && !args.json {
        eprintln!(
            "warning: {quarantined} rows or files could not be stored and were set aside; see them with \
             sdds query \"select * from quarantine where sync_id = '{}'\"",
            report.sync_id
        );
    }
    Ok(if !failures.is_empty() {
        ExitCode::from(EXIT_PARTIAL)
    } else if quarantined > 0 {
        ExitCode::from(EXIT_QUARANTINED)
    } else {
        ExitCode::SUCCESS
    })
}

/// The human run summary: totals, then one line per table that changed.
fn summary(report: &SyncReport, seconds: f64) -> String {
    let mut text = format!(
        "sync {} from {}: {} rows added, {} removed, {} quarantined, {} bytes read, {:.1}s\n",
        report.sync_id,
        report.source,
        report.total(|t| t.rows_added),
        report.total(|t| t.rows_removed),
        report.total(|t| t.rows_quarantined),
        report.total(|t| t.bytes_read),
        seconds
    );
    for t in report.tables.iter().filter(|t| t.version.is_some()) {
        text.push_str(&format!(
            "  {:<24} objects new {} grown {} rewritten {} unchanged {} vanished {}  rows +{} -{} quarantined {}  version {}\n",
            t.table,
            t.objects_new,
            t.objects_grown,
            t.objects_rewritten,
            t.objects_unchanged,
            t.objects_vanished,
            t.rows_added,
            t.rows_removed,
            t.rows_quarantined,
            t.version.unwrap_or_default()
        ));
    }
    for t in &report.tables {
        for warning in &t.warnings {
            text.push_str(&format!("  warning: {warning}\n"));
        }
    }
    for key in &report.ignored {
        text.push_str(&format!("  ignored {key} (not a known feed file)\n"));
    }
    text
}
