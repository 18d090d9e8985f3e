//! `sdds report` over the sample feeds: golden outputs (hand-checked in sample-feeds/README.md
//! E7), reports that agree with each other, and exports that load back with the values they
//! were written with.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::util::display::{ArrayFormatter, FormatOptions};
use datafusion::prelude::{ParquetReadOptions, SessionContext};

use super::{sdds, stderr, stdout};

/// The day the golden outputs are computed for: the sample's last delivery is October 2026.
const TODAY: &str = "2026-11-01";

/// The day for the renewals report: the sample's agreements end 55 to 91 days later.
const RENEWALS_TODAY: &str = "2027-06-15";

fn today(report: &str) -> &'static str {
    if report == "agreements-and-renewals" {
        RENEWALS_TODAY
    } else {
        TODAY
    }
}

/// A directory with the sample feeds synced into ./warehouse.
fn sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sync = sdds(dir.path(), &["sync", "--quiet"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    dir
}

/// The report names, from `sdds report list --json`.
fn report_names(dir: &Path) -> Vec<String> {
    let list = sdds(dir, &["report", "list", "--json"]);
    assert!(list.status.success(), "{}", stderr(&list));
    let list: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    list.as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_string())
        .collect()
}

/// Runs a report; returns its standard output, raw.
fn report(dir: &Path, name: &str, extra: &[&str]) -> Vec<u8> {
    let mut args = vec!["report", name, "--today", today(name)];
    args.extend_from_slice(extra);
    let out = sdds(dir, &args);
    assert!(out.status.success(), "{name} {extra:?}: {}", stderr(&out));
    out.stdout
}

/// A CSV report's rows as (header → value) maps, read with the `csv` crate.
fn rows(csv: &[u8]) -> Vec<BTreeMap<String, String>> {
    let mut reader = csv::Reader::from_reader(csv);
    let header = reader.headers().unwrap().clone();
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            header
                .iter()
                .zip(r.iter())
                .map(|(h, v)| (h.to_string(), v.to_string()))
                .collect()
        })
        .collect()
}

/// A decimal text as an integer number of millionths (exact; `""` is 0).
fn micros(text: &str) -> i128 {
    if text.is_empty() {
        return 0;
    }
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text),
    };
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    assert!(frac.len() <= 6, "{text} has more than 6 decimals");
    let frac = format!("{frac:0<6}");
    sign * (int.parse::<i128>().unwrap() * 1_000_000 + frac.parse::<i128>().unwrap())
}

/// The sum of `column` over `rows`, per `key` (a function of the row).
fn sum_by(
    rows: &[BTreeMap<String, String>],
    key: impl Fn(&BTreeMap<String, String>) -> String,
    column: &str,
) -> BTreeMap<String, i128> {
    let mut sums = BTreeMap::new();
    for row in rows {
        let value = row
            .get(column)
            .unwrap_or_else(|| panic!("no column {column:?} in {row:?}"));
        *sums.entry(key(row)).or_insert(0) += micros(value);
    }
    sums
}

fn golden_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/reports")
        .join(format!("{name}.csv"))
}

#[test]
fn every_report_matches_its_golden_output() {
    let dir = sample();
    let names = report_names(dir.path());
    let files: Vec<String> =
        std::fs::read_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("queries"))
            .unwrap()
            .map(|e| {
                let name = e.unwrap().file_name().to_string_lossy().into_owned();
                name.trim_end_matches(".sql").to_string()
            })
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
    assert_eq!(names, files, "`report list` shows every file of queries/");
    let bless = std::env::var_os("SDDS_BLESS").is_some();
    let mut mismatched = Vec::new();
    for name in &names {
        let csv = report(dir.path(), name, &["--format", "csv"]);
        let path = golden_path(name);
        if bless {
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(&path, &csv).unwrap();
        }
        let expected = std::fs::read(&path).unwrap_or_default();
        if csv != expected {
            mismatched.push(format!("{name}: got\n{}", String::from_utf8_lossy(&csv)));
        }
    }
    assert!(
        mismatched.is_empty(),
        "reports differ from tests/golden/reports (SDDS_BLESS=1 rewrites them):\n{}",
        mismatched.join("\n")
    );
}

