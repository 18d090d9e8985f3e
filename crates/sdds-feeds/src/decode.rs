//! Streaming, typed CSV decoding into Arrow record batches.
//!
//! Columns are mapped by header name, so reordered headers load; a column missing from the
//! header is NULL; a header the feed does not know is kept as an extra string column.

use std::io::Read;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, AsArray, BooleanBuilder, Decimal128Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use csv::{ByteRecord, StringRecord};

use crate::catalog::{Column, ColumnType, Feed, DECIMAL_PRECISION, DECIMAL_SCALE, UTC};
use crate::error::{FeedError, FileProblem, RowError};
use crate::lineage::{self, Lineage};
use crate::value;

/// Rows per record batch.
pub const DEFAULT_BATCH_ROWS: usize = 8192;

/// What the decoder hands to its caller, in file order.
#[derive(Debug)]
pub enum Decoded {
    /// A batch of good rows in the target schema.
    Batch(RecordBatch),
    /// A record that could not be stored.
    Rejected(RowError),
}

/// Totals of one decode.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DecodeSummary {
    /// The header used (read from the input, or given).
    pub header: Option<Vec<String>>,
    /// Rows decoded into batches.
    pub rows: u64,
    /// Rows rejected.
    pub rejected: u64,
    /// Line feeds read: the line number of the input's last line, relative to its first.
    pub lines: u64,
}

/// Header fields this feed does not know, in header order (they become extra string columns).
pub fn unknown_headers(feed: &Feed, header: &[String]) -> Vec<String> {
    header
        .iter()
        .map(|h| clean_header(h))
        .filter(|h| !h.is_empty() && feed.column_for_header(h).is_none() && !lineage::is_lineage(h))
        .collect()
}

/// A reader error as the decoder reports it: the input's own failure apart, so that the
/// caller can recover its error (say the source's) by downcasting.
fn csv_failure(key: &str, e: csv::Error) -> FeedError {
    let key = key.to_string();
    if !e.is_io_error() {
        return FeedError::Csv { key, source: e };
    }
    match e.into_kind() {
        csv::ErrorKind::Io(source) => FeedError::Input { key, source },
        // `is_io_error` said it is one; keep whatever it is.
        other => FeedError::Csv {
            key,
            source: std::io::Error::other(format!("{other:?}")).into(),
        },
    }
}

/// The header's fields as text, or why it is not text.
fn header_text(record: &ByteRecord) -> Result<Vec<String>, FileProblem> {
    record
        .iter()
        .enumerate()
        .map(|(i, field)| match std::str::from_utf8(field) {
            Ok(text) => Ok(clean_header(text)),
            Err(e) => Err(FileProblem::HeaderNotUtf8 {
                field: i + 1,
                valid_up_to: e.valid_up_to(),
            }),
        })
        .collect()
}

fn clean_header(h: &str) -> String {
    h.trim_start_matches('\u{feff}').trim().to_string()
}

/// `target` widened by a nullable string column for each unknown header it lacks.
fn with_extra_columns(target: &SchemaRef, feed: &Feed, header: &[String]) -> SchemaRef {
    let missing: Vec<Field> = unknown_headers(feed, header)
        .into_iter()
        .filter(|h| target.field_with_name(h).is_err())
        .map(|h| Field::new(h, DataType::Utf8, true))
        .collect();
    if missing.is_empty() {
        return target.clone();
    }
    let fields: Vec<Field> = target
        .fields()
        .iter()
        .map(|f| f.as_ref().clone())
        .chain(missing)
        .collect();
    Arc::new(Schema::new(fields))
}

/// Reads the header line of a CSV input.
pub fn read_header<R: Read>(input: R) -> Result<Option<Vec<String>>, csv::Error> {
    let mut reader = csv_reader(input);
    let mut record = StringRecord::new();
    if reader.read_record(&mut record)? {
        Ok(Some(record.iter().map(clean_header).collect()))
    } else {
        Ok(None)
    }
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(input)
}

/// Where one decode reads from and what it produces.
pub struct DecodeJob<'a> {
    /// The feed.
    pub feed: &'a Feed,
    /// The table's schema; batches have it plus a string column per unknown header.
    pub target: SchemaRef,
    /// Lineage stamped on every row.
    pub lineage: Lineage,
    /// The header, when the input starts after it (a ranged read of appended bytes);
    /// `None` when the input's first line is the header.
    pub header: Option<Vec<String>>,
    /// Line number of the input's first line within the object (1 for a whole object).
    pub first_line: u64,
    /// Rows per batch.
    pub batch_rows: usize,
}

