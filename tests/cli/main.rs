//! The `sdds` binary end to end: sync, query, status, and what users see on bad input; and
//! against a loopback S3 server, including a kill -9 harness (`s3`).

mod honest;
mod reports;
mod s3;
mod serve;

use std::path::Path;
use std::process::{Command, Output};

/// The binary, run in `dir` with an empty environment plus `env`.
fn command(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
    program(env!("CARGO_BIN_EXE_sdds"), dir, args, env)
}

/// `program` (say a shell wrapping the binary), run as [`command`] runs the binary.
fn program(program: &str, dir: &Path, args: &[&str], env: &[(&str, String)]) -> Command {
    let mut command = Command::new(program);
    command
        .args(args)
        .current_dir(dir)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(env.iter().map(|(k, v)| (k, v)));
    command
}

fn sdds(dir: &Path, args: &[&str]) -> Output {
    command(dir, args, &[]).output().unwrap()
}

/// Standard output, with CSV's CRLF line ends read as plain newlines.
fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone())
        .unwrap()
        .replace("\r\n", "\n")
}

fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).unwrap()
}

/// The sample feeds under `root`, plus a November product file of `extra_products` generated
/// rows (a table that takes a while to sync, and whose files are large).
fn sample_feeds_with_products(root: &Path, extra_products: usize) {
    sdds_testkit::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-feeds"),
        root,
    );
    let mut csv = String::from("product_id,manufacturer_account_id,product_code,title,catalog,valid_from,insert_date,update_date,delete_date\n");
    for i in 0..extra_products {
        csv.push_str(&format!("prod-gen-{i:06},seller-{},code-{i},\"Generated, {i}\",AWSMarketplace,2026-11-02T00:00:00Z,2026-11-02T01:00:00Z,2026-11-02T01:00:00Z,\n", i % 7));
    }
    sdds_testkit::write_file(root, "productfeed_v1/year=2026/month=11/data.csv", &csv);
}

/// The entry for `table` in a JSON array of per-table objects (`status --json`, a sync report's
/// `tables`).
fn table_entry<'a>(tables: &'a serde_json::Value, table: &str) -> &'a serde_json::Value {
    tables
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["table"] == table)
        .unwrap()
}

