//! SQL over the sample bucket synced into real Delta tables, checked against sample-feeds/README.md.

mod athena;

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::prelude::SessionContext;
use sdds_feeds::Catalog;
use sdds_source::LocalSource;
use sdds_sql::{open_session, SessionOptions};
use sdds_testkit::write_file;
use sdds_warehouse::{sync, SyncOptions, Warehouse};

fn sample_feeds() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../sample-feeds")
}

async fn synced_sample() -> (tempfile::TempDir, SessionContext) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(dir.path().to_str().unwrap()).unwrap();
    let source = Arc::new(LocalSource::new(sample_feeds()).unwrap());
    let report = sync(source, &warehouse, &Catalog::builtin(), &SyncOptions::new())
        .await
        .unwrap();
    assert!(report.failures().next().is_none(), "{report:?}");
    let ctx = open_session(&warehouse, &Catalog::builtin(), &SessionOptions::default())
        .await
        .unwrap();
    (dir, ctx)
}

/// A session over an empty warehouse (no table synced yet).
async fn empty_session(options: &SessionOptions) -> (tempfile::TempDir, SessionContext) {
    let dir = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(dir.path().to_str().unwrap()).unwrap();
    let ctx = open_session(&warehouse, &Catalog::builtin(), options)
        .await
        .unwrap();
    (dir, ctx)
}

/// A session over an empty warehouse limited to `memory_limit` bytes, spilling to `spill_dir`.
async fn limited_session(
    memory_limit: usize,
    spill_dir: Option<&std::path::Path>,
) -> (tempfile::TempDir, SessionContext) {
    let options = SessionOptions {
        resources: sdds_sql::Resources {
            memory_limit: Some(memory_limit),
            spill_dir: spill_dir.map(std::path::Path::to_path_buf),
        },
        ..Default::default()
    };
    empty_session(&options).await
}

async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    sdds_testkit::format_rows(&batches)
}

/// The rows of `sql` as [`sdds_sql::run_sql`] computes them (CTEs read twice stored first),
/// where [`rows`] gives DataFusion's own answer with every CTE inlined.
async fn rows_as_run(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let frame = sdds_sql::run_sql(ctx, sql).await.unwrap();
    sdds_testkit::format_rows(&frame.collect().await.unwrap())
}

#[tokio::test]
async fn billing_totals_are_exact_to_the_cent() {
    let (_dir, ctx) = synced_sample().await;
    // sample-feeds/README.md, E2: the BALANCE_ADJUSTMENT's explicit empty broker_id is '',
    // the backfill rows, whose file has no broker_id column, NULL.
    assert_eq!(
        rows(&ctx, "select broker_id, count(*), sum(amount) from billingeventfeed_v1 group by 1 order by 1 nulls last").await,
        vec!["|1|25.0000000000", "AWS_EUROPE|21|3153.0000000000", "AWS_INC|37|24927.3000000000", "NULL|12|557.9000000000"]
    );
    assert_eq!(
        rows(&ctx, "select currency, sum(amount) from billingeventfeed_v1 where transaction_type = 'DISBURSEMENT' group by 1 order by 1").await,
        vec!["EUR|2910.0000000000", "USD|23112.0000000000"]
    );
    assert_eq!(
        rows(
            &ctx,
            "select sum(amount) from billingeventfeed_v1 where balance_impacting = 1"
        )
        .await,
        vec!["26968.5000000000"]
    );
    assert_eq!(
        rows(
            &ctx,
            "select action, count(*) from billingeventfeed_v1 group by 1 order by 1"
        )
        .await,
        vec!["DISBURSED|31", "FORGIVEN|2", "INVOICED|38"]
    );
    // The unpaid past-due invoice (E4): seller net still owed.
    assert_eq!(
        rows(&ctx, "select invoice_id, sum(amount) from billingeventfeed_v1 where invoice_id = '781260902' and balance_impacting = 1 group by 1").await,
        vec!["781260902|399.6400000000"]
    );
}

