//! Sync from a real S3 protocol server on loopback (s3s-fs), with injected failures; and a
//! warehouse that itself lives on S3.

use std::path::Path;
use std::sync::Arc;

use sdds_feeds::Catalog;
use sdds_testkit::{write_file, Fault, S3Server, Target};
use sdds_warehouse::{sync, table_status, SyncOptions, SyncReport, Warehouse};

use super::{append, product_row, rows, table, PRODUCT_HEADER};

const SEPTEMBER: &str = "productfeed_v1/year=2026/month=09/data.csv";
const OCTOBER: &str = "productfeed_v1/year=2026/month=10/data.csv";

/// Product rows `from..to`, valid on `day` of September.
fn products(from: usize, to: usize, day: u32) -> String {
    (from..to)
        .map(|i| product_row(&format!("prod-{i:05}"), &format!("Product {i}"), day))
        .collect()
}

/// Bucket `feeds` with a large September file and a small October one under `sdds/`.
fn bucket(server: &S3Server) -> std::path::PathBuf {
    let root = server.create_bucket("feeds").join("sdds");
    write_file(
        &root,
        SEPTEMBER,
        &format!("{PRODUCT_HEADER}\n{}", products(0, 5000, 1)),
    );
    write_file(
        &root,
        OCTOBER,
        &format!("{PRODUCT_HEADER}\n{}", products(9000, 9010, 2)),
    );
    root
}

/// A temporary directory, a server storing its buckets there, and the bucket of [`bucket`].
fn start() -> (tempfile::TempDir, S3Server, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&dir.path().join("s3"));
    let root = bucket(&server);
    (dir, server, root)
}

async fn sync_from(server: &S3Server, warehouse: &Warehouse, max_attempts: u32) -> SyncReport {
    let source = Arc::new(server.source("s3://feeds/sdds", max_attempts).await);
    sync(source, warehouse, &Catalog::builtin(), &SyncOptions::new())
        .await
        .unwrap()
}

fn local(dir: &Path, name: &str) -> Warehouse {
    Warehouse::open(dir.join(name).to_str().unwrap()).unwrap()
}

/// The rows of the product table that do not depend on when they were synced.
const CONTENT: &str =
    "select product_id, title, valid_from, _source_key, _source_line from t order by _source_key, _source_line";

#[tokio::test]
async fn an_appended_day_is_read_alone_and_nothing_new_costs_only_a_listing() {
    let (dir, server, root) = start();
    let warehouse = local(dir.path(), "wh");
    let first = sync_from(&server, &warehouse, 3).await;
    assert_eq!(table(&first, "productfeed_v1").rows_added, 5010);

    let day = products(5000, 5040, 3);
    append(&root, SEPTEMBER, &day);
    server.clear_log();
    let report = sync_from(&server, &warehouse, 3).await;
    let products_table = table(&report, "productfeed_v1");
    assert_eq!(
        (
            products_table.objects_grown,
            products_table.objects_unchanged,
            products_table.rows_added
        ),
        (1, 1, 40)
    );
    let allowed = (day.len() as f64 * 1.05) as u64 + 4096;
    assert!(
        products_table.bytes_read <= allowed,
        "reported {} bytes",
        products_table.bytes_read
    );
    let served = server.get_bytes_sent();
    assert!(
        served <= allowed,
        "the server sent {served} bytes for a {} byte append",
        day.len()
    );

    let fresh = local(dir.path(), "fresh");
    sync_from(&server, &fresh, 3).await;
    let incremental = rows(&warehouse, "productfeed_v1", CONTENT).await;
    assert_eq!(incremental.len(), 5050);
    assert_eq!(incremental, rows(&fresh, "productfeed_v1", CONTENT).await);

    server.clear_log();
    let idle = sync_from(&server, &warehouse, 3).await;
    assert_eq!(idle.total(|t| t.rows_added + t.bytes_read), 0);
    let requests = server.requests();
    assert!(!requests.is_empty());
    assert!(
        requests.iter().all(|r| r.target == Target::List),
        "{requests:?}"
    );
}

