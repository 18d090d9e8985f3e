//! The warehouse: one Delta Lake table per feed, kept in step with the source by `sync`.
//!
//! Each sync writes at most one commit per table. The commit's `commitInfo` records how much of
//! every source object the table holds ([`TableState`]), so data and bookkeeping are atomic.

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

mod decoding;
pub mod error;
pub mod history;
pub mod location;
pub mod optimize;
pub mod outcome;
pub mod plan;
pub mod quarantine;
pub mod state;
pub mod status;
pub mod sync;
pub mod vacuum;
pub mod validate;

pub use error::{LocationProblem, StorageProblem, WarehouseError};
pub use history::{History, SyncEntry, TableCommit};
pub use location::Warehouse;
pub use optimize::{optimize, OptimizeReport};
pub use outcome::LastSync;
pub use state::TableState;
pub use status::{table_status, TableStatus};
pub use sync::{sync, SyncOptions, SyncReport, SyncWarning, TableReport};
pub use vacuum::{vacuum, VacuumOptions, VacuumReport};
pub use validate::{validate, FileFindings, ValidationReport};
