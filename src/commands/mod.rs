//! One module per command.

pub mod config;
pub mod dashboard;
pub mod docs;
pub mod history;
pub mod maintain;
pub mod query;
pub mod report;
pub mod serve;
pub mod shell;
pub mod status;
pub mod sync;
pub mod validate;
