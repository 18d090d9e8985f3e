//! The SQL side: a DataFusion session over the warehouse's Delta tables.
//!
//! Every feed table is registered under its Athena name (`billingeventfeed_v1`, ...), also when
//! it has not been synced yet (then it is empty), so AWS's example SQL always plans. Each feed
//! also gets `<entity>_current` and, when historized, `<entity>_history` views, and the legacy
//! names older AWS SQL uses (`piifeed`, `agreementfeed`) are views too.
//!
//! The session speaks Athena's (Presto/Trino) dialect: see [`dialect`] and [`functions`].

#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]

pub mod dialect;
mod error;
pub mod functions;
pub mod legacy;
pub mod logical;
pub mod materialize;
mod memory_pool;
pub mod physical;
pub mod readonly;
pub mod report;
mod session;
pub mod views;

pub use error::{format_bytes, FunctionError, SqlError};
pub use readonly::{check_read_only, Refusal};
pub use report::{Report, ReportCatalog, ReportError, ReportParams};
pub use session::{
    default_memory_limit, execute_statement, execute_stream, open_session, parse_statements,
    run_sql, Resources, SessionOptions, CATALOG,
};
pub use views::TimeFilter;

/// Locks `mutex`, also after a holder panicked: what this crate guards are counters and
/// hand-over slots, consistent after every update.
pub(crate) fn lock<T>(mutex: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
