//! Writing query results as a table, CSV or JSON.

use std::io::Write;

use anyhow::Context;
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::execution::SendableRecordBatchStream;
use futures::StreamExt;

use crate::cli::Format;

/// Writes a result stream to `out` in `format`. CSV and JSON are written batch by batch, so a
/// large result never has to fit in memory; the aligned table needs every row first.
pub async fn write_stream(
    out: &mut dyn Write,
    mut stream: SendableRecordBatchStream,
    format: Format,
) -> anyhow::Result<()> {
    let schema = stream.schema();
    match format {
        Format::Table => {
            let mut batches = Vec::new();
            while let Some(batch) = stream.next().await {
                batches.push(batch?);
            }
            if batches.is_empty() {
                // An empty result still shows its columns.
                batches.push(RecordBatch::new_empty(schema));
            }
            let text = arrow::util::pretty::pretty_format_batches(&batches)
                .context("formatting results")?;
            writeln!(out, "{text}")?;
        }
        Format::Csv => {
            let header: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
            write_csv_record(out, header.iter().map(|name| Some(*name)))?;
            while let Some(batch) = stream.next().await {
                write_csv_batch(out, &batch?)?;
            }
        }
        Format::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut *out);
            while let Some(batch) = stream.next().await {
                writer.write(&batch?)?;
            }
            writer.finish()?;
            writeln!(out)?;
        }
    }
    Ok(())
}

/// Writes a batch as CSV lines (RFC 4180). NULL is an empty field and the empty string a quoted
/// one (`""`), as PostgreSQL's CSV does, so the two stay apart.
fn write_csv_batch(out: &mut dyn Write, batch: &RecordBatch) -> anyhow::Result<()> {
    let options = FormatOptions::default();
    let formatters = batch
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
        .collect::<Result<Vec<_>, _>>()?;
    // Logical nulls: a NULL literal's column (type Null) has no validity buffer of its own.
    let nulls: Vec<_> = batch.columns().iter().map(|c| c.logical_nulls()).collect();
    let mut values: Vec<Option<String>> = Vec::with_capacity(formatters.len());
    for row in 0..batch.num_rows() {
        values.clear();
        for (nulls, formatter) in nulls.iter().zip(&formatters) {
            let valid = nulls.as_ref().is_none_or(|n| n.is_valid(row));
            values.push(valid.then(|| formatter.value(row).to_string()));
        }
        write_csv_record(out, values.iter().map(|v| v.as_deref()))?;
    }
    Ok(())
}

fn write_csv_record<'a>(
    out: &mut dyn Write,
    fields: impl Iterator<Item = Option<&'a str>>,
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
            Some(text) => line.push_str(text),
        }
    }
    line.push('\n');
    out.write_all(line.as_bytes())
}
