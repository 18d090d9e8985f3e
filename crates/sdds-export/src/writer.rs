//! Writing a statement's results — or several statements' — in one format.

use std::io::Write;

use arrow::array::{ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::FormatOptions;
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;
use parquet::arrow::ArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use std::sync::Arc;

use crate::cell::{Column, JsonKind};
use crate::ExportError;

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Aligned text table, for people.
    Table,
    /// RFC 4180 CSV with one header line; NULL is an empty field, '' a quoted one (`""`).
    Csv,
    /// A JSON array of objects, every column present (`null` when NULL), decimals as strings;
    /// several statements make an array of such arrays.
    Json,
    /// Parquet with the results' own types (decimal money, UTC timestamps).
    Parquet,
}

impl Format {
    /// The usual file extension.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Table => "txt",
            Format::Csv => "csv",
            Format::Json => "json",
            Format::Parquet => "parquet",
        }
    }

    /// The format a file name's extension implies (`.csv`, `.json`, `.parquet`).
    pub fn from_extension(name: &str) -> Option<Format> {
        let (_, ext) = name.rsplit_once('.')?;
        match ext.to_ascii_lowercase().as_str() {
            "csv" => Some(Format::Csv),
            "json" => Some(Format::Json),
            "parquet" | "pq" => Some(Format::Parquet),
            _ => None,
        }
    }
}

/// Writes the results of `results` statements, one after the other, as one document.
pub struct ResultWriter<W: Write + Send> {
    out: Option<W>,
    parquet: Option<ArrowWriter<W>>,
    format: Format,
    results: usize,
    written: usize,
    bom: bool,
}

impl<W: Write + Send> ResultWriter<W> {
    /// A writer for `results` results in `format`; `bom` starts CSV with a UTF-8 byte order
    /// mark, which Excel needs to read UTF-8.
    pub fn new(out: W, format: Format, results: usize, bom: bool) -> Result<Self, ExportError> {
        if format == Format::Parquet && results > 1 {
            return Err(ExportError::SeveralResultsInParquet(results));
        }
        Ok(ResultWriter {
            out: Some(out),
            parquet: None,
            format,
            results,
            written: 0,
            bom,
        })
    }

    /// Writes one result; CSV, JSON and Parquet batch by batch, so a large result never has
    /// to fit in memory (the aligned table needs every row first). Returns the rows written.
    pub async fn write(
        &mut self,
        mut stream: SendableRecordBatchStream,
    ) -> Result<u64, ExportError> {
        let first = self.written == 0;
        self.written += 1;
        let schema = stream.schema();
        let mut rows = 0u64;
        if self.format == Format::Parquet {
            let props = WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .build();
            let out = self
                .out
                .take()
                .ok_or(ExportError::SeveralResultsInParquet(2))?;
            let mut writer = ArrowWriter::try_new(out, schema, Some(props))?;
            while let Some(batch) = stream.next().await {
                let batch = batch?;
                rows += batch.num_rows() as u64;
                writer.write(&batch)?;
            }
            self.parquet = Some(writer);
            return Ok(rows);
        }
        let Some(out) = self.out.as_mut() else {
            return Ok(0);
        };
        match self.format {
            Format::Parquet => {}
            Format::Table => {
                let mut batches = Vec::new();
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows() as u64;
                    batches.push(as_text(&batch)?);
                }
                if batches.is_empty() {
                    // An empty result still shows its columns.
                    let empty = RecordBatch::new_empty(schema);
                    batches.push(as_text(&empty)?);
                }
                let text = arrow::util::pretty::pretty_format_batches(&batches)?;
                writeln!(out, "{text}")?;
            }
            Format::Csv => {
                if first && self.bom {
                    out.write_all("\u{feff}".as_bytes())?;
                }
                let header = schema.fields().iter().map(|f| Some(f.name().clone()));
                write_csv_record(out, header)?;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    rows += batch.num_rows() as u64;
                    write_csv_batch(out, &batch)?;
                }
            }
            Format::Json => {
                if first && self.results > 1 {
                    out.write_all(b"[\n")?;
                } else if !first {
                    out.write_all(b",\n")?;
                }
                let names: Vec<String> = schema
                    .fields()
                    .iter()
                    .map(|f| json_string(f.name()))
                    .collect();
                out.write_all(b"[")?;
                while let Some(batch) = stream.next().await {
                    let batch = batch?;
                    write_json_batch(out, &names, &batch, rows == 0)?;
                    rows += batch.num_rows() as u64;
                }
                out.write_all(if rows == 0 { b"]" } else { b"\n]" })?;
            }
        }
        Ok(rows)
    }

    /// Ends the document and flushes; returns the output.
    pub fn finish(mut self) -> Result<W, ExportError> {
        if let Some(writer) = self.parquet.take() {
            return Ok(writer.into_inner()?);
        }
        let mut out = self
            .out
            .take()
            .ok_or(ExportError::SeveralResultsInParquet(2))?;
        if self.format == Format::Json {
            if self.results > 1 {
                out.write_all(b"\n]")?;
            }
            if self.written > 0 {
                out.write_all(b"\n")?;
            }
        }
        out.flush()?;
        Ok(out)
    }
}

