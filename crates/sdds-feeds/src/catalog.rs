//! The feed catalog: the twelve SDDS feeds as described by `schemas/*.toml`.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::Deserialize;

use crate::error::FeedError;
use crate::lineage;

/// Precision of every stored money/quantity column (Arrow Decimal128).
pub const DECIMAL_PRECISION: u8 = 38;
/// Scale of every stored money/quantity column: covers AWS's decimal(20,10) and decimal(38,6) casts.
pub const DECIMAL_SCALE: i8 = 10;

/// The timezone every stored timestamp carries.
pub const UTC: &str = "UTC";

/// The schema files, embedded so the binary needs nothing on disk.
const SCHEMA_FILES: &[(&str, &str)] = &[
    (
        "accountfeed_v1",
        include_str!("../../../schemas/accountfeed_v1.toml"),
    ),
    (
        "addressfeed_v1",
        include_str!("../../../schemas/addressfeed_v1.toml"),
    ),
    (
        "agreementfeed_v1",
        include_str!("../../../schemas/agreementfeed_v1.toml"),
    ),
    (
        "agreementtermfeed_v1",
        include_str!("../../../schemas/agreementtermfeed_v1.toml"),
    ),
    (
        "billingeventfeed_v1",
        include_str!("../../../schemas/billingeventfeed_v1.toml"),
    ),
    (
        "dailyusagefeed_v1",
        include_str!("../../../schemas/dailyusagefeed_v1.toml"),
    ),
    (
        "legacyidmappingfeed_v1",
        include_str!("../../../schemas/legacyidmappingfeed_v1.toml"),
    ),
    (
        "offerfeed_v1",
        include_str!("../../../schemas/offerfeed_v1.toml"),
    ),
    (
        "offerproductfeed_v1",
        include_str!("../../../schemas/offerproductfeed_v1.toml"),
    ),
    (
        "offertargetfeed_v1",
        include_str!("../../../schemas/offertargetfeed_v1.toml"),
    ),
    (
        "productfeed_v1",
        include_str!("../../../schemas/productfeed_v1.toml"),
    ),
    (
        "taxitemfeed_v1",
        include_str!("../../../schemas/taxitemfeed_v1.toml"),
    ),
];

/// The logical type of a feed column, as written in the schema files.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// Text, stored as UTF-8.
    String,
    /// ISO 8601 UTC instant, stored as microsecond timestamp in UTC.
    Timestamp,
    /// Exact decimal, stored as Decimal128(38, 10).
    Decimal,
    /// Whole number, stored as Int64.
    Integer,
    /// true/false (also 1/0), stored as Boolean.
    Boolean,
}

impl ColumnType {
    /// The Arrow type this column is stored as.
    pub fn arrow_type(self) -> DataType {
        match self {
            ColumnType::String => DataType::Utf8,
            ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some(UTC.into())),
            ColumnType::Decimal => DataType::Decimal128(DECIMAL_PRECISION, DECIMAL_SCALE),
            ColumnType::Integer => DataType::Int64,
            ColumnType::Boolean => DataType::Boolean,
        }
    }

    /// The logical type stored as `data_type` (anything else is read as text).
    pub fn of_arrow(data_type: &DataType) -> ColumnType {
        match data_type {
            DataType::Timestamp(..) => ColumnType::Timestamp,
            DataType::Decimal128(..) => ColumnType::Decimal,
            DataType::Int64 => ColumnType::Integer,
            DataType::Boolean => ColumnType::Boolean,
            _ => ColumnType::String,
        }
    }
}

/// How a feed keeps history (spec §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum HistoryKind {
    /// Several versions per key, told apart by valid_from and update_date.
    Historized,
    /// One row per key, never changed (billing events).
    Immutable,
}

/// One column of a feed.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Column {
    /// Header name in the CSV and column name in the table.
    pub name: String,
    /// Logical type.
    #[serde(rename = "type")]
    pub column_type: ColumnType,
    /// One-line description.
    pub description: String,
    /// Other header spellings that map to this column (older or misspelled headers).
    #[serde(default)]
    pub aliases: Vec<String>,
    /// Left-pad all-digit values with zeros to this width (AWS account numbers).
    #[serde(default)]
    pub zero_pad: Option<usize>,
}

/// One feed: its table name, key and columns.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Feed {
    /// Table name and canonical S3 prefix, e.g. `billingeventfeed_v1`.
    pub name: String,
    /// Entity name used for the derived views, e.g. `billing_event`.
    pub entity: String,
    /// One-line description.
    pub description: String,
    /// How the feed keeps history.
    pub history: HistoryKind,
    /// Key columns identifying an entity (without valid_from).
    pub key: Vec<String>,
    /// Columns in documented order.
    #[serde(rename = "column")]
    pub columns: Vec<Column>,
}

impl Feed {
    /// Parses a schema file.
    pub fn from_toml(text: &str) -> Result<Feed, FeedError> {
        let feed: Feed = toml::from_str(text).map_err(|e| FeedError::Schema(e.to_string()))?;
        for key in &feed.key {
            if feed.column(key).is_none() {
                return Err(FeedError::Schema(format!(
                    "{}: key column {key} is not a column",
                    feed.name
                )));
            }
        }
        Ok(feed)
    }

