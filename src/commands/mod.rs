//! One module per command.

pub mod history;
pub mod query;
pub mod report;
pub mod status;
pub mod sync;
pub mod validate;