#[test]
fn sync_the_embedded_sample_then_query_it() {
    let dir = tempfile::tempdir().unwrap();
    let sync = sdds(dir.path(), &["sync"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    assert!(
        stderr(&sync).contains("181 rows added"),
        "{}",
        stderr(&sync)
    );
    assert!(
        dir.path()
            .join("warehouse/billingeventfeed_v1/_delta_log")
            .is_dir(),
        "default warehouse is ./warehouse"
    );

    let query = sdds(dir.path(), &["query", "--format", "csv", "select broker_id, sum(amount) from billingeventfeed_v1 group by 1 order by 1 nulls last"]);
    assert!(query.status.success(), "{}", stderr(&query));
    assert_eq!(
        stdout(&query),
        "broker_id,_col1\n\"\",25.00\nAWS_EUROPE,3153.00\nAWS_INC,24927.30\n,557.90\n"
    );

    let again = sdds(dir.path(), &["sync", "--json"]);
    assert!(again.status.success());
    let report: serde_json::Value = serde_json::from_str(&stdout(&again)).unwrap();
    let tables = report["tables"].as_array().unwrap();
    assert_eq!(tables.len(), 12);
    assert!(
        tables
            .iter()
            .all(|t| t["rows_added"] == 0 && t["bytes_read"] == 0),
        "{report}"
    );

    let status = sdds(dir.path(), &["status", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    let billing = table_entry(&status, "billingeventfeed_v1");
    assert_eq!(
        (
            billing["rows"].as_u64(),
            billing["version"].as_u64(),
            billing["objects"].as_u64()
        ),
        (Some(71), Some(0), Some(4))
    );
}

#[test]
fn query_formats_and_sql_files() {
    let dir = tempfile::tempdir().unwrap();
    let sample = Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-feeds");
    let wh = dir.path().join("wh");
    let wh = wh.to_str().unwrap();
    assert!(sdds(
        dir.path(),
        &[
            "sync",
            "--quiet",
            "--source",
            sample.to_str().unwrap(),
            "--warehouse",
            wh
        ]
    )
    .status
    .success());
    std::fs::write(
        dir.path().join("q.sql"),
        "-- the disbursements\nselect billing_event_id, amount, invoice_date from billingeventfeed_v1\nwhere transaction_type = 'DISBURSEMENT' and currency = 'EUR' order by invoice_date;\nselect count(*) as n from productfeed_v1;\n",
    )
    .unwrap();
    let json = sdds(
        dir.path(),
        &["query", "-w", wh, "--format", "json", "-f", "q.sql"],
    );
    assert!(json.status.success(), "{}", stderr(&json));
    let text = stdout(&json);
    // Two statements: one JSON document, an array of the two results.
    let results: serde_json::Value = serde_json::from_str(&text).unwrap();
    let (first, second) = (&results[0], &results[1]);
    assert_eq!(
        first[0]["billing_event_id"],
        "be260915de1dsba1ede64901494855f2b80b7699"
    );
    assert!(
        text.contains(r#""amount":"970.00""#),
        "decimals are written exactly, as strings: {text}"
    );
    assert_eq!(first[1]["invoice_date"], "2026-10-05T00:00:00Z");
    assert_eq!(second[0]["n"], 6);

    let table = sdds(dir.path(), &["query", "-w", wh, "select title from productfeed_v1 where product_id = 'prod-nwstrm8j3m2v' order by update_date desc limit 1"]);
    assert!(
        stdout(&table).contains("| Northwind Stream Ingest, \"Pro\" Edition |"),
        "{}",
        stdout(&table)
    );
}

#[test]
fn bad_input_gives_one_clear_line_and_a_non_zero_status() {
    let dir = tempfile::tempdir().unwrap();
    sdds_testkit::write_file(
        dir.path(),
        "bucket/productfeed_v1/year=2026/month=09/data.csv",
        "product_id,title,title\nprod-1,One,Uno\n",
    );
    let sync = sdds(dir.path(), &["sync", "--quiet", "--source", "bucket"]);
    assert_eq!(sync.status.code(), Some(4));
    let err = stderr(&sync);
    assert!(
        err.starts_with("warning: 1 rows or files could not be stored and were set aside")
            && err.lines().count() == 1,
        "{err}"
    );
    let set_aside = sdds(
        dir.path(),
        &[
            "query",
            "--format",
            "csv",
            "select source_key, line, reason, raw from quarantine",
        ],
    );
    assert_eq!(
        stdout(&set_aside),
        "source_key,line,reason,raw\nproductfeed_v1/year=2026/month=09/data.csv,1,\
         \"file set aside: column \"\"title\"\" appears twice in the header\",\
         \"product_id,title,title\"\n"
    );

    for (args, message) in [
        (
            vec!["sync", "--source", "no-such-dir"],
            "error: source no-such-dir: not a directory\n",
        ),
        (
            vec!["query", "select nope from productfeed_v1"],
            "error: Schema error: No field named nope.",
        ),
        (vec!["query", "selec 1"], "error: SQL syntax: "),
    ] {
        let out = sdds(dir.path(), &args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with(message), "{args:?}: {err}");
        assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
        assert!(!err.contains("panicked"));
    }
}

#[test]
fn history_and_time_travel_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let month = dir.path().join("bucket/productfeed_v1/year=2026/month=09");
    std::fs::create_dir_all(&month).unwrap();
    let header = "product_id,title,valid_from,update_date\n";
    std::fs::write(
        month.join("data.csv"),
        format!("{header}prod-1,First,2026-09-01T00:00:00Z,2026-09-01T00:00:00Z\n"),
    )
    .unwrap();
    assert!(sdds(dir.path(), &["sync", "-q", "-s", "bucket"])
        .status
        .success());
    std::fs::write(
        month.join("data.csv"),
        format!("{header}prod-1,First,2026-09-01T00:00:00Z,2026-09-01T00:00:00Z\nprod-1,Renamed,2026-09-20T00:00:00Z,2026-09-20T00:00:00Z\n"),
    )
    .unwrap();
    assert!(sdds(dir.path(), &["sync", "-q", "-s", "bucket"])
        .status
        .success());

    let history: serde_json::Value = serde_json::from_str(&stdout(&sdds(
        dir.path(),
        &["history", "productfeed_v1", "--json"],
    )))
    .unwrap();
    let syncs = history.as_array().unwrap();
    assert_eq!(syncs.len(), 2);
    assert_eq!(
        (
            syncs[1]["number"].as_u64(),
            syncs[1]["tables"][0]["version"].as_u64(),
            syncs[1]["tables"][0]["rows_added"].as_u64()
        ),
        (Some(2), Some(1), Some(1))
    );

    let title = |args: &[&str]| {
        let mut all = vec!["query", "--format", "csv"];
        all.extend_from_slice(args);
        all.push("select title from product_current");
        stdout(&sdds(dir.path(), &all))
    };
    assert_eq!(title(&[]), "title\nRenamed\n");
    assert_eq!(title(&["--version", "1"]), "title\nFirst\n");
    assert_eq!(title(&["--as-of", "2026-09-10"]), "title\nFirst\n");
    assert_eq!(title(&["--at", "2000-01-01T00:00:00Z"]), "title\n");
    let missing = sdds(dir.path(), &["query", "--version", "3", "select 1"]);
    assert_eq!(
        stderr(&missing),
        "error: no sync 3: the warehouse has syncs 1 to 2\n"
    );
}

#[test]
fn today_fixes_current_date_for_athena_sql() {
    let dir = tempfile::tempdir().unwrap();
    assert!(sdds(dir.path(), &["sync", "--quiet"]).status.success());
    let sql =
        "select current_date as today, date_add('DAY', -90, current_date) as since, now() as now";
    let flag = sdds(
        dir.path(),
        &["query", "--format", "csv", "--today", "2026-11-01", sql],
    );
    assert!(flag.status.success(), "{}", stderr(&flag));
    assert_eq!(
        stdout(&flag),
        "today,since,now\n2026-11-01,2026-08-03,2026-11-01T00:00:00Z\n"
    );

    let env = Command::new(env!("CARGO_BIN_EXE_sdds"))
        .args(["query", "--format", "csv", "select current_date"])
        .current_dir(dir.path())
        .env_clear()
        .env("SDDS_TODAY", "2024-02-29")
        .output()
        .unwrap();
    assert!(env.status.success(), "{}", stderr(&env));
    assert_eq!(stdout(&env), "_col0\n2024-02-29\n");

    let bad = sdds(dir.path(), &["query", "--today", "2026-02-30", "select 1"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(
        stderr(&bad).starts_with("error: --today: \"2026-02-30\" is not a date"),
        "{}",
        stderr(&bad)
    );
}

#[test]
fn validate_then_a_sync_that_sets_rows_aside_say_so_and_exit_4() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    sdds_testkit::write_file(
        &bucket,
        "legacyidmappingfeed_v1/year=2026/month=09/data.csv",
        "mapping_type,legacy_id,new_id\nPRODUCT,guid-1,prod-a\nPRODUCT,guid-2\nOFFER,guid-3,offer-c\n",
    );
    let empty = sdds(
        dir.path(),
        &["query", "-w", "wh", "select count(*) from quarantine"],
    );
    assert_eq!(empty.status.code(), Some(1), "no warehouse yet");
    let validate = sdds(
        dir.path(),
        &["validate", "--source", bucket.to_str().unwrap()],
    );
    assert_eq!(validate.status.code(), Some(4), "{}", stderr(&validate));
    assert_eq!(
        stdout(&validate),
        format!(
            "legacyidmappingfeed_v1/year=2026/month=09/data.csv  2 rows  1 would be quarantined\n  \
             line 3: expected 3 fields as in the header, found 2\n    PRODUCT,guid-2\n\
             0 of 1 files clean, 1 rows would be quarantined ({})\n",
            bucket.display()
        )
    );
    assert!(!dir.path().join("wh").exists() && !dir.path().join("warehouse").exists());
    let sample = sdds(dir.path(), &["validate", "--json"]);
    assert_eq!(sample.status.code(), Some(0), "{}", stderr(&sample));
    let sample: serde_json::Value = serde_json::from_str(&stdout(&sample)).unwrap();
    assert_eq!(sample["files"].as_array().unwrap().len(), 42);

    let sync = sdds(
        dir.path(),
        &["sync", "--source", bucket.to_str().unwrap(), "-w", "wh"],
    );
    assert_eq!(sync.status.code(), Some(4), "{}", stderr(&sync));
    assert!(
        stderr(&sync).contains("warning: 1 rows or files could not be stored and were set aside"),
        "{}",
        stderr(&sync)
    );
    let query = sdds(
        dir.path(),
        &[
            "query",
            "-w",
            "wh",
            "--format",
            "csv",
            "select table_name, line, reason from quarantine",
        ],
    );
    assert!(query.status.success(), "{}", stderr(&query));
    assert_eq!(
        stdout(&query),
        "table_name,line,reason\nlegacyidmappingfeed_v1,3,\"expected 3 fields as in the header, found 2\"\n"
    );
    let status = sdds(dir.path(), &["status", "-w", "wh", "--json"]);
    let status: serde_json::Value = serde_json::from_str(&stdout(&status)).unwrap();
    let mapping = table_entry(&status, "legacyidmappingfeed_v1");
    assert_eq!(
        (
            mapping["rows"].as_u64(),
            mapping["rows_quarantined"].as_u64()
        ),
        (Some(2), Some(1))
    );
    // Nothing new: nothing set aside again, and a clean exit.
    let again = sdds(
        dir.path(),
        &["sync", "--source", bucket.to_str().unwrap(), "-w", "wh"],
    );
    assert_eq!(again.status.code(), Some(0), "{}", stderr(&again));
}

#[test]
fn status_max_age_alerts_on_stale_data_and_completions_and_man_come_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let never = sdds(dir.path(), &["sync", "--quiet"]);
    assert!(never.status.success(), "{}", stderr(&never));
    let fresh = sdds(dir.path(), &["status", "--max-age", "36h"]);
    assert_eq!(fresh.status.code(), Some(0), "{}", stderr(&fresh));
    let stale = sdds(dir.path(), &["status", "--max-age", "0s", "--json"]);
    assert_eq!(stale.status.code(), Some(5));
    let err = stderr(&stale);
    assert!(
        err.starts_with("error: the newest data came with the sync of ")
            && err.ends_with("ago: older than --max-age 0s\n"),
        "{err}"
    );
    let bad = sdds(dir.path(), &["status", "--max-age", "soon"]);
    assert_eq!(bad.status.code(), Some(2), "a usage error");

    let bash = sdds(dir.path(), &["completions", "bash"]);
    assert!(bash.status.success());
    assert!(stdout(&bash).contains("_sdds()") && stdout(&bash).contains("validate"));
    let man = sdds(dir.path(), &["man"]);
    assert!(man.status.success());
    let page = stdout(&man);
    assert!(
        page.contains(".TH sdds 1") && page.contains("sdds\\-report"),
        "{page}"
    );
    assert!(page.contains("\\-\\-max\\-age"));
}

#[test]
fn init_writes_a_config_and_config_shows_each_setting_with_where_it_comes_from() {
    let dir = tempfile::tempdir().unwrap();
    let init = sdds(dir.path(), &["init", "--source", "s3://my-bucket/sdds"]);
    assert!(init.status.success(), "{}", stderr(&init));
    let written = std::fs::read_to_string(dir.path().join("sdds.toml")).unwrap();
    assert!(
        written.contains("source = \"s3://my-bucket/sdds\"\n"),
        "{written}"
    );
    let again = sdds(dir.path(), &["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert_eq!(
        stderr(&again),
        "error: sdds.toml exists; --force replaces it\n"
    );

    std::fs::write(
        dir.path().join("sdds.toml"),
        "warehouse = \"file-wh\"\nmemory_limit = \"1GiB\"\n[aws]\nregion = \"file-region\"\nprofile = \"file-profile\"\n[report]\nformat = \"json\"\n",
    )
    .unwrap();
    let settings = |args: &[&str], env: &[(&str, String)]| {
        let out = command(dir.path(), args, env).output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        let text = stdout(&out);
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        let pairs: std::collections::BTreeMap<String, (String, String)> = json
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let field = |k: &str| s[k].as_str().unwrap().to_string();
                (field("name"), (field("value"), field("from")))
            })
            .collect();
        (pairs, text)
    };
    let secret_env = [
        ("SDDS_WAREHOUSE", "env-wh".to_string()),
        ("AWS_ACCESS_KEY_ID", "AKIDSECRETID".to_string()),
        ("AWS_SECRET_ACCESS_KEY", "supersecretkey".to_string()),
    ];
    let (got, text) = settings(
        &["config", "--json", "--region", "flag-region"],
        &secret_env,
    );
    let setting = |name: &str| got[name].clone();
    let pair = |v: &str, f: &str| (v.to_string(), f.to_string());
    assert_eq!(
        setting("config"),
        pair("sdds.toml", "found in the working directory")
    );
    assert_eq!(setting("warehouse"), pair("env-wh", "env SDDS_WAREHOUSE"));
    assert_eq!(setting("aws.region"), pair("flag-region", "flag --region"));
    assert_eq!(
        setting("aws.profile"),
        pair("file-profile", "file sdds.toml")
    );
    assert_eq!(setting("memory_limit"), pair("1GiB", "file sdds.toml"));
    assert_eq!(setting("report.format"), pair("json", "file sdds.toml"));
    assert_eq!(setting("source"), pair("sample", "default"));
    assert_eq!(setting("aws.max_attempts"), pair("8", "default"));
    assert!(
        !text.contains("AKIDSECRETID") && !text.contains("supersecretkey"),
        "{text}"
    );

    let (got, _) = settings(&["--warehouse", "flag-wh", "config", "--json"], &secret_env);
    assert_eq!(got["warehouse"], pair("flag-wh", "flag --warehouse"));
    let (got, _) = settings(&["config", "--json"], &[]);
    assert_eq!(got["warehouse"], pair("file-wh", "file sdds.toml"));
    // [report] format applies when neither --format nor --out says.
    assert!(sdds(dir.path(), &["sync", "--quiet"]).status.success());
    let report = sdds(
        dir.path(),
        &["report", "agreements-and-renewals", "--today", "2026-10-15"],
    );
    assert!(report.status.success(), "{}", stderr(&report));
    assert!(stdout(&report).starts_with('['), "{}", stdout(&report));
    let csv = sdds(
        dir.path(),
        &["report", "agreements-and-renewals", "--format", "csv"],
    );
    assert!(stdout(&csv).starts_with("agreement_id"), "{}", stdout(&csv));
    std::fs::remove_file(dir.path().join("sdds.toml")).unwrap();
    let (got, _) = settings(&["config", "--json"], &[]);
    assert_eq!(got["warehouse"], pair("warehouse", "default"));
    assert_eq!(got["report.bom"], pair("false", "default"));
}

#[test]
fn optimize_and_vacuum_run_on_a_synced_warehouse_and_refuse_a_retention_that_could_lose_a_sync() {
    let dir = tempfile::tempdir().unwrap();
    assert!(sdds(dir.path(), &["sync", "--quiet"]).status.success());
    let bucket = dir.path().join("bucket");
    sample_feeds_with_products(&bucket, 10);
    let source = ["sync", "--quiet", "--source", bucket.to_str().unwrap()];
    assert!(sdds(dir.path(), &source).status.success());
    let optimize = sdds(dir.path(), &["optimize", "--json"]);
    assert!(optimize.status.success(), "{}", stderr(&optimize));
    let reports: serde_json::Value = serde_json::from_str(&stdout(&optimize)).unwrap();
    assert_eq!(reports.as_array().unwrap().len(), 12);

    let short = sdds(dir.path(), &["vacuum", "--retain", "10m"]);
    assert_eq!(short.status.code(), Some(1));
    assert!(
        stderr(&short).starts_with("error: --retain 10m is shorter than 1h"),
        "{}",
        stderr(&short)
    );
    let dry = sdds(
        dir.path(),
        &[
            "vacuum",
            "--retain",
            "0s",
            "--unchecked-retention",
            "--dry-run",
        ],
    );
    assert!(dry.status.success(), "{}", stderr(&dry));
    assert!(
        stderr(&dry).contains("productfeed_v1: would delete "),
        "{}",
        stderr(&dry)
    );
    let totals = |dir: &Path| {
        let out = sdds(
            dir,
            &[
                "query",
                "--format",
                "csv",
                "select count(*), sum(amount) from billingeventfeed_v1",
            ],
        );
        stdout(&out)
    };
    let before = totals(dir.path());
    let vacuum = sdds(
        dir.path(),
        &["-q", "vacuum", "--retain", "0s", "--unchecked-retention"],
    );
    assert!(vacuum.status.success(), "{}", stderr(&vacuum));
    assert_eq!(stderr(&vacuum), "", "--quiet prints nothing on success");
    assert_eq!(totals(dir.path()), before);
    let both = sdds(dir.path(), &["-q", "-v", "status"]);
    assert_eq!(both.status.code(), Some(2), "-q and -v conflict");
}

#[test]
fn the_shell_runs_multi_line_sql_describes_tables_completes_names_and_survives_errors() {
    let dir = tempfile::tempdir().unwrap();
    assert!(sdds(dir.path(), &["sync", "--quiet"]).status.success());
    let home = dir.path().display().to_string();
    let shell = command(dir.path(), &["shell"], &[("HOME", home)]);
    let mut p = rexpect::session::spawn_command(shell, Some(60_000)).unwrap();
    p.exp_string("sdds> ").unwrap();
    p.send_line("select count(*) as n").unwrap();
    p.exp_string("... ").unwrap();
    p.send_line("from billingeventfeed_v1;").unwrap();
    p.exp_string("| 71 |").unwrap();
    p.exp_string("sdds> ").unwrap();

    p.send_line("\\d").unwrap();
    p.exp_regex(r"billing_event_current\s+view").unwrap();
    p.exp_string("sdds> ").unwrap();
    p.send_line("\\d billingeventfeed_v1").unwrap();
    p.exp_regex(r"amount\s+Decimal128\(38, 10\)").unwrap();
    p.exp_string("sdds> ").unwrap();

    // Tab completes "billingeventf" to the table's name.
    p.send("select count(*) * 2 as doubled from billingeventf")
        .unwrap();
    p.send("\t").unwrap();
    p.flush().unwrap();
    p.send_line(";").unwrap();
    p.exp_string("| 142     |").unwrap();
    p.exp_string("sdds> ").unwrap();

    p.send_line("select no_such_column from billingeventfeed_v1;")
        .unwrap();
    p.exp_string("error: ").unwrap();
    p.exp_string("sdds> ").unwrap();
    p.send_line("\\timing").unwrap();
    p.exp_string("timing on").unwrap();
    p.send_line("select 40 + 2 as answer;").unwrap();
    p.exp_string("| 42     |").unwrap();
    p.exp_regex(r"time: \d+\.\d{3} s").unwrap();
    p.send_line("\\q").unwrap();
    p.exp_eof().unwrap();
    let history = std::fs::read_to_string(dir.path().join(".local/state/sdds/history")).unwrap();
    assert!(history.contains("select 40 + 2 as answer;"), "{history}");
}

#[test]
fn log_format_json_writes_diagnostics_and_errors_as_json_lines() {
    let dir = tempfile::tempdir().unwrap();
    let out = sdds(dir.path(), &["--log-format", "json", "status"]);
    assert_eq!(out.status.code(), Some(1));
    let line: serde_json::Value = serde_json::from_str(stderr(&out).trim()).unwrap();
    assert_eq!(line["level"], "ERROR");
    assert!(
        line["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("no warehouse at warehouse"),
        "{line}"
    );
    assert!(stdout(&out).is_empty(), "stdout carries data only");
}

/// A first sync creates every table: that is not an error, even at `-v`.
#[test]
fn a_verbose_first_sync_logs_no_errors() {
    let dir = tempfile::tempdir().unwrap();
    let out = sdds(dir.path(), &["-v", "sync"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let log = stderr(&out);
    assert!(log.contains("rows added"), "the summary: {log}");
    assert!(!log.contains("ERROR"), "{log}");
}

#[test]
fn time_travel_pins_the_quarantine_table_with_the_feed_tables() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    sample_feeds_with_products(&bucket, 3);
    let sync = ["sync", "--quiet", "--source", bucket.to_str().unwrap()];
    assert_eq!(sdds(dir.path(), &sync).status.code(), Some(0));
    let key = "productfeed_v1/year=2026/month=12/data.csv";
    let header = "product_id,title,valid_from\n";
    sdds_testkit::write_file(
        &bucket,
        key,
        &format!("{header}prod-x,X,yesterday\nprod-y,Y,2026-12-01T00:00:00Z\nprod-z,Z,soon\n"),
    );
    assert_eq!(sdds(dir.path(), &sync).status.code(), Some(4));
    // AWS re-delivers the file fixed: its quarantined rows go.
    sdds_testkit::write_file(
        &bucket,
        key,
        &format!("{header}prod-x,X,2026-12-01T00:00:00Z\nprod-y,Y,2026-12-01T00:00:00Z\n"),
    );
    assert_eq!(sdds(dir.path(), &sync).status.code(), Some(0));

    let count = |pin: &[&str]| {
        let mut args = vec!["query", "--format", "csv"];
        args.extend_from_slice(pin);
        args.push("select count(*) as n from quarantine");
        let out = sdds(dir.path(), &args);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    assert_eq!(count(&["--version", "1"]), "n\n0\n");
    assert_eq!(count(&["--version", "2"]), "n\n2\n");
    assert_eq!(count(&["--version", "3"]), "n\n0\n");
    assert_eq!(count(&[]), "n\n0\n");
    let history = sdds(dir.path(), &["history", "--json"]);
    let syncs: serde_json::Value = serde_json::from_str(&stdout(&history)).unwrap();
    assert_eq!(syncs.as_array().unwrap().len(), 3, "{syncs}");
    let second = table_entry(&syncs[1]["tables"], "quarantine");
    assert_eq!(second["rows_added"], 2, "{syncs}");
}
