//! End-to-end checks of generated buckets: determinism, the append property, scale,
//! referential consistency, the CSV dialect and the presence of the patterns loaders and
//! AWS's reports must handle.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use sdds_gen::{append_day, generate, Feed, Params};

/// A fresh directory under the test target dir (kept after the run for inspection).
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("sdds-gen")
        .join(name);
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(dir.parent().unwrap()).unwrap();
    dir
}

fn params(n: u64, months: u32, end: &str) -> Params {
    Params::new(1, n, months, end).unwrap()
}

/// Every `data.csv` under `dir`, keyed by its path relative to `dir`.
fn files(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    for feed in Feed::ALL {
        let root = dir.join(feed.name());
        let Ok(years) = fs::read_dir(&root) else {
            continue;
        };
        for year in years {
            for month in fs::read_dir(year.unwrap().path()).unwrap() {
                let path = month.unwrap().path().join("data.csv");
                let rel = path
                    .strip_prefix(dir)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                out.insert(rel, fs::read(&path).unwrap());
            }
        }
    }
    out
}

/// One feed's rows (all partitions), addressable by column name.
struct Table {
    rows: Vec<HashMap<String, String>>,
}

impl Table {
    fn load(dir: &Path, feed: Feed) -> Table {
        let mut rows = Vec::new();
        for (rel, bytes) in files(dir) {
            if !rel.starts_with(&format!("{}/", feed.name())) {
                continue;
            }
            let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
            let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
            for record in reader.records() {
                let record = record.unwrap();
                let mut row: HashMap<String, String> = header
                    .iter()
                    .cloned()
                    .zip(record.iter().map(String::from))
                    .collect();
                row.insert("_file".into(), rel.clone());
                rows.push(row);
            }
        }
        Table { rows }
    }

    fn set(&self, column: &str) -> HashSet<String> {
        self.rows
            .iter()
            .filter_map(|r| r.get(column))
            .filter(|v| !v.is_empty())
            .cloned()
            .collect()
    }

    fn any(&self, f: impl Fn(&HashMap<String, String>) -> bool) -> bool {
        self.rows.iter().any(f)
    }
}

fn col<'a>(r: &'a HashMap<String, String>, c: &str) -> &'a str {
    r.get(c).map_or("", String::as_str)
}

/// The bucket most tests look at: 20 000 billing events, six months through 2026-10-31.
fn standard() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = scratch("standard");
        generate(&params(20_000, 6, "2026-10-31"), &dir).unwrap();
        dir
    })
}

#[test]
fn same_flags_give_the_same_bytes() {
    let (a, b) = (scratch("same-a"), scratch("same-b"));
    let p = params(3_000, 2, "2026-03-17");
    generate(&p, &a).unwrap();
    generate(&p, &b).unwrap();
    let (fa, fb) = (files(&a), files(&b));
    assert!(fa.len() > 20);
    assert_eq!(fa, fb);
    let other = scratch("same-c");
    generate(&Params::new(2, 3_000, 2, "2026-03-17").unwrap(), &other).unwrap();
    assert_ne!(files(&other), fa, "another seed gives other data");
}

/// Generates through `end`, appends one day, and compares with a fresh run through the
/// next day. Returns the files only the appended bucket has (months that slid out).
fn append_matches_fresh(name: &str, months: u32, end: &str, next: &str) -> Vec<String> {
    let (appended, fresh) = (
        scratch(&format!("{name}-appended")),
        scratch(&format!("{name}-fresh")),
    );
    generate(&params(4_000, months, end), &appended).unwrap();
    let before = files(&appended);
    let summary = append_day(&params(4_000, months, end), &appended).unwrap();
    assert_eq!(summary.end.to_string(), next);
    generate(&params(4_000, months, next), &fresh).unwrap();
    let (got, want) = (files(&appended), files(&fresh));
    for (path, bytes) in &want {
        let have = got
            .get(path)
            .unwrap_or_else(|| panic!("{path} missing after the append"));
        assert!(
            have == bytes,
            "{path} differs from a fresh run through {next}"
        );
        if let Some(old) = before.get(path) {
            assert!(
                bytes.starts_with(old),
                "{path} was rewritten, not appended to"
            );
        }
    }
    let extra: Vec<String> = got
        .keys()
        .filter(|k| !want.contains_key(*k))
        .cloned()
        .collect();
    for path in &extra {
        assert_eq!(
            got[path], before[path],
            "{path} outside the new window changed"
        );
    }
    extra
}

