//! Decoding real CSV text into typed Arrow batches.

use arrow::array::{Array, AsArray};
use arrow::compute::concat_batches;
use arrow::datatypes::{Decimal128Type, Int64Type, TimestampMicrosecondType};
use arrow::record_batch::RecordBatch;
use sdds_feeds::{
    decode, Catalog, DecodeJob, DecodeSummary, Decoded, FeedError, Lineage, RowError,
};

fn lineage() -> Lineage {
    Lineage {
        source_key: "feed/year=2026/month=09/data.csv".into(),
        sync_id: "s1".into(),
        ingested_at_micros: 0,
    }
}

/// Decodes `csv` for `feed`, returning the rows as one batch, the rejected rows and the summary.
fn run(
    feed: &str,
    csv: impl AsRef<[u8]>,
    batch_rows: usize,
) -> (RecordBatch, Vec<RowError>, DecodeSummary) {
    let catalog = Catalog::builtin();
    let feed = catalog.feed(feed).unwrap();
    let job = DecodeJob {
        feed,
        target: feed.table_schema(),
        lineage: lineage(),
        header: None,
        first_line: 1,
        batch_rows,
    };
    run_job(job, csv)
}

/// Runs a decode job over `csv`, returning the rows as one batch, the rejected rows and the summary.
fn run_job(
    job: DecodeJob<'_>,
    csv: impl AsRef<[u8]>,
) -> (RecordBatch, Vec<RowError>, DecodeSummary) {
    let feed = job.feed;
    let mut batches = Vec::new();
    let mut rejected = Vec::new();
    let summary = decode(csv.as_ref(), job, |item| {
        match item {
            Decoded::Batch(b) => batches.push(b),
            Decoded::Rejected(r) => rejected.push(r),
        }
        Ok::<_, FeedError>(())
    })
    .unwrap();
    let schema = batches
        .first()
        .map(|b| b.schema())
        .unwrap_or_else(|| feed.table_schema());
    (
        concat_batches(&schema, &batches).unwrap(),
        rejected,
        summary,
    )
}

fn text(batch: &RecordBatch, column: &str, row: usize) -> Option<String> {
    let array = batch.column_by_name(column).unwrap().as_string::<i32>();
    array.is_valid(row).then(|| array.value(row).to_string())
}

fn micros(batch: &RecordBatch, column: &str, row: usize) -> Option<i64> {
    let array = batch
        .column_by_name(column)
        .unwrap()
        .as_primitive::<TimestampMicrosecondType>();
    array.is_valid(row).then(|| array.value(row))
}

const BILLING_HEADER: &str = "billing_event_id,from_account_id,to_account_id,end_user_account_id,product_id,action,transaction_type,amount,currency,balance_impacting,invoice_date,broker_id";

#[test]
fn money_sums_to_the_cent_without_floating_point() {
    // 0.1 + 0.2 is the classic float trap; -7.35 and 20.6 are AWS's own examples.
    let csv = format!(
        "{BILLING_HEADER}\n\
         be1,buyer,seller,buyer,prod-1,INVOICED,SELLER_REV_SHARE,0.1,USD,1,2026-09-01T00:00:00Z,AWS_INC\n\
         be2,buyer,seller,buyer,prod-1,INVOICED,SELLER_REV_SHARE,0.2,USD,1,2026-09-01T00:00:00Z,AWS_INC\n\
         be3,seller,AWS,buyer,prod-1,INVOICED,AWS_REV_SHARE,-7.35,USD,1,2026-09-01T00:00:00Z,AWS_INC\n\
         be4,buyer,AWS,buyer,prod-1,INVOICED,AWS_TAX_SHARE,20.6,USD,0,2026-09-01T00:00:00Z,\n\
         be5,buyer,seller,buyer,prod-1,INVOICED,SELLER_REV_SHARE,1234567.891234,USD,1,2026-09-01T00:00:00Z,AWS_EUROPE\n"
    );
    let (batch, rejected, summary) = run("billingeventfeed_v1", &csv, 2);
    assert!(rejected.is_empty());
    assert_eq!(summary.rows, 5);
    let amounts = batch
        .column_by_name("amount")
        .unwrap()
        .as_primitive::<Decimal128Type>();
    assert_eq!(
        amounts.data_type(),
        &arrow::datatypes::DataType::Decimal128(38, 10)
    );
    let total: i128 = amounts.iter().map(|v| v.unwrap()).sum();
    // 0.1 + 0.2 - 7.35 + 20.6 + 1234567.891234 = 1234581.441234
    assert_eq!(total, 12_345_814_412_340_000);
    assert_eq!(amounts.value_as_string(2), "-7.3500000000");
    let impacting = batch
        .column_by_name("balance_impacting")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(
        impacting.iter().map(|v| v.unwrap()).collect::<Vec<_>>(),
        vec![1, 1, 1, 0, 1]
    );
    assert_eq!(
        text(&batch, "broker_id", 3).as_deref(),
        Some(""),
        "an empty text field is '', as Athena reads it"
    );
    assert_eq!(text(&batch, "broker_id", 4).as_deref(), Some("AWS_EUROPE"));
}

