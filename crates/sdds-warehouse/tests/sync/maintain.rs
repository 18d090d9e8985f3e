//! `optimize` and `vacuum` on a warehouse synced daily: same query results, the next
//! incremental sync unaffected, a bounded number of files, time travel within the retention.

use std::path::Path;
use std::time::Duration;

use sdds_feeds::Catalog;
use sdds_warehouse::{optimize, vacuum, History, VacuumOptions, Warehouse};

use super::{append, product_row, rows, run_sync, table, PRODUCT_HEADER};

const CONTENT: &str = "select product_id, title, valid_from, _source_key, _source_line from t order by _source_key, _source_line";

/// The monthly file day `day` of a daily history appends to.
fn month_key(day: u32) -> String {
    let month = day / 30;
    format!(
        "productfeed_v1/year={}/month={:02}/data.csv",
        2025 + month / 12,
        month % 12 + 1
    )
}

/// Appends day `day`'s rows to its monthly file (starting the file on the month's first day).
fn deliver_day(root: &Path, day: u32) {
    let key = month_key(day);
    let rows: String = (0..3)
        .map(|i| {
            product_row(
                &format!("prod-{day:03}-{i}"),
                &format!("Day {day}"),
                day % 28 + 1,
            )
        })
        .collect();
    if root.join(&key).exists() {
        append(root, &key, &rows);
    } else {
        sdds_testkit::write_file(root, &key, &format!("{PRODUCT_HEADER}\n{rows}"));
    }
}

async fn data_files(warehouse: &Warehouse) -> usize {
    let table = warehouse.open_table("productfeed_v1", false).await.unwrap();
    table.snapshot().unwrap().log_data().num_files()
}

#[tokio::test]
async fn a_daily_history_optimized_keeps_its_results_its_next_sync_and_few_files() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    let catalog = Catalog::builtin();
    let mut most = 0;
    for day in 0..400 {
        deliver_day(&source, day);
        run_sync(&source, &warehouse).await;
        if day % 30 == 29 {
            let before = rows(&warehouse, "productfeed_v1", CONTENT).await;
            let reports = optimize(&warehouse, &catalog).await.unwrap();
            let products = reports
                .iter()
                .find(|r| r.table == "productfeed_v1")
                .unwrap();
            assert!(products.error.is_none(), "{products:?}");
            assert_eq!(rows(&warehouse, "productfeed_v1", CONTENT).await, before);
        }
        most = most.max(data_files(&warehouse).await);
    }
    // 14 monthly objects: one merged file each, plus at most 30 days not merged yet.
    let files = data_files(&warehouse).await;
    assert!(files <= 14 + 30, "{files} files");
    assert!(most <= 14 + 30, "at most {most} files at any time");

    // The next day syncs incrementally, as it would have without optimize.
    deliver_day(&source, 400);
    let report = run_sync(&source, &warehouse).await;
    let products = table(&report, "productfeed_v1");
    assert_eq!((products.objects_grown, products.rows_added), (1, 3));
    let fresh = Warehouse::open(dir.path().join("fresh").to_str().unwrap()).unwrap();
    run_sync(&source, &fresh).await;
    let content = rows(&fresh, "productfeed_v1", CONTENT).await;
    assert_eq!(content.len(), 401 * 3);
    assert_eq!(rows(&warehouse, "productfeed_v1", CONTENT).await, content);
}

