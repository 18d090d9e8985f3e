//! `sdds optimize` and `sdds vacuum`: keeping a warehouse that syncs every night fast and small.

use std::io::Write;
use std::process::ExitCode;

use sdds_feeds::Catalog;
use sdds_warehouse::{VacuumOptions, Warehouse};

use crate::cli::{OptimizeArgs, VacuumArgs};
use crate::EXIT_PARTIAL;

/// Merges small files; prints a line per table it changed.
pub async fn optimize(
    warehouse: &Warehouse,
    args: OptimizeArgs,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let reports = sdds_warehouse::optimize(warehouse, &Catalog::builtin()).await?;
    let lines: Vec<String> = reports
        .iter()
        .filter(|r| r.version.is_some())
        .map(|r| {
            format!(
                "{}: {} files merged into {} (version {})",
                r.table,
                r.files_before,
                r.files_after,
                r.version.unwrap_or_default()
            )
        })
        .collect();
    let errors = reports.iter().filter_map(|r| r.error.as_deref());
    finish(&reports, args.json, quiet, &lines, errors)
}

/// Deletes unreferenced files older than the retention; prints a line per table.
pub async fn vacuum(
    warehouse: &Warehouse,
    args: VacuumArgs,
    quiet: bool,
) -> anyhow::Result<ExitCode> {
    let options = VacuumOptions {
        retain: args.retain,
        dry_run: args.dry_run,
        unchecked: args.unchecked_retention,
    };
    let reports = sdds_warehouse::vacuum(warehouse, &Catalog::builtin(), options).await?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    let lines: Vec<String> = reports
        .iter()
        .filter(|r| r.files_deleted > 0)
        .map(|r| format!("{}: {verb} {} files", r.table, r.files_deleted))
        .collect();
    let errors = reports.iter().filter_map(|r| r.error.as_deref());
    finish(&reports, args.json, quiet, &lines, errors)
}

/// Prints the reports as JSON on stdout, or `lines` on stderr unless `quiet`; then each error.
/// Exit 3 when a table failed.
fn finish<'a>(
    reports: &impl serde::Serialize,
    json: bool,
    quiet: bool,
    lines: &[String],
    errors: impl Iterator<Item = &'a str>,
) -> anyhow::Result<ExitCode> {
    if json {
        let text = serde_json::to_string_pretty(reports)?;
        writeln!(std::io::stdout(), "{text}")?;
    } else if !quiet {
        for line in lines {
            eprintln!("{line}");
        }
    }
    let mut failed = false;
    for error in errors {
        eprintln!("error: {error}");
        failed = true;
    }
    Ok(if failed {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    })
}
