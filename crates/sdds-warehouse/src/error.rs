//! Errors of the warehouse.

use sdds_feeds::FeedError;
use sdds_source::SourceError;

/// What can go wrong while syncing or reading the warehouse.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The warehouse location cannot be used.
    #[error("warehouse {location}: {problem}")]
    Location {
        /// The location given.
        location: String,
        /// What is wrong.
        problem: LocationProblem,
    },
    /// Reading the source failed.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// A feed file cannot be decoded.
    #[error(transparent)]
    Feed(#[from] FeedError),
    /// Delta Lake refused an operation.
    #[error("{table}: {source}")]
    Delta {
        /// Table name.
        table: String,
        /// The Delta error.
        #[source]
        source: deltalake::DeltaTableError,
    },
    /// Another sync committed to the table first.
    #[error("{table}: another sync (or optimize, or vacuum) committed to this table meanwhile; nothing was written, run it again")]
    Conflict {
        /// Table name.
        table: String,
    },
    /// The stored sync state is unreadable (or could not be written out).
    #[error("{table}: sync state in the Delta log is unreadable: {source}")]
    State {
        /// Table name.
        table: String,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The record of a table's last sync is unreadable.
    #[error("{table}: {file} is unreadable: {source}")]
    Outcome {
        /// Table name.
        table: String,
        /// The record's file name.
        file: &'static str,
        /// What is wrong.
        #[source]
        source: serde_json::Error,
    },
    /// The CSV decoder's thread ended abnormally.
    #[error("{table}: the CSV decoder stopped abnormally: {source}")]
    DecoderCrashed {
        /// Table name.
        table: String,
        /// What ended it.
        #[source]
        source: tokio::task::JoinError,
    },
    /// The warehouse's storage refused a write: the table keeps its last committed version.
    #[error("{table}: nothing was committed: {problem} ({source})")]
    Storage {
        /// Table name.
        table: String,
        /// Why, and what to do.
        problem: StorageProblem,
        /// The refused operation.
        #[source]
        source: deltalake::DeltaTableError,
    },
    /// A read command pointed at a place that holds no warehouse.
    #[error("no warehouse at {location} (run `sdds sync` first)")]
    NoWarehouse {
        /// The location given.
        location: String,
    },
    /// A stored column whose type differs from the catalog's.
    #[error("{table}: column {column} is stored as {stored} but the schema declares {catalog}; nothing was written (rebuild the table into a new warehouse, or keep the old type in schemas/)")]
    TypeConflict {
        /// Table name.
        table: String,
        /// Column name.
        column: String,
        /// The type in the Delta table.
        stored: deltalake::arrow::datatypes::DataType,
        /// The type in the catalog.
        catalog: deltalake::arrow::datatypes::DataType,
    },
    /// A local warehouse directory that sync cannot write.
    #[error("warehouse {path} is not writable: {source}")]
    NotWritable {
        /// The directory.
        path: String,
        /// What the file system said.
        #[source]
        source: std::io::Error,
    },
    /// A source that holds no feed file at all.
    #[error("no feed files in {location}: found {found} objects{}; expected <feed>/year=YYYY/month=MM/<file>.csv below the source root, e.g. billingeventfeed_v1/year=2026/month=10/data.csv", if examples.is_empty() { String::new() } else { format!(" ({})", examples.join(", ")) })]
    NoFeedFiles {
        /// The source location.
        location: String,
        /// Objects found.
        found: usize,
        /// A few of the keys found.
        examples: Vec<String>,
    },
    /// No such table in the warehouse.
    #[error("no table {0} in the warehouse")]
    NoTable(String),
}

/// Why a warehouse location cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum LocationProblem {
    /// Not a URL the object store understands.
    #[error("{0}")]
    Url(#[from] url::ParseError),
    /// A relative path that cannot be made absolute.
    #[error("not an absolute path")]
    NotAbsolute,
    /// A `file:` URL that names no local path.
    #[error("not a local path")]
    NotLocal,
    /// The file system refused.
    #[error("{0}")]
    Io(#[from] std::io::Error),
}

/// Why the warehouse's storage refused a write, and what to do about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum StorageProblem {
    /// No room left.
    #[error("the warehouse's disk is full (or a file size or quota limit was reached); free space there, then run sync again")]
    Full,
    /// The user may not write there.
    #[error("this user may not write to the warehouse; make the warehouse directory and every table's directory and _delta_log writable (or grant s3:PutObject and s3:DeleteObject), then run sync again")]
    Denied,
}

impl StorageProblem {
    /// The problem behind a Delta error, if it is one the user can fix at the storage.
    fn of(error: &deltalake::DeltaTableError) -> Option<StorageProblem> {
        use deltalake::ObjectStoreError as Store;
        use std::io::ErrorKind as Kind;
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(error);
        while let Some(e) = next {
            if let Some(io) = e.downcast_ref::<std::io::Error>() {
                match io.kind() {
                    Kind::StorageFull | Kind::FileTooLarge | Kind::QuotaExceeded => {
                        return Some(StorageProblem::Full)
                    }
                    Kind::PermissionDenied | Kind::ReadOnlyFilesystem => {
                        return Some(StorageProblem::Denied)
                    }
                    _ => {}
                }
            }
            if let Some(Store::PermissionDenied { .. } | Store::Unauthenticated { .. }) =
                e.downcast_ref::<Store>()
            {
                return Some(StorageProblem::Denied);
            }
            next = e.source();
        }
        None
    }
}

impl WarehouseError {
    /// True when every later table would fail the same way (the credentials no longer work),
    /// so a sync stops instead of trying them.
    pub fn ends_the_run(&self) -> bool {
        matches!(self, WarehouseError::Source(e) if e.ends_the_run())
    }

    pub(crate) fn delta(table: &str, source: deltalake::DeltaTableError) -> WarehouseError {
        use deltalake::kernel::transaction::TransactionError;
        use deltalake::DeltaTableError as E;
        let lost_race = match &source {
            E::VersionAlreadyExists(_) => true,
            E::Transaction { source } => matches!(
                source,
                TransactionError::VersionAlreadyExists(_)
                    | TransactionError::MaxCommitAttempts(_)
                    | TransactionError::CommitConflict(_)
            ),
            // Creating a table that another sync has just created.
            other => other.to_string().contains("table already exists"),
        };
        if lost_race {
            return WarehouseError::Conflict {
                table: table.to_string(),
            };
        }
        if let Some(problem) = StorageProblem::of(&source) {
            return WarehouseError::Storage {
                table: table.to_string(),
                problem,
                source,
            };
        }
        WarehouseError::Delta {
            table: table.to_string(),
            source,
        }
    }
}
