//! Read commands never write, and every command says the truth: each test runs the binary and
//! checks the exit status, the one stderr line, and that the warehouse is unchanged.

use std::path::Path;
use std::process::Stdio;

use sdds_testkit::{write_file, Fault, S3Server, Target};

use super::{command, sdds, stderr, stdout, table_entry};

/// Each table's Delta version and row count, and the number of files under the warehouse.
fn fingerprint(dir: &Path) -> (String, usize) {
    let status = sdds(dir, &["status", "--json"]);
    assert!(status.status.success(), "{}", stderr(&status));
    (versions(&status), files_under(&dir.join("warehouse")))
}

/// Each table's Delta version and row count from a `status --json`, which may have exited
/// non-zero (when a last sync failed).
fn versions(status: &std::process::Output) -> String {
    let tables: serde_json::Value = serde_json::from_str(&stdout(status)).unwrap();
    tables
        .as_array()
        .unwrap()
        .iter()
        .map(|t| format!("{}:{}:{}", t["table"], t["version"], t["rows"]))
        .collect::<Vec<_>>()
        .join(",")
}

fn files_under(path: &Path) -> usize {
    std::fs::read_dir(path)
        .map(|entries| {
            entries
                .flatten()
                .map(|e| {
                    if e.path().is_dir() {
                        files_under(&e.path())
                    } else {
                        1
                    }
                })
                .sum()
        })
        .unwrap_or(0)
}

