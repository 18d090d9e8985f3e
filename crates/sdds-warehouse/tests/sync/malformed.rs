//! The malformed inputs of `tests/malformed/`: each one validated and synced, and what it gave
//! compared with what `cases.toml` says it should.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use sdds_feeds::Catalog;
use sdds_source::LocalSource;
use sdds_warehouse::{validate, Warehouse};
use serde::Deserialize;

use super::{rows, run_sync, table};

#[derive(Debug, Deserialize)]
struct Cases {
    case: Vec<Case>,
}

#[derive(Debug, Deserialize)]
struct Case {
    file: String,
    feed: String,
    rows: u64,
    set_aside: Option<String>,
    #[serde(default)]
    quarantined: Vec<Quarantined>,
}

#[derive(Debug, Deserialize)]
struct Quarantined {
    line: u64,
    column: Option<String>,
    reason: String,
}

impl Case {
    fn key(&self) -> String {
        format!("{}/year=2026/month=09/{}", self.feed, self.file)
    }

    /// The quarantine table's rows for this file: `line|column|reason`.
    fn expected_quarantine(&self) -> Vec<String> {
        match &self.set_aside {
            Some(problem) => vec![format!("1|NULL|file set aside: {problem}")],
            None => self
                .quarantined
                .iter()
                .map(|q| {
                    let column = q.column.as_deref().unwrap_or("NULL");
                    format!("{}|{column}|{}", q.line, q.reason)
                })
                .collect(),
        }
    }
}

fn cases() -> (std::path::PathBuf, Vec<Case>) {
    let folder = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/malformed");
    let text = std::fs::read_to_string(folder.join("cases.toml")).unwrap();
    let cases: Cases = toml::from_str(&text).unwrap();
    (folder, cases.case)
}

#[tokio::test]
async fn every_malformed_input_is_validated_and_synced_as_its_case_says() {
    let (folder, cases) = cases();
    assert!(cases.len() >= 30);
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    for case in &cases {
        let target = bucket.join(case.key());
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(folder.join(&case.file), target).unwrap();
    }

    // validate: per file, what a sync would store and set aside.
    let source = Arc::new(LocalSource::new(&bucket).unwrap());
    let report = validate(source, &Catalog::builtin()).await.unwrap();
    assert_eq!(report.files.len(), cases.len());
    for case in &cases {
        let found = report.files.iter().find(|f| f.key == case.key()).unwrap();
        let rejected: Vec<String> = found
            .examples
            .iter()
            .map(|r| {
                let column = r.column.as_deref().unwrap_or("NULL");
                format!("{}|{column}|{}", r.line, r.reason)
            })
            .collect();
        let expected = match &case.set_aside {
            Some(_) => Vec::new(),
            None => case.expected_quarantine(),
        };
        assert_eq!(
            (found.rows, &found.set_aside, &rejected, &found.error),
            (case.rows, &case.set_aside, &expected, &None),
            "{}",
            case.file
        );
    }

    // sync: every good row stored, every bad row (or file) in the quarantine table alone.
    let warehouse = Warehouse::open(dir.path().join("wh").to_str().unwrap()).unwrap();
    let synced = run_sync(&bucket, &warehouse).await;
    assert!(synced.failures().next().is_none(), "{:?}", synced.tables);
    let expected_total: usize = cases.iter().map(|c| c.expected_quarantine().len()).sum();
    assert_eq!(synced.total(|t| t.rows_quarantined), expected_total as u64);
    let quarantine = rows(
        &warehouse,
        "quarantine",
        "select source_key, line, column_name, reason from t order by source_key, line",
    )
    .await;
    let mut stored: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for feed in [
        "productfeed_v1",
        "billingeventfeed_v1",
        "legacyidmappingfeed_v1",
    ] {
        for row in rows(&warehouse, feed, "select _source_key, _source_line from t").await {
            let (key, line) = row.split_once('|').unwrap();
            stored
                .entry(key.to_string())
                .or_default()
                .push(line.parse().unwrap());
        }
    }
    for case in &cases {
        let key = case.key();
        let set_aside: Vec<String> = quarantine
            .iter()
            .filter_map(|r| r.strip_prefix(&format!("{key}|")))
            .map(str::to_string)
            .collect();
        assert_eq!(set_aside, case.expected_quarantine(), "{}", case.file);
        let lines = stored.get(&key).cloned().unwrap_or_default();
        assert_eq!(lines.len() as u64, case.rows, "{}", case.file);
        for q in &case.quarantined {
            assert!(
                !lines.contains(&q.line),
                "{}: line {} stored",
                case.file,
                q.line
            );
        }
    }

    // Nothing new: nothing set aside again.
    let again = run_sync(&bucket, &warehouse).await;
    assert_eq!(again.total(|t| t.rows_quarantined), 0);
    assert_eq!(table(&again, "productfeed_v1").rows_added, 0);
}