#[test]
fn timestamps_keep_fractional_seconds_and_accept_offsets() {
    let csv = format!(
        "{BILLING_HEADER}\n\
         be1,a,b,c,p,INVOICED,SELLER_REV_SHARE,1,USD,1,2026-09-15T10:20:30.743Z,\n\
         be2,a,b,c,p,INVOICED,SELLER_REV_SHARE,1,USD,1,2026-10-10T00:00:00+00:00,\n\
         be3,a,b,c,p,INVOICED,SELLER_REV_SHARE,1,USD,1,,\n"
    );
    let (batch, rejected, _) = run("billingeventfeed_v1", &csv, 100);
    assert!(rejected.is_empty());
    // 2026-09-15T10:20:30Z is 1789467630 seconds after the epoch.
    assert_eq!(
        micros(&batch, "invoice_date", 0),
        Some(1_789_467_630_743_000)
    );
    assert_eq!(
        micros(&batch, "invoice_date", 1),
        Some(1_791_590_400_000_000)
    );
    assert_eq!(micros(&batch, "invoice_date", 2), None);
    let field = batch
        .schema()
        .field_with_name("invoice_date")
        .unwrap()
        .clone();
    assert_eq!(field.data_type().to_string(), "Timestamp(µs, \"UTC\")");
}

#[test]
fn quoted_fields_with_commas_quotes_newlines_and_non_ascii() {
    let csv = "address_id,aws_account_id,company_name,city,address_line_1,valid_from\n\
               adr-1,000123456789,\"Müller & Söhne GmbH, Zürich\",Zürich,\"Bahnhofstrasse 42\nEingang B, 3. Stock\",2026-09-01T00:00:00Z\n\
               adr-2,123456789,\"Say \"\"hi\"\"\",東京,plain,2026-09-01T00:00:00Z\n";
    let (batch, rejected, summary) = run("addressfeed_v1", csv, 100);
    assert!(rejected.is_empty());
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(
        text(&batch, "company_name", 0).as_deref(),
        Some("Müller & Söhne GmbH, Zürich")
    );
    assert_eq!(
        text(&batch, "address_line_1", 0).as_deref(),
        Some("Bahnhofstrasse 42\nEingang B, 3. Stock")
    );
    assert_eq!(
        text(&batch, "company_name", 1).as_deref(),
        Some("Say \"hi\"")
    );
    assert_eq!(text(&batch, "city", 1).as_deref(), Some("東京"));
    // Account numbers stay 12-digit strings; one stripped by a spreadsheet is re-padded.
    assert_eq!(
        text(&batch, "aws_account_id", 0).as_deref(),
        Some("000123456789")
    );
    assert_eq!(
        text(&batch, "aws_account_id", 1).as_deref(),
        Some("000123456789")
    );
    // Lineage: the multi-line record starts on line 2, the next on line 4.
    let lines = batch
        .column_by_name("_source_line")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(lines.values().to_vec(), vec![2, 4]);
    assert_eq!(
        text(&batch, "_source_key", 1).as_deref(),
        Some("feed/year=2026/month=09/data.csv")
    );
    assert_eq!(summary.lines, 4);
}

#[test]
fn header_maps_by_name_keeps_unknown_columns_and_nulls_missing_ones() {
    // Reordered, an alias (tax_jurisdication_rate), an unknown column, and most columns missing.
    let csv = "tax_amount,x_new_column,tax_item_id,tax_jurisdication_rate,invoice_date\n\
               1.25,hello,ti-1,0.0625,2026-09-01T00:00:00Z\n";
    let catalog = Catalog::builtin();
    let feed = catalog.feed("taxitemfeed_v1").unwrap();
    assert_eq!(
        sdds_feeds::unknown_headers(feed, &["tax_item_id".into(), "x_new_column".into()]),
        vec!["x_new_column"]
    );
    let job = DecodeJob {
        feed,
        target: feed.table_schema(),
        lineage: lineage(),
        header: None,
        first_line: 1,
        batch_rows: 10,
    };
    let (batch, _, _) = run_job(job, csv);
    let batch = &batch;
    assert_eq!(text(batch, "tax_item_id", 0).as_deref(), Some("ti-1"));
    assert_eq!(text(batch, "x_new_column", 0).as_deref(), Some("hello"));
    let rate = batch
        .column_by_name("tax_jurisdiction_rate")
        .unwrap()
        .as_primitive::<Decimal128Type>();
    assert_eq!(rate.value(0), 625_000_000);
    let amount = batch
        .column_by_name("tax_amount")
        .unwrap()
        .as_primitive::<Decimal128Type>();
    assert_eq!(amount.value(0), 12_500_000_000);
    assert_eq!(text(batch, "customer_bill_id", 0), None);
}

