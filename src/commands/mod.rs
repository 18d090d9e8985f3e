//! One module per command.

pub mod query;
pub mod status;
pub mod sync;
