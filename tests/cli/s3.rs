//! `sdds` against a real S3 protocol server on loopback: source and warehouse on S3 through
//! the default credential chain, and syncs killed with SIGKILL at many points.

use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use sdds_feeds::Catalog;
use sdds_testkit::{write_file, S3Server};

use super::{command, sample_feeds_with_products, stderr, stdout};

fn sdds_s3(dir: &Path, server: &S3Server, args: &[&str]) -> Output {
    let env: Vec<_> = server.child_env();
    command(dir, args, &env).output().unwrap()
}

/// Bucket `feeds` with the sample feeds and generated products under `sdds/` (see
/// [`sample_feeds_with_products`]).
fn feeds_bucket(server: &S3Server, extra_products: usize) -> PathBuf {
    let root = server.create_bucket("feeds").join("sdds");
    sample_feeds_with_products(&root, extra_products);
    root
}

/// Every table's rows and the quarantined rows, minus the columns that name the run that
/// loaded them.
fn contents(dir: &Path, server: &S3Server, warehouse: &str) -> String {
    let mut sql: String = Catalog::builtin()
        .feeds()
        .iter()
        .map(|f| {
            format!(
                "select '{0}' as t, * exclude (_sync_id, _ingested_at) from {0} order by _source_key, _source_line;",
                f.name
            )
        })
        .collect();
    sql.push_str("select * exclude (sync_id, quarantined_at) from quarantine order by table_name, source_key, line;");
    let out = sdds_s3(
        dir,
        server,
        &["query", "--warehouse", warehouse, "--format", "csv", &sql],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn sync_from_s3_into_a_warehouse_on_s3_and_query_it() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&dir.path().join("s3"));
    feeds_bucket(&server, 10);
    server.create_bucket("lake");
    let endpoint = server.endpoint().to_string();
    // The S3 flags, given explicitly (credentials still come from the environment).
    let with_flags = |args: &[&str]| {
        let mut all = args.to_vec();
        all.extend([
            "--endpoint-url",
            &endpoint,
            "--path-style",
            "--region",
            "us-east-1",
        ]);
        sdds_s3(dir.path(), &server, &all)
    };
    let sync = with_flags(&[
        "sync",
        "--source",
        "s3://feeds/sdds",
        "--warehouse",
        "s3://lake/wh",
        "--json",
    ]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    let report: serde_json::Value = serde_json::from_str(&stdout(&sync)).unwrap();
    assert_eq!(report["source"], "s3://feeds/sdds");
    let added: u64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["rows_added"].as_u64().unwrap())
        .sum();
    assert_eq!(added, 181 + 10);
    let read: u64 = report["tables"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["bytes_read"].as_u64().unwrap())
        .sum();
    assert!(read > 0);

    let query = with_flags(&[
        "query",
        "--warehouse",
        "s3://lake/wh",
        "--format",
        "csv",
        "select broker_id, sum(amount) from billingeventfeed_v1 group by 1 order by 1 nulls last",
    ]);
    assert!(query.status.success(), "{}", stderr(&query));
    assert_eq!(
        stdout(&query),
        "broker_id,_col1\n\"\",25.00\nAWS_EUROPE,3153.00\nAWS_INC,24927.30\n,557.90\n"
    );

    // Nothing new: nothing read; the summary goes to stderr.
    server.clear_log();
    let again = with_flags(&[
        "sync",
        "--source",
        "s3://feeds/sdds",
        "--warehouse",
        "s3://lake/wh",
    ]);
    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("0 rows added"),
        "{}",
        stderr(&again)
    );
    assert!(server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/feeds"))
        .all(|r| r.target == sdds_testkit::Target::List));

    let missing = sdds_s3(
        dir.path(),
        &server,
        &[
            "sync",
            "--source",
            "s3://no-such-bucket",
            "--warehouse",
            "wh",
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    let message = stderr(&missing);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.starts_with("error: ") && message.contains("NoSuchBucket"),
        "{message}"
    );
}

#[test]
fn missing_credentials_are_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let env: Vec<(&str, String)> = vec![
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/config".into()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/credentials".into(),
        ),
    ];
    let out = command(dir.path(), &["sync", "--source", "s3://some-bucket"], &env)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(message.contains("no AWS credentials found"), "{message}");
}

