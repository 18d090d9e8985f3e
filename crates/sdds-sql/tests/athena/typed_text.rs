//! Every function gives the same answer on a typed column as on the column's original CSV text
//! (what Athena's all-text tables hold). The text tables are read here, with the csv crate,
//! straight from sample-feeds/, and joined to the typed rows by lineage (file and line).

use std::collections::BTreeMap;
use std::sync::Arc;

use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::datatypes::{DataType, Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use sdds_feeds::{Catalog, ColumnType, Feed};

use super::{run, sample_session};

/// Registers `<feed>_text`: every CSV field as text, as Athena reads it (an empty field is
/// `''`, a column missing from a file NULL), plus `_source_key` and `_source_line` as the
/// typed table has them.
fn register_text_table(ctx: &SessionContext, feed: &Feed) -> Vec<String> {
    let root = super::super::sample_feeds();
    let mut rows: Vec<BTreeMap<String, String>> = Vec::new();
    let mut keys = Vec::new();
    let mut lines = Vec::new();
    let mut headers_seen = Vec::new();
    for month in std::fs::read_dir(root.join(&feed.name)).unwrap() {
        for file in std::fs::read_dir(month.unwrap().path()).unwrap() {
            let dir = file.unwrap().path();
            let path = dir.join("data.csv");
            let key = path
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .to_string();
            let mut reader = csv::Reader::from_path(&path).unwrap();
            let headers: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
            headers_seen.extend(headers.iter().cloned());
            for record in reader.records() {
                let record = record.unwrap();
                lines.push(record.position().unwrap().line() as i64);
                keys.push(key.clone());
                rows.push(
                    headers
                        .iter()
                        .cloned()
                        .zip(record.iter().map(String::from))
                        .collect(),
                );
            }
        }
    }
    let columns: Vec<String> = feed
        .columns
        .iter()
        .map(|c| c.name.clone())
        .filter(|c| headers_seen.contains(c))
        .collect();
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(c, DataType::Utf8, true))
        .collect();
    fields.push(Field::new("_source_key", DataType::Utf8, false));
    fields.push(Field::new("_source_line", DataType::Int64, false));
    let mut arrays: Vec<ArrayRef> = columns
        .iter()
        .map(|c| {
            let values: Vec<Option<String>> = rows.iter().map(|r| r.get(c).cloned()).collect();
            Arc::new(StringArray::from(values)) as ArrayRef
        })
        .collect();
    arrays.push(Arc::new(StringArray::from(keys)));
    arrays.push(Arc::new(Int64Array::from(lines)));
    let batch = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).unwrap();
    let table = MemTable::try_new(batch.schema(), vec![vec![batch]]).unwrap();
    ctx.register_table(format!("{}_text", feed.name), Arc::new(table))
        .unwrap();
    columns
}

/// Functions applied to a column `{}`, per stored type. Each must give the same value on the
/// typed column and on its text, for every non-empty field.
fn functions(column_type: ColumnType) -> &'static [&'static str] {
    match column_type {
        ColumnType::Timestamp => &[
            "from_iso8601_timestamp({})",
            "from_iso8601_date({})",
            "date_format({}, '%Y-%m-%d %H:%i:%s.%f %W %j')",
            "date_add('day', 1, {})",
            "date_add('month', -1, {})",
            "date_add('minute', 90, {})",
            "date_diff('second', {}, timestamp '2026-11-01 00:00:00')",
            "date_diff('day', {}, current_date)",
            "date_diff('month', {}, date '2026-11-01')",
            "cast(from_iso8601_timestamp({}) as varchar)",
            "date_format(at_timezone({}, 'CET'), '%Y-%m-%d %H:%i')",
            "date_trunc('month', from_iso8601_timestamp({}))",
        ],
        ColumnType::Decimal => &[
            "cast({} as decimal(38,6))",
            "round({}, 2)",
            "round({}, 0)",
            "truncate({}, 1)",
            "try_cast({} as decimal(20,10))",
        ],
        ColumnType::Integer | ColumnType::Boolean => {
            &["cast({} as bigint)", "try_cast({} as varchar)"]
        }
        ColumnType::String => &[
            "substring({}, -3)",
            "substr({}, 2, 4)",
            "substring('000000000000' || {}, -12)",
            "{} || 'x'",
            "length({})",
        ],
    }
}

