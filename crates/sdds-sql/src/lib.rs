//! The SQL side: a DataFusion session over the warehouse's Delta tables.
//!
//! Every feed table is registered under its Athena name (`billingeventfeed_v1`, ...), also when
//! it has not been synced yet (then it is empty), so AWS's example SQL always plans. Each feed
//! also gets `<entity>_current` and, when historized, `<entity>_history` views.

mod error;
mod session;
pub mod views;

pub use error::SqlError;
pub use session::{open_session, SessionOptions};
pub use views::TimeFilter;