fn synced_sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sync = sdds(dir.path(), &["sync", "--quiet"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    dir
}

fn billing_totals(dir: &Path) -> String {
    let out = sdds(
        dir,
        &[
            "query",
            "--format",
            "csv",
            "select count(*) as n, sum(amount) as total from billingeventfeed_v1",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    stdout(&out)
}

#[test]
fn query_refuses_every_statement_that_would_write_and_writes_nothing() {
    let dir = synced_sample();
    let before = fingerprint(dir.path());
    assert_eq!(billing_totals(dir.path()), "n,total\n71,28663.20\n");
    let inside = dir
        .path()
        .join("warehouse/billingeventfeed_v1/extra.parquet");
    let copy_inside = format!(
        "COPY (SELECT 1 AS a) TO '{}' STORED AS PARQUET",
        inside.display()
    );
    let external = format!(
        "CREATE EXTERNAL TABLE e STORED AS PARQUET LOCATION '{}'",
        dir.path().join("warehouse/billingeventfeed_v1/").display()
    );
    for (sql, message) in [
        (
            "INSERT INTO billingeventfeed_v1 SELECT * FROM billingeventfeed_v1 LIMIT 1",
            "INSERT would change a table",
        ),
        (
            "insert into productfeed_v1 (product_id) values ('x')",
            "INSERT would change a table",
        ),
        (
            "DELETE FROM billingeventfeed_v1",
            "DELETE would change a table",
        ),
        (
            "UPDATE billingeventfeed_v1 SET amount = 0",
            "UPDATE would change a table",
        ),
        (
            "TRUNCATE TABLE billingeventfeed_v1",
            "TRUNCATE would change a table",
        ),
        (
            "DROP TABLE billingeventfeed_v1",
            "DROP would change a table",
        ),
        (
            "SELECT 1; INSERT INTO productfeed_v1 SELECT * FROM productfeed_v1",
            "INSERT would change a table",
        ),
        (
            "EXPLAIN ANALYZE INSERT INTO productfeed_v1 SELECT * FROM productfeed_v1",
            "INSERT would change a table",
        ),
        (copy_inside.as_str(), "is inside the warehouse"),
        (external.as_str(), "is inside the warehouse"),
    ] {
        let out = sdds(dir.path(), &["query", sql]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{sql}: {err}");
        assert!(
            err.starts_with("error: sdds query is read-only: ") && err.contains(message),
            "{sql}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{sql}: {err}");
        assert_eq!(stdout(&out), "", "{sql}: nothing runs before the refusal");
    }
    assert!(!inside.exists());
    assert_eq!(fingerprint(dir.path()), before);
    assert_eq!(billing_totals(dir.path()), "n,total\n71,28663.20\n");

    // An export outside the warehouse is allowed.
    let export = dir.path().join("export.csv");
    let sql = format!(
        "COPY (SELECT broker_id, count(*) AS n FROM billingeventfeed_v1 WHERE broker_id = 'AWS_EUROPE' GROUP BY 1) TO '{}' STORED AS CSV",
        export.display()
    );
    let out = sdds(dir.path(), &["query", &sql]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read_to_string(&export).unwrap(),
        "broker_id,n\nAWS_EUROPE,21\n"
    );
    assert_eq!(fingerprint(dir.path()), before);
}

#[test]
fn read_commands_on_a_path_without_a_warehouse_fail_and_create_nothing() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("empty")).unwrap();
    for args in [
        vec!["query", "-w", "typo/path", "select 1"],
        vec!["status", "-w", "typo/path"],
        vec!["history", "-w", "typo/path"],
        vec!["status"],
        vec!["query", "select 1"],
    ] {
        let out = sdds(dir.path(), &args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
        let at = if args.contains(&"-w") {
            "typo/path"
        } else {
            "warehouse"
        };
        assert_eq!(
            err,
            format!("error: no warehouse at {at} (run `sdds sync` first)\n"),
            "{args:?}"
        );
    }
    let out = sdds(dir.path(), &["status", "-w", "empty"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).starts_with("error: no warehouse at ")
            && stderr(&out).ends_with("/empty (run `sdds sync` first)\n"),
        "{}",
        stderr(&out)
    );
    assert!(!dir.path().join("typo").exists());
    assert!(!dir.path().join("warehouse").exists());
    assert_eq!(files_under(&dir.path().join("empty")), 0);
}

#[test]
fn a_closed_stdout_ends_the_command_quietly() {
    let dir = synced_sample();
    for args in [
        vec!["status"],
        vec!["history"],
        vec![
            "query",
            "--format",
            "csv",
            "select * from billingeventfeed_v1 a cross join billingeventfeed_v1 b",
        ],
    ] {
        let mut child = command(dir.path(), &args, &[])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // The reader goes away before the first line is written, as `| head -0` would.
        drop(child.stdout.take());
        let out = child.wait_with_output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", stderr(&out));
        assert_eq!(stderr(&out), "", "{args:?}");
    }
}

#[test]
fn sync_into_a_warehouse_it_cannot_write_says_so_once_and_changes_nothing() {
    let dir = synced_sample();
    let before = fingerprint(dir.path());
    let wh = dir.path().join("warehouse");
    write_file(
        dir.path(),
        "bucket/productfeed_v1/year=2026/month=11/data.csv",
        "product_id,title,valid_from\nprod-new,New,2026-11-01T00:00:00Z\n",
    );
    set_writable(&wh, false);
    // Root ignores permissions: the binary then runs as `nobody`.
    let mut sync = command(dir.path(), &["sync", "--quiet", "--source", "bucket"], &[]);
    as_unprivileged(&mut sync, dir.path());
    let out = sync.output().unwrap();
    set_writable(&wh, true);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.starts_with("error: sync failed: warehouse ")
            && err.contains("is not writable: Permission denied"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(!err.contains("panicked"), "{err}");
    assert_eq!(fingerprint(dir.path()), before);
}

/// The binary run through `sh` with a file size limit (in 512-byte blocks) and SIGXFSZ ignored:
/// a write past the limit fails with EFBIG, as one past the end of a full disk fails with
/// ENOSPC, without needing a small file system to fill.
fn with_file_size_limit(dir: &Path, blocks: u64, args: &[&str]) -> std::process::Output {
    let script = format!("trap '' XFSZ; ulimit -f {blocks}; exec \"$0\" \"$@\"");
    let mut shell = vec!["-c", &script, env!("CARGO_BIN_EXE_sdds")];
    shell.extend_from_slice(args);
    super::program("sh", dir, &shell, &[]).output().unwrap()
}

#[test]
fn a_full_disk_fails_the_table_it_hits_in_one_line_and_the_next_sync_catches_up() {
    let dir = tempfile::tempdir().unwrap();
    let bucket = dir.path().join("bucket");
    super::sample_feeds_with_products(&bucket, 30_000);
    let clean = tempfile::tempdir().unwrap();
    let sync = ["sync", "--quiet", "--source", bucket.to_str().unwrap()];
    let out = sdds(clean.path(), &sync);
    assert!(out.status.success(), "{}", stderr(&out));
    let expected = fingerprint(clean.path()).0;

    // 200 KiB: every sample table's files fit, the 30 000 products' do not.
    let out = with_file_size_limit(dir.path(), 400, &sync);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(
            "error: productfeed_v1: nothing was committed: the warehouse's disk is full"
        ) && err.contains("free space there, then run sync again")
            && err.contains("File too large"),
        "{err}"
    );
    let status = sdds(dir.path(), &["status", "--json"]);
    assert_eq!(
        status.status.code(),
        Some(3),
        "status shows the failed sync"
    );
    let partial = versions(&status);
    for (got, want) in partial.split(',').zip(expected.split(',')) {
        if got.starts_with("\"productfeed_v1\"") {
            assert_eq!(
                got, "\"productfeed_v1\":null:0",
                "the table it hit is untouched"
            );
        } else {
            assert_eq!(got, want, "every other table is whole");
        }
    }

    let out = sdds(dir.path(), &sync);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        fingerprint(dir.path()).0,
        expected,
        "the next sync catches up"
    );
}

fn set_writable(path: &Path, writable: bool) {
    use std::os::unix::fs::PermissionsExt;
    let mode = if writable { 0o755 } else { 0o555 };
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
}

/// Runs `command` as uid/gid 65534 when the tests run as root, with `dir` readable to it.
fn as_unprivileged(command: &mut std::process::Command, dir: &Path) {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    // The effective user, from /proc (no libc call needed).
    let root = std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(2) == Some("0"))
        })
        .unwrap_or(false);
    if root {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o755)).unwrap();
        command.uid(65534).gid(65534);
    }
}

