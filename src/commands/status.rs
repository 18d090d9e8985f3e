//! `sdds status`.

use std::process::ExitCode;

use sdds_feeds::Catalog;
use sdds_warehouse::{table_status, Warehouse};

use crate::cli::StatusArgs;

/// Prints one line per table.
pub async fn run(warehouse: &Warehouse, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut statuses = Vec::new();
    for feed in Catalog::builtin().feeds() {
        statuses.push(table_status(warehouse, &feed.name).await?);
    }
    if args.json {
        println!("{}", serde_json::to_string_pretty(&statuses)?);
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{:<24} {:>10} {:>8} {:>8}  last sync",
        "table", "rows", "version", "objects"
    );
    for s in statuses {
        let version = s.version.map_or("-".to_string(), |v| v.to_string());
        let objects = match s.objects_vanished {
            0 => s.objects.to_string(),
            n => format!("{} ({n} vanished)", s.objects),
        };
        println!(
            "{:<24} {:>10} {:>8} {:>8}  {}",
            s.table,
            s.rows,
            version,
            objects,
            s.last_sync.as_deref().unwrap_or("never")
        );
    }
    Ok(ExitCode::SUCCESS)
}
