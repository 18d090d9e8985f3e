//! Errors of the warehouse.

use sdds_feeds::FeedError;
use sdds_source::SourceError;

/// What can go wrong while syncing or reading the warehouse.
#[derive(Debug, thiserror::Error)]
pub enum WarehouseError {
    /// The warehouse location cannot be used.
    #[error("warehouse {location}: {reason}")]
    Location {
        /// The location given.
        location: String,
        /// What is wrong.
        reason: String,
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
    #[error("{table}: another sync committed to this table while this one ran; nothing was written, run sync again")]
    Conflict {
        /// Table name.
        table: String,
    },
    /// The stored sync state is unreadable.
    #[error("{table}: sync state in the Delta log is unreadable: {reason}")]
    State {
        /// Table name.
        table: String,
        /// What is wrong.
        reason: String,
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

impl WarehouseError {
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
        WarehouseError::Delta {
            table: table.to_string(),
            source,
        }
    }
}