#[test]
fn header_only_file_is_valid_and_empty() {
    let (batch, rejected, summary) = run(
        "productfeed_v1",
        "product_id,manufacturer_account_id,product_code,title\n",
        10,
    );
    assert_eq!(batch.num_rows(), 0);
    assert!(rejected.is_empty());
    assert_eq!(summary.header.unwrap().len(), 4);
    assert_eq!(summary.lines, 1);
}

#[test]
fn bad_rows_are_rejected_with_their_line_and_reason() {
    let csv = format!(
        "{BILLING_HEADER}\n\
         be1,a,b,c,p,INVOICED,SELLER_REV_SHARE,1,USD,1,2026-09-01T00:00:00Z,\n\
         be2,a,b,c,p,INVOICED,SELLER_REV_SHARE,1,USD,1\n\
         be3,a,b,c,p,INVOICED,SELLER_REV_SHARE,1,USD,1,31/12/2026,\n\
         be4,a,b,c,p,INVOICED,SELLER_REV_SHARE,12.5.1,USD,1,2026-09-01T00:00:00Z,\n\
         be5,a,b,c,p,INVOICED,SELLER_REV_SHARE,2,USD,1,2026-09-01T00:00:00Z,\n"
    );
    let (batch, rejected, summary) = run("billingeventfeed_v1", &csv, 10);
    assert_eq!(
        batch.num_rows(),
        2,
        "good rows on both sides of the bad ones are kept"
    );
    assert_eq!((summary.rows, summary.rejected), (2, 3));
    let reasons: Vec<(u64, String)> = rejected.iter().map(|r| (r.line, r.to_string())).collect();
    assert_eq!(
        reasons[0],
        (
            3,
            "expected 12 fields as in the header, found 10".to_string()
        )
    );
    assert_eq!(reasons[1].0, 4);
    assert!(
        reasons[1]
            .1
            .starts_with("column invoice_date: invalid timestamp \"31/12/2026\""),
        "{}",
        reasons[1].1
    );
    assert_eq!(
        reasons[2],
        (5, "column amount: invalid decimal \"12.5.1\"".to_string())
    );
    assert_eq!(rejected[2].column.as_deref(), Some("amount"));
    assert_eq!(rejected[0].column, None);
    assert_eq!(
        rejected[0].raw,
        "be2,a,b,c,p,INVOICED,SELLER_REV_SHARE,1,USD,1"
    );
    let error = FeedError::Row {
        key: "billingeventfeed_v1/year=2026/month=09/data.csv".into(),
        row: rejected[0].clone(),
    };
    assert_eq!(
        error.to_string(),
        "billingeventfeed_v1/year=2026/month=09/data.csv:3: expected 12 fields as in the header, found 10"
    );
}

#[test]
fn a_row_that_is_not_utf8_is_rejected_and_the_rows_around_it_kept() {
    let mut csv = format!("{BILLING_HEADER}\n").into_bytes();
    csv.extend_from_slice(
        b"be1,a,b,c,p,INVOICED,SELLER_REV_SHARE,1.25,USD,1,2026-09-01T00:00:00Z,\n",
    );
    csv.extend_from_slice(
        b"be2,a,b,c,p\xff\xfe,INVOICED,SELLER_REV_SHARE,1,USD,1,2026-09-01T00:00:00Z,\n",
    );
    csv.extend_from_slice(
        b"be3,a,b,c,p,INVOICED,SELLER_REV_SHARE,2.50,USD,1,2026-09-01T00:00:00Z,\n",
    );
    let (batch, rejected, _) = run("billingeventfeed_v1", &csv, 10);
    assert_eq!(batch.num_rows(), 2);
    assert_eq!(rejected.len(), 1);
    assert_eq!(rejected[0].line, 3);
    assert_eq!(rejected[0].column.as_deref(), Some("product_id"));
    assert!(
        rejected[0].reason == "not valid UTF-8 from byte 2",
        "{}",
        rejected[0].reason
    );
    assert!(
        rejected[0].raw.starts_with("be2,a,b,c,p\u{fffd}"),
        "{}",
        rejected[0].raw
    );
}

#[test]
fn an_appended_range_decodes_with_the_stored_header_and_line_numbers() {
    let catalog = Catalog::builtin();
    let feed = catalog.feed("productfeed_v1").unwrap();
    let header = vec!["product_id".to_string(), "title".to_string()];
    let job = DecodeJob {
        feed,
        target: feed.table_schema(),
        lineage: lineage(),
        header: Some(header),
        first_line: 41,
        batch_rows: 10,
    };
    let (batch, _, summary) = run_job(job, "prod-9,Nine\nprod-10,Ten\n");
    let batch = &batch;
    assert_eq!(text(batch, "title", 1).as_deref(), Some("Ten"));
    let lines = batch
        .column_by_name("_source_line")
        .unwrap()
        .as_primitive::<Int64Type>();
    assert_eq!(lines.values().to_vec(), vec![41, 42]);
    assert_eq!(summary.lines, 2);
}