/// Predicates Athena SQL uses for "empty"; they must agree on every row, empty fields too.
const EMPTINESS: &[&str] = &[
    "{} = ''",
    "{} <> ''",
    "{} is null or {} = ''",
    "nullif({}, '') is null",
    "coalesce({}, '') = ''",
];

#[tokio::test]
async fn functions_agree_on_typed_columns_and_their_csv_text() {
    let (_dir, ctx) = sample_session().await;
    let mut failures = Vec::new();
    let mut checks = 0;
    for feed in Catalog::builtin().feeds() {
        let columns = register_text_table(&ctx, feed);
        // The typed rows, in memory: hundreds of queries read them.
        let typed = ctx.table(feed.name.as_str()).await.unwrap();
        let schema = typed.schema().as_arrow().clone();
        let batches = typed.collect().await.unwrap();
        let memory = MemTable::try_new(Arc::new(schema), vec![batches]).unwrap();
        ctx.register_table(format!("{}_typed", feed.name), Arc::new(memory))
            .unwrap();
        for name in columns {
            let column_type = feed.column(&name).unwrap().column_type;
            let join = format!(
                "FROM {f}_typed t JOIN {f}_text x ON t._source_key = x._source_key AND t._source_line = x._source_line",
                f = feed.name
            );
            // Value functions over the non-empty fields (Athena fails on `cast('' AS decimal)`
            // too); the emptiness predicates over every row, except that a typed column holds
            // NULL both for an empty field and where a file lacks the column (docs/presto-functions.md).
            let every_row = match column_type {
                ColumnType::String => String::new(),
                _ => format!("WHERE x.\"{name}\" IS NOT NULL"),
            };
            let groups = [
                (functions(column_type), format!("WHERE x.\"{name}\" <> ''")),
                (EMPTINESS, every_row),
            ];
            for (cases, filter) in groups {
                let both = |function: &str| {
                    (
                        function.replace("{}", &format!("t.\"{name}\"")),
                        function.replace("{}", &format!("x.\"{name}\"")),
                    )
                };
                let sql = |cases: &[&str], first: usize| {
                    let mut select = vec!["count(*) AS compared".to_string()];
                    for (n, function) in cases.iter().enumerate() {
                        let n = n + first;
                        let (typed, text) = both(function);
                        // The case number keeps the aggregates' names apart (DataFusion's
                        // names ignore casts).
                        select.push(format!(
                            "count(CASE WHEN NOT (({typed}) IS NOT DISTINCT FROM ({text})) THEN {n} END) AS differing{n}"
                        ));
                    }
                    format!("SELECT {} {join} {filter}", select.join(", "))
                };
                let rows = match run(&ctx, &sql(cases, 0)).await {
                    Ok(rows) => rows,
                    Err(e) => {
                        // Name the case that fails.
                        for (n, function) in cases.iter().enumerate() {
                            if run(&ctx, &sql(&cases[n..n + 1], n)).await.is_err() {
                                failures.push(format!("{}.{name}: {function}: {e}", feed.name));
                            }
                        }
                        continue;
                    }
                };
                let values: Vec<&str> = rows[0].split('|').collect();
                let compared: i64 = values[0].parse().unwrap();
                for (function, differing) in cases.iter().zip(&values[1..]) {
                    checks += compared;
                    if *differing != "0" {
                        let (typed, text) = both(function);
                        let example = format!(
                            "SELECT x.\"{name}\", cast(({typed}) as varchar), cast(({text}) as varchar) {join} {filter} \
                             {and} NOT (({typed}) IS NOT DISTINCT FROM ({text})) LIMIT 1",
                            and = if filter.is_empty() { "WHERE" } else { "AND" }
                        );
                        failures.push(format!(
                            "{}.{name}: {function}: {differing} of {compared} differ, e.g. {:?}",
                            feed.name,
                            run(&ctx, &example).await
                        ));
                    }
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    // Every function saw data: 181 rows, each column checked several times.
    assert!(checks > 5_000, "only {checks} comparisons");
}