#[tokio::test]
async fn every_feed_is_loaded_with_typed_values() {
    let (_dir, ctx) = synced_sample().await;
    // E1 row counts.
    let counts = rows(
        &ctx,
        "select 'account', count(*) from accountfeed_v1 union all select 'address', count(*) from addressfeed_v1 \
         union all select 'agreement', count(*) from agreementfeed_v1 union all select 'term', count(*) from agreementtermfeed_v1 \
         union all select 'billing', count(*) from billingeventfeed_v1 union all select 'usage', count(*) from dailyusagefeed_v1 \
         union all select 'legacy', count(*) from legacyidmappingfeed_v1 union all select 'offer', count(*) from offerfeed_v1 \
         union all select 'offer_product', count(*) from offerproductfeed_v1 union all select 'offer_target', count(*) from offertargetfeed_v1 \
         union all select 'product', count(*) from productfeed_v1 union all select 'tax', count(*) from taxitemfeed_v1",
    )
    .await;
    let mut counts = counts;
    counts.sort();
    assert_eq!(
        counts,
        vec![
            "account|11",
            "address|10",
            "agreement|8",
            "billing|71",
            "legacy|3",
            "offer_product|8",
            "offer_target|7",
            "offer|7",
            "product|6",
            "tax|18",
            "term|15",
            "usage|17"
        ]
    );
    // E5: multi-line field, leading zeros, fractional seconds, +00:00 offset.
    assert_eq!(
        rows(&ctx, "select address_line_1, company_name, city from addressfeed_v1 where address_id = 'adr-mueller-zurich'").await,
        vec!["Bahnhofstrasse 42\nEingang B, 3. Stock|Müller & Söhne GmbH, Zürich|Zürich"]
    );
    assert_eq!(rows(&ctx, "select distinct aws_account_id from accountfeed_v1 where account_id = 'takaBuyer3Mm9Qx2Vb7Ce5'").await, vec!["000123456789"]);
    assert_eq!(
        rows(&ctx, "select count(*) from billingeventfeed_v1 where invoice_date = timestamp '2026-09-15 10:20:30.743'").await,
        vec!["10"]
    );
    assert_eq!(
        rows(&ctx, "select payment_due_date from billingeventfeed_v1 where billing_event_id = 'be260910muesrs0a8a209ca8d97f081c588b9c7f'").await,
        vec!["2026-10-10T00:00:00Z"]
    );
    // The backfill partition and the header-only month.
    assert_eq!(
        rows(
            &ctx,
            "select _source_key, count(*) from productfeed_v1 group by 1 order by 1"
        )
        .await,
        vec![
            "productfeed_v1/year=2010/month=01/data.csv|2",
            "productfeed_v1/year=2026/month=08/data.csv|2",
            "productfeed_v1/year=2026/month=09/data.csv|2"
        ]
    );
    assert_eq!(
        rows(
            &ctx,
            "select sum(tax_amount) from taxitemfeed_v1 where tax_currency = 'USD'"
        )
        .await,
        vec!["1951.7000000000"]
    );
}

#[tokio::test]
async fn discovery_lists_tables_and_typed_columns() {
    let (_dir, ctx) = synced_sample().await;
    let tables = rows(&ctx, "select table_name from information_schema.tables where table_type = 'BASE TABLE' order by 1").await;
    let mut expected: Vec<String> = Catalog::builtin()
        .feeds()
        .iter()
        .map(|f| f.name.clone())
        .chain(["quarantine".to_string()])
        .collect();
    expected.sort();
    assert_eq!(tables, expected);
    let views = rows(&ctx, "select table_name from information_schema.tables where table_schema = 'default' and table_type = 'VIEW' and table_name like 'a%' order by 1").await;
    assert_eq!(
        views,
        vec![
            "account_current",
            "account_history",
            "address_current",
            "address_history",
            "agreement_current",
            "agreement_history",
            "agreement_term_current",
            "agreement_term_history",
            "agreementfeed"
        ]
    );
    // 12 current views, 11 history views (billing events have none), 2 legacy names.
    assert_eq!(rows(&ctx, "select count(*) from information_schema.tables where table_schema = 'default' and table_type = 'VIEW'").await, vec!["25"]);
    assert_eq!(
        rows(&ctx, "show tables").await.len(),
        rows(&ctx, "select * from information_schema.tables")
            .await
            .len()
    );
    assert_eq!(
        rows(&ctx, "select column_name, data_type from information_schema.columns where table_name = 'billingeventfeed_v1' and column_name in ('amount', 'invoice_date', 'balance_impacting', '_source_line') order by 1").await,
        vec!["_source_line|Int64", "amount|Decimal128(38, 10)", "balance_impacting|Int64", "invoice_date|Timestamp(µs, \"UTC\")"]
    );
}

#[tokio::test]
async fn tables_not_synced_yet_are_empty_but_queryable() {
    let (_dir, ctx) = empty_session(&SessionOptions::default()).await;
    assert_eq!(
        rows(
            &ctx,
            "select count(*), sum(amount) from billingeventfeed_v1"
        )
        .await,
        vec!["0|NULL"]
    );
}

const ACCOUNT_HEADER: &str =
    "account_id,aws_account_id,mailing_address_id,valid_from,insert_date,update_date,delete_date";

/// An account row; insert_date = update_date; `deleted` sets delete_date to the update date.
fn account(id: &str, address: &str, valid_from: &str, updated: &str, deleted: bool) -> String {
    let delete = if deleted { updated } else { "" };
    format!("{id},123456789012,{address},{valid_from}T00:00:00Z,{updated}T00:00:00Z,{updated}T00:00:00Z,{delete}\n")
}

/// An account file: the header, then `rows`.
fn account_file(rows: &[String]) -> String {
    format!("{ACCOUNT_HEADER}\n{}", rows.concat())
}