#[tokio::test]
async fn a_rewritten_month_replaces_its_rows_and_leaves_the_others_untouched() {
    let (dir, server, root) = start();
    let warehouse = local(dir.path(), "wh");
    let first = sync_from(&server, &warehouse, 3).await;
    let october_before = rows(
        &warehouse,
        "productfeed_v1",
        &format!("select product_id, _sync_id from t where _source_key = '{OCTOBER}' order by 1"),
    )
    .await;
    assert!(october_before.iter().all(|r| r.ends_with(&first.sync_id)));

    // Same size, same last 4 KiB, different first row: only the ETag tells.
    let original = std::fs::read_to_string(root.join(SEPTEMBER)).unwrap();
    let rewritten = original.replacen("Product 0,", "Renamed 0,", 1);
    assert_eq!(rewritten.len(), original.len());
    std::thread::sleep(std::time::Duration::from_millis(5));
    write_file(&root, SEPTEMBER, &rewritten);
    let report = sync_from(&server, &warehouse, 3).await;
    let products_table = table(&report, "productfeed_v1");
    assert_eq!(
        (
            products_table.objects_rewritten,
            products_table.rows_added,
            products_table.rows_removed
        ),
        (1, 5000, 5000)
    );
    assert_eq!(
        rows(
            &warehouse,
            "productfeed_v1",
            "select title from t where product_id = 'prod-00000'"
        )
        .await,
        vec!["Renamed 0"]
    );
    assert_eq!(
        table_status(&warehouse, "productfeed_v1")
            .await
            .unwrap()
            .rows,
        5010
    );
    let october_after = rows(
        &warehouse,
        "productfeed_v1",
        &format!("select product_id, _sync_id from t where _source_key = '{OCTOBER}' order by 1"),
    )
    .await;
    assert_eq!(october_after, october_before, "October was not touched");

    // A shorter, different re-delivery.
    write_file(
        &root,
        SEPTEMBER,
        &format!("{PRODUCT_HEADER}\n{}", products(0, 3, 4)),
    );
    let report = sync_from(&server, &warehouse, 3).await;
    let products_table = table(&report, "productfeed_v1");
    assert_eq!(
        (products_table.rows_added, products_table.rows_removed),
        (3, 5000)
    );
    assert_eq!(
        rows(&warehouse, "productfeed_v1", "select count(*) from t").await,
        vec!["13"]
    );
}

#[tokio::test]
async fn throttling_and_broken_connections_within_the_budget_are_survived() {
    let (dir, server, _) = start();
    server.inject(Fault::SlowDown, Target::List, 2);
    server.inject(Fault::DropConnection, Target::Get, 1);
    server.inject(Fault::TruncateBody, Target::Get, 2);
    server.inject(Fault::InternalError, Target::Get, 1);
    server.inject(Fault::SlowDown, Target::Get, 1);
    let warehouse = local(dir.path(), "wh");
    let report = sync_from(&server, &warehouse, 5).await;
    assert!(report.failures().next().is_none(), "{report:?}");
    assert_eq!(server.pending_faults(), 0);

    let clean = local(dir.path(), "clean");
    sync_from(&server, &clean, 5).await;
    let with_faults = rows(&warehouse, "productfeed_v1", CONTENT).await;
    assert_eq!(with_faults.len(), 5010);
    assert_eq!(with_faults, rows(&clean, "productfeed_v1", CONTENT).await);
}

#[tokio::test]
async fn beyond_the_budget_the_sync_fails_clearly_and_changes_nothing() {
    let (dir, server, root) = start();
    let warehouse = local(dir.path(), "wh");
    sync_from(&server, &warehouse, 3).await;
    let before = table_status(&warehouse, "productfeed_v1").await.unwrap();

    append(&root, SEPTEMBER, &products(5000, 5040, 3));
    server.inject(Fault::TruncateBody, Target::Get, 50);
    let report = sync_from(&server, &warehouse, 3).await;
    let error = table(&report, "productfeed_v1").error.clone().unwrap();
    assert!(
        error.starts_with(&format!("sdds/{SEPTEMBER}: "))
            && error.contains("gave up after 3 attempts"),
        "{error}"
    );
    let after = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!((after.version, after.rows), (before.version, before.rows));

    server.clear_faults();
    server.inject(Fault::SlowDown, Target::List, 3);
    let source = Arc::new(server.source("s3://feeds/sdds", 3).await);
    let err = sync(source, &warehouse, &Catalog::builtin(), &SyncOptions::new())
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("SlowDown (HTTP 503)"), "{err}");

    server.clear_faults();
    let report = sync_from(&server, &warehouse, 3).await;
    assert_eq!(
        table(&report, "productfeed_v1").rows_added,
        40,
        "the next sync catches up"
    );
}

#[tokio::test]
async fn the_warehouse_can_live_on_s3() {
    let (dir, server, root) = start();
    server.create_bucket("lake");
    let warehouse = Warehouse::open("s3://lake/warehouse")
        .unwrap()
        .with_storage_options(server.storage_options());
    let first = sync_from(&server, &warehouse, 3).await;
    assert!(first.failures().next().is_none(), "{first:?}");
    assert!(dir
        .path()
        .join("s3/lake/warehouse/productfeed_v1/_delta_log")
        .is_dir());

    append(&root, SEPTEMBER, &products(5000, 5002, 3));
    let second = sync_from(&server, &warehouse, 3).await;
    assert_eq!(table(&second, "productfeed_v1").rows_added, 2);
    let status = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!((status.version, status.rows), (Some(1), 5012));
    assert_eq!(
        rows(
            &warehouse,
            "productfeed_v1",
            "select count(*), count(distinct product_id) from t"
        )
        .await,
        vec!["5012|5012"]
    );
}

