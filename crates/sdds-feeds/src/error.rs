//! Errors of the feed catalog and CSV decoding.

/// What can go wrong while reading a feed.
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// A schema file is malformed.
    #[error("schema: {0}")]
    Schema(String),
    /// The header line is unusable.
    #[error("{key}: bad header: {reason}")]
    Header {
        /// Object key.
        key: String,
        /// What is wrong.
        reason: String,
    },
    /// The whole file cannot be loaded as the feed: a sync sets it aside in the quarantine
    /// table and loads the others.
    #[error("{key}: set aside: {problem}")]
    SetAside {
        /// Object key.
        key: String,
        /// What is wrong with it.
        problem: FileProblem,
        /// Its first line's fields.
        header: Vec<String>,
    },
    /// A data row cannot be stored.
    #[error("{key}:{}: {row}", .row.line)]
    Row {
        /// Object key.
        key: String,
        /// The rejected row.
        row: RowError,
    },
    /// The CSV itself cannot be parsed.
    #[error("{key}: {source}")]
    Csv {
        /// Object key.
        key: String,
        /// What failed.
        #[source]
        source: csv::Error,
    },
    /// Reading the input failed; `source` holds the reader's own error (say the source's),
    /// which `std::io::Error::downcast` gives back.
    #[error("{key}: {source}")]
    Input {
        /// Object key.
        key: String,
        /// What failed.
        #[source]
        source: std::io::Error,
    },
    /// The consumer of decoded batches went away before the file was read.
    #[error("{key}: the writer stopped before the file was read")]
    WriterStopped {
        /// Object key.
        key: String,
    },
    /// Arrow refused a batch.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
}

/// One rejected CSV record, with what it said and why it was rejected.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// 1-based line where the record starts.
    pub line: u64,
    /// The column whose value could not be stored; `None` when the record as a whole is wrong
    /// (its field count).
    pub column: Option<String>,
    /// Why it was rejected.
    pub reason: String,
    /// The record's fields, re-joined as CSV.
    pub raw: String,
}

impl std::fmt::Display for RowError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.column {
            Some(column) => write!(f, "column {column}: {}", self.reason),
            None => f.write_str(&self.reason),
        }
    }
}

/// Why a whole file is set aside rather than loaded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileProblem {
    /// The first line is data, or belongs to another feed.
    #[error("no header: the first line names none of the feed's columns")]
    NoHeader,
    /// Most of the header's columns are not the feed's: another feed's file.
    #[error(
        "the header names more columns unknown to the feed ({unknown}) than its own ({known})"
    )]
    ForeignHeader {
        /// Header fields that are the feed's columns.
        known: usize,
        /// Header fields that are not.
        unknown: usize,
    },
    /// A column that identifies the feed's entities is not in the header.
    #[error("no key column {0} in the header")]
    MissingKey(String),
    /// Two header fields name the same column.
    #[error("column {0:?} appears twice in the header")]
    DuplicateColumn(String),
    /// A header field takes the name of a lineage column sdds adds.
    #[error("column {0:?} in the header is reserved for lineage")]
    ReservedColumn(String),
    /// The header line is not UTF-8 text.
    #[error("the header is not valid UTF-8 (from byte {valid_up_to} of field {field})")]
    HeaderNotUtf8 {
        /// 1-based field holding the first invalid byte.
        field: usize,
        /// Valid bytes before it within that field.
        valid_up_to: usize,
    },
}