#[tokio::test]
async fn after_optimize_a_rewritten_object_replaces_its_rows_and_vacuum_keeps_the_retention() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    let catalog = Catalog::builtin();
    for day in 0..5 {
        deliver_day(&source, day);
        run_sync(&source, &warehouse).await;
    }
    assert_eq!(data_files(&warehouse).await, 5);
    let optimized = optimize(&warehouse, &catalog).await.unwrap();
    let products = optimized
        .iter()
        .find(|r| r.table == "productfeed_v1")
        .unwrap();
    assert_eq!((products.files_before, products.files_after), (5, 1));
    assert_eq!(data_files(&warehouse).await, 1);
    let again = optimize(&warehouse, &catalog).await.unwrap();
    assert!(
        again.iter().all(|r| r.version.is_none()),
        "nothing left to merge"
    );

    // History: the last sync now stands for the optimized version.
    let history = History::load(&warehouse, &catalog).await.unwrap();
    assert_eq!(history.syncs.len(), 5);
    let last = history.versions_after_sync(5).unwrap()["productfeed_v1"];
    assert_eq!(last, products.version);

    let options = |retain, unchecked| VacuumOptions {
        retain,
        dry_run: false,
        unchecked,
    };
    let week = Duration::from_secs(7 * 24 * 3600);
    let kept = vacuum(&warehouse, &catalog, options(week, false))
        .await
        .unwrap();
    assert!(
        kept.iter()
            .all(|r| r.files_deleted == 0 && r.error.is_none()),
        "{kept:?}"
    );
    let first = history.versions_after_sync(1).unwrap()["productfeed_v1"].unwrap();
    let mut old = warehouse.open_table("productfeed_v1", false).await.unwrap();
    old.load_version(first).await.unwrap();
    assert_eq!(
        old.snapshot().unwrap().log_data().num_files(),
        1,
        "time travel within the retention"
    );

    let short = vacuum(&warehouse, &catalog, options(Duration::ZERO, false)).await;
    assert!(short.unwrap_err().to_string().contains("shorter than 1h"));
    let swept = vacuum(&warehouse, &catalog, options(Duration::ZERO, true))
        .await
        .unwrap();
    let products = swept.iter().find(|r| r.table == "productfeed_v1").unwrap();
    assert_eq!(products.files_deleted, 5, "the merged-away files");
    let files_on_disk = std::fs::read_dir(wh.join("productfeed_v1"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .path()
                .extension()
                .is_some_and(|x| x == "parquet")
        })
        .count();
    assert_eq!(files_on_disk, 1);

    // A month rewritten (shrunk) after optimize: its rows replaced, nothing else touched.
    let key = month_key(0);
    sdds_testkit::write_file(
        &source,
        &key,
        &format!("{PRODUCT_HEADER}\n{}", product_row("prod-new", "New", 1)),
    );
    let report = run_sync(&source, &warehouse).await;
    assert_eq!(table(&report, "productfeed_v1").rows_removed, 15);
    let fresh = Warehouse::open(dir.path().join("fresh").to_str().unwrap()).unwrap();
    run_sync(&source, &fresh).await;
    assert_eq!(
        rows(&warehouse, "productfeed_v1", CONTENT).await,
        rows(&fresh, "productfeed_v1", CONTENT).await
    );
}

#[tokio::test]
async fn optimize_racing_a_sync_fails_cleanly_and_loses_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    for day in 0..3 {
        deliver_day(&source, day);
        run_sync(&source, &warehouse).await;
    }
    // Optimize reads the table; a sync commits meanwhile; optimize then commits.
    let opened = warehouse.open_table("productfeed_v1", false).await.unwrap();
    deliver_day(&source, 3);
    let synced = run_sync(&source, &warehouse).await;
    assert_eq!(table(&synced, "productfeed_v1").rows_added, 3);
    let err = sdds_warehouse::optimize::optimize_table(
        &warehouse,
        &opened,
        Catalog::builtin().feed("productfeed_v1").unwrap(),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, sdds_warehouse::WarehouseError::Conflict { .. }),
        "{err}"
    );
    assert_eq!(
        data_files(&warehouse).await,
        4,
        "nothing of the optimize was committed"
    );

    // Run again, it merges everything, and every row is there once.
    let fresh = Warehouse::open(dir.path().join("fresh").to_str().unwrap()).unwrap();
    run_sync(&source, &fresh).await;
    let reports = optimize(&warehouse, &Catalog::builtin()).await.unwrap();
    assert!(reports.iter().all(|r| r.error.is_none()), "{reports:?}");
    assert_eq!(data_files(&warehouse).await, 1);
    assert_eq!(
        rows(&warehouse, "productfeed_v1", CONTENT).await,
        rows(&fresh, "productfeed_v1", CONTENT).await,
        "every row once"
    );
}
