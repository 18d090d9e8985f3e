//! One module per command.

pub mod history;
pub mod query;
pub mod status;
pub mod sync;
