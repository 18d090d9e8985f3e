//! `sdds validate`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use sdds_feeds::Catalog;
use sdds_warehouse::ValidationReport;

use crate::aws::Aws;
use crate::cli::ValidateArgs;
use crate::commands::sync::open_source;
use crate::config::Config;
use crate::EXIT_QUARANTINED;

/// Reads every feed file of the source and says, per file, what a sync would set aside.
pub async fn run(config: &Config, aws: &Aws, args: ValidateArgs) -> anyhow::Result<ExitCode> {
    let source = open_source(&config.source(args.source.as_deref()), aws).await?;
    let report = sdds_warehouse::validate(source, &Catalog::builtin())
        .await
        .context("validate failed")?;
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        write!(out, "{}", findings(&report))?;
    }
    Ok(if report.is_clean() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(EXIT_QUARANTINED)
    })
}

/// One line per file, then the first rejected rows of each file that has any.
fn findings(report: &ValidationReport) -> String {
    let mut text = String::new();
    for file in &report.files {
        let verdict = match (&file.error, &file.set_aside, file.rejected) {
            (Some(error), ..) => format!("cannot be read: {error}"),
            (None, Some(problem), _) => format!("would be set aside: {problem}"),
            (None, None, 0) => "ok".to_string(),
            (None, None, n) => format!("{n} would be quarantined"),
        };
        text.push_str(&format!("{}  {} rows  {verdict}\n", file.key, file.rows));
        for row in &file.examples {
            // RowError's Display: the column, if one, then the reason.
            text.push_str(&format!("  line {}: {row}\n    {}\n", row.line, row.raw));
        }
        if file.rejected > file.examples.len() as u64 {
            text.push_str(&format!(
                "  ... and {} more\n",
                file.rejected - file.examples.len() as u64
            ));
        }
    }
    let (files, clean) = (
        report.files.len(),
        report.files.iter().filter(|f| f.is_clean()).count(),
    );
    let rejected: u64 = report.files.iter().map(|f| f.rejected).sum();
    text.push_str(&format!(
        "{} of {files} files clean, {rejected} rows would be quarantined ({})\n",
        clean, report.source
    ));
    for key in &report.ignored {
        text.push_str(&format!("ignored {key} (not a known feed file)\n"));
    }
    text
}
