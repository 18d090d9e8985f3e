//! Syncing a bucket-shaped folder into real Delta tables on disk, read back with SQL; and
//! the same from a real S3 protocol server on loopback (`s3`).

mod maintain;
mod malformed;
mod s3;

use std::path::Path;
use std::sync::Arc;

use deltalake::datafusion::prelude::SessionContext;
use sdds_feeds::Catalog;
use sdds_source::LocalSource;
use sdds_testkit::write_file;
use sdds_warehouse::{sync, table_status, SyncOptions, SyncReport, TableReport, Warehouse};

const PRODUCT_HEADER: &str = "product_id,manufacturer_account_id,product_code,title,catalog,valid_from,insert_date,update_date,delete_date";

fn append(root: &Path, key: &str, content: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(root.join(key))
        .unwrap();
    file.write_all(content.as_bytes()).unwrap();
}

fn product_row(id: &str, title: &str, day: u32) -> String {
    format!("{id},isv,code-{id},{title},AWSMarketplace,2026-09-{day:02}T00:00:00Z,2026-09-{day:02}T00:00:00Z,2026-09-{day:02}T00:00:00Z,\n")
}

async fn run_sync(source: &Path, warehouse: &Warehouse) -> SyncReport {
    let source = Arc::new(LocalSource::new(source).unwrap());
    sync(source, warehouse, &Catalog::builtin(), &SyncOptions::new())
        .await
        .unwrap()
}

fn table<'a>(report: &'a SyncReport, name: &str) -> &'a TableReport {
    report.tables.iter().find(|t| t.table == name).unwrap()
}

/// Runs SQL over one table (registered as `t`) and returns the rows as `|`-joined text.
async fn rows(warehouse: &Warehouse, name: &str, sql: &str) -> Vec<String> {
    let table = warehouse.open_table(name, false).await.unwrap();
    let ctx = SessionContext::new();
    table.update_datafusion_session(&ctx.state()).unwrap();
    ctx.register_table("t", table.table_provider().await.unwrap())
        .unwrap();
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    sdds_testkit::format_rows(&batches)
}

/// A small bucket: products in the backfill partition, September, and a header-only October.
fn product_bucket(root: &Path) {
    write_file(
        root,
        "productfeed_v1/year=2010/month=01/data.csv",
        &format!(
            "{PRODUCT_HEADER}\n{}",
            product_row("prod-old", "\"Old, \"\"Classic\"\"\"", 1)
        ),
    );
    write_file(
        root,
        "productfeed_v1/year=2026/month=09/data.csv",
        &format!(
            "{PRODUCT_HEADER}\n{}{}",
            product_row("prod-a", "A", 2),
            product_row("prod-b", "B", 3)
        ),
    );
    write_file(
        root,
        "productfeed_v1/year=2026/month=10/data.csv",
        &format!("{PRODUCT_HEADER}\n"),
    );
    write_file(root, "notes/readme.txt", "not a feed");
}

#[tokio::test]
async fn sync_loads_every_partition_and_a_second_run_adds_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    product_bucket(&source);
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();

    let first = run_sync(&source, &warehouse).await;
    let products = table(&first, "productfeed_v1");
    assert_eq!(
        (products.objects_new, products.rows_added, products.version),
        (3, 3, Some(0))
    );
    assert_eq!(first.ignored, vec!["notes/readme.txt".to_string()]);
    assert!(first.failures().next().is_none());
    assert_eq!(
        rows(
            &warehouse,
            "productfeed_v1",
            "select product_id, title, _source_key, _source_line from t order by product_id"
        )
        .await,
        vec![
            "prod-a|A|productfeed_v1/year=2026/month=09/data.csv|2",
            "prod-b|B|productfeed_v1/year=2026/month=09/data.csv|3",
            "prod-old|Old, \"Classic\"|productfeed_v1/year=2010/month=01/data.csv|2",
        ]
    );

    let second = run_sync(&source, &warehouse).await;
    let products = table(&second, "productfeed_v1");
    assert_eq!(
        (
            products.objects_unchanged,
            products.rows_added,
            products.bytes_read,
            products.version
        ),
        (3, 0, 0, None)
    );
    let status = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!(
        (status.version, status.rows, status.objects),
        (Some(0), 3, 3)
    );
    assert_eq!(
        rows(&warehouse, "productfeed_v1", "select count(*) from t").await,
        vec!["3"]
    );
}

