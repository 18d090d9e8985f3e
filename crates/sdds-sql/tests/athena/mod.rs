//! Athena-dialect tests: the `.slt` files next to this module, and typed columns against their
//! CSV text.
//!
//! An `.slt` file is a list of records separated by blank lines; `#` starts a comment line.
//!
//! ```text
//! query
//! SELECT ...            -- one statement, any number of lines
//! ----
//! value|value           -- expected rows: columns joined by `|`, NULL for null
//!
//! query error <text>    -- the statement must fail with a message containing <text>
//! SELECT ...
//! ```
//!
//! Every file runs against the sample bucket synced into a fresh warehouse, with
//! today = 2026-11-01 (the sample's reporting date).

mod typed_text;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use sdds_feeds::Catalog;
use sdds_source::LocalSource;
use sdds_sql::{open_session, SessionOptions};
use sdds_warehouse::{sync, SyncOptions, Warehouse};

/// The sample's reporting date.
pub fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 1).unwrap()
}

/// The sample synced into a temporary warehouse, in a session with today fixed.
pub async fn sample_session() -> (tempfile::TempDir, SessionContext) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(dir.path().to_str().unwrap()).unwrap();
    let source = Arc::new(LocalSource::new(super::sample_feeds()).unwrap());
    let report = sync(source, &warehouse, &Catalog::builtin(), &SyncOptions::new())
        .await
        .unwrap();
    assert!(report.failures().next().is_none(), "{report:?}");
    let options = SessionOptions {
        today: Some(today()),
        ..Default::default()
    };
    let ctx = open_session(&warehouse, &Catalog::builtin(), &options)
        .await
        .unwrap();
    (dir, ctx)
}

/// Runs one statement; its rows as `a|b|c`, or the error message.
pub async fn run(ctx: &SessionContext, sql: &str) -> Result<Vec<String>, String> {
    let frame = ctx.sql(sql).await.map_err(|e| e.to_string())?;
    let batches = frame.collect().await.map_err(|e| e.to_string())?;
    Ok(sdds_testkit::format_rows(&batches))
}

/// One record of an `.slt` file.
#[derive(Debug)]
struct Record {
    line: usize,
    sql: String,
    expected: Expected,
}

#[derive(Debug)]
enum Expected {
    Rows(Vec<String>),
    Error(String),
}

fn parse(text: &str) -> Vec<Record> {
    let mut records = Vec::new();
    let mut lines = text.lines().enumerate().peekable();
    while let Some((n, line)) = lines.next() {
        let line = line.trim_end();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let error = match line.strip_prefix("query") {
            Some(rest) => rest
                .trim()
                .strip_prefix("error")
                .map(|e| e.trim().to_string()),
            None => panic!("line {}: expected `query`, found {line:?}", n + 1),
        };
        let mut sql = Vec::new();
        let mut rows = Vec::new();
        let mut in_rows = false;
        while let Some((_, l)) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            let (_, l) = lines.next().unwrap();
            if l.trim() == "----" {
                in_rows = true;
            } else if in_rows {
                rows.push(l.to_string());
            } else {
                sql.push(l);
            }
        }
        records.push(Record {
            line: n + 1,
            sql: sql.join("\n"),
            expected: match error {
                Some(message) => Expected::Error(message),
                None => Expected::Rows(rows),
            },
        });
    }
    records
}

/// Runs every record of a file; the failures, described.
async fn run_file(ctx: &SessionContext, path: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap();
    let name = path.file_name().unwrap().to_string_lossy().to_string();
    let mut failures = Vec::new();
    for record in parse(&text) {
        let actual = run(ctx, &record.sql).await;
        let ok = match (&record.expected, &actual) {
            (Expected::Rows(rows), Ok(got)) => rows == got,
            (Expected::Error(message), Err(got)) => got.contains(message.as_str()),
            _ => false,
        };
        if !ok {
            failures.push(format!(
                "{name}:{}\n{}\nexpected: {:?}\n     got: {:?}",
                record.line, record.sql, record.expected, actual
            ));
        }
    }
    failures
}

fn slt_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/athena");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "slt"))
        .collect();
    files.sort();
    files
}

#[tokio::test]
async fn athena_sql_logic_tests() {
    let (_dir, ctx) = sample_session().await;
    let files = slt_files();
    assert!(files.len() >= 5, "{files:?}");
    let mut failures = Vec::new();
    let mut records = 0;
    for file in &files {
        records += parse(&std::fs::read_to_string(file).unwrap()).len();
        failures.extend(run_file(&ctx, file).await);
    }
    assert!(records > 50, "only {records} records");
    assert!(
        failures.is_empty(),
        "{} of {records} records failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[tokio::test]
async fn the_runner_reports_a_wrong_expectation() {
    let records = parse("# c\nquery\nSELECT 1\n----\n2\n\nquery error boom\nSELECT 1\n");
    assert_eq!(records.len(), 2);
    assert_eq!(records[0].line, 2);
    assert!(matches!(&records[0].expected, Expected::Rows(r) if r == &["2"]));
    assert!(matches!(&records[1].expected, Expected::Error(m) if m == "boom"));
    let ctx = SessionContext::new();
    let failures = run_file_text(&ctx, "query\nSELECT 1\n----\n2\n").await;
    assert_eq!(failures.len(), 1, "{failures:?}");
}

async fn run_file_text(ctx: &SessionContext, text: &str) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.slt");
    std::fs::write(&path, text).unwrap();
    run_file(ctx, &path).await
}