/// The batch with every column as the text formats print it, for the aligned table.
fn as_text(batch: &RecordBatch) -> Result<RecordBatch, ExportError> {
    let options = FormatOptions::default();
    let mut fields = Vec::with_capacity(batch.num_columns());
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
    for (field, array) in batch.schema().fields().iter().zip(batch.columns()) {
        let column = Column::new(array.as_ref(), &options)?;
        let texts: StringArray = (0..batch.num_rows()).map(|row| column.text(row)).collect();
        fields.push(Field::new(field.name(), DataType::Utf8, true));
        columns.push(Arc::new(texts));
    }
    Ok(RecordBatch::try_new_with_options(
        Arc::new(Schema::new(fields)),
        columns,
        &arrow::array::RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )?)
}

fn columns<'a>(
    batch: &'a RecordBatch,
    options: &'a FormatOptions<'a>,
) -> Result<Vec<Column<'a>>, ExportError> {
    batch
        .columns()
        .iter()
        .map(|c| Column::new(c.as_ref(), options))
        .collect()
}

/// Writes a batch as CSV lines (RFC 4180). NULL is an empty field and the empty string a quoted
/// one (`""`), as PostgreSQL's CSV does, so the two stay apart.
fn write_csv_batch(out: &mut dyn Write, batch: &RecordBatch) -> Result<(), ExportError> {
    let options = FormatOptions::default();
    let columns = columns(batch, &options)?;
    for row in 0..batch.num_rows() {
        write_csv_record(out, columns.iter().map(|c| c.text(row)))?;
    }
    Ok(())
}

fn write_csv_record(
    out: &mut dyn Write,
    fields: impl Iterator<Item = Option<String>>,
) -> std::io::Result<()> {
    let mut line = String::new();
    for (i, field) in fields.enumerate() {
        if i > 0 {
            line.push(',');
        }
        match field {
            None => {}
            Some(text) if text.is_empty() || text.contains([',', '"', '\n', '\r']) => {
                line.push('"');
                line.push_str(&text.replace('"', "\"\""));
                line.push('"');
            }
            Some(text) => line.push_str(&text),
        }
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())
}

/// Writes a batch as JSON objects, one per line, each with every column.
fn write_json_batch(
    out: &mut dyn Write,
    names: &[String],
    batch: &RecordBatch,
    first: bool,
) -> Result<(), ExportError> {
    let options = FormatOptions::default();
    let columns = columns(batch, &options)?;
    let mut line = String::new();
    for row in 0..batch.num_rows() {
        line.clear();
        line.push_str(if first && row == 0 { "\n{" } else { ",\n{" });
        for (i, (name, column)) in names.iter().zip(&columns).enumerate() {
            if i > 0 {
                line.push(',');
            }
            line.push_str(name);
            line.push(':');
            match (column.text(row), column.json) {
                (None, _) => line.push_str("null"),
                (Some(text), JsonKind::Number | JsonKind::Bool) => line.push_str(&text),
                (Some(text), JsonKind::Float) => match text.parse::<f64>() {
                    Ok(v) if v.is_finite() => line.push_str(&text),
                    _ => line.push_str("null"),
                },
                (Some(text), JsonKind::String) => line.push_str(&json_string(&text)),
            }
        }
        line.push('}');
        out.write_all(line.as_bytes())?;
    }
    Ok(())
}

fn json_string(text: &str) -> String {
    serde_json::Value::String(text.to_string()).to_string()
}