#[test]
fn a_source_without_feed_files_is_an_error_that_says_what_was_found() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    write_file(
        dir.path(),
        "only/billingeventfeed_v1/year=2026/month=10/data.csv",
        "billing_event_id\n",
    );
    for (source, found) in [
        ("empty", "found 0 objects;"),
        (
            "only/billingeventfeed_v1",
            "found 1 objects (year=2026/month=10/data.csv);",
        ),
    ] {
        let out = sdds(dir.path(), &["sync", "--source", source]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(1), "{source}: {err}");
        assert!(
            err.starts_with("error: sync failed: no feed files in ")
                && err.contains(found)
                && err.contains("expected <feed>/year=YYYY/month=MM/<file>.csv"),
            "{source}: {err}"
        );
        assert_eq!(err.lines().count(), 1, "{err}");
    }
}

#[test]
fn sql_errors_are_one_clean_line_with_a_suggestion() {
    let dir = synced_sample();
    // The CSV output keeps NULL (an empty field) apart from '' (""), also for a NULL literal.
    let out = sdds(
        dir.path(),
        &[
            "query",
            "--format",
            "csv",
            "select null as x, '' as y, cast(null as varchar) as z",
        ],
    );
    assert_eq!(stdout(&out), "x,y,z\n,\"\",\n", "{}", stderr(&out));

    let out = sdds(dir.path(), &["query", "SELEC 1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.starts_with("error: SQL syntax: Expected: "), "{err}");
    assert_eq!(err.matches("Expected").count(), 1, "{err}");
    assert!(!err.contains("ParserError"), "{err}");

    for (sql, line) in [
        (
            "select count(*) from billingeventfeed",
            "error: no table or view named billingeventfeed (did you mean billingeventfeed_v1?)\n",
        ),
        (
            "select * from billingevntfeed_v1",
            "error: no table or view named billingevntfeed_v1 (did you mean billingeventfeed_v1?)\n",
        ),
        ("select * from zzz", "error: no table or view named zzz\n"),
    ] {
        let out = sdds(dir.path(), &["query", sql]);
        assert_eq!(out.status.code(), Some(1), "{sql}");
        assert_eq!(stderr(&out), line, "{sql}");
    }
}

#[test]
fn sql_comes_from_stdin_when_piped_or_with_dash_f() {
    use std::io::Write;
    let dir = synced_sample();
    for args in [
        vec!["query", "--format", "csv"],
        vec!["query", "--format", "csv", "-f", "-"],
    ] {
        let mut child = command(dir.path(), &args, &[])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"select count(*) as n from productfeed_v1")
            .unwrap();
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{args:?}: {}", stderr(&out));
        assert_eq!(stdout(&out), "n\n6\n", "{args:?}");
    }
}

#[test]
fn a_missing_column_and_an_empty_file_load_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    write_file(
        dir.path(),
        "bucket/productfeed_v1/year=2026/month=11/data.csv",
        "product_id,manufacturer_account_id,title,catalog,valid_from,insert_date,update_date,delete_date\nprod-1,isv,One,AWSMarketplace,2026-11-01T00:00:00Z,2026-11-01T00:00:00Z,2026-11-01T00:00:00Z,\n",
    );
    write_file(
        dir.path(),
        "bucket/productfeed_v1/year=2026/month=12/data.csv",
        "",
    );

    let out = sdds(dir.path(), &["sync", "--source", "bucket"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(
        err.contains("  warning: productfeed_v1/year=2026/month=11/data.csv: no column product_code; its rows have NULL there\n"),
        "{err}"
    );
    assert!(
        err.contains(
            "  warning: productfeed_v1/year=2026/month=12/data.csv: empty file (0 bytes)\n"
        ),
        "{err}"
    );

    let fresh = tempfile::tempdir().unwrap();
    let json = command(
        fresh.path(),
        &[
            "sync",
            "--json",
            "--source",
            dir.path().join("bucket").to_str().unwrap(),
        ],
        &[],
    )
    .output()
    .unwrap();
    assert!(json.status.success(), "{}", stderr(&json));
    let report: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let product = table_entry(&report["tables"], "productfeed_v1");
    assert_eq!(
        product["warnings"],
        serde_json::json!([
            {"kind": "missing_columns", "key": "productfeed_v1/year=2026/month=11/data.csv", "columns": ["product_code"]},
            {"kind": "empty_file", "key": "productfeed_v1/year=2026/month=12/data.csv"}
        ])
    );
    assert_eq!(product["rows_added"], 1);
}

#[test]
fn status_shows_a_failed_last_sync_and_exits_non_zero_until_a_sync_succeeds() {
    let dir = tempfile::tempdir().unwrap();
    let server = S3Server::start(&dir.path().join("s3"));
    let bucket = server.create_bucket("feeds");
    let key = "productfeed_v1/year=2026/month=09/data.csv";
    write_file(
        &bucket,
        key,
        "product_id,title,valid_from\nprod-1,One,2026-09-01T00:00:00Z\n",
    );
    let sync = || {
        let args = [
            "sync",
            "--quiet",
            "--max-attempts",
            "1",
            "--source",
            "s3://feeds",
        ];
        command(dir.path(), &args, &server.child_env())
            .output()
            .unwrap()
    };
    // Every read of the object is cut short.
    server.inject(Fault::TruncateBody, Target::Get, 100);
    let failed = sync();
    assert_eq!(failed.status.code(), Some(3), "{}", stderr(&failed));
    let reason = stderr(&failed);
    let reason = reason
        .trim_end()
        .strip_prefix("error: ")
        .unwrap_or_else(|| panic!("{reason}"));
    assert!(reason.starts_with(key), "{reason}");

    let status = sdds(dir.path(), &["status"]);
    assert_eq!(status.status.code(), Some(3), "{}", stderr(&status));
    let line = product_line(&status);
    assert!(line.ends_with(&format!("failed: {reason}")), "{line}");
    let json = sdds(dir.path(), &["status", "--json"]);
    assert_eq!(json.status.code(), Some(3));
    let tables: serde_json::Value = serde_json::from_str(&stdout(&json)).unwrap();
    let product = table_entry(&tables, "productfeed_v1");
    assert_eq!(
        (product["last_outcome"].as_str(), product["rows"].as_u64()),
        (Some("failed"), Some(0))
    );

    server.clear_faults();
    let synced = sync();
    assert!(synced.status.success(), "{}", stderr(&synced));
    let status = sdds(dir.path(), &["status"]);
    assert_eq!(status.status.code(), Some(0), "{}", stdout(&status));
    let line = product_line(&status);
    assert!(line.ends_with("  ok"), "{line}");
}

/// The `productfeed_v1` line of `sdds status`.
fn product_line(status: &std::process::Output) -> String {
    stdout(status)
        .lines()
        .find(|l| l.starts_with("productfeed_v1 "))
        .unwrap()
        .to_string()
}