#[test]
fn report_headers_document_every_output_column() {
    let dir = sample();
    let list = sdds(dir.path(), &["report", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_str(&stdout(&list)).unwrap();
    for entry in list.as_array().unwrap() {
        let name = entry["name"].as_str().unwrap();
        assert!(!entry["description"].as_str().unwrap().is_empty());
        let documented: Vec<&str> = entry["columns"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["name"].as_str().unwrap())
            .collect();
        let csv = report(dir.path(), name, &["--format", "csv"]);
        let mut reader = csv::Reader::from_reader(csv.as_slice());
        let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
        assert_eq!(documented, header, "{name}: `-- column` lines vs output");
    }
    let text = sdds(dir.path(), &["report", "list"]);
    assert!(
        stdout(&text).contains("seller-of-record\n"),
        "{}",
        stdout(&text)
    );
}

#[test]
fn exports_load_back_with_the_same_values() {
    let dir = sample();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    for name in report_names(dir.path()) {
        let csv_rows = rows(&report(dir.path(), &name, &["--format", "csv"]));
        // JSON: every column present, decimals as strings holding the CSV's digits.
        let json: serde_json::Value =
            serde_json::from_slice(&report(dir.path(), &name, &["--format", "json"])).unwrap();
        let json = json.as_array().unwrap();
        assert_eq!(json.len(), csv_rows.len(), "{name}");
        for (object, row) in json.iter().zip(&csv_rows) {
            let object = object.as_object().unwrap();
            assert_eq!(object.len(), row.len(), "{name}: every column in JSON");
            for (column, text) in row {
                let value = &object[column];
                let as_text = match value {
                    serde_json::Value::Null => String::new(),
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                assert_eq!(&as_text, text, "{name}.{column}");
            }
        }
        // Parquet, read with DataFusion: the same values, with their types.
        let file = dir.path().join(format!("{name}.parquet"));
        let out = report(dir.path(), &name, &["--out", file.to_str().unwrap()]);
        assert!(out.is_empty());
        let batches = runtime.block_on(async {
            SessionContext::new()
                .read_parquet(file.to_str().unwrap(), ParquetReadOptions::default())
                .await
                .unwrap()
                .collect()
                .await
                .unwrap()
        });
        let mut parquet_rows = Vec::new();
        let options = FormatOptions::default();
        for batch in &batches {
            let schema = batch.schema();
            let formatters: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options).unwrap())
                .collect();
            for row in 0..batch.num_rows() {
                let mut map = BTreeMap::new();
                for (i, field) in schema.fields().iter().enumerate() {
                    let column = batch.column(i);
                    let text = if column.is_null(row) {
                        String::new()
                    } else {
                        let text = formatters[i].value(row).to_string();
                        if matches!(
                            field.data_type(),
                            DataType::Decimal128(..) | DataType::Decimal256(..)
                        ) {
                            sdds_export::natural_scale(&text)
                        } else {
                            text
                        }
                    };
                    map.insert(field.name().clone(), text);
                }
                parquet_rows.push(map);
            }
        }
        assert_eq!(parquet_rows, csv_rows, "{name}: Parquet vs CSV");
    }
}

#[test]
fn json_keeps_every_digit_and_every_null_column() {
    let dir = sample();
    let out = sdds(
        dir.path(),
        &[
            "query",
            "--format",
            "json",
            "select cast('12345678901234567890123.45' as decimal(38,2)) as big, null as nothing, cast(0.004 as decimal(38,6)) as rate, cast(2.5 as double) as f",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(value[0]["big"], "12345678901234567890123.45");
    assert_eq!(value[0]["rate"], "0.004");
    assert!(value[0].as_object().unwrap()["nothing"].is_null());
    assert_eq!(value[0]["f"], 2.5);
}

#[test]
fn csv_is_rfc_4180_with_an_optional_bom() {
    let dir = sample();
    let plain = report(dir.path(), "usage", &["--format", "csv"]);
    let text = String::from_utf8(plain.clone()).unwrap();
    assert!(text.starts_with("usage_date,"), "{text}");
    assert!(
        text.split_inclusive('\n').all(|l| l.ends_with("\r\n")),
        "every line ends in CRLF"
    );
    assert!(text.contains(",0.004,"), "rates keep their digits: {text}");
    assert!(text.contains(",48.00,"), "money has two decimals: {text}");
    let bom = report(dir.path(), "usage", &["--format", "csv", "--bom"]);
    assert_eq!(&bom[..3], b"\xef\xbb\xbf");
    assert_eq!(&bom[3..], plain.as_slice());
}

#[test]
fn parameters_restrict_and_bad_ones_are_refused() {
    let dir = sample();
    let all = rows(&report(dir.path(), "usage", &["--format", "csv"]));
    let september = rows(&report(
        dir.path(),
        "usage",
        &[
            "--format",
            "csv",
            "--from",
            "2026-09-01",
            "--to",
            "2026-09-30",
        ],
    ));
    assert!(september.len() < all.len() && !september.is_empty());
    assert!(september
        .iter()
        .all(|r| r["usage_date"].starts_with("2026-09-")));
    let total = sum_by(&september, |_| String::new(), "estimated_revenue");
    assert_eq!(total[""], micros("538.00"), "September usage revenue (E3)");
    let none = rows(&report(
        dir.path(),
        "usage",
        &["--format", "csv", "--currency", "EUR"],
    ));
    assert!(none.is_empty());

    let refused = [
        (
            vec!["report", "usage", "--broker", "AWS_EUROPE"],
            "report usage has no --broker parameter",
        ),
        (vec!["report", "usag"], "did you mean usage?"),
        (
            vec![
                "report",
                "usage",
                "--from",
                "2026-10-01",
                "--to",
                "2026-09-01",
            ],
            "--from must be before --to",
        ),
        (vec!["report", "usage", "--from", "yesterday"], "--from"),
        (
            vec!["report", "usage", "--quicksight-manifest"],
            "needs --out s3://",
        ),
        (
            vec![
                "report",
                "usage",
                "--out",
                "s3://bucket/x.parquet",
                "--quicksight-manifest",
            ],
            "not Parquet",
        ),
    ];
    for (args, message) in refused {
        let out = sdds(dir.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.starts_with("error: ") && err.contains(message),
            "{args:?}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

/// Runs SQL over the sample warehouse; returns its CSV rows.
fn query(dir: &Path, sql: &str) -> Vec<BTreeMap<String, String>> {
    let out = sdds(dir, &["query", "--format", "csv", "--today", TODAY, sql]);
    assert!(out.status.success(), "{sql}: {}", stderr(&out));
    rows(&out.stdout)
}

#[test]
fn reports_agree_with_each_other_and_with_the_billing_feed() {
    let dir = sample();
    let csv = |name: &str| rows(&report(dir.path(), name, &["--format", "csv"]));
    let billed = csv("billed-revenue");
    let col = |key: &'static str| move |r: &BTreeMap<String, String>| r[key].clone();

    // disbursement-by-product: per bank trace id, the Net Amount is what the DISBURSEMENT rows
    // of that payout paid (22616.00 USD + 2910.00 EUR over the window, E7).
    let by_product = sum_by(
        &csv("disbursement-by-product"),
        col("Bank Trace ID"),
        "Net Amount",
    );
    let paid = sum_by(
        &query(
            dir.path(),
            "select bank_trace_id, amount from billing_event_current \
             where transaction_type = 'DISBURSEMENT' and invoice_date > date_add('day', -90, current_date)",
        ),
        col("bank_trace_id"),
        "amount",
    );
    assert_eq!(
        by_product, paid,
        "disbursement-by-product vs DISBURSEMENT rows"
    );

    // sales-compensation Net Revenue = billed-revenue seller net, per transaction reference
    // present in both (the sample has none of the buckets only billed revenue counts).
    let compensation = sum_by(
        &csv("sales-compensation"),
        col("Transaction Reference ID"),
        "Net Revenue",
    );
    let seller_net = sum_by(
        &billed,
        col("transaction_reference_id"),
        "seller_net_revenue",
    );
    let shared: Vec<_> = compensation
        .keys()
        .filter(|k| seller_net.contains_key(*k))
        .collect();
    assert!(shared.len() >= 6, "{compensation:?} vs {seller_net:?}");
    for key in shared {
        assert_eq!(compensation[key], seller_net[key], "reference {key}");
    }

    // seller-of-record Invoiced = billed-revenue gross revenue, per broker and currency.
    let broker_currency = |b: &'static str, c: &'static str| {
        move |r: &BTreeMap<String, String>| format!("{}/{}", r[b], r[c])
    };
    let invoiced = sum_by(
        &csv("seller-of-record"),
        broker_currency("Broker ID", "Currency"),
        "Invoiced",
    );
    let gross = sum_by(
        &billed,
        broker_currency("aws_seller_of_record", "currency"),
        "gross_revenue",
    );
    assert_eq!(invoiced, gross, "seller-of-record vs billed-revenue");
    assert_eq!(invoiced["AWS_EUROPE/EUR"], micros("3000.00"));
    assert_eq!(invoiced["AWS_INC/USD"], micros("22950.00"));

    // uncollected-and-past-due: the one past-due invoice of E4.
    let open = csv("uncollected-and-past-due");
    let past_due: Vec<_> = open
        .iter()
        .filter(|r| !r["Days Past Due"].is_empty())
        .collect();
    assert_eq!(past_due.len(), 1, "{past_due:?}");
    assert_eq!(past_due[0]["Invoice ID"], "781260902");
    assert_eq!(past_due[0]["Open Balance"], "399.64");
    assert_eq!(past_due[0]["Days Past Due"], "30");
    assert_eq!(past_due[0]["Aging Bucket"], "0-30");
}

/// The rows of the dashboard's table `name` (body rows, then footer rows), each cell its
/// `data-value` (exact amounts) or its text.
fn html_table(html: &str, name: &str) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let start = html
        .find(&format!("<table data-table=\"{name}\">"))
        .unwrap_or_else(|| panic!("no table {name}"));
    let table = &html[start..start + html[start..].find("</table>").unwrap()];
    let cells = |part: &str| -> Vec<Vec<String>> {
        part.split("<tr>")
            .skip(1)
            .map(|row| {
                row.split("<td")
                    .skip(1)
                    .map(|cell| {
                        let (attributes, rest) = cell.split_once('>').unwrap();
                        match attributes.split_once("data-value=\"") {
                            Some((_, value)) => value.split('"').next().unwrap().to_string(),
                            None => rest.split("</td>").next().unwrap().replace("&amp;", "&"),
                        }
                    })
                    .collect()
            })
            .collect()
    };
    let body = &table[table.find("<tbody>").unwrap()..table.find("</tbody>").unwrap()];
    let foot = table
        .find("<tfoot>")
        .map(|at| cells(&table[at..]))
        .unwrap_or_default();
    (cells(body), foot)
}

/// The dashboard for `today`, written with --out.
fn dashboard(dir: &Path, today: &str) -> String {
    let out = sdds(
        dir,
        &[
            "report",
            "dashboard",
            "--today",
            today,
            "--out",
            "dashboard.html",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read_to_string(dir.join("dashboard.html")).unwrap()
}

/// `sums` (currency → millionths) as the dashboard's footer states them: "Total EUR" rows,
/// column `column`.
fn footer_totals(foot: &[Vec<String>], column: usize) -> BTreeMap<String, i128> {
    foot.iter()
        .map(|row| {
            let currency = row[0].strip_prefix("Total ").unwrap().to_string();
            (currency, micros(&row[column]))
        })
        .collect()
}

#[test]
fn the_dashboard_shows_the_reports_totals_and_fetches_nothing() {
    let dir = sample();
    let html = dashboard(dir.path(), TODAY);
    let golden = |name: &str| rows(&std::fs::read(golden_path(name)).unwrap());
    let currency = |column: &'static str| move |row: &BTreeMap<String, String>| row[column].clone();

    // Billed revenue and the cash position: the seller-of-record report's totals per currency.
    let seller = golden("seller-of-record");
    let (lines, foot) = html_table(&html, "billed");
    assert_eq!(lines.len(), seller.len());
    assert_eq!(
        footer_totals(&foot, 4),
        sum_by(&seller, currency("Currency"), "Invoiced")
    );
    assert_eq!(
        footer_totals(&foot, 7),
        sum_by(&seller, currency("Currency"), "Seller Net")
    );
    let (_, foot) = html_table(&html, "cash");
    assert_eq!(
        footer_totals(&foot, 3),
        sum_by(&seller, currency("Currency"), "Disbursed")
    );
    assert_eq!(
        footer_totals(&foot, 5),
        sum_by(&seller, currency("Currency"), "Outstanding")
    );
    // By hand (sample-feeds/README.md): USD 22,045.64 + 546.86 seller net, 946.50 outstanding.
    assert_eq!(footer_totals(&foot, 2)["USD"], micros("22592.50"));
    assert_eq!(footer_totals(&foot, 5)["USD"], micros("946.50"));

    // Uncollected funds: the open balances of uncollected-and-past-due.
    let open = golden("uncollected-and-past-due");
    let (_, foot) = html_table(&html, "aging");
    assert_eq!(
        footer_totals(&foot, 3),
        sum_by(&open, currency("Currency"), "Open Balance")
    );
    let (top, _) = html_table(&html, "past-due");
    assert_eq!(
        top,
        vec![vec![
            "株式会社高橋商事 (Takahashi Shoji K.K.)",
            "USD",
            "1",
            "399.64",
            "30"
        ]]
    );

    // Disbursements: collections-and-disbursements' disbursed amounts, and each payout (a day,
    // bank trace id and reference: a failed payout's reversal shares the trace, not the day).
    let collections: Vec<_> = golden("collections-and-disbursements")
        .into_iter()
        .filter(|row| !row["Disbursement Date"].is_empty())
        .collect();
    let (_, foot) = html_table(&html, "by-product");
    assert_eq!(
        footer_totals(&foot, 2),
        sum_by(&collections, currency("Currency"), "Disbursed Amount")
    );
    let (payouts, _) = html_table(&html, "last-disbursements");
    let traces = sum_by(
        &collections,
        |row| {
            let day = &row["Disbursement Date"][..10];
            format!(
                "{day} {} {}",
                row["Bank Trace ID"], row["Disbursement Reference Number"]
            )
        },
        "Disbursed Amount",
    );
    assert_eq!(payouts.len(), traces.len().min(10));
    for payout in &payouts {
        let key = format!("{} {} {}", payout[0], payout[1], payout[2]);
        assert_eq!(micros(&payout[4]), traces[&key], "{payout:?}");
    }

    // The renewal pipeline, on the day its golden output is for.
    let html_renewals = dashboard(dir.path(), RENEWALS_TODAY);
    let renewals = golden("agreements-and-renewals");
    let (lines, foot) = html_table(&html_renewals, "renewals");
    assert_eq!(lines.len(), renewals.len());
    assert_eq!(
        footer_totals(&foot, 7),
        sum_by(&renewals, currency("currency_code"), "total_contract_value")
    );

    // One self-contained file: no script, stylesheet, image or font from anywhere.
    for page in [&html, &html_renewals] {
        for forbidden in ["<script", "<link", "src=", "url(", "@import", "https://"] {
            assert!(!page.contains(forbidden), "{forbidden}");
        }
        let namespace = "xmlns=\"http://www.w3.org/2000/svg\"";
        assert!(
            !page.replace(namespace, "").contains("http://"),
            "only SVG's namespace names a URL: {}",
            page.replace(namespace, "")
        );
        assert!(page.contains("<svg") && page.contains("role=\"img\""));
    }

    // --currency keeps one currency in every section.
    let out = sdds(
        dir.path(),
        &[
            "report",
            "dashboard",
            "--today",
            TODAY,
            "--currency",
            "EUR",
            "--out",
            "eur.html",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let eur = std::fs::read_to_string(dir.path().join("eur.html")).unwrap();
    let (_, foot) = html_table(&eur, "billed");
    assert_eq!(
        footer_totals(&foot, 7).into_keys().collect::<Vec<_>>(),
        ["EUR"]
    );
}