/// The key column is written without a dictionary (its values are all distinct), the other
/// text columns with one.
#[tokio::test]
async fn the_key_column_is_stored_without_a_dictionary() {
    use deltalake::parquet::file::reader::{FileReader, SerializedFileReader};
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    product_bucket(&source);
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    run_sync(&source, &warehouse).await;
    let mut checked = 0;
    for entry in std::fs::read_dir(wh.join("productfeed_v1")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "parquet") {
            continue;
        }
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        for group in reader.metadata().row_groups() {
            let has_dictionary = |name: &str| {
                let column = group
                    .columns()
                    .iter()
                    .find(|c| c.column_path().string() == name)
                    .unwrap();
                column.dictionary_page_offset().is_some()
            };
            assert!(!has_dictionary("product_id"), "{}", path.display());
            assert!(has_dictionary("title"), "{}", path.display());
            checked += 1;
        }
    }
    assert_eq!(checked, 2, "one row group per object with rows");
}

#[tokio::test]
async fn appended_bytes_are_read_alone_and_match_a_fresh_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh, fresh_wh) = (
        dir.path().join("bucket"),
        dir.path().join("wh"),
        dir.path().join("fresh"),
    );
    let key = "productfeed_v1/year=2026/month=09/data.csv";
    let mut content = format!("{PRODUCT_HEADER}\n");
    for i in 0..200 {
        content.push_str(&product_row(
            &format!("prod-{i:03}"),
            &format!("Product {i}"),
            2,
        ));
    }
    write_file(&source, key, &content);
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    run_sync(&source, &warehouse).await;

    let appended = format!(
        "{}{}",
        product_row("prod-new1", "\"New\none\"", 20),
        product_row("prod-new2", "New two", 21)
    );
    append(&source, key, &appended);
    let report = run_sync(&source, &warehouse).await;
    let products = table(&report, "productfeed_v1");
    assert_eq!(
        (
            products.objects_grown,
            products.rows_added,
            products.version
        ),
        (1, 2, Some(1))
    );
    // Only the new bytes plus one 4 KiB verification read of the consumed tail.
    assert!(
        products.bytes_read <= appended.len() as u64 + 4096,
        "read {} bytes",
        products.bytes_read
    );
    assert!(products.bytes_read < content.len() as u64);

    let fresh = Warehouse::open(fresh_wh.to_str().unwrap()).unwrap();
    run_sync(&source, &fresh).await;
    let sql = "select product_id, title, valid_from, _source_key, _source_line from t order by _source_line";
    let incremental = rows(&warehouse, "productfeed_v1", sql).await;
    assert_eq!(incremental.len(), 202);
    assert_eq!(incremental, rows(&fresh, "productfeed_v1", sql).await);
    assert_eq!(
        incremental[201],
        "prod-new2|New two|2026-09-21T00:00:00Z|productfeed_v1/year=2026/month=09/data.csv|204"
    );
}

#[tokio::test]
async fn a_rewritten_object_has_its_rows_replaced_and_others_are_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    product_bucket(&source);
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    run_sync(&source, &warehouse).await;
    let september = "productfeed_v1/year=2026/month=09/data.csv";
    // Shorter and different: AWS re-delivered the month.
    write_file(
        &source,
        september,
        &format!("{PRODUCT_HEADER}\n{}", product_row("prod-c", "C", 4)),
    );

    let report = run_sync(&source, &warehouse).await;
    let products = table(&report, "productfeed_v1");
    assert_eq!(
        (
            products.objects_rewritten,
            products.rows_added,
            products.rows_removed
        ),
        (1, 1, 2)
    );
    assert_eq!(
        rows(
            &warehouse,
            "productfeed_v1",
            "select product_id, _source_line from t order by product_id"
        )
        .await,
        vec!["prod-c|2", "prod-old|2"]
    );
    assert_eq!(
        table_status(&warehouse, "productfeed_v1")
            .await
            .unwrap()
            .rows,
        2
    );
}