    /// The column with this name, if any.
    pub fn column(&self, name: &str) -> Option<&Column> {
        self.columns.iter().find(|c| c.name == name)
    }

    /// Finds the column a CSV header names: exact name, then alias, case-insensitively.
    pub fn column_for_header(&self, header: &str) -> Option<&Column> {
        let header = header.trim();
        self.columns
            .iter()
            .find(|c| c.name.eq_ignore_ascii_case(header))
            .or_else(|| {
                self.columns
                    .iter()
                    .find(|c| c.aliases.iter().any(|a| a.eq_ignore_ascii_case(header)))
            })
    }

    /// The key column when the key is one column: an id distinct in (nearly) every row.
    pub fn unique_column(&self) -> Option<&str> {
        match self.key.as_slice() {
            [column] => Some(column),
            _ => None,
        }
    }

    /// The stored table schema: feed columns, then lineage columns.
    pub fn table_schema(&self) -> SchemaRef {
        let mut fields: Vec<Field> = self
            .columns
            .iter()
            .map(|c| Field::new(&c.name, c.column_type.arrow_type(), true))
            .collect();
        fields.extend(lineage::fields());
        Arc::new(Schema::new(fields))
    }
}

/// All known feeds.
#[derive(Debug, Clone)]
pub struct Catalog {
    feeds: Vec<Feed>,
}

impl Catalog {
    /// The catalog built into the binary from `schemas/`.
    // The schemas are compiled in and each is parsed by a unit test, so a bad one cannot ship.
    #[allow(clippy::panic)]
    pub fn builtin() -> Catalog {
        let feeds = SCHEMA_FILES
            .iter()
            .map(|(name, text)| {
                Feed::from_toml(text).unwrap_or_else(|e| panic!("embedded schema {name}: {e}"))
            })
            .collect();
        Catalog { feeds }
    }

    /// This catalog with `feed` in place of the feed of the same name (or added): a seller's
    /// own declaration of a column AWS added, as a file in `schemas/` would give.
    pub fn with_feed(mut self, feed: Feed) -> Catalog {
        self.feeds.retain(|f| f.name != feed.name);
        self.feeds.push(feed);
        self.feeds.sort_by(|a, b| a.name.cmp(&b.name));
        self
    }

    /// Every feed, in table-name order.
    pub fn feeds(&self) -> &[Feed] {
        &self.feeds
    }

    /// The feed with this exact table name.
    pub fn feed(&self, name: &str) -> Option<&Feed> {
        self.feeds.iter().find(|f| f.name == name)
    }

    /// Recognises a bucket prefix leniently: case-insensitive, ignoring `_` and `-` inside
    /// the name, with or without the `feed` suffix (`BillingEventFeed_V1`, `billing_event_v1`).
    pub fn feed_for_prefix(&self, prefix: &str) -> Option<&Feed> {
        let wanted = normalize_prefix(prefix)?;
        self.feeds
            .iter()
            .find(|f| normalize_prefix(&f.name).as_ref() == Some(&wanted))
    }
}

/// `(name without separators and "feed" suffix, version)` of a prefix like `billing_event_feed_V1`.
fn normalize_prefix(prefix: &str) -> Option<(String, String)> {
    let lower = prefix.trim_matches('/').to_ascii_lowercase();
    let cut = lower.rfind(['_', '-'])?;
    let (name, version) = (&lower[..cut], &lower[cut + 1..]);
    let digits = version.strip_prefix('v')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let mut name: String = name.chars().filter(|c| *c != '_' && *c != '-').collect();
    if let Some(stripped) = name.strip_suffix("feed") {
        name = stripped.to_string();
    }
    Some((name, version.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_catalog_has_twelve_feeds_with_history_columns() {
        let catalog = Catalog::builtin();
        assert_eq!(catalog.feeds().len(), 12);
        for feed in catalog.feeds() {
            for col in [
                "valid_from",
                "insert_date",
                "update_date",
                "delete_date",
                "catalog",
            ] {
                assert!(feed.column(col).is_some(), "{} lacks {col}", feed.name);
            }
        }
        let address = catalog.feed("addressfeed_v1").unwrap();
        assert!(address.column("valid_to").is_some());
    }

    #[test]
    fn prefixes_are_recognised_leniently() {
        let catalog = Catalog::builtin();
        for prefix in [
            "billingeventfeed_v1",
            "BillingEventFeed_V1",
            "billing_event_v1",
            "billing-event-feed_v1",
        ] {
            assert_eq!(
                catalog.feed_for_prefix(prefix).map(|f| f.name.as_str()),
                Some("billingeventfeed_v1"),
                "{prefix}"
            );
        }
        assert!(catalog.feed_for_prefix("billingeventfeed_v2").is_none());
        assert!(catalog.feed_for_prefix("unknownfeed_v1").is_none());
        assert!(catalog.feed_for_prefix("notes").is_none());
    }
}