#[test]
fn appending_a_day_equals_generating_through_it() {
    let extra = append_matches_fresh("mid-month", 2, "2026-10-14", "2026-10-15");
    assert!(extra.is_empty(), "{extra:?}");
}

#[test]
fn appending_across_a_month_boundary_starts_new_files() {
    // Window Aug-Sep; the appended day opens October (header first), and a fresh run through
    // 2026-10-01 covers Sep-Oct: every one of its files is identical, August stays as it was.
    let extra = append_matches_fresh("month-end", 2, "2026-09-30", "2026-10-01");
    assert!(
        !extra.is_empty() && extra.iter().all(|p| p.contains("year=2026/month=08")),
        "{extra:?}"
    );
    let oct = fs::read_to_string(
        Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("sdds-gen/month-end-appended/productfeed_v1/year=2026/month=10/data.csv"),
    )
    .unwrap();
    assert!(oct.starts_with("product_id,manufacturer_account_id,"));
}

#[test]
fn billing_rows_are_within_two_percent_of_n() {
    for n in [20_000u64, 60_000] {
        let dir = if n == 20_000 {
            standard().to_path_buf()
        } else {
            scratch("scale")
        };
        if n != 20_000 {
            generate(&params(n, 6, "2026-10-31"), &dir).unwrap();
        }
        let rows = Table::load(&dir, Feed::BillingEvent).rows.len() as f64;
        let off = (rows - n as f64) / n as f64;
        assert!(
            off.abs() <= 0.02,
            "{rows} billing events for N={n} ({:+.2}%)",
            off * 100.0
        );
    }
}