#[tokio::test]
async fn a_vanished_object_keeps_its_rows() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    product_bucket(&source);
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    run_sync(&source, &warehouse).await;
    std::fs::remove_file(source.join("productfeed_v1/year=2010/month=01/data.csv")).unwrap();

    let report = run_sync(&source, &warehouse).await;
    assert_eq!(table(&report, "productfeed_v1").objects_vanished, 1);
    assert_eq!(
        rows(&warehouse, "productfeed_v1", "select count(*) from t").await,
        vec!["3"]
    );
    let status = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!((status.objects, status.objects_vanished), (3, 1));
    assert_eq!(
        table(&run_sync(&source, &warehouse).await, "productfeed_v1").version,
        None,
        "reported once"
    );
}

const QUARANTINE_SQL: &str =
    "select table_name, source_key, line, column_name, reason, raw from t order by source_key, line";

#[tokio::test]
async fn bad_rows_are_quarantined_once_and_the_rest_of_their_file_loads() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    product_bucket(&source);
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    run_sync(&source, &warehouse).await;
    let month = "productfeed_v1/year=2026/month=09/data.csv";
    append(&source, month, &product_row("prod-d", "D", 5));
    append(
        &source,
        month,
        "prod-e,isv,code,E,AWSMarketplace,yesterday,,,\n",
    );
    append(&source, month, &product_row("prod-f", "F", 6));
    append(&source, month, "prod-g,isv,code\n");
    write_file(
        &source,
        "legacyidmappingfeed_v1/year=2026/month=09/data.csv",
        "mapping_type,legacy_id,new_id\nPRODUCT,guid-1,prod-a\n",
    );
    // What the warehouse held before this sync, to replay a crash between the two commits.
    let before = dir.path().join("before");
    sdds_testkit::copy_tree(&wh.join("productfeed_v1"), &before);

    let report = run_sync(&source, &warehouse).await;
    let products = table(&report, "productfeed_v1");
    assert_eq!(products.error, None);
    assert_eq!((products.rows_added, products.rows_quarantined), (2, 2));
    assert_eq!(table(&report, "legacyidmappingfeed_v1").rows_added, 1);
    let expected = vec![
        format!("productfeed_v1|{month}|5|valid_from|invalid timestamp \"yesterday\" (expected ISO 8601 like 2024-01-31T23:59:59Z)|prod-e,isv,code,E,AWSMarketplace,yesterday,,,"),
        format!("productfeed_v1|{month}|7|NULL|expected 9 fields as in the header, found 3|prod-g,isv,code"),
    ];
    assert_eq!(
        rows(&warehouse, "quarantine", QUARANTINE_SQL).await,
        expected
    );
    let status = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!((status.rows, status.rows_quarantined), (5, 2));

    // Nothing new: nothing quarantined again.
    let again = run_sync(&source, &warehouse).await;
    assert_eq!(table(&again, "productfeed_v1").rows_quarantined, 0);
    assert_eq!(
        rows(&warehouse, "quarantine", QUARANTINE_SQL).await,
        expected
    );

    // Stopped after the quarantine commit and before the table's: the re-run reads the same
    // bytes again and replaces the rows it quarantined from them.
    std::fs::remove_dir_all(wh.join("productfeed_v1")).unwrap();
    sdds_testkit::copy_tree(&before, &wh.join("productfeed_v1"));
    let rerun = run_sync(&source, &warehouse).await;
    assert_eq!(table(&rerun, "productfeed_v1").rows_quarantined, 2);
    assert_eq!(
        rows(&warehouse, "quarantine", QUARANTINE_SQL).await,
        expected
    );
    assert_eq!(
        rows(&warehouse, "productfeed_v1", "select count(*) from t").await,
        vec!["5"]
    );

    // AWS re-delivers the month fixed: its rows and its quarantined rows are replaced.
    write_file(
        &source,
        month,
        &format!(
            "{PRODUCT_HEADER}\n{}{}",
            product_row("prod-a", "A", 2),
            product_row("prod-e", "E", 5)
        ),
    );
    let fixed = run_sync(&source, &warehouse).await;
    assert_eq!(table(&fixed, "productfeed_v1").rows_quarantined, 0);
    assert!(rows(&warehouse, "quarantine", QUARANTINE_SQL)
        .await
        .is_empty());
    let status = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!((status.rows, status.rows_quarantined), (3, 0));
}