/// Adversarial account histories, spread over the backfill and two months out of order.
fn adversarial_bucket(root: &std::path::Path) {
    write_file(
        root,
        "accountfeed_v1/year=2010/month=01/data.csv",
        &account_file(&[
            account("acc-1", "A1", "2019-01-01", "2019-01-01", false),
            account("acc-4", "D1", "2019-06-01", "2019-06-01", false),
        ]),
    );
    write_file(
        root,
        "accountfeed_v1/year=2026/month=08/data.csv",
        &account_file(&[
            // A correction of the 2019 version, delivered years later.
            account("acc-1", "A0", "2019-01-01", "2020-01-01", false),
            // A later version of acc-4 delivered before an earlier one.
            account("acc-4", "D3", "2026-10-01", "2026-10-01", false),
        ]),
    );
    write_file(
        root,
        "accountfeed_v1/year=2026/month=09/data.csv",
        &account_file(&[
            // A change, then a correction of the change.
            account("acc-1", "A2", "2026-09-01", "2026-09-01", false),
            account("acc-1", "A3", "2026-09-01", "2026-09-05", false),
            // Two corrections at the same valid_from, out of order: the latest update_date wins.
            account("acc-2", "B1", "2026-09-01", "2026-09-01", false),
            account("acc-2", "B3", "2026-09-01", "2026-09-04", false),
            account("acc-2", "B2", "2026-09-01", "2026-09-02", false),
            // A soft-deleted later version: the earlier one is current again.
            account("acc-3", "C1", "2026-09-01", "2026-09-01", false),
            account("acc-3", "C2", "2026-09-10", "2026-09-10", true),
            // Deleted, then re-created.
            account("acc-5", "E1", "2026-09-01", "2026-09-01", false),
            account("acc-5", "E1", "2026-09-05", "2026-09-05", true),
            account("acc-5", "E2", "2026-09-20", "2026-09-20", false),
            account("acc-4", "D2", "2026-09-15", "2026-09-15", false),
        ]),
    );
}

async fn session_over(
    root: &std::path::Path,
    warehouse: &Warehouse,
    options: &SessionOptions,
) -> SessionContext {
    let source = Arc::new(LocalSource::new(root).unwrap());
    let report = sync(source, warehouse, &Catalog::builtin(), &SyncOptions::new())
        .await
        .unwrap();
    assert!(report.failures().next().is_none(), "{report:?}");
    open_session(warehouse, &Catalog::builtin(), options)
        .await
        .unwrap()
}

const CURRENT: &str =
    "select account_id, mailing_address_id, valid_from from account_current order by 1";

#[tokio::test]
async fn current_and_history_views_resolve_adversarial_histories() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    adversarial_bucket(&bucket);
    let warehouse = Warehouse::open(dir.path().join("wh").to_str().unwrap()).unwrap();
    let ctx = session_over(&bucket, &warehouse, &SessionOptions::default()).await;
    assert_eq!(
        rows(&ctx, CURRENT).await,
        vec![
            "acc-1|A3|2026-09-01T00:00:00Z",
            "acc-2|B3|2026-09-01T00:00:00Z",
            "acc-3|C1|2026-09-01T00:00:00Z",
            "acc-4|D3|2026-10-01T00:00:00Z",
            "acc-5|E2|2026-09-20T00:00:00Z",
        ]
    );
    assert_eq!(
        rows(&ctx, "select account_id, valid_from, valid_to, mailing_address_id from account_history order by 1, 2").await,
        vec![
            "acc-1|2019-01-01T00:00:00Z|2026-09-01T00:00:00Z|A0",
            "acc-1|2026-09-01T00:00:00Z|2999-01-01T00:00:00Z|A3",
            "acc-2|2026-09-01T00:00:00Z|2999-01-01T00:00:00Z|B3",
            "acc-3|2026-09-01T00:00:00Z|2999-01-01T00:00:00Z|C1",
            "acc-4|2019-06-01T00:00:00Z|2026-09-15T00:00:00Z|D1",
            "acc-4|2026-09-15T00:00:00Z|2026-10-01T00:00:00Z|D2",
            "acc-4|2026-10-01T00:00:00Z|2999-01-01T00:00:00Z|D3",
            "acc-5|2026-09-01T00:00:00Z|2026-09-20T00:00:00Z|E1",
            "acc-5|2026-09-20T00:00:00Z|2999-01-01T00:00:00Z|E2",
        ]
    );
    // The history view answers point-in-time questions directly.
    assert_eq!(
        rows(&ctx, "select account_id, mailing_address_id from account_history where valid_from <= timestamp '2026-09-16T00:00:00Z' and timestamp '2026-09-16T00:00:00Z' < valid_to order by 1").await,
        vec!["acc-1|A3", "acc-2|B3", "acc-3|C1", "acc-4|D2", "acc-5|E1"]
    );

    // Business time: the same question through --as-of.
    let as_of = SessionOptions {
        time: sdds_sql::TimeFilter {
            as_of: Some("2026-09-16T00:00:00Z".into()),
            known_at: None,
        },
        ..Default::default()
    };
    let ctx = open_session(&warehouse, &Catalog::builtin(), &as_of)
        .await
        .unwrap();
    assert_eq!(
        rows(
            &ctx,
            "select account_id, mailing_address_id from account_current order by 1"
        )
        .await,
        vec!["acc-1|A3", "acc-2|B3", "acc-3|C1", "acc-4|D2", "acc-5|E1"]
    );

    // System time (step D): what the feed said on 2026-09-03, before later corrections arrived.
    let known = SessionOptions {
        time: sdds_sql::TimeFilter {
            as_of: None,
            known_at: Some("2026-09-03T00:00:00Z".into()),
        },
        ..Default::default()
    };
    let ctx = open_session(&warehouse, &Catalog::builtin(), &known)
        .await
        .unwrap();
    assert_eq!(
        rows(
            &ctx,
            "select account_id, mailing_address_id from account_current order by 1"
        )
        .await,
        vec!["acc-1|A2", "acc-2|B2", "acc-3|C1", "acc-4|D1", "acc-5|E1"]
    );
}

