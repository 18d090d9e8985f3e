//! `sdds status`.

use std::io::Write;
use std::process::ExitCode;

use std::time::Duration;

use anyhow::Context;
use chrono::{DateTime, SecondsFormat, Utc};
use sdds_feeds::Catalog;
use sdds_warehouse::{table_status, TableStatus, Warehouse};

use crate::cli::StatusArgs;
use crate::{EXIT_PARTIAL, EXIT_STALE};

/// Prints one line per table.
pub async fn run(warehouse: &Warehouse, args: StatusArgs) -> anyhow::Result<ExitCode> {
    let mut statuses = Vec::new();
    for feed in Catalog::builtin().feeds() {
        statuses.push(table_status(warehouse, &feed.name).await?);
    }
    let mut out = std::io::stdout().lock();
    let stale = match args.max_age {
        Some(max_age) => staleness(&statuses, max_age, Utc::now())?,
        None => None,
    };
    // Non-zero while a table's last sync failed, so a health check can alert on it.
    let code = if statuses.iter().any(|s| s.failed()) {
        ExitCode::from(EXIT_PARTIAL)
    } else if stale.is_some() {
        ExitCode::from(EXIT_STALE)
    } else {
        ExitCode::SUCCESS
    };
    if let Some(stale) = &stale {
        eprintln!("error: {stale}");
    }
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

/// Why the warehouse is staler than `max_age` allows, if it is: its newest data came with the
/// last sync that changed any table (a sync that finds nothing new commits nothing).
fn staleness(
    statuses: &[TableStatus],
    max_age: Duration,
    now: DateTime<Utc>,
) -> anyhow::Result<Option<String>> {
    let mut newest: Option<DateTime<Utc>> = None;
    for status in statuses {
        if let Some(at) = &status.last_sync {
            let at = DateTime::parse_from_rfc3339(at)
                .with_context(|| format!("{}: last sync time {at:?}", status.table))?
                .with_timezone(&Utc);
            newest = newest.max(Some(at));
        }
    }
    let allowed = humantime::format_duration(max_age);
    let Some(newest) = newest else {
        return Ok(Some(format!(
            "the warehouse holds no data yet (--max-age {allowed})"
        )));
    };
    let age = (now - newest).to_std().unwrap_or_default();
    if age <= max_age {
        return Ok(None);
    }
    let age = humantime::format_duration(Duration::from_secs(age.as_secs()));
    Ok(Some(format!(
        "the newest data came with the sync of {}, {age} ago: older than --max-age {allowed}",
        newest.to_rfc3339_opts(SecondsFormat::Secs, true)
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn synced(at: Option<&str>) -> TableStatus {
        TableStatus {
            table: "t".into(),
            version: at.map(|_| 0),
            rows: 0,
            rows_quarantined: 0,
            last_sync: at.map(str::to_string),
            last_sync_id: None,
            new_columns: vec![],
            objects: 0,
            objects_vanished: 0,
            last_outcome: None,
            last_error: None,
        }
    }

    #[test]
    fn the_newest_table_decides_freshness() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T12:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let hours = |h: u64| Duration::from_secs(h * 3600);
        let tables = [
            synced(Some("2026-11-20T00:00:00.000Z")),
            synced(Some("2026-11-23T02:00:00.000Z")),
            synced(None),
        ];
        assert_eq!(staleness(&tables, hours(36), now).unwrap(), None);
        let stale = staleness(&tables, hours(6), now).unwrap().unwrap();
        assert_eq!(
            stale,
            "the newest data came with the sync of 2026-11-23T02:00:00Z, 1day 10h ago: older than --max-age 6h"
        );
        assert!(staleness(&[synced(None)], hours(36), now)
            .unwrap()
            .unwrap()
            .contains("no data yet"));
    }
}
