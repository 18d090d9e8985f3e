//! `sdds status`.

use std::io::Write;
use std::process::ExitCode;

use sdds_feeds::Catalog;
use sdds_warehouse::{table_status, Warehouse};

use crate::cli::StatusArgs;
use crate::EXIT_PARTIAL;

/// Prints one line per table.
pub async fn run(warehouse: &Warehouse, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut statuses = Vec::new();
    for feed in Catalog::builtin().feeds() {
        statuses.push(table_status(warehouse, &feed.name).await?);
    }
    let mut out = std::io::stdout().lock();
    // Non-zero while a table's last sync failed, so a health check can alert on it.
    let code = if statuses.iter().any(|s| s.failed()) {
        ExitCode::from(EXIT_PARTIAL)
    } else {
        ExitCode::SUCCESS
    };
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&statuses)?)?;
        return Ok(code);
    }
    writeln!(
        out,
        "{:<24} {:>10} {:>11} {:>8} {:>8}  {:<24}  last outcome",
        "table", "rows", "quarantined", "version", "objects", "last sync"
    )?;
    for s in statuses {
        let version = s.version.map_or("-".to_string(), |v| v.to_string());
        let objects = match s.objects_vanished {
            0 => s.objects.to_string(),
            n => format!("{} ({n} vanished)", s.objects),
        };
        writeln!(
            out,
            "{:<24} {:>10} {:>11} {:>8} {:>8}  {:<24}  {}",
            s.table,
            s.rows,
            s.rows_quarantined,
            version,
            objects,
            s.last_sync.as_deref().unwrap_or("never"),
            match (&s.last_error, s.last_outcome) {
                (Some(error), _) => format!("failed: {error}"),
                (None, Some(outcome)) => outcome.to_string(),
                (None, None) => "-".to_string(),
            } + &match s.new_columns.as_slice() {
                [] => String::new(),
                columns => format!("; new columns kept as text: {}", columns.join(", ")),
            }
        )?;
    }
    Ok(code)
}