/// Decodes a CSV input, handing batches and rejected rows to `emit` as it goes.
///
/// Memory is bounded by one batch, whatever the input size. `emit` may stop the decode
/// by returning an error.
pub fn decode<R: Read, E: From<FeedError>>(
    input: R,
    job: DecodeJob<'_>,
    mut emit: impl FnMut(Decoded) -> Result<(), E>,
) -> Result<DecodeSummary, E> {
    let key = job.lineage.source_key.clone();
    let csv_error = |e: csv::Error| csv_failure(&key, e);
    let newlines = std::rc::Rc::new(std::cell::Cell::new(0u64));
    let mut reader = csv_reader(NewlineCounter {
        inner: input,
        newlines: newlines.clone(),
    });
    let mut bytes = ByteRecord::new();
    let header = match job.header {
        Some(h) => h,
        None => {
            if !reader.read_byte_record(&mut bytes).map_err(csv_error)? {
                return Ok(DecodeSummary::default());
            }
            header_text(&bytes).map_err(|problem| FeedError::SetAside {
                key: key.clone(),
                problem,
                header: bytes
                    .iter()
                    .map(|f| clean_header(&String::from_utf8_lossy(f)))
                    .collect(),
            })?
        }
    };
    let set_aside = |problem| FeedError::SetAside {
        key: key.clone(),
        problem,
        header: header.clone(),
    };
    if let Some(problem) = header_problem(job.feed, &header) {
        return Err(set_aside(problem).into());
    }
    let target = with_extra_columns(&job.target, job.feed, &header);
    let mapping = ColumnMapping::new(job.feed, &header, &target).map_err(|e| match e {
        MappingError::File(problem) => set_aside(problem),
        MappingError::Schema(reason) => FeedError::Header {
            key: key.clone(),
            reason,
        },
    })?;
    let mut builder = BatchBuilder::new(target, &mapping, job.lineage, job.batch_rows);
    let mut summary = DecodeSummary {
        header: Some(header.clone()),
        ..Default::default()
    };
    let line_base = job.first_line - 1;
    // A record with too few or too many fields, one of them holding a line break: an
    // unterminated quote if no record follows it.
    let mut open_quote: Option<RowError> = None;
    while reader.read_byte_record(&mut bytes).map_err(csv_error)? {
        if let Some(rejected) = open_quote.take() {
            emit(Decoded::Rejected(rejected))?;
        }
        let line = line_base + bytes.position().map_or(0, |p| p.line());
        let pushed = match StringRecord::from_byte_record(bytes) {
            Ok(text) => {
                let pushed = builder.push(&text, line).map_err(|problem| RowError {
                    line,
                    column: problem.column,
                    reason: problem.reason,
                    raw: raw_record(&text),
                });
                bytes = text.into_byte_record();
                pushed
            }
            Err(invalid) => {
                bytes = invalid.into_byte_record();
                let (field, valid_up_to) = invalid_utf8_field(&bytes).unwrap_or_default();
                Err(RowError {
                    line,
                    column: builder.column_name(field),
                    reason: format!("not valid UTF-8 from byte {}", valid_up_to + 1),
                    raw: raw_bytes(&bytes),
                })
            }
        };
        match pushed {
            Ok(()) => {
                summary.rows += 1;
                if builder.is_full() {
                    emit(Decoded::Batch(builder.finish()?))?;
                }
            }
            Err(rejected) => {
                summary.rejected += 1;
                let spans_lines = bytes
                    .iter()
                    .any(|f| f.contains(&b'\n') || f.contains(&b'\r'));
                if rejected.column.is_none() && spans_lines {
                    open_quote = Some(rejected);
                } else {
                    emit(Decoded::Rejected(rejected))?;
                }
            }
        }
    }
    if let Some(mut rejected) = open_quote {
        rejected.reason = format!(
            "unterminated quote: a quoted field on line {} runs to the end of the file",
            rejected.line
        );
        emit(Decoded::Rejected(rejected))?;
    }
    if builder.len() > 0 {
        emit(Decoded::Batch(builder.finish()?))?;
    }
    summary.lines = newlines.get();
    Ok(summary)
}

/// Counts line feeds passing through, so the next ranged read knows its first line number.
struct NewlineCounter<R> {
    inner: R,
    newlines: std::rc::Rc<std::cell::Cell<u64>>,
}