#[tokio::test]
async fn billing_events_are_deduplicated_by_id() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let header = "billing_event_id,amount,currency,update_date";
    write_file(
        &bucket,
        "billingeventfeed_v1/year=2026/month=09/data.csv",
        &format!(
            "{header}\nbe-1,10.00,USD,2026-09-01T00:00:00Z\nbe-2,5.55,USD,2026-09-01T00:00:00Z\n"
        ),
    );
    // AWS re-delivers be-1 in the next month's file.
    write_file(
        &bucket,
        "billingeventfeed_v1/year=2026/month=10/data.csv",
        &format!("{header}\nbe-1,10.00,USD,2026-10-01T00:00:00Z\n"),
    );
    let warehouse = Warehouse::open(dir.path().join("wh").to_str().unwrap()).unwrap();
    let ctx = session_over(&bucket, &warehouse, &SessionOptions::default()).await;
    assert_eq!(
        rows(
            &ctx,
            "select count(*), sum(amount) from billingeventfeed_v1"
        )
        .await,
        vec!["3|25.5500000000"]
    );
    assert_eq!(
        rows(
            &ctx,
            "select count(*), sum(amount) from billing_event_current"
        )
        .await,
        vec!["2|15.5500000000"]
    );
    assert_eq!(
        rows(
            &ctx,
            "select billing_event_id, _source_key from billing_event_current order by 1"
        )
        .await,
        vec![
            "be-1|billingeventfeed_v1/year=2026/month=10/data.csv",
            "be-2|billingeventfeed_v1/year=2026/month=09/data.csv"
        ]
    );
}

#[tokio::test]
async fn every_earlier_sync_can_be_queried_again_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    let warehouse = Warehouse::open(dir.path().join("wh").to_str().unwrap()).unwrap();
    let queries = [
        CURRENT,
        "select count(*) from accountfeed_v1",
        "select sum(amount) from billingeventfeed_v1",
    ];
    let mut results = Vec::new();

    // Sync 1: accounts only. Sync 2: a new month with billing events. Sync 3: an append and a change.
    write_file(
        &bucket,
        "accountfeed_v1/year=2026/month=09/data.csv",
        &account_file(&[account("acc-1", "A1", "2026-09-01", "2026-09-01", false)]),
    );
    let ctx = session_over(&bucket, &warehouse, &SessionOptions::default()).await;
    results.push(run_all(&ctx, &queries).await);
    write_file(
        &bucket,
        "billingeventfeed_v1/year=2026/month=09/data.csv",
        "billing_event_id,amount\nbe-1,100.10\n",
    );
    write_file(
        &bucket,
        "accountfeed_v1/year=2026/month=10/data.csv",
        &account_file(&[account("acc-1", "A2", "2026-10-01", "2026-10-01", false)]),
    );
    let ctx = session_over(&bucket, &warehouse, &SessionOptions::default()).await;
    results.push(run_all(&ctx, &queries).await);
    write_file(
        &bucket,
        "billingeventfeed_v1/year=2026/month=09/data.csv",
        "billing_event_id,amount\nbe-1,100.10\nbe-2,-0.10\n",
    );
    write_file(
        &bucket,
        "accountfeed_v1/year=2026/month=10/data.csv",
        &account_file(&[
            account("acc-1", "A2", "2026-10-01", "2026-10-01", false),
            account("acc-2", "B1", "2026-10-02", "2026-10-02", false),
        ]),
    );
    let ctx = session_over(&bucket, &warehouse, &SessionOptions::default()).await;
    results.push(run_all(&ctx, &queries).await);
    assert_eq!(
        results[0],
        vec![
            vec!["acc-1|A1|2026-09-01T00:00:00Z".to_string()],
            vec!["1".into()],
            vec!["NULL".into()]
        ]
    );
    assert_eq!(results[2][2], vec!["100.0000000000".to_string()]);

    let history = sdds_warehouse::History::load(&warehouse, &Catalog::builtin())
        .await
        .unwrap();
    assert_eq!(history.syncs.len(), 3);
    assert_eq!(
        history.syncs[1]
            .tables
            .iter()
            .map(|t| (t.table.as_str(), t.version))
            .collect::<Vec<_>>(),
        vec![("accountfeed_v1", 1), ("billingeventfeed_v1", 0)]
    );
    for (n, expected) in results.iter().enumerate() {
        let options = SessionOptions {
            versions: Some(history.versions_after_sync(n + 1).unwrap()),
            ..Default::default()
        };
        let ctx = open_session(&warehouse, &Catalog::builtin(), &options)
            .await
            .unwrap();
        assert_eq!(&run_all(&ctx, &queries).await, expected, "sync {}", n + 1);
    }
    assert!(history.versions_after_sync(4).is_err());
}

async fn run_all(ctx: &SessionContext, queries: &[&str]) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for q in queries {
        out.push(rows(ctx, q).await);
    }
    out
}

/// The physical plan of `sql` as [`sdds_sql::execute_statement`] runs it.
async fn executed_plan(ctx: &SessionContext, sql: &str) -> String {
    let frame = sdds_sql::run_sql(ctx, sql).await.unwrap();
    let plan = frame.create_physical_plan().await.unwrap();
    let text = datafusion::physical_plan::displayable(plan.as_ref())
        .indent(true)
        .to_string();
    text
}

