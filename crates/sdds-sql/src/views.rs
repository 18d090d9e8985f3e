//! Current-state and history views over the historized feeds (spec §2.2).
//!
//! For a feed whose entity is `account`:
//! - `account_current`: one row per key, the version in force (steps A and B),
//! - `account_history`: every surviving version with its `valid_from`/`valid_to` interval (step C).
//!
//! Billing events are immutable: `billing_event_current` only de-duplicates them by id.

use sdds_feeds::{Feed, HistoryKind};

/// The `valid_to` of the last version of an entity (AWS's sentinel).
pub const OPEN_END: &str = "2999-01-01T00:00:00Z";

/// Business- and system-time restrictions applied to every view.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimeFilter {
    /// Valid time: evaluate as of this instant (RFC 3339); only versions with valid_from <= it.
    pub as_of: Option<String>,
    /// System time (step D): only rows inserted and updated by this instant.
    pub known_at: Option<String>,
}

/// Name of the current-state view of a feed.
pub fn current_view_name(feed: &Feed) -> String {
    format!("{}_current", feed.entity)
}

/// Name of the history view of a feed (historized feeds only).
pub fn history_view_name(feed: &Feed) -> Option<String> {
    (feed.history == HistoryKind::Historized).then(|| format!("{}_history", feed.entity))
}

/// A timestamp literal of the stored type (microseconds, UTC), which reaches year 2999.
fn ts(literal: &str) -> String {
    format!(
        "arrow_cast('{}', 'Timestamp(Microsecond, Some(\"UTC\"))')",
        literal.replace('\'', "''")
    )
}

/// Step D then step A: the latest correction of each (key, valid_from), soft deletes dropped.
fn collapsed(feed: &Feed, filter: &TimeFilter) -> String {
    let keys = feed.key.join(", ");
    let partition = match feed.history {
        HistoryKind::Historized => format!("{keys}, valid_from"),
        HistoryKind::Immutable => keys,
    };
    let known = filter.known_at.as_deref().map_or(String::new(), |s| {
        format!(" WHERE (update_date IS NULL OR update_date <= {t}) AND (insert_date IS NULL OR insert_date <= {t})", t = ts(s))
    });
    // Ties on update_date go to the later delivery, so a re-delivered correction wins.
    format!(
        "SELECT * EXCLUDE (__sdds_rank) FROM (\
           SELECT *, row_number() OVER (PARTITION BY {partition} \
             ORDER BY update_date DESC NULLS LAST, _source_key DESC, _source_line DESC) AS __sdds_rank \
           FROM {table}{known}) \
         WHERE __sdds_rank = 1 AND delete_date IS NULL",
        table = feed.name
    )
}

/// The current-state view's query.
pub fn current_view_sql(feed: &Feed, filter: &TimeFilter) -> String {
    let versions = collapsed(feed, filter);
    if feed.history == HistoryKind::Immutable {
        return versions;
    }
    let as_of = filter
        .as_of
        .as_deref()
        .map_or(String::new(), |t| format!(" WHERE valid_from <= {}", ts(t)));
    format!(
        "SELECT * EXCLUDE (__sdds_latest) FROM (\
           SELECT *, row_number() OVER (PARTITION BY {keys} ORDER BY valid_from DESC NULLS LAST) AS __sdds_latest \
           FROM ({versions}){as_of}) \
         WHERE __sdds_latest = 1",
        keys = feed.key.join(", ")
    )
}

/// The history view's query: surviving versions with `valid_to` = the next version's `valid_from`.
pub fn history_view_sql(feed: &Feed, filter: &TimeFilter) -> String {
    let versions = collapsed(feed, filter);
    // The address feed delivers its own (always blank) valid_to; the derived one replaces it.
    let exclude = if feed.column("valid_to").is_some() {
        " EXCLUDE (valid_to)"
    } else {
        ""
    };
    format!(
        "SELECT *{exclude}, coalesce(lead(valid_from) OVER (PARTITION BY {keys} ORDER BY valid_from), {end}) AS valid_to \
         FROM ({versions})",
        keys = feed.key.join(", "),
        end = ts(OPEN_END)
    )
}
