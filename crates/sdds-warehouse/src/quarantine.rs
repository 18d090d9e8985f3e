//! The `quarantine` table: the rows a sync could not store exactly, with where they were and
//! why, so that one bad line never holds back the rest of its file.
//!
//! A table's quarantined rows are committed right before the table's own commit. Should the
//! sync stop between the two, the table's state still says where each object was read up to,
//! and the next sync, re-reading from there, first removes the rows quarantined from there on
//! (all of an object's rows when it is read whole). So a re-run never quarantines a row twice.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use deltalake::arrow::array::{
    ArrayRef, Int64Builder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder,
};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use deltalake::datafusion::prelude::{col, lit, Expr};
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel;
use deltalake::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake::kernel::{Action, Add, StructType};
use deltalake::protocol::{DeltaOperation, SaveMode};
use deltalake::writer::{DeltaWriter, RecordBatchWriter};
use sdds_feeds::RowError;

use crate::error::WarehouseError;
use crate::location::Warehouse;

/// The table's name in the warehouse and in SQL.
pub const TABLE: &str = "quarantine";

/// Longest raw text kept per row (a record without line breaks can be a whole file).
const MAX_RAW_BYTES: usize = 64 * 1024;

/// The quarantine table's columns.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("table_name", DataType::Utf8, false),
        Field::new("source_key", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("column_name", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("sync_id", DataType::Utf8, false),
        Field::new(
            "quarantined_at",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// Where one object of a table is read from in this sync: its rows quarantined from there on
/// are stale.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reread {
    /// The source key.
    pub source_key: String,
    /// The first line read; `None` when the object is read whole.
    pub from_line: Option<u64>,
}

/// The `commitInfo` key naming the sync a quarantine commit belongs to, so that `history` and
/// time travel pin the quarantine table as they pin the feed tables.
pub const SYNC_KEY: &str = "sdds_sync";

/// Which sync a quarantine commit belongs to (under [`SYNC_KEY`]).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SyncStamp {
    /// The sync's id.
    pub sync_id: String,
    /// When it started (RFC 3339), as in the feed tables' sync state.
    pub synced_at: String,
    /// Rows the commit set aside.
    pub rows: u64,
}

/// The rows one table's sync sets aside, in the quarantine table's layout: written to Parquet
/// a batch at a time (a file of bad rows takes no more memory than a good one), committed by
/// [`commit`].
pub struct QuarantineRows {
    table: String,
    sync_id: String,
    at: DateTime<Utc>,
    builder: RowsBuilder,
    rows: u64,
    writer: QuarantineWriter,
}

/// Where finished batches go: a Parquet writer opened at the first, and the files written.
struct QuarantineWriter {
    url: String,
    storage_options: std::collections::HashMap<String, String>,
    writer: Option<RecordBatchWriter>,
    adds: Vec<Add>,
}

impl QuarantineWriter {
    async fn write(&mut self, batch: RecordBatch) -> Result<(), WarehouseError> {
        let delta = |e| WarehouseError::delta(TABLE, e);
        let writer = match &mut self.writer {
            Some(writer) => writer,
            None => self.writer.insert(
                RecordBatchWriter::try_new(
                    &self.url,
                    schema(),
                    None,
                    Some(self.storage_options.clone()),
                )
                .map_err(delta)?,
            ),
        };
        writer.write(batch).await.map_err(delta)?;
        self.adds.extend(writer.flush().await.map_err(delta)?);
        Ok(())
    }
}

/// Rows gathered before they become a batch.
const BATCH_ROWS: usize = 8192;

#[derive(Default)]
struct RowsBuilder {
    source_key: StringBuilder,
    line: Int64Builder,
    column: StringBuilder,
    reason: StringBuilder,
    raw: StringBuilder,
    len: usize,
}

impl QuarantineRows {
    /// None yet, for `table` in sync `sync_id` started `at`, to be written into `warehouse`.
    pub fn new(warehouse: &Warehouse, table: &str, sync_id: &str, at: DateTime<Utc>) -> Self {
        Self {
            table: table.to_string(),
            sync_id: sync_id.to_string(),
            at,
            builder: RowsBuilder::default(),
            rows: 0,
            writer: QuarantineWriter {
                url: warehouse.table_url(TABLE).to_string(),
                storage_options: warehouse.storage_options().clone(),
                writer: None,
                adds: Vec::new(),
            },
        }
    }

    /// Rows set aside so far.
    pub fn len(&self) -> u64 {
        self.rows
    }

    /// Whether no row was set aside.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Sets aside one rejected row of `source_key`.
    pub async fn push(&mut self, source_key: &str, row: &RowError) -> Result<(), WarehouseError> {
        let b = &mut self.builder;
        b.source_key.append_value(source_key);
        b.line
            .append_value(i64::try_from(row.line).unwrap_or(i64::MAX));
        b.column.append_option(row.column.as_deref());
        b.reason.append_value(&row.reason);
        b.raw.append_value(truncate(&row.raw, MAX_RAW_BYTES));
        b.len += 1;
        self.rows += 1;
        if b.len >= BATCH_ROWS {
            self.finish_batch().await?;
        }
        Ok(())
    }

    async fn finish_batch(&mut self) -> Result<(), WarehouseError> {
        let mut b = std::mem::take(&mut self.builder);
        if b.len == 0 {
            return Ok(());
        }
        let repeat = |value: &str| -> ArrayRef {
            let mut column = StringBuilder::with_capacity(b.len, value.len() * b.len);
            (0..b.len).for_each(|_| column.append_value(value));
            Arc::new(column.finish())
        };
        let mut at = TimestampMicrosecondBuilder::with_capacity(b.len);
        (0..b.len).for_each(|_| at.append_value(self.at.timestamp_micros()));
        let columns: Vec<ArrayRef> = vec![
            repeat(&self.table),
            Arc::new(b.source_key.finish()),
            Arc::new(b.line.finish()),
            Arc::new(b.column.finish()),
            Arc::new(b.reason.finish()),
            Arc::new(b.raw.finish()),
            repeat(&self.sync_id),
            Arc::new(at.finish().with_timezone("UTC")),
        ];
        let batch = RecordBatch::try_new(schema(), columns)
            .map_err(|e| WarehouseError::delta(TABLE, e.into()))?;
        self.writer.write(batch).await
    }
}

/// `text` cut to at most `max` bytes, at a character boundary.
fn truncate(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// Replaces what `rereads` read again of `rows.table` with `rows`: removes the rows quarantined
/// before from where each object is read again, then commits the files of the new ones (each
/// step one commit, none when it has nothing to do). Returns the rows committed.
pub async fn commit(
    warehouse: &Warehouse,
    rereads: &[Reread],
    mut rows: QuarantineRows,
) -> Result<u64, WarehouseError> {
    let delta = |e| WarehouseError::delta(TABLE, e);
    rows.finish_batch().await?;
    // Without retries, each commit lands right after the version it read: `history` relies on it.
    let properties = |count: u64| -> Result<CommitProperties, WarehouseError> {
        let stamp = SyncStamp {
            sync_id: rows.sync_id.clone(),
            synced_at: rows.at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            rows: count,
        };
        let stamp = serde_json::to_value(&stamp).map_err(|e| WarehouseError::State {
            table: TABLE.into(),
            source: e,
        })?;
        Ok(CommitProperties::default()
            .with_metadata([(SYNC_KEY.to_string(), stamp)])
            .with_max_retries(0))
    };
    let mut table = warehouse.open_table(TABLE, !rows.is_empty()).await?;
    if table.version().is_some() && !rereads.is_empty() {
        let predicate = stale_rows(&rows.table, rereads);
        (table, _) = table
            .delete()
            .with_predicate(predicate)
            .with_commit_properties(properties(0)?)
            .await
            .map_err(delta)?;
    }
    let adds: Vec<Action> = rows.writer.adds.drain(..).map(Action::Add).collect();
    if adds.is_empty() {
        return Ok(0);
    }
    if table.version().is_some() {
        let operation = DeltaOperation::Write {
            mode: SaveMode::Append,
            partition_by: None,
            predicate: None,
        };
        CommitBuilder::from(properties(rows.rows)?)
            .with_actions(adds)
            .build(
                Some(table.snapshot().map_err(delta)?),
                table.log_store(),
                operation,
            )
            .await
            .map_err(delta)?;
    } else {
        let columns: StructType = schema().try_into_kernel().map_err(|e| delta(e.into()))?;
        table
            .create()
            .with_table_name(TABLE)
            .with_comment("Rows and files syncs could not store, with where they were and why")
            .with_columns(columns.fields().cloned())
            .with_actions(adds)
            .with_commit_properties(properties(rows.rows)?)
            .await
            .map_err(delta)?;
    }
    Ok(rows.rows)
}

/// The stored rows of `table` that `rereads` read again.
fn stale_rows(table: &str, rereads: &[Reread]) -> Expr {
    let objects = rereads
        .iter()
        .map(|reread| {
            let object = col("source_key").eq(lit(reread.source_key.as_str()));
            match reread.from_line {
                Some(line) => object.and(col("line").gt_eq(lit(line as i64))),
                None => object,
            }
        })
        .reduce(Expr::or)
        .unwrap_or(lit(false));
    col("table_name").eq(lit(table)).and(objects)
}

#[cfg(test)]
mod tests {
    use super::truncate;

    #[test]
    fn raw_text_is_cut_at_a_character_boundary() {
        assert_eq!(truncate("abc", 10), "abc");
        assert_eq!(truncate("aé", 2), "a");
        assert_eq!(truncate("aéb", 3), "aé");
    }
}