/// The physical plan of `sql` with each operator's metrics, once run to the end, and the rows
/// that run gave (as [`rows_as_run`] formats them).
async fn analyzed_plan(ctx: &SessionContext, sql: &str) -> (String, Vec<String>) {
    let frame = sdds_sql::run_sql(ctx, sql).await.unwrap();
    let task = Arc::new(frame.task_ctx());
    let plan = frame.create_physical_plan().await.unwrap();
    let batches = datafusion::physical_plan::collect(plan.clone(), task)
        .await
        .unwrap();
    let text =
        datafusion::physical_plan::display::DisplayableExecutionPlan::with_metrics(plan.as_ref())
            .indent(true)
            .to_string();
    (text, sdds_testkit::format_rows(&batches))
}

/// The rows a plan line's operator gave, from its `output_rows` metric.
fn output_rows(line: &str) -> usize {
    let at = line
        .find("output_rows=")
        .unwrap_or_else(|| panic!("{line}"))
        + 12;
    let digits: String = line[at..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().unwrap_or_else(|_| panic!("{line}"))
}

/// AWS's archived revenue-recognition queries decide a `CASE` branch with `x IN (SELECT ...)`,
/// which DataFusion plans only in a filter.
#[tokio::test]
async fn a_case_branch_decided_by_an_in_subquery_runs() {
    let (_dir, ctx) = synced_sample().await;
    let sql = "WITH buyer_targeted AS (SELECT DISTINCT offer_id FROM offertargetfeed_v1 \
                   WHERE target_type = 'BuyerAccounts') \
               SELECT offer_id, \
                   CASE WHEN offer_id IN (SELECT offer_id FROM buyer_targeted) \
                             AND name LIKE '%extended%' THEN 'private, extended' \
                        WHEN (offer_id IN (SELECT offer_id FROM buyer_targeted)) THEN 'private' \
                        ELSE 'public or program' END AS target \
               FROM offerfeed_v1 ORDER BY offer_id, target";
    assert_eq!(
        rows_as_run(&ctx, sql).await,
        [
            "offer-acmeprv2r8m4|private",
            "offer-bhcppo3t6w1y|private",
            "offer-emeaec4k9p2d|public or program",
            "offer-nwpub1a7kq3zx|public or program",
            "offer-nwpub1a7kq3zx|public or program",
            "offer-takausg5j3n8|private",
            "offer-takausg5j3n8|private, extended",
        ]
    );
}

#[tokio::test]
async fn a_cte_used_twice_is_computed_once_and_gives_the_inlined_answer() {
    let (_dir, ctx) = synced_sample().await;
    // `per_broker` aggregates and is read twice; `invoiced` is a filtered scan (cheap to
    // repeat) read twice; `once` is read once.
    let sql = "WITH per_broker AS (SELECT broker_id, sum(amount) AS total, count(*) AS n \
                 FROM billingeventfeed_v1 GROUP BY broker_id), \
               invoiced AS (SELECT * FROM billingeventfeed_v1 WHERE action = 'INVOICED'), \
               once AS (SELECT max(total) AS biggest FROM per_broker) \
               SELECT a.broker_id, a.total, b.n, (SELECT count(*) FROM invoiced) AS invoiced, \
                      (SELECT count(*) FROM invoiced i WHERE i.broker_id = 'AWS_EUROPE') AS eu, \
                      (SELECT biggest FROM once) AS biggest \
               FROM per_broker a JOIN per_broker b ON a.broker_id IS NOT DISTINCT FROM b.broker_id \
               ORDER BY a.total";
    let plan = executed_plan(&ctx, sql).await;
    assert_eq!(plan.matches("StoredExec: per_broker").count(), 3, "{plan}");
    assert!(!plan.contains("StoredExec: invoiced"), "{plan}");
    assert!(!plan.contains("StoredExec: once"), "{plan}");
    let stored = rows_as_run(&ctx, sql).await;
    let inlined = rows(&ctx, sql).await;
    assert_eq!(stored, inlined);
    // sample-feeds/README.md, E2: the four broker groups; 38 INVOICED rows, 9 of them EUR
    // (three monthly invoices of three rows).
    assert_eq!(
        stored,
        vec![
            "|25.0000000000|1|38|9|24927.3000000000",
            "NULL|557.9000000000|12|38|9|24927.3000000000",
            "AWS_EUROPE|3153.0000000000|21|38|9|24927.3000000000",
            "AWS_INC|24927.3000000000|37|38|9|24927.3000000000",
        ]
    );
}

#[tokio::test]
async fn a_stored_cte_keeps_only_the_columns_its_readers_read() {
    let (_dir, ctx) = synced_sample().await;
    // Both CTEs are stored (a window each, read twice). Of `versions` (every column of the
    // feed and `version`) the body reads `action` (in a filter) and `amount`, and `latest`
    // reads `broker_id`, `amount` and `version` (in a filter): `billing_event_id` and
    // `currency` go with the `latest` columns nothing reads.
    let sql = "WITH versions AS (SELECT *, row_number() OVER (PARTITION BY billing_event_id \
                 ORDER BY update_date DESC) AS version FROM billingeventfeed_v1), \
               latest AS (SELECT billing_event_id, broker_id, amount, currency, \
                 count(*) OVER (PARTITION BY broker_id) AS in_group FROM versions WHERE version = 1) \
               SELECT broker_id, sum(amount) AS total, max(in_group) AS n FROM latest GROUP BY broker_id \
               UNION ALL SELECT 'all', sum(amount), count(*) FROM latest \
               UNION ALL SELECT 'invoiced', sum(amount), count(*) FROM versions WHERE action = 'INVOICED' \
               ORDER BY 1 NULLS FIRST";
    let plan = executed_plan(&ctx, sql).await;
    let stored = |name: &str| {
        plan.lines()
            .find(|l| l.contains(&format!("StoredExec: {name},")))
            .unwrap_or_else(|| panic!("{plan}"))
            .to_owned()
    };
    assert!(stored("versions").contains("columns=4,"), "{plan}");
    assert!(stored("latest").contains("columns=3,"), "{plan}");
    let rows_stored = rows_as_run(&ctx, sql).await;
    assert_eq!(rows_stored, rows(&ctx, sql).await);
    // sample-feeds/README.md, E2: the four broker groups, 71 events in one version each; the
    // 38 INVOICED rows sum to the 71's total less the FORGIVEN 97.00 (disbursements net to 0).
    assert_eq!(
        rows_stored,
        vec![
            "NULL|557.9000000000|12",
            "|25.0000000000|1",
            "AWS_EUROPE|3153.0000000000|21",
            "AWS_INC|24927.3000000000|37",
            "all|28663.2000000000|71",
            "invoiced|28760.2000000000|38",
        ]
    );
}

/// A stored CTE whose rows were hashed on a key (here by its window's PARTITION BY) keeps them
/// where they are: grouping on that key reads its partitions without hashing them again.
#[tokio::test]
async fn a_stored_cte_hashed_on_a_key_is_grouped_on_it_where_it_lies() {
    let (_dir, ctx) = synced_sample().await;
    ctx.sql("SET datafusion.execution.target_partitions = 2")
        .await
        .unwrap();
    let sql = "WITH versions AS (SELECT billing_event_id, amount, row_number() OVER \
                 (PARTITION BY billing_event_id ORDER BY update_date DESC) AS version \
                 FROM billingeventfeed_v1) \
               SELECT billing_event_id, count(*) AS n, sum(amount) AS total FROM versions \
               WHERE version = 1 GROUP BY billing_event_id \
               UNION ALL SELECT 'all', count(*), sum(amount) FROM versions ORDER BY 1";
    let plan = executed_plan(&ctx, sql).await;
    assert!(plan.contains("StoredExec: versions"), "{plan}");
    assert!(!plan.contains("RepartitionExec"), "{plan}");
    let stored = rows_as_run(&ctx, sql).await;
    assert_eq!(stored, rows(&ctx, sql).await);
    // sample-feeds/README.md, E2: 71 billing events, each once in the latest version, and
    // 71 rows summing to the four broker groups' 25.00 + 3153.00 + 24927.30 + 557.90.
    assert_eq!(stored.len(), 72);
    assert!(
        stored.contains(&"all|71|28663.2000000000".to_string()),
        "{stored:?}"
    );
    assert!(stored
        .iter()
        .filter(|r| !r.starts_with("all|"))
        .all(|r| r.contains("|1|")));
}

#[tokio::test]
async fn a_join_prunes_the_stored_cte_it_probes_with_its_build_side_keys() {
    let (_dir, ctx) = synced_sample().await;
    // `per_event` is stored (it aggregates and is read twice); the LEFT JOIN probes it, so the
    // join's dynamic filter (the DISBURSED events' ids) reaches the stored rows as they are read.
    let sql = "WITH per_event AS (SELECT billing_event_id, count(*) AS n, sum(amount) AS total \
                 FROM billingeventfeed_v1 GROUP BY billing_event_id) \
               SELECT a.action, count(p.billing_event_id) AS matched, sum(p.total) AS total, \
                      (SELECT count(*) FROM per_event) AS events \
               FROM billingeventfeed_v1 a LEFT JOIN per_event p ON a.billing_event_id = p.billing_event_id \
               WHERE a.action = 'DISBURSED' GROUP BY a.action";
    let (plan, stored) = analyzed_plan(&ctx, sql).await;
    let probed = plan
        .lines()
        .find(|l| l.contains("StoredExec: per_event") && l.contains("pushed="))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(probed.contains("DynamicFilter"), "{probed}");
    // Only the 31 DISBURSED events' rows are read of the 71 stored.
    assert_eq!(output_rows(probed), 31, "{plan}");
    assert_eq!(stored, rows(&ctx, sql).await);
    // sample-feeds/README.md, E2: 71 events, each its own id; 31 of them DISBURSED, and each
    // disbursement block (the failed one too) nets to 0.
    assert_eq!(stored, vec!["DISBURSED|31|0.0000000000|71".to_string()]);
}

#[tokio::test]
async fn a_cte_that_groups_a_fanning_join_and_is_only_looked_up_is_pruned_per_lookup() {
    let (_dir, ctx) = synced_sample().await;
    // As in AWS's disbursement SQL: `pairs` removes the duplicates of a join on a key many rows
    // share (every event without a parent matches every other one), and is read only through
    // LEFT JOINs. It is not stored whole: each lookup builds on the disbursed line items and
    // probes `pairs`, whose input (the stored `be`) is pruned to those line items' keys. The
    // CROSS JOIN makes the line items look bigger than `pairs` to DataFusion's estimates, which
    // would then build on `pairs`, as at scale.
    let sql = "WITH be AS (SELECT billing_event_id, coalesce(parent_billing_event_id, '') AS parent, \
                   invoice_id, disbursement_billing_event_id, action, transaction_type, \
                   row_number() OVER (PARTITION BY billing_event_id ORDER BY valid_from DESC) AS rn \
                 FROM billingeventfeed_v1), \
               line AS (SELECT d.billing_event_id, d.invoice_id FROM be d \
                 JOIN be x ON x.billing_event_id = d.disbursement_billing_event_id \
                 WHERE d.action = 'DISBURSED' AND x.transaction_type = 'DISBURSEMENT'), \
               pairs AS (SELECT DISTINCT a.billing_event_id, a.invoice_id, b.invoice_id AS other \
                 FROM be a LEFT JOIN be b ON a.parent = b.parent) \
               SELECT count(*) AS lines, count(p1.other) AS by_id, count(DISTINCT p2.other) AS others \
               FROM line l CROSS JOIN (VALUES (1), (2), (3), (4), (5), (6), (7), (8)) AS copies(n) \
               LEFT JOIN pairs p1 ON l.billing_event_id = p1.billing_event_id AND p1.other IS NOT NULL \
               LEFT JOIN pairs p2 ON l.invoice_id = p2.invoice_id AND l.billing_event_id = p2.billing_event_id";
    let (plan, stored) = analyzed_plan(&ctx, sql).await;
    assert!(!plan.contains("StoredExec: pairs"), "{plan}");
    let pruned: Vec<usize> = plan
        .lines()
        .filter(|l| l.contains("StoredExec: be") && l.contains("pushed=DynamicFilter"))
        .map(output_rows)
        .collect();
    assert!(!pruned.is_empty(), "{plan}");
    assert!(pruned.iter().all(|&rows| rows <= 31), "{plan}");
    assert_eq!(stored, rows(&ctx, sql).await);
}

#[tokio::test]
async fn a_lookup_of_300_000_rows_is_built_once_for_all_partitions() {
    let (_dir, ctx) = empty_session(&SessionOptions::default()).await;
    ctx.sql("SET datafusion.execution.target_partitions = 4")
        .await
        .unwrap();
    // `lookup` is stored (read twice), so its 300 000 rows are known exactly: past DataFusion's
    // 131 072-row default, the join would repartition its probe side instead.
    let sql = "WITH lookup AS (SELECT value AS k, value % 7 AS g FROM generate_series(1, 300000) ORDER BY value) \
               SELECT count(*), sum(l.g), (SELECT count(*) FROM lookup) \
               FROM generate_series(1, 600000) f JOIN lookup l ON f.value = l.k";
    let plan = executed_plan(&ctx, sql).await;
    let join = plan
        .lines()
        .find(|l| l.contains("HashJoinExec"))
        .unwrap_or_else(|| panic!("{plan}"));
    assert!(join.contains("mode=CollectLeft"), "{plan}");
    // 42 857 whole cycles of 1..6, 0 (21 each) up to 299 999, then 300 000 % 7 = 1.
    assert_eq!(rows_as_run(&ctx, sql).await, vec!["300000|899998|300000"]);
}

#[tokio::test]
async fn a_lookup_whose_preserved_side_outgrows_memory_builds_on_the_reduced_other_side() {
    let spill = tempfile::tempdir().unwrap();
    let (_dir, ctx) = limited_session(16 << 20, Some(spill.path())).await;
    // The join order as written, as DataFusion leaves it when it cannot size the lookup.
    ctx.sql("SET datafusion.optimizer.join_reordering = false")
        .await
        .unwrap();
    // `t` is stored (read twice): 300 000 rows of about 60 bytes, past the 16 MiB pool, so a
    // hash join cannot hold them. Its lookup `g` groups a join (ids 1..500 with themselves).
    let sql = "WITH t AS (SELECT value AS id, value % 1000 AS grp, concat(repeat('x', 40), CAST(value AS VARCHAR)) AS payload FROM generate_series(1, 300000) ORDER BY value) \
               SELECT count(*), count(g.c), sum(g.c), sum(length(t.payload)) \
               FROM t LEFT JOIN (SELECT a.grp, count(*) AS c FROM t a JOIN t b ON a.id = b.id WHERE a.id <= 500 GROUP BY a.grp) g \
               ON t.grp = g.grp";
    let plan = executed_plan(&ctx, sql).await;
    assert!(plan.contains("join_type=RightSemi"), "{plan}");
    // Groups 1..500 hold 300 rows each, every one matching a group of one row. Payloads are
    // 40 characters and the id's digits: 9 * 41 + 90 * 42 + 900 * 43 + 9000 * 44 + 90000 * 45
    // + 200001 * 46.
    assert_eq!(
        rows_as_run(&ctx, sql).await,
        vec!["300000|150000|150000|13688895"]
    );
}

/// A session limited to 64 MiB with one partition: what is checked is the batch size and the
/// spill, not how two partitions' aggregates share a pool this close to the data's size (which,
/// by timing, can leave one unable to start merging its runs: the known limit in the README's
/// Memory section).
async fn one_partition_in_64_mib(spill: &std::path::Path) -> (tempfile::TempDir, SessionContext) {
    let (dir, ctx) = limited_session(64 << 20, Some(spill)).await;
    ctx.sql("SET datafusion.execution.target_partitions = 1")
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    (dir, ctx)
}

/// 150 000 rows, the keys 0..74999 each twice, of 30 distinct strings of 8 characters besides
/// the key (column `ci` pads the key with `i`; about 60 MB): a session batch of them would be
/// some 5 MB.
fn wide_rows() -> String {
    let columns: Vec<String> = (1..=30)
        .map(|i| format!("lpad(CAST(k AS VARCHAR), 8, '{i}') AS c{i}"))
        .collect();
    format!(
        "SELECT k, {} FROM (SELECT value % 75000 AS k FROM generate_series(1, 150000))",
        columns.join(", ")
    )
}

/// The rows per batch of the `BatchSizeExec` right above the first operator named `operator`
/// in `plan`, and that operator's line.
fn bounded_batch_rows<'a>(plan: &'a str, operator: &str) -> (usize, &'a str) {
    let lines: Vec<&str> = plan.lines().map(str::trim_start).collect();
    let bounded = lines
        .windows(2)
        .find(|pair| pair[0].starts_with("BatchSizeExec") && pair[1].starts_with(operator))
        .unwrap_or_else(|| panic!("{plan}"));
    let rows = bounded[0]
        .trim_start_matches("BatchSizeExec: rows=")
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{plan}"));
    (rows, bounded[1])
}

