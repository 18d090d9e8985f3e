//! `vacuum`: data files no longer referenced (replaced by a rewrite or by `optimize`) deleted
//! once they are older than the retention, which bounds how far back time travel reaches.

use std::time::Duration;

use sdds_feeds::Catalog;
use serde::Serialize;

use crate::error::WarehouseError;
use crate::location::Warehouse;
use crate::quarantine;

/// The shortest retention allowed without `unchecked`: a sync writes its files before it
/// commits them, and a vacuum must never take the files of a sync still running.
pub const MIN_RETENTION: Duration = Duration::from_secs(3600);

/// What `vacuum` did to one table.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VacuumReport {
    /// Table name.
    pub table: String,
    /// Files deleted (or that would be, with `dry_run`).
    pub files_deleted: usize,
    /// Why the table failed, if it did.
    pub error: Option<String>,
}

/// How to vacuum.
#[derive(Debug, Clone, Copy)]
pub struct VacuumOptions {
    /// Keep unreferenced files younger than this.
    pub retain: Duration,
    /// Only count what would be deleted.
    pub dry_run: bool,
    /// Allow a retention below [`MIN_RETENTION`] (when no sync can be running).
    pub unchecked: bool,
}

/// Errors of `vacuum` as a whole.
#[derive(Debug, thiserror::Error)]
pub enum VacuumError {
    /// A retention that could take a running sync's files.
    #[error("--retain {given} is shorter than {min}: a sync running meanwhile could lose the files it has not committed yet; use --unchecked-retention only when no sync can run")]
    RetentionTooShort {
        /// The retention asked for.
        given: humantime_like::Shown,
        /// The minimum.
        min: humantime_like::Shown,
    },
    /// The warehouse cannot be used.
    #[error(transparent)]
    Warehouse(#[from] WarehouseError),
}

/// Durations shown as whole hours, minutes or seconds.
pub mod humantime_like {
    /// A duration for messages.
    #[derive(Debug, Clone, Copy)]
    pub struct Shown(pub std::time::Duration);

    impl std::fmt::Display for Shown {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            let secs = self.0.as_secs();
            match secs {
                s if s % 3600 == 0 => write!(f, "{}h", s / 3600),
                s if s % 60 == 0 => write!(f, "{}m", s / 60),
                s => write!(f, "{s}s"),
            }
        }
    }
}

/// Vacuums every feed table and the quarantine table.
pub async fn vacuum(
    warehouse: &Warehouse,
    catalog: &Catalog,
    options: VacuumOptions,
) -> Result<Vec<VacuumReport>, VacuumError> {
    if options.retain < MIN_RETENTION && !options.unchecked {
        return Err(VacuumError::RetentionTooShort {
            given: humantime_like::Shown(options.retain),
            min: humantime_like::Shown(MIN_RETENTION),
        });
    }
    let names = catalog.feeds().iter().map(|f| f.name.as_str());
    let names: Vec<&str> = names.chain([quarantine::TABLE]).collect();
    warehouse.check_writable(names.iter().copied())?;
    let retain = chrono::Duration::from_std(options.retain).unwrap_or(chrono::Duration::MAX);
    let mut reports = Vec::new();
    for name in names {
        let mut report = VacuumReport {
            table: name.to_string(),
            ..Default::default()
        };
        let table = match warehouse.open_table(name, false).await {
            Ok(table) if table.version().is_some() => table,
            Ok(_) => continue,
            Err(e) => {
                report.error = Some(e.to_string());
                reports.push(report);
                continue;
            }
        };
        let vacuumed = table
            .vacuum()
            .with_retention_period(retain)
            .with_enforce_retention_duration(false)
            .with_dry_run(options.dry_run)
            .await;
        match vacuumed {
            Ok((_, metrics)) => report.files_deleted = metrics.files_deleted.len(),
            Err(e) => report.error = Some(WarehouseError::delta(name, e).to_string()),
        }
        reports.push(report);
    }
    Ok(reports)
}