impl<R: Read> Read for NewlineCounter<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        let count = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        self.newlines.set(self.newlines.get() + count);
        Ok(n)
    }
}

/// Re-joins a record as a CSV line, for quarantine and error messages.
fn raw_record(record: &StringRecord) -> String {
    raw_bytes(record.as_byte_record())
}

/// Re-joins a record's bytes as a CSV line, invalid UTF-8 replaced by U+FFFD.
fn raw_bytes(record: &ByteRecord) -> String {
    let mut writer = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(vec![]);
    let _ = writer.write_byte_record(record);
    let bytes = writer.into_inner().unwrap_or_default();
    String::from_utf8_lossy(&bytes)
        .trim_end_matches('\n')
        .to_string()
}

/// The first field of `record` that is not valid UTF-8, and how many of its bytes are.
fn invalid_utf8_field(record: &ByteRecord) -> Option<(usize, usize)> {
    record.iter().enumerate().find_map(|(i, field)| {
        std::str::from_utf8(field)
            .err()
            .map(|e| (i, e.valid_up_to()))
    })
}

/// What makes a header unusable for `feed`: none of its columns, more unknown columns than
/// its own (another feed's file; AWS adds columns a few at a time), or not all of its key.
fn header_problem(feed: &Feed, header: &[String]) -> Option<FileProblem> {
    let known = header
        .iter()
        .filter(|h| feed.column_for_header(h).is_some() || lineage::is_lineage(h))
        .count();
    if known == 0 {
        return Some(FileProblem::NoHeader);
    }
    let unknown = header.iter().filter(|h| !h.is_empty()).count() - known;
    if unknown > known {
        return Some(FileProblem::ForeignHeader { known, unknown });
    }
    feed.key
        .iter()
        .find(|key| {
            !header
                .iter()
                .any(|h| feed.column_for_header(h).is_some_and(|c| &c.name == *key))
        })
        .map(|key| FileProblem::MissingKey(key.clone()))
}

/// Why a header cannot be mapped onto the table schema.
enum MappingError {
    /// The file's fault.
    File(FileProblem),
    /// The table schema lacks a column the header needs.
    Schema(String),
}

/// Where each CSV field goes in the target schema.
struct ColumnMapping {
    /// Per header field: target column index and how to parse it.
    fields: Vec<(usize, ColumnType, Option<usize>)>,
    header_len: usize,
    /// Header positions of the feed's key columns.
    keys: Vec<usize>,
}

impl ColumnMapping {
    fn new(
        feed: &Feed,
        header: &[String],
        target: &SchemaRef,
    ) -> Result<ColumnMapping, MappingError> {
        let mut fields = Vec::with_capacity(header.len());
        let mut keys = Vec::new();
        let mut seen = vec![false; target.fields().len()];
        for (position, name) in header.iter().enumerate() {
            let (target_name, column_type, zero_pad) = match feed.column_for_header(name) {
                Some(Column {
                    name,
                    column_type,
                    zero_pad,
                    ..
                }) => (name.as_str(), *column_type, *zero_pad),
                None if lineage::is_lineage(name) => {
                    return Err(MappingError::File(FileProblem::ReservedColumn(
                        name.clone(),
                    )))
                }
                None => (name.as_str(), ColumnType::String, None),
            };
            let index = target.index_of(target_name).map_err(|_| {
                MappingError::Schema(format!("column {name:?} has no place in the table schema"))
            })?;
            if std::mem::replace(&mut seen[index], true) {
                return Err(MappingError::File(FileProblem::DuplicateColumn(
                    target_name.to_string(),
                )));
            }
            if feed.key.iter().any(|key| key == target_name) {
                keys.push(position);
            }
            fields.push((index, column_type, zero_pad));
        }
        Ok(ColumnMapping {
            fields,
            header_len: header.len(),
            keys,
        })
    }
}

/// One typed column being built.
enum ColumnBuilder {
    Utf8(StringBuilder),
    Timestamp(TimestampMicrosecondBuilder),
    Decimal(Decimal128Builder),
    Integer(Int64Builder),
    Boolean(BooleanBuilder),
}