#[tokio::test]
async fn a_grouping_of_wide_rows_runs_in_smaller_batches_than_its_input() {
    let spill = tempfile::tempdir().unwrap();
    let (_dir, ctx) = one_partition_in_64_mib(spill.path()).await;
    let sql = format!(
        "SELECT count(*), sum(k) FROM (SELECT DISTINCT * FROM ({}))",
        wide_rows()
    );
    let (plan, grouped) = analyzed_plan(&ctx, &sql).await;
    let (rows, aggregate) = bounded_batch_rows(&plan, "AggregateExec");
    assert!(rows < 8192, "{plan}");
    assert!(!aggregate.contains("spill_count=0"), "{plan}");
    // The keys 0..74999, each once: 74999 * 75000 / 2.
    assert_eq!(grouped, vec!["75000|2812462500"]);
}

#[tokio::test]
async fn a_sort_of_wide_rows_spills_in_smaller_batches_than_its_input() {
    let spill = tempfile::tempdir().unwrap();
    let (_dir, ctx) = one_partition_in_64_mib(spill.path()).await;
    let sql = format!("SELECT * FROM ({}) ORDER BY k DESC, c1", wide_rows());
    let (plan, sorted) = analyzed_plan(&ctx, &sql).await;
    let (rows, sort) = bounded_batch_rows(&plan, "SortExec");
    assert!(rows < 8192, "{plan}");
    assert!(!sort.contains("spill_count=0"), "{plan}");
    // Every key from 74999 down to 0, twice, each row whole.
    assert_eq!(sorted.len(), 150_000);
    for (i, row) in sorted.iter().enumerate() {
        let k = 74_999 - i / 2;
        let fields: Vec<&str> = row.split('|').collect();
        assert_eq!(fields.len(), 31, "{row}");
        assert_eq!(fields[0], k.to_string(), "row {i}");
        assert_eq!(fields[1], format!("{k:1>8}"), "row {i}");
        assert_eq!(fields[9], format!("{k:9>8}"), "row {i}");
    }
}