#[test]
fn a_sync_killed_at_any_point_then_rerun_gives_the_uninterrupted_result() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&dir.path().join("s3"));
    let root = feeds_bucket(&server, 20_000);
    // December's products: one row in ten is set aside.
    let mut december = String::from("product_id,manufacturer_account_id,product_code,title,catalog,valid_from,insert_date,update_date,delete_date\n");
    for i in 0..5_000 {
        let valid_from = if i % 10 == 3 {
            "2026-12-32"
        } else {
            "2026-12-02T00:00:00Z"
        };
        december.push_str(&format!("prod-dec-{i:05},seller,code-{i},Dec {i},AWSMarketplace,{valid_from},2026-12-02T01:00:00Z,2026-12-02T01:00:00Z,\n"));
    }
    write_file(
        &root,
        "productfeed_v1/year=2026/month=12/data.csv",
        &december,
    );
    let sync_args = |warehouse: &str| -> Vec<String> {
        [
            "sync",
            "--quiet",
            "--source",
            "s3://feeds/sdds",
            "--warehouse",
            warehouse,
        ]
        .map(str::to_string)
        .to_vec()
    };
    let run = |args: &[String]| {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        command(dir.path(), &args, &server.child_env())
    };

    let baseline = run(&sync_args("base")).output().unwrap();
    assert_eq!(baseline.status.code(), Some(4), "{}", stderr(&baseline));
    let expected = contents(dir.path(), &server, "base");
    assert!(expected.lines().count() > 25_000);
    assert_eq!(
        expected
            .matches("invalid timestamp \"\"2026-12-32\"\"")
            .count(),
        500,
        "{}",
        &expected[expected.len().saturating_sub(2000)..]
    );
    // Kill points: when the k-th file (Parquet data or Delta log entry) has appeared, for k
    // spread from before the first write to the last commit.
    let files = count_files(&dir.path().join("base"));
    let points = 22;

    let mut interrupted = 0;
    let mut partial = 0;
    for i in 0..points {
        let warehouse = dir.path().join(format!("killed-{i}"));
        let args = sync_args(warehouse.to_str().unwrap());
        let threshold = files * i / points;
        let mut child = run(&args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(120);
        while count_files(&warehouse) < threshold
            && child.try_wait().unwrap().is_none()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_micros(200));
        }
        if child.try_wait().unwrap().is_none() {
            interrupted += 1;
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let committed = committed_tables(&warehouse);
        if committed > 0 && committed < 12 {
            partial += 1;
        }

        let rerun = run(&args).output().unwrap();
        // 4 while the products were not yet committed (their bad rows are set aside again).
        assert!(
            matches!(rerun.status.code(), Some(0 | 4)),
            "point {i}: {}",
            stderr(&rerun)
        );
        assert!(
            contents(dir.path(), &server, warehouse.to_str().unwrap()) == expected,
            "point {i} (after {threshold} of {files} files): the warehouse differs from an uninterrupted sync"
        );
    }
    eprintln!("kill harness: {points} points over {files} files, {interrupted} interrupted a running sync, {partial} left a partly committed warehouse");
    assert!(
        interrupted >= 20,
        "only {interrupted} of {points} kills hit a running sync"
    );
    assert!(
        partial >= 5,
        "only {partial} kills left some tables committed and others not"
    );
}

/// Files below `dir` (none if it does not exist).
fn count_files(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.file_type() {
            Ok(t) if t.is_dir() => count_files(&e.path()),
            Ok(_) => 1,
            Err(_) => 0,
        })
        .sum()
}

/// How many tables have at least one commit.
fn committed_tables(warehouse: &Path) -> usize {
    Catalog::builtin()
        .feeds()
        .iter()
        .filter(|f| {
            warehouse
                .join(&f.name)
                .join("_delta_log/00000000000000000000.json")
                .exists()
        })
        .count()
}