/// Properties of the decoder over generated input.
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// One billing event as the CSV states it: an id of any text not blank, an amount in cents, and an
    /// instant in whole microseconds.
    #[derive(Debug, Clone)]
    struct Event {
        id: String,
        cents: i64,
        micros: i64,
    }

    fn event() -> impl Strategy<Value = Event> {
        (
            // A key: never blank.
            "[a-zA-Z0-9é€][a-zA-Z0-9 ,;\"\\n\\r\\t'éü€-]{0,15}",
            -10_000_000_000i64..10_000_000_000,
            // 1990 to 2100.
            631_152_000_000_000i64..4_102_444_800_000_000,
        )
            .prop_map(|(id, cents, micros)| Event { id, cents, micros })
    }

    /// The events as CSV records (header first), each record's bytes apart.
    fn records(events: &[Event]) -> Vec<Vec<u8>> {
        let line = |fields: [String; 3]| {
            let mut writer = csv::WriterBuilder::new().from_writer(vec![]);
            writer.write_record(fields).unwrap();
            writer.into_inner().unwrap()
        };
        let header = ["billing_event_id", "amount", "invoice_date"].map(String::from);
        let mut out = vec![line(header)];
        for e in events {
            let sign = if e.cents < 0 { "-" } else { "" };
            let amount = format!(
                "{sign}{}.{:02}",
                e.cents.unsigned_abs() / 100,
                e.cents.unsigned_abs() % 100
            );
            let at = chrono::DateTime::from_timestamp_micros(e.micros)
                .unwrap()
                .format("%Y-%m-%dT%H:%M:%S%.6fZ")
                .to_string();
            out.push(line([e.id.clone(), amount, at]));
        }
        out
    }

    static CATALOG: std::sync::LazyLock<Catalog> = std::sync::LazyLock::new(Catalog::builtin);

    fn job(header: Option<Vec<String>>, first_line: u64) -> DecodeJob<'static> {
        let feed = CATALOG.feed("billingeventfeed_v1").unwrap();
        DecodeJob {
            feed,
            target: feed.table_schema(),
            lineage: lineage(),
            header,
            first_line,
            batch_rows: 7,
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn arbitrary_bytes_never_panic(header in any::<bool>(), bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut input = if header { format!("{BILLING_HEADER}\n").into_bytes() } else { vec![] };
            input.extend(bytes);
            let mut rows = 0u64;
            let outcome = decode(input.as_slice(), job(None, 1), |item| {
                if let Decoded::Batch(b) = item {
                    rows += b.num_rows() as u64;
                }
                Ok::<_, FeedError>(())
            });
            if let Ok(summary) = outcome {
                prop_assert_eq!(summary.rows, rows);
            }
        }

        #[test]
        fn valid_rows_round_trip_exactly(events in proptest::collection::vec(event(), 0..40)) {
            let csv: Vec<u8> = records(&events).concat();
            let (batch, rejected, _) = run("billingeventfeed_v1", &csv, 7);
            prop_assert!(rejected.is_empty(), "{:?}", rejected);
            prop_assert_eq!(batch.num_rows(), events.len());
            let amounts = batch.column_by_name("amount").unwrap().as_primitive::<Decimal128Type>();
            for (row, e) in events.iter().enumerate() {
                prop_assert_eq!(text(&batch, "billing_event_id", row), Some(e.id.clone()));
                prop_assert_eq!(amounts.value(row), i128::from(e.cents) * 100_000_000);
                prop_assert_eq!(micros(&batch, "invoice_date", row), Some(e.micros));
            }
        }

        #[test]
        fn a_file_read_in_two_ranges_decodes_as_if_read_whole(
            events in proptest::collection::vec(event(), 1..40),
            split in any::<proptest::sample::Index>(),
        ) {
            let records = records(&events);
            // Cut after the header and some records: the second range starts a record.
            let cut = 1 + split.index(events.len() + 1);
            let (first, second) = records.split_at(cut.min(records.len()));
            let (first, second) = (first.concat(), second.concat());
            let (whole, _, _) = run_job(job(None, 1), records.concat());
            let (head, _, summary) = run_job(job(None, 1), &first);
            let header = summary.header.clone();
            let (tail, _, _) = run_job(job(header, summary.lines + 1), &second);
            let joined = concat_batches(&whole.schema(), [&head, &tail]).unwrap();
            prop_assert_eq!(joined, whole);
        }
    }
}