impl ColumnBuilder {
    /// A builder with room for `capacity` values, and `text_bytes` bytes of them if text.
    fn new(column_type: ColumnType, capacity: usize, text_bytes: usize) -> ColumnBuilder {
        match column_type {
            ColumnType::String => {
                ColumnBuilder::Utf8(StringBuilder::with_capacity(capacity, text_bytes))
            }
            ColumnType::Timestamp => {
                ColumnBuilder::Timestamp(TimestampMicrosecondBuilder::with_capacity(capacity))
            }
            ColumnType::Decimal => {
                ColumnBuilder::Decimal(Decimal128Builder::with_capacity(capacity))
            }
            ColumnType::Integer => ColumnBuilder::Integer(Int64Builder::with_capacity(capacity)),
            ColumnType::Boolean => ColumnBuilder::Boolean(BooleanBuilder::with_capacity(capacity)),
        }
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Utf8(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Decimal(b) => b.append_null(),
            ColumnBuilder::Integer(b) => b.append_null(),
            ColumnBuilder::Boolean(b) => b.append_null(),
        }
    }

    fn append(&mut self, value: Parsed, text: &str) {
        match (self, value) {
            (ColumnBuilder::Utf8(b), Parsed::Text(pad)) => match pad {
                Some(width) => b.append_value(value::zero_pad(text, width)),
                None => b.append_value(text),
            },
            (ColumnBuilder::Timestamp(b), Parsed::Timestamp(v)) => b.append_value(v),
            (ColumnBuilder::Decimal(b), Parsed::Decimal(v)) => b.append_value(v),
            (ColumnBuilder::Integer(b), Parsed::Integer(v)) => b.append_value(v),
            (ColumnBuilder::Boolean(b), Parsed::Boolean(v)) => b.append_value(v),
            (b, _) => b.append_null(),
        }
    }

    fn finish(&mut self) -> Result<ArrayRef, arrow::error::ArrowError> {
        Ok(match self {
            ColumnBuilder::Utf8(b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(b) => Arc::new(b.finish().with_timezone(UTC)),
            ColumnBuilder::Decimal(b) => Arc::new(
                b.finish()
                    .with_precision_and_scale(DECIMAL_PRECISION, DECIMAL_SCALE)?,
            ),
            ColumnBuilder::Integer(b) => Arc::new(b.finish()),
            ColumnBuilder::Boolean(b) => Arc::new(b.finish()),
        })
    }
}

/// A field parsed and checked, not yet appended (a row is appended only when all its fields parse).
#[derive(Clone, Copy)]
enum Parsed {
    Null,
    Text(Option<usize>),
    Timestamp(i64),
    Decimal(i128),
    Integer(i64),
    Boolean(bool),
}

/// Parses one field. An empty field is `''` in a text column, as Athena reads it (so AWS's SQL
/// gives Athena's answers), and NULL in a typed column, which has no empty value; a column
/// the file does not have at all is NULL in both (see `BatchBuilder::unfilled`).
fn parse_field(
    text: &str,
    column_type: ColumnType,
    zero_pad: Option<usize>,
) -> Result<Parsed, String> {
    if column_type == ColumnType::String {
        return Ok(Parsed::Text(zero_pad));
    }
    if text.is_empty() {
        return Ok(Parsed::Null);
    }
    Ok(match column_type {
        ColumnType::String => Parsed::Text(zero_pad),
        ColumnType::Timestamp => Parsed::Timestamp(value::parse_timestamp(text)?),
        ColumnType::Decimal => Parsed::Decimal(value::parse_decimal(text)?),
        ColumnType::Integer => Parsed::Integer(value::parse_integer(text)?),
        ColumnType::Boolean => Parsed::Boolean(value::parse_boolean(text)?),
    })
}

/// Why a record cannot be stored, and in which column.
struct RowProblem {
    column: Option<String>,
    reason: String,
}

/// Builds batches of the target schema from CSV records.
struct BatchBuilder {
    target: SchemaRef,
    /// Per target column that data fills: its builder (lineage columns are built at finish).
    columns: Vec<Option<ColumnBuilder>>,
    /// Per header field: target column index and parse rule.
    fields: Vec<(usize, ColumnType, Option<usize>)>,
    header_len: usize,
    /// Header positions of the feed's key columns.
    keys: Vec<usize>,
    /// Target columns no header field fills (NULL in every row).
    unfilled: Vec<usize>,
    lineage: Lineage,
    lines: Vec<i64>,
    parsed: Vec<Parsed>,
    capacity: usize,
}

impl BatchBuilder {
    fn new(
        target: SchemaRef,
        mapping: &ColumnMapping,
        lineage: Lineage,
        capacity: usize,
    ) -> BatchBuilder {
        let mut columns: Vec<Option<ColumnBuilder>> = Vec::new();
        let mut unfilled = Vec::new();
        for (index, field) in target.fields().iter().enumerate() {
            if lineage::is_lineage(field.name()) {
                columns.push(None);
                continue;
            }
            let column_type = ColumnType::of_arrow(field.data_type());
            columns.push(Some(ColumnBuilder::new(
                column_type,
                capacity,
                capacity * 16,
            )));
            if !mapping.fields.iter().any(|(i, ..)| *i == index) {
                unfilled.push(index);
            }
        }
        BatchBuilder {
            target,
            columns,
            fields: mapping.fields.clone(),
            header_len: mapping.header_len,
            keys: mapping.keys.clone(),
            unfilled,
            lineage,
            lines: Vec::with_capacity(capacity),
            parsed: Vec::new(),
            capacity: capacity.max(1),
        }
    }