#[test]
fn every_reference_resolves() {
    let dir = standard();
    let accounts = Table::load(dir, Feed::Account).set("account_id");
    let addresses = Table::load(dir, Feed::Address).set("address_id");
    let agreements = Table::load(dir, Feed::Agreement);
    let agreement_ids = agreements.set("agreement_id");
    let offers = Table::load(dir, Feed::Offer).set("offer_id");
    let legacy = Table::load(dir, Feed::LegacyIdMapping);
    let mut products = Table::load(dir, Feed::Product).set("product_id");
    for r in &legacy.rows {
        assert!(
            products.contains(col(r, "new_id")) || offers.contains(col(r, "new_id")),
            "{r:?}"
        );
        if col(r, "mapping_type") == "PRODUCT" {
            products.insert(col(r, "legacy_id").to_string());
        }
    }
    let billing = Table::load(dir, Feed::BillingEvent);
    let by_id: HashMap<&str, &HashMap<String, String>> = billing
        .rows
        .iter()
        .map(|r| (col(r, "billing_event_id"), r))
        .collect();
    let mut paid: HashMap<&str, i128> = HashMap::new();
    for r in &billing.rows {
        for c in [
            "from_account_id",
            "to_account_id",
            "end_user_account_id",
            "recipient_account_id",
        ] {
            let v = col(r, c);
            assert!(
                v.is_empty() || v == "AWS" || accounts.contains(v),
                "{c} {v} of {r:?}"
            );
        }
        let checks = [
            ("product_id", &products),
            ("agreement_id", &agreement_ids),
            ("offer_id", &offers),
            ("billing_address_id", &addresses),
        ];
        for (c, set) in checks {
            let v = col(r, c);
            assert!(v.is_empty() || set.contains(v), "{c} {v} of {r:?}");
        }
        let disbursement = col(r, "disbursement_billing_event_id");
        if col(r, "action") == "DISBURSED"
            && !col(r, "transaction_type").starts_with("DISBURSEMENT")
        {
            let d = by_id
                .get(disbursement)
                .unwrap_or_else(|| panic!("disbursement {disbursement} of {r:?}"));
            assert!(matches!(
                col(d, "transaction_type"),
                "DISBURSEMENT" | "DISBURSEMENT_FAILURE"
            ));
            assert_eq!(col(d, "action"), "DISBURSED");
            // The backfill layout has no disbursement_amount (and one currency).
            let amount = Some(col(r, "disbursement_amount"))
                .filter(|v| !v.is_empty())
                .unwrap_or(col(r, "amount"));
            *paid.entry(disbursement).or_default() += cents(amount);
        } else {
            assert!(disbursement.is_empty(), "{r:?}");
        }
        for c in ["amount", "disbursement_amount"] {
            let v = col(r, c);
            assert!(v.is_empty() || is_money(v), "{c} {v:?}");
        }
    }
    // Each DISBURSEMENT (or failure) row pays out exactly what its line rows take off.
    for r in billing
        .rows
        .iter()
        .filter(|r| col(r, "transaction_type").starts_with("DISBURSEMENT"))
    {
        let id = col(r, "billing_event_id");
        assert_eq!(
            paid.get(id).copied().unwrap_or(0),
            -cents(col(r, "amount")),
            "{r:?}"
        );
    }
    for r in &agreements.rows {
        assert!(offers.contains(col(r, "offer_id")));
        assert!(
            accounts.contains(col(r, "proposer_account_id"))
                && accounts.contains(col(r, "acceptor_account_id"))
        );
        let before = col(r, "preceding_agreement_id");
        assert!(before.is_empty() || agreement_ids.contains(before), "{r:?}");
    }
    for r in &Table::load(dir, Feed::Account).rows {
        assert!(
            addresses.contains(col(r, "mailing_address_id"))
                && addresses.contains(col(r, "tax_address_id"))
        );
    }
    for r in &Table::load(dir, Feed::TaxItem).rows {
        assert!(
            products.contains(col(r, "product_id"))
                && accounts.contains(col(r, "taxed_customer_account_id"))
        );
    }
    for r in &Table::load(dir, Feed::DailyUsage).rows {
        assert!(
            agreement_ids.contains(col(r, "agreement_id"))
                && accounts.contains(col(r, "payer_account_id"))
        );
        assert!(offers.contains(col(r, "offer_id")) && products.contains(col(r, "product_id")));
    }
    for feed in [Feed::OfferProduct, Feed::OfferTarget] {
        for r in &Table::load(dir, feed).rows {
            assert!(offers.contains(col(r, "offer_id")));
        }
    }
    for r in &Table::load(dir, Feed::OfferProduct).rows {
        assert!(products.contains(col(r, "product_id")));
    }
}

fn is_money(v: &str) -> bool {
    let digits = v.strip_prefix('-').unwrap_or(v);
    matches!(digits.split_once('.'), Some((i, f)) if !i.is_empty() && i.bytes().all(|b| b.is_ascii_digit()) && f.len() == 2 && f.bytes().all(|b| b.is_ascii_digit()))
}

/// Exact cents of a decimal text (parsed without floating point).
fn cents(v: &str) -> i128 {
    let (neg, digits) = v.strip_prefix('-').map_or((false, v), |d| (true, d));
    let (i, f) = digits.split_once('.').unwrap_or((digits, ""));
    let c = i.parse::<i128>().unwrap() * 100 + format!("{f:0<2}")[..2].parse::<i128>().unwrap();
    if neg {
        -c
    } else {
        c
    }
}