#[test]
fn s3_failures_name_the_profile_region_and_endpoint_and_retries_are_announced() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("aws-config");
    std::fs::write(&config, "[default]\nregion = eu-west-1\n").unwrap();
    let env: Vec<(&str, String)> = vec![
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_CONFIG_FILE", config.display().to_string()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/credentials".into(),
        ),
    ];
    let out = command(
        dir.path(),
        &[
            "sync",
            "--profile",
            "nosuchprofile",
            "--region",
            "eu-west-1",
            "--source",
            "s3://some-bucket",
        ],
        &env,
    )
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let message = stderr(&out);
    assert_eq!(message.lines().count(), 1, "{message}");
    assert!(
        message.contains("[profile nosuchprofile, region eu-west-1, endpoint AWS S3 (eu-west-1)]"),
        "{message}"
    );

    // Nothing listens on the endpoint: one line when retrying starts, then the error.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let mut env: Vec<(&str, String)> = vec![
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE".into()),
        ("AWS_SECRET_ACCESS_KEY", "secret".into()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_CONFIG_FILE", "/nonexistent/config".into()),
    ];
    env.push(("SDDS_ENDPOINT_URL", endpoint.clone()));
    for quiet in [false, true] {
        let mut args = vec![
            "sync",
            "--path-style",
            "--max-attempts",
            "2",
            "--source",
            "s3://feeds",
        ];
        if quiet {
            args.push("--quiet");
        }
        let out = command(dir.path(), &args, &env).output().unwrap();
        assert_eq!(out.status.code(), Some(1));
        let message = stderr(&out);
        let tried = format!("profile default, region us-east-1, endpoint {endpoint}");
        let lines: Vec<&str> = message.lines().collect();
        let error = lines.last().unwrap();
        assert!(
            error.starts_with("error: ") && error.contains(&tried),
            "{message}"
        );
        if quiet {
            assert_eq!(lines.len(), 1, "{message}");
        } else {
            assert_eq!(
                lines[0],
                format!("sdds: S3 request failed, retrying (up to 2 attempts; {tried})"),
                "{message}"
            );
            assert_eq!(lines.len(), 2, "{message}");
        }
    }
}

#[test]
fn report_exports_to_s3_with_a_quicksight_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&dir.path().join("s3"));
    let bucket = server.create_bucket("finance");
    let sync = sdds_s3(dir.path(), &server, &["sync", "--quiet"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    let report = |extra: &[&str]| {
        let mut args = vec!["report", "usage", "--today", "2026-11-01", "--path-style"];
        args.extend_from_slice(extra);
        let out = sdds_s3(dir.path(), &server, &args);
        assert!(out.status.success(), "{extra:?}: {}", stderr(&out));
        out
    };
    let local = report(&["--format", "csv"]).stdout;
    let upload = report(&[
        "--out",
        "s3://finance/reports/usage.csv",
        "--quicksight-manifest",
    ]);
    assert!(upload.stdout.is_empty());
    let object = std::fs::read(bucket.join("reports/usage.csv")).unwrap();
    assert_eq!(object, local, "the export is the report's CSV");
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(bucket.join("reports/usage.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(
        manifest["fileLocations"][0]["URIs"][0],
        "s3://finance/reports/usage.csv"
    );
    assert_eq!(manifest["globalUploadSettings"]["format"], "CSV");

    // The dashboard page goes to S3 the same way, whole, as it goes to a file.
    let dashboard = |out: &str| {
        let args = [
            "report",
            "dashboard",
            "--today",
            "2026-11-01",
            "--path-style",
            "--out",
            out,
        ];
        let out = sdds_s3(dir.path(), &server, &args);
        assert!(out.status.success(), "{}", stderr(&out));
    };
    dashboard("s3://finance/reports/dashboard.html");
    dashboard("dashboard.html");
    let page = std::fs::read_to_string(bucket.join("reports/dashboard.html")).unwrap();
    let file = std::fs::read_to_string(dir.path().join("dashboard.html")).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.ends_with("</html>\n"));
    assert_eq!(page, file);

    // An endpoint nobody listens on: one clear line naming the destination, exit 1.
    let missing = sdds_s3(
        dir.path(),
        &server,
        &[
            "report",
            "usage",
            "--path-style",
            "--max-attempts",
            "1",
            "--endpoint-url",
            "http://127.0.0.1:9",
            "--out",
            "s3://nowhere/usage.csv",
        ],
    );
    assert_eq!(missing.status.code(), Some(1));
    let err = stderr(&missing);
    assert!(
        err.starts_with("error: ") && err.contains("s3://nowhere/usage.csv"),
        "{err}"
    );
}