    fn len(&self) -> usize {
        self.lines.len()
    }

    fn is_full(&self) -> bool {
        self.lines.len() >= self.capacity
    }

    /// The name of the column the `field`-th header field fills.
    fn column_name(&self, field: usize) -> Option<String> {
        let (index, ..) = self.fields.get(field)?;
        Some(self.target.field(*index).name().clone())
    }

    /// Appends a record, or leaves every column untouched and says why it cannot.
    fn push(&mut self, record: &StringRecord, line: u64) -> Result<(), RowProblem> {
        if record.len() != self.header_len {
            return Err(RowProblem {
                column: None,
                reason: format!(
                    "expected {} fields as in the header, found {}",
                    self.header_len,
                    record.len()
                ),
            });
        }
        if let Some(&key) = self
            .keys
            .iter()
            .find(|&&k| record.get(k).is_none_or(|v| v.trim().is_empty()))
        {
            return Err(RowProblem {
                column: self.column_name(key),
                reason: "no value in a key column".to_string(),
            });
        }
        self.parsed.clear();
        for (text, (index, column_type, zero_pad)) in record.iter().zip(&self.fields) {
            let parsed =
                parse_field(text, *column_type, *zero_pad).map_err(|reason| RowProblem {
                    column: Some(self.target.field(*index).name().clone()),
                    reason,
                })?;
            self.parsed.push(parsed);
        }
        // `fields` and `unfilled` index data columns only, which always have a builder; a
        // lineage column (no builder) is never among them.
        for ((text, (index, ..)), parsed) in record.iter().zip(&self.fields).zip(&self.parsed) {
            if let Some(builder) = self.columns[*index].as_mut() {
                match parsed {
                    Parsed::Null => builder.append_null(),
                    other => builder.append(*other, text),
                }
            }
        }
        for index in &self.unfilled {
            if let Some(builder) = self.columns[*index].as_mut() {
                builder.append_null();
            }
        }
        self.lines.push(line as i64);
        Ok(())
    }

    fn finish(&mut self) -> Result<RecordBatch, FeedError> {
        let rows = self.lines.len();
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.columns.len());
        for (field, builder) in self.target.fields().iter().zip(self.columns.iter_mut()) {
            let array: ArrayRef =
                match builder {
                    // A finished builder keeps no capacity: the next batch's starts with
                    // room for as many rows and text bytes, rather than regrowing every
                    // column by doubling, batch after batch.
                    Some(b) => {
                        let array = b.finish()?;
                        let text_bytes = array
                            .as_string_opt::<i32>()
                            .map_or(0, |text| text.values().len());
                        let column_type = ColumnType::of_arrow(field.data_type());
                        *b = ColumnBuilder::new(column_type, self.capacity, text_bytes);
                        array
                    }
                    None => match field.name().as_str() {
                        lineage::SOURCE_KEY => Arc::new(arrow::array::StringArray::from(vec![
                            self.lineage
                                .source_key
                                .as_str();
                            rows
                        ])),
                        lineage::SOURCE_LINE => Arc::new(arrow::array::Int64Array::from(
                            std::mem::replace(&mut self.lines, Vec::with_capacity(self.capacity)),
                        )),
                        lineage::SYNC_ID => Arc::new(arrow::array::StringArray::from(vec![
                        self.lineage
                            .sync_id
                            .as_str(
                            );
                        rows
                    ])),
                        _ => Arc::new(
                            arrow::array::TimestampMicrosecondArray::from(
                                vec![self.lineage.ingested_at_micros; rows],
                            )
                            .with_timezone(UTC),
                        ),
                    },
                };
            arrays.push(array);
        }
        self.lines.clear();
        Ok(RecordBatch::try_new(self.target.clone(), arrays)?)
    }
}
