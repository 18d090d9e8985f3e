//! `sdds history`.

use std::io::Write;
use std::process::ExitCode;

use sdds_feeds::Catalog;
use sdds_warehouse::{History, Warehouse};

use crate::cli::HistoryArgs;

/// Lists the syncs, oldest first, with the tables each changed.
pub async fn run(warehouse: &Warehouse, args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let catalog = Catalog::builtin();
    if let Some(table) = &args.table {
        if catalog.feed(table).is_none() {
            anyhow::bail!(
                "no table {table}; the tables are the feed names, e.g. billingeventfeed_v1"
            );
        }
    }
    let mut history = History::load(warehouse, &catalog).await?;
    if let Some(table) = &args.table {
        history.syncs.retain_mut(|s| {
            s.tables.retain(|t| &t.table == table);
            !s.tables.is_empty()
        });
    }
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string_pretty(&history.syncs)?)?;
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        out,
        "{:>4}  {:<24}  {:<26}  {:<24} {:>7} {:>10} {:>8}",
        "sync", "synced at", "sync id", "table", "version", "rows added", "objects"
    )?;
    for sync in &history.syncs {
        for (i, t) in sync.tables.iter().enumerate() {
            let (number, at, id) = if i == 0 {
                (
                    sync.number.to_string(),
                    sync.synced_at.as_str(),
                    sync.sync_id.as_str(),
                )
            } else {
                (String::new(), "", "")
            };
            writeln!(
                out,
                "{number:>4}  {at:<24}  {id:<26}  {:<24} {:>7} {:>10} {:>8}",
                t.table, t.version, t.rows_added, t.objects
            )?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