/// Column names of a schema file, in order.
fn schema_columns(feed: Feed) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../schemas")
        .join(format!("{}.toml", feed.name()));
    let doc: toml::Value = toml::from_str(&fs::read_to_string(path).unwrap()).unwrap();
    doc["column"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn files_follow_the_schemas_and_the_dialect() {
    let dir = standard();
    let all = files(dir);
    let months: HashSet<&str> = all
        .keys()
        .filter_map(|k| k.split_once('/').map(|(_, rest)| rest))
        .collect();
    assert_eq!(
        months.len(),
        7,
        "six months plus the backfill partition: {months:?}"
    );
    for (rel, bytes) in &all {
        assert!(
            !bytes.starts_with(b"\xef\xbb\xbf") && !bytes.contains(&b'\r'),
            "{rel}"
        );
        let text = std::str::from_utf8(bytes).unwrap_or_else(|_| panic!("{rel} is not UTF-8"));
        assert!(text.ends_with('\n'), "{rel}");
        let feed = Feed::ALL
            .into_iter()
            .find(|f| rel.starts_with(&format!("{}/", f.name())))
            .unwrap();
        let header: Vec<String> = text
            .lines()
            .next()
            .unwrap()
            .split(',')
            .map(String::from)
            .collect();
        if feed == Feed::BillingEvent && rel.contains("year=2010") {
            // The older layout: no broker_id or later columns, and another order.
            assert!(
                !header.contains(&"broker_id".to_string())
                    && !header.contains(&"agreement_id".to_string())
            );
            assert_eq!(header[0], "valid_from");
        } else {
            assert_eq!(header, schema_columns(feed), "{rel}");
        }
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        for record in reader.records() {
            let record = record.unwrap_or_else(|e| panic!("{rel}: {e}"));
            assert_eq!(record.len(), header.len(), "{rel}");
            for (name, value) in header.iter().zip(record.iter()) {
                let ts = name.ends_with("_date")
                    || name.ends_with("_time")
                    || name == "valid_from"
                    || name == "valid_to";
                if ts && !value.is_empty() {
                    assert!(is_timestamp(value), "{rel} {name}={value:?}");
                }
                if name == "aws_account_id" {
                    assert!(
                        value.len() == 12 && value.bytes().all(|b| b.is_ascii_digit()),
                        "{value}"
                    );
                }
                if name == "balance_impacting" {
                    assert!(value == "0" || value == "1");
                }
            }
        }
    }
    let products = &all["productfeed_v1/year=2026/month=06/data.csv"];
    assert!(std::str::from_utf8(products).unwrap().lines().count() >= 1);
}

fn is_timestamp(v: &str) -> bool {
    let b = v.as_bytes();
    let base = b.len() >= 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':';
    base && (b.len() == 20 && b[19] == b'Z' || b.len() == 24 && b[19] == b'.' && b[23] == b'Z')
}

#[test]
fn the_bucket_shows_the_patterns_reports_depend_on() {
    let dir = standard();
    let billing = Table::load(dir, Feed::BillingEvent);
    let has = |action: &str, ttype: &str| {
        billing.any(|r| col(r, "action") == action && col(r, "transaction_type") == ttype)
    };
    for (action, ttype) in [
        ("INVOICED", "SELLER_REV_SHARE"),
        ("INVOICED", "AWS_REV_SHARE"),
        ("INVOICED", "AWS_TAX_SHARE"),
        ("INVOICED", "SELLER_TAX_SHARE"),
        ("INVOICED", "SELLER_REV_SHARE_REFUND"),
        ("INVOICED", "AWS_REV_SHARE_REFUND"),
        ("INVOICED", "AWS_TAX_SHARE_REFUND"),
        ("INVOICED", "SELLER_REV_SHARE_CREDIT"),
        ("INVOICED", "AWS_REV_SHARE_CREDIT"),
        ("INVOICED", "AWS_INFRA_SHARE"),
        ("INVOICED", "BALANCE_ADJUSTMENT"),
        ("FORGIVEN", "SELLER_REV_SHARE"),
        ("COLLECTED", "SELLER_REV_SHARE"),
        ("DISBURSED", "SELLER_REV_SHARE"),
        ("DISBURSED", "DISBURSEMENT"),
        ("DISBURSED", "DISBURSEMENT_FAILURE"),
    ] {
        assert!(has(action, ttype), "no {action} {ttype}");
    }
    let variant = |v: &str, c: &str, s: &str| {
        billing.any(|r| {
            col(r, "invoice_variant") == v
                && col(r, "charge_variant") == c
                && col(r, "charge_side") == s
        })
    };
    assert!(variant("RESALE", "RESALE", "SELLING") && variant("RESALE", "RESALE", "BUYING"));
    assert!(
        variant("LISTING_FEE", "LISTING_FEE", "")
            && variant("PURCHASE", "LISTING_FEE", "")
            && variant("TAX_VAT", "", "")
    );
    assert!(billing.any(|r| col(r, "broker_id") == "AWS_EUROPE"
        && col(r, "currency") != "USD"
        && col(r, "disbursement_currency") == "USD"));
    assert!(billing.any(|r| col(r, "broker_id") == "AWS_EUROPE" && col(r, "currency") == "GBP"));
    for trace in ["testTraceId", "EMEA_MP_TEST_TRACE_ID", ""] {
        assert!(
            billing.any(|r| col(r, "transaction_type") == "DISBURSEMENT"
                && col(r, "bank_trace_id") == trace),
            "{trace:?}"
        );
    }
    let recent = |r: &HashMap<String, String>| {
        col(r, "action") == "INVOICED"
            && col(r, "invoice_date") >= "2025"
            && !col(r, "invoice_id").is_empty()
    };
    assert!(
        billing.any(|r| recent(r) && col(r, "buyer_invoice_id").is_empty()),
        "NO_BUYER_INVOICE path"
    );
    assert!(billing.any(|r| recent(r) && !col(r, "buyer_invoice_id").is_empty()));
    assert!(
        billing.any(|r| col(r, "invoice_date").contains('.')),
        "fractional seconds"
    );
    assert!(billing.any(
        |r| col(r, "end_user_account_id") != col(r, "from_account_id")
            && col(r, "transaction_type") == "SELLER_REV_SHARE"
    ));
    assert!(
        billing.any(|r| col(r, "line_item_id").ends_with("-3")),
        "three-line invoices"
    );
    // Past due: invoiced, due before "today", never collected nor disbursed nor forgiven.
    let settled: HashSet<&str> = billing
        .rows
        .iter()
        .filter(|r| col(r, "action") != "INVOICED")
        .map(|r| col(r, "invoice_id"))
        .collect();
    assert!(billing.any(|r| recent(r)
        && col(r, "payment_due_date") < "2026-10"
        && !settled.contains(col(r, "invoice_id"))));
    // Backfill rows name products by their legacy GUID.
    let legacy = Table::load(dir, Feed::LegacyIdMapping).set("legacy_id");
    assert!(billing
        .any(|r| col(r, "_file").contains("year=2010") && legacy.contains(col(r, "product_id"))));

    // History patterns: changes (new valid_from), corrections (same valid_from, later
    // update_date), soft deletes, identical re-deliveries.
    for (feed, key) in [
        (Feed::Account, "account_id"),
        (Feed::Agreement, "agreement_id"),
        (Feed::Product, "product_id"),
        (Feed::Offer, "offer_id"),
    ] {
        let table = Table::load(dir, feed);
        let mut versions: HashMap<&str, HashSet<&str>> = HashMap::new();
        let mut updates: HashMap<(&str, &str), HashSet<&str>> = HashMap::new();
        for r in &table.rows {
            versions
                .entry(col(r, key))
                .or_default()
                .insert(col(r, "valid_from"));
            updates
                .entry((col(r, key), col(r, "valid_from")))
                .or_default()
                .insert(col(r, "update_date"));
        }
        assert!(
            versions.values().any(|v| v.len() > 1),
            "{feed:?} has no entity with several versions"
        );
        assert!(
            updates.values().any(|u| u.len() > 1),
            "{feed:?} has no correction"
        );
    }
    for feed in [Feed::Account, Feed::Agreement, Feed::OfferTarget] {
        assert!(
            Table::load(dir, feed).any(|r| !col(r, "delete_date").is_empty()),
            "{feed:?} has no soft delete"
        );
    }
    let agreements = Table::load(dir, Feed::Agreement);
    for status in ["ACTIVE", "RENEWED", "EXPIRED", "CANCELLED", "REPLACED"] {
        assert!(agreements.any(|r| col(r, "status") == status), "{status}");
    }
    assert!(agreements
        .any(|r| col(r, "intent") == "RENEW" && !col(r, "preceding_agreement_id").is_empty()));
    let offers = Table::load(dir, Feed::Offer);
    let seller = billing.set("recipient_account_id");
    assert_eq!(seller.len(), 1, "one feed recipient");
    let seller = seller.into_iter().next().unwrap();
    assert!(
        offers
            .any(|r| col(r, "seller_account_id") != seller && !col(r, "opportunity_id").is_empty()),
        "CPPO offer"
    );
    assert!(offers.any(|r| col(r, "offer_revision") != "1"));
    let targets = Table::load(dir, Feed::OfferTarget);
    for (kind, value) in [
        ("BuyerAccounts", ""),
        ("ParticipatingPrograms", "EnterpriseContract"),
        ("ParticipatingPrograms", "FieldDemonstration"),
        ("CountryCodes", ""),
    ] {
        assert!(
            targets
                .any(|r| col(r, "target_type") == kind
                    && (value.is_empty() || col(r, "value") == value)),
            "{kind} {value}"
        );
    }
    assert!(
        Table::load(dir, Feed::DailyUsage).any(|r| col(r, "charge_item_description").contains(','))
    );
    assert!(Table::load(dir, Feed::TaxItem).any(|r| col(r, "transaction_type_code") == "REFUND"));
    assert!(
        Table::load(dir, Feed::TaxItem).any(|r| col(r, "tax_calculation_reason_code") == "Exempt")
    );

    // Free text that needs quoting, and non-ASCII text.
    let addresses = Table::load(dir, Feed::Address);
    assert!(addresses.any(|r| col(r, "address_line_1").contains('\n')));
    assert!(addresses.any(|r| col(r, "company_name").contains(',')));
    assert!(addresses
        .any(|r| col(r, "company_name").contains('"') || col(r, "address_line_2").contains('"')));
    assert!(addresses.any(|r| !col(r, "city").is_ascii() || !col(r, "company_name").is_ascii()));
    assert!(addresses.any(|r| col(r, "aws_account_id").starts_with('0')));
}

fn cli(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_sdds-gen"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn the_cli_appends_prints_the_new_end_and_rejects_bad_flags() {
    let dir = scratch("cli");
    let out = dir.to_str().unwrap();
    let (code, _, err) = cli(&[
        "--out",
        out,
        "--billing-events",
        "2000",
        "--months",
        "1",
        "--end",
        "2026-04-30",
    ]);
    assert_eq!(code, 0, "{err}");
    assert!(err.lines().any(|l| l.starts_with("billingeventfeed_v1")) && err.contains("rows"));
    let (code, stdout, err) = cli(&[
        "--out",
        out,
        "--billing-events",
        "2000",
        "--months",
        "1",
        "--end",
        "2026-04-30",
        "--append-day",
    ]);
    assert_eq!((code, stdout.as_str()), (0, "2026-05-01\n"), "{err}");

    let empty = scratch("cli-empty");
    let empty = empty.to_str().unwrap();
    for (args, needle) in [
        (vec!["--out", empty, "--end", "2026-02-30"], "invalid --end"),
        (vec!["--out", empty, "--months", "0"], "--months"),
        (
            vec!["--out", empty, "--billing-events", "10"],
            "--billing-events",
        ),
        (
            vec!["--out", empty, "--end", "2020-06-30", "--months", "3"],
            "before the first monthly partition",
        ),
        (
            vec!["--out", empty, "--append-day"],
            "does not hold a bucket",
        ),
        (
            vec!["--out", out, "--billing-events", "2000"],
            "already holds generated feeds",
        ),
    ] {
        let (code, _, err) = cli(&args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with("error: ") && err.contains(needle),
            "{args:?}: {err}"
        );
    }
}
