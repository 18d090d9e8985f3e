//! Table names from older AWS example SQL, kept as views so that SQL runs unchanged:
//! `piifeed` (the address feed) and `agreementfeed` (the agreement feed during its beta).
//!
//! A legacy view has every column of its feed, plus each column's old header names
//! (`origin_offer_id` for `offer_id`, ...) and NULL for columns AWS no longer delivers.

use sdds_feeds::Feed;

/// A legacy table name and the feed it reads.
#[derive(Debug, Clone, Copy)]
pub struct LegacyTable {
    /// The old table name.
    pub name: &'static str,
    /// The feed table it stands for.
    pub feed: &'static str,
    /// Columns of the old feed that are no longer delivered (always NULL text).
    pub retired: &'static [&'static str],
}

/// The legacy names.
pub const LEGACY_TABLES: &[LegacyTable] = &[
    LegacyTable {
        name: "piifeed",
        feed: "addressfeed_v1",
        retired: &[],
    },
    LegacyTable {
        name: "agreementfeed",
        feed: "agreementfeed_v1",
        retired: &["agreement_revision", "agreement_type"],
    },
];

/// The query of a legacy view over `feed`.
pub fn legacy_view_sql(legacy: &LegacyTable, feed: &Feed) -> String {
    let mut columns = vec!["*".to_string()];
    for column in &feed.columns {
        for alias in &column.aliases {
            if feed.column(alias).is_none() {
                columns.push(format!("{} AS {alias}", column.name));
            }
        }
    }
    for retired in legacy.retired {
        columns.push(format!("CAST(NULL AS VARCHAR) AS {retired}"));
    }
    format!("SELECT {} FROM {}", columns.join(", "), feed.name)
}
