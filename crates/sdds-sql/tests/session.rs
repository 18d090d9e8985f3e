//! SQL over the sample bucket synced into real Delta tables, checked against sample-feeds/README.md.

use std::path::PathBuf;
use std::sync::Arc;

use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::SessionContext;
use sdds_feeds::Catalog;
use sdds_source::LocalSource;
use sdds_sql::{open_session, SessionOptions};
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

async fn rows(ctx: &SessionContext, sql: &str) -> Vec<String> {
    let batches = ctx.sql(sql).await.unwrap().collect().await.unwrap();
    let options = FormatOptions::default().with_null("NULL");
    let mut out = Vec::new();
    for batch in batches {
        let formatters: Vec<_> = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
            .collect();
        for row in 0..batch.num_rows() {
            out.push(
                formatters
                    .iter()
                    .map(|f| f.value(row).to_string())
                    .collect::<Vec<_>>()
                    .join("|"),
            );
        }
    }
    out
}

#[tokio::test]
async fn billing_totals_are_exact_to_the_cent() {
    let (_dir, ctx) = synced_sample().await;
    // sample-feeds/README.md, E2.
    assert_eq!(
        rows(&ctx, "select broker_id, count(*), sum(amount) from billingeventfeed_v1 group by 1 order by 1 nulls last").await,
        vec!["AWS_EUROPE|15|3153.0000000000", "AWS_INC|37|24927.3000000000", "NULL|13|582.9000000000"]
    );
    assert_eq!(
        rows(&ctx, "select currency, sum(amount) from billingeventfeed_v1 where transaction_type = 'DISBURSEMENT' group by 1 order by 1").await,
        vec!["EUR|1940.0000000000", "USD|23112.0000000000"]
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
        vec!["DISBURSED|25", "FORGIVEN|2", "INVOICED|38"]
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
            "billing|65",
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
    let tables = rows(&ctx, "select table_name from information_schema.tables where table_schema = 'default' order by 1").await;
    let expected: Vec<String> = Catalog::builtin()
        .feeds()
        .iter()
        .map(|f| f.name.clone())
        .collect();
    assert_eq!(tables, expected);
    assert_eq!(
        rows(&ctx, "show tables").await.len(),
        tables.len()
            + rows(
                &ctx,
                "select * from information_schema.tables where table_schema <> 'default'"
            )
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
    let dir = tempfile::tempdir().unwrap();
    let warehouse = Warehouse::open(dir.path().to_str().unwrap()).unwrap();
    let ctx = open_session(&warehouse, &Catalog::builtin(), &SessionOptions::default())
        .await
        .unwrap();
    assert_eq!(
        rows(
            &ctx,
            "select count(*), sum(amount) from billingeventfeed_v1"
        )
        .await,
        vec!["0|NULL"]
    );
}