#[tokio::test]
async fn unknown_columns_are_kept_even_when_they_appear_later() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    product_bucket(&source);
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    run_sync(&source, &warehouse).await;
    write_file(
        &source,
        "productfeed_v1/year=2026/month=11/data.csv",
        "title,product_id,listing_tier,valid_from\nNovember,prod-nov,gold,2026-11-01T00:00:00Z\n",
    );

    let report = run_sync(&source, &warehouse).await;
    let products = table(&report, "productfeed_v1");
    assert_eq!(products.rows_added, 1);
    assert_eq!(
        products
            .warnings
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>(),
        vec![
            "productfeed_v1/year=2026/month=11/data.csv: no column manufacturer_account_id, product_code, catalog, insert_date, update_date, delete_date; its rows have NULL there",
            "productfeed_v1/year=2026/month=11/data.csv: new column listing_tier, kept as text",
        ]
    );
    let status = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!(status.new_columns, vec!["listing_tier"]);
    assert_eq!(
        rows(
            &warehouse,
            "productfeed_v1",
            "select product_id, title, listing_tier, product_code from t order by product_id"
        )
        .await,
        vec![
            "prod-a|A|NULL|code-prod-a",
            "prod-b|B|NULL|code-prod-b",
            "prod-nov|November|gold|NULL",
            "prod-old|Old, \"Classic\"|NULL|code-prod-old"
        ]
    );
}

#[tokio::test]
async fn a_stored_type_that_differs_from_the_schema_is_an_error_never_silent_nulls() {
    let dir = tempfile::tempdir().unwrap();
    let (source, wh) = (dir.path().join("bucket"), dir.path().join("wh"));
    product_bucket(&source);
    write_file(
        &source,
        "productfeed_v1/year=2026/month=11/data.csv",
        "product_id,title,list_price,valid_from\nprod-nov,November,12.50,2026-11-01T00:00:00Z\n",
    );
    let warehouse = Warehouse::open(wh.to_str().unwrap()).unwrap();
    run_sync(&source, &warehouse).await;
    let before = table_status(&warehouse, "productfeed_v1").await.unwrap();

    // The seller now declares the unknown column, kept as text so far, as a decimal.
    let declared = format!(
        "{}\n[[column]]\nname = \"list_price\"\ntype = \"decimal\"\ndescription = \"Price.\"\n",
        include_str!("../../../../schemas/productfeed_v1.toml")
    );
    let catalog = Catalog::builtin().with_feed(sdds_feeds::Feed::from_toml(&declared).unwrap());
    write_file(
        &source,
        "productfeed_v1/year=2026/month=12/data.csv",
        "product_id,title,list_price,valid_from\nprod-dec,December,7.25,2026-12-01T00:00:00Z\n",
    );
    let report = sync(
        Arc::new(LocalSource::new(&source).unwrap()),
        &warehouse,
        &catalog,
        &SyncOptions::new(),
    )
    .await
    .unwrap();
    assert_eq!(
        table(&report, "productfeed_v1").error.as_deref(),
        Some("productfeed_v1: column list_price is stored as Utf8 but the schema declares Decimal128(38, 10); nothing was written (rebuild the table into a new warehouse, or keep the old type in schemas/)")
    );
    let after = table_status(&warehouse, "productfeed_v1").await.unwrap();
    assert_eq!((after.version, after.rows), (before.version, before.rows));
}