#[tokio::test]
async fn stored_rows_beyond_the_memory_share_spill_to_disk_and_read_back_whole() {
    let spill = tempfile::tempdir().unwrap();
    let (_dir, ctx) = limited_session(16 << 20, Some(spill.path())).await;
    // 400 000 sorted rows (about 6 MB) are stored; a quarter of the 16 MiB pool holds 4 MiB.
    let sql = "WITH t AS (SELECT value AS v, value * 3 AS w FROM generate_series(1, 400000) ORDER BY value DESC) \
               SELECT (SELECT count(*) FROM t), (SELECT sum(w) FROM t), (SELECT max(v) - min(v) FROM t)";
    let plan = executed_plan(&ctx, sql).await;
    let spilled = plan
        .lines()
        .find(|l| l.contains("StoredExec: t"))
        .unwrap_or_else(|| panic!("{plan}"))
        .to_string();
    assert!(!spilled.contains("spilled_partitions=0"), "{spilled}");
    // sum(3v) for v = 1..400000 = 3 * 400000 * 400001 / 2.
    assert_eq!(
        rows_as_run(&ctx, sql).await,
        vec!["400000|240000600000|399999"]
    );
}

#[tokio::test]
async fn a_query_beyond_the_memory_limit_fails_with_a_clear_error() {
    let (_dir, ctx) = limited_session(1 << 20, None).await;
    // A hash join's build side cannot spill: 2 million rows do not fit in 1 MiB.
    let sql = "SELECT count(*) FROM generate_series(1, 2000000) a JOIN generate_series(1, 2000000) b ON a.value = b.value";
    let error = match sdds_sql::run_sql(&ctx, sql).await {
        Ok(frame) => frame.collect().await.unwrap_err().to_string(),
        Err(e) => e.to_string(),
    };
    assert!(error.contains("Resources exhausted"), "{error}");
}