#[tokio::test]
async fn concurrent_syncs_never_duplicate_rows() {
    let (dir, server, root) = start();
    let mut conflicts = 0;
    for round in 0..3 {
        let warehouse = local(dir.path(), &format!("wh{round}"));
        if round > 0 {
            append(
                &root,
                SEPTEMBER,
                &products(6000 + round * 10, 6010 + round * 10, 5),
            );
        }
        let (a, b) = tokio::join!(
            sync_from(&server, &warehouse, 3),
            sync_from(&server, &warehouse, 3)
        );
        for report in [&a, &b] {
            for failed in report.failures() {
                let error = failed.error.as_deref().unwrap();
                assert!(
                    error.contains("committed to this table meanwhile"),
                    "{error}"
                );
                conflicts += 1;
            }
        }
        let expected = 5010 + round * 10;
        assert_eq!(
            rows(
                &warehouse,
                "productfeed_v1",
                "select count(*), count(distinct product_id) from t"
            )
            .await,
            vec![format!("{expected}|{expected}")]
        );
        // Whatever lost the race is picked up by the next run.
        sync_from(&server, &warehouse, 3).await;
        assert_eq!(
            table_status(&warehouse, "productfeed_v1")
                .await
                .unwrap()
                .rows,
            expected as u64
        );
    }
    assert!(conflicts > 0, "the two syncs never raced");
}

/// A server whose bucket `feeds` holds the bundled sample feeds (all twelve) under `sdds/`.
fn start_with_samples() -> (tempfile::TempDir, S3Server) {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&dir.path().join("s3"));
    let samples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../sample-feeds");
    sdds_testkit::copy_tree(&samples, &server.create_bucket("feeds").join("sdds"));
    std::fs::remove_file(server.create_bucket("feeds").join("sdds/README.md")).ok();
    (dir, server)
}

/// Each table's version and row count (`None`: no table).
async fn table_rows(warehouse: &Warehouse) -> Vec<(String, Option<u64>)> {
    let mut out = Vec::new();
    for feed in Catalog::builtin().feeds() {
        let status = table_status(warehouse, &feed.name).await.unwrap();
        out.push((feed.name.clone(), status.version.map(|_| status.rows)));
    }
    out
}

#[tokio::test]
async fn an_object_access_is_denied_to_fails_its_table_alone_and_says_what_to_grant() {
    let (dir, server) = start_with_samples();
    let clean = local(dir.path(), "clean");
    sync_from(&server, &clean, 3).await;
    let expected = table_rows(&clean).await;

    let warehouse = local(dir.path(), "wh");
    server.inject(Fault::AccessDenied, Target::Get, 1);
    let report = sync_from(&server, &warehouse, 3).await;
    let failed: Vec<_> = report.failures().collect();
    assert_eq!(failed.len(), 1, "{report:?}");
    let error = failed[0].error.as_deref().unwrap();
    assert!(
        error.starts_with("sdds/")
            && error.contains("AccessDenied (HTTP 403)")
            && error.contains("grant s3:ListBucket, s3:GetObject and kms:Decrypt"),
        "{error}"
    );
    assert_eq!(
        report.skipped().count(),
        0,
        "access denied to one object ends nothing"
    );
    for ((name, rows), (_, clean_rows)) in table_rows(&warehouse).await.iter().zip(&expected) {
        if *name == failed[0].table {
            assert_eq!(*rows, None, "{name} is unchanged: it was never created");
        } else {
            assert_eq!(rows, clean_rows, "{name} is fully committed");
        }
    }

    sync_from(&server, &warehouse, 3).await;
    assert_eq!(
        table_rows(&warehouse).await,
        expected,
        "the next sync catches up"
    );
}

#[tokio::test]
async fn credentials_that_expire_mid_sync_stop_it_and_leave_each_table_whole_or_untouched() {
    let (dir, server) = start_with_samples();
    let clean = local(dir.path(), "clean");
    sync_from(&server, &clean, 3).await;
    let expected = table_rows(&clean).await;

    let warehouse = local(dir.path(), "wh");
    server.inject_after(Fault::ExpiredToken, Target::Get, 3, 10_000);
    let report = sync_from(&server, &warehouse, 3).await;
    let expired: Vec<_> = report.failures().filter(|t| !t.skipped).collect();
    assert!(!expired.is_empty() && expired.len() <= 2, "{report:?}");
    for table in &expired {
        let error = table.error.as_deref().unwrap();
        assert!(
            error.contains("ExpiredToken (HTTP 400)") && error.contains("aws sso login"),
            "{error}"
        );
    }
    let skipped = report.skipped().count();
    assert!(
        skipped >= 6,
        "the run stops: {skipped} tables skipped of 12"
    );
    for ((name, rows), (_, clean_rows)) in table_rows(&warehouse).await.iter().zip(&expected) {
        assert!(
            rows.is_none() || rows == clean_rows,
            "{name}: {rows:?} rows, neither untouched nor whole ({clean_rows:?})"
        );
    }

    server.clear_faults();
    sync_from(&server, &warehouse, 3).await;
    assert_eq!(
        table_rows(&warehouse).await,
        expected,
        "the next sync catches up"
    );
}
