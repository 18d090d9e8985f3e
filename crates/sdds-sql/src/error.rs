//! Errors of the SQL layer.

use datafusion::error::DataFusionError;

/// What can go wrong while opening a session or running SQL.
#[derive(Debug, thiserror::Error)]
pub enum SqlError {
    /// DataFusion refused the query.
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
    /// The query needed more memory than its limit, in an operator that cannot spill.
    #[error("the query needs more memory than its limit of {limit} allows ({detail}); raise --memory-limit (SDDS_MEMORY_LIMIT, memory_limit in sdds.toml)")]
    MemoryLimit {
        /// The limit, for people (`4.0 GiB`).
        limit: String,
        /// What ran out, as DataFusion reports it.
        detail: String,
    },
    /// The SQL does not parse.
    #[error("SQL syntax: {}", parser_message(.0))]
    Syntax(datafusion::sql::sqlparser::parser::ParserError),
    /// A table or view name that the session does not have.
    #[error("no table or view named {name}{}", suggestion.as_ref().map(|s| format!(" (did you mean {s}?)")).unwrap_or_default())]
    UnknownTable {
        /// The name as written.
        name: String,
        /// The closest name the session has.
        suggestion: Option<String>,
    },
    /// The statement would write; sessions are read-only.
    #[error("sdds query is read-only: {0}")]
    ReadOnly(#[from] crate::readonly::Refusal),
    /// A table could not be opened.
    #[error(transparent)]
    Warehouse(Box<sdds_warehouse::WarehouseError>),
    /// Delta Lake refused an operation.
    #[error("{table}: {source}")]
    Delta {
        /// Table name.
        table: String,
        /// The Delta error.
        #[source]
        source: deltalake::DeltaTableError,
    },
}

/// The parser's message without its type name (`Expected: …, found: …`).
fn parser_message(error: &datafusion::sql::sqlparser::parser::ParserError) -> String {
    use datafusion::sql::sqlparser::parser::ParserError;
    match error {
        ParserError::TokenizerError(m) | ParserError::ParserError(m) => m.clone(),
        ParserError::RecursionLimitExceeded => "nested too deeply".to_string(),
    }
}

impl From<sdds_warehouse::WarehouseError> for SqlError {
    fn from(error: sdds_warehouse::WarehouseError) -> Self {
        SqlError::Warehouse(Box::new(error))
    }
}

/// Bad input to one of the Presto/Athena functions.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FunctionError {
    /// Text that is not an ISO 8601 timestamp.
    #[error("invalid timestamp {text:?} (expected ISO 8601 like 2026-09-15T10:20:30Z)")]
    InvalidTimestamp {
        /// The text.
        text: String,
    },
    /// Text that is not a date.
    #[error("invalid date {text:?} (expected ISO 8601 like 2026-09-15)")]
    InvalidDate {
        /// The text.
        text: String,
    },
    /// Text that does not match a `date_parse` format.
    #[error("invalid value {text:?} for format {format:?}: {reason}")]
    FormatMismatch {
        /// The text.
        text: String,
        /// The MySQL-style format.
        format: String,
        /// What did not match.
        reason: String,
    },
    /// A format specifier that is not supported.
    #[error("unsupported format specifier %{0} in {1:?}")]
    UnsupportedSpecifier(char, String),
    /// A unit that `date_add`/`date_diff` do not know.
    #[error("unknown unit {0:?} (expected millisecond, second, minute, hour, day, week, month, quarter or year)")]
    UnknownUnit(String),
    /// A unit finer than a day applied to a date.
    #[error("unit {0:?} is not valid for a date")]
    UnitNotForDate(String),
    /// A time zone that does not exist.
    #[error("unknown time zone {0:?}")]
    UnknownZone(String),
    /// An argument of a type the function does not take.
    #[error("expected a timestamp, date or text, got {0}")]
    NotATimestamp(String),
    /// A result beyond the representable range.
    #[error("value out of range")]
    OutOfRange,
    /// Division by zero.
    #[error("division by zero")]
    DivisionByZero,
    /// Text that is not a number.
    #[error("invalid number {0:?}")]
    InvalidNumber(String),
    /// A decimal result with more digits than DECIMAL(38) holds.
    #[error("decimal overflow")]
    DecimalOverflow,
}

impl From<FunctionError> for DataFusionError {
    fn from(error: FunctionError) -> Self {
        DataFusionError::Execution(error.to_string())
    }
}

impl SqlError {
    /// `error`, recognised as running out of the memory limit (`limit` bytes) when it is that.
    pub fn classify(error: DataFusionError, limit: usize) -> SqlError {
        match error.find_root() {
            DataFusionError::ResourcesExhausted(detail) => SqlError::MemoryLimit {
                limit: format_bytes(limit),
                detail: detail
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join(" ")
                    .trim_end_matches('.')
                    .to_string(),
            },
            _ => SqlError::DataFusion(error),
        }
    }
}

/// Bytes for people: `512.0 MiB`, `4.0 GiB`.
pub fn format_bytes(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    format!("{value:.1} {}", UNITS[unit])
}
