//! `sdds serve` with real PostgreSQL clients: psql (Debian's postgresql-client) and the
//! tokio-postgres driver, over loopback.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Output, Stdio};

use super::{command, program, sdds, stderr, stdout};

const PASSWORD: &str = "correct horse battery staple";

/// A running `sdds serve`, stopped when dropped.
struct Server {
    child: Child,
    port: u16,
}

impl Server {
    /// Starts `sdds serve` in `dir` on a free loopback port with `args`, the password in
    /// SDDS_SERVE_PASSWORD, and waits until it listens.
    fn start(dir: &Path, args: &[&str]) -> Server {
        Server::start_with(dir, args, &[("SDDS_SERVE_PASSWORD", PASSWORD.to_string())])
    }

    fn start_with(dir: &Path, args: &[&str], env: &[(&str, String)]) -> Server {
        let mut all = vec!["serve", "--listen", "127.0.0.1:0"];
        all.extend_from_slice(args);
        let mut child = command(dir, &all, env)
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut first = String::new();
        BufReader::new(child.stderr.take().unwrap())
            .read_line(&mut first)
            .unwrap();
        let port = first
            .split("postgresql://127.0.0.1:")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .and_then(|port| port.parse().ok())
            .unwrap_or_else(|| panic!("no address in {first:?}"));
        Server { child, port }
    }

    /// psql's output for `sql` (unaligned, no headers), logging in with `password`.
    fn psql_as(&self, password: &str, extra: &[&str], sql: &str) -> Output {
        let target = format!(
            "host=127.0.0.1 port={} user=analyst dbname=sdds connect_timeout=10",
            self.port
        );
        let mut args = vec![target.as_str(), "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["-c", sql]);
        let env = [("PGPASSWORD", password.to_string())];
        program("psql", Path::new("."), &args, &env)
            .output()
            .expect("psql runs (make test installs Debian's postgresql-client)")
    }

    /// psql's rows for `sql`, which must succeed.
    fn psql(&self, sql: &str) -> String {
        let output = self.psql_as(PASSWORD, &[], sql);
        assert!(output.status.success(), "{sql}: {}", stderr(&output));
        stdout(&output)
    }

    /// A tokio-postgres connection.
    async fn driver(&self) -> tokio_postgres::Client {
        let config = format!(
            "host=127.0.0.1 port={} user=analyst password='{PASSWORD}' dbname=sdds",
            self.port
        );
        let (client, connection) = tokio_postgres::connect(&config, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(connection);
        client
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A directory with the sample synced into ./warehouse.
fn synced_sample() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let sync = sdds(dir.path(), &["sync", "--quiet"]);
    assert!(sync.status.success(), "{}", stderr(&sync));
    dir
}

#[test]
fn psql_reads_the_served_warehouse_and_cannot_write_it() {
    let dir = synced_sample();
    let server = Server::start(dir.path(), &[]);

    // Exact decimals, to the cent (the sample's hand-checked totals).
    assert_eq!(
        server.psql(
            "SELECT coalesce(broker_id, 'none') AS broker, sum(amount) AS total \
             FROM billingeventfeed_v1 GROUP BY 1 ORDER BY 1"
        ),
        "|25.0000000000\nAWS_EUROPE|3153.0000000000\nAWS_INC|24927.3000000000\nnone|557.9000000000\n"
    );
    // Views, Athena functions and Athena's column names, as in `sdds query`.
    assert_eq!(
        server.psql(
            "SELECT count(*), date_format(max(invoice_date), '%Y-%m') FROM billing_event_current"
        ),
        "71|2026-10\n"
    );

    // What psql's \d asks of pg_catalog: types are numeric and timestamptz.
    let described = server.psql("\\d billingeventfeed_v1");
    assert!(described.contains("amount|numeric"), "{described}");
    assert!(
        described.contains("invoice_date|timestamp with time zone"),
        "{described}"
    );
    let tables = server.psql("\\dt");
    assert!(
        tables.contains("default|billingeventfeed_v1|table"),
        "{tables}"
    );

    // What Tableau's PostgreSQL driver (psqlODBC) sends on connect and to list tables.
    let tableau = server.psql(
        "SET DateStyle = 'ISO'; SET extra_float_digits = 2; SHOW transaction_isolation; \
         select oid, typbasetype from pg_type where typname = 'lo'; \
         BEGIN; \
         declare \"SQL_CUR1\" cursor with hold for select relname, nspname, relkind \
           from pg_catalog.pg_class c, pg_catalog.pg_namespace n \
           where relkind in ('r', 'v', 'm', 'f', 'p') \
             and nspname not in ('pg_catalog', 'information_schema', 'pg_toast', 'pg_temp_1') \
             and n.oid = relnamespace order by nspname, relname; \
         fetch 2048 in \"SQL_CUR1\"; close \"SQL_CUR1\"; COMMIT",
    );
    assert!(
        tableau.contains("billingeventfeed_v1|default|r"),
        "{tableau}"
    );
    assert!(
        tableau.contains("billing_event_current|default|v"),
        "{tableau}"
    );
    let columns = server.psql(
        "SELECT column_name, data_type FROM information_schema.columns \
         WHERE table_name = 'billingeventfeed_v1' AND column_name IN ('amount', 'invoice_date') \
         ORDER BY 1",
    );
    assert_eq!(
        columns,
        "amount|Decimal128(38, 10)\ninvoice_date|Timestamp(µs, \"UTC\")\n"
    );

    // version() as PostgreSQL words it, which SQLAlchemy and Npgsql parse.
    assert!(server
        .psql("SELECT version()")
        .starts_with("PostgreSQL 16.6 (sdds "));

    // A prepared statement with a parameter, in SQL.
    assert_eq!(
        server.psql(
            "PREPARE by_currency(VARCHAR) AS \
               SELECT sum(amount) FROM billingeventfeed_v1 WHERE currency = $1; \
             EXECUTE by_currency('EUR')"
        ),
        "3153.0000000000\n"
    );

    // Writes are refused as `sdds query` refuses them, and so are shared engine settings.
    let insert = server.psql_as(
        PASSWORD,
        &[],
        "INSERT INTO billingeventfeed_v1 (billing_event_id) VALUES ('x')",
    );
    assert!(!insert.status.success());
    assert!(
        stderr(&insert).contains("read-only: INSERT would change a table"),
        "{}",
        stderr(&insert)
    );
    let set = server.psql_as(PASSWORD, &[], "SET datafusion.execution.batch_size = 1");
    assert!(
        stderr(&set).contains("shared by every client"),
        "{}",
        stderr(&set)
    );
    assert_eq!(
        server.psql("SELECT count(*) FROM billingeventfeed_v1"),
        "71\n"
    );

    // A wrong password is refused.
    let wrong = server.psql_as("guess", &[], "SELECT 1");
    assert!(!wrong.status.success());
    assert!(
        stderr(&wrong)
            .to_lowercase()
            .contains("password authentication failed"),
        "{}",
        stderr(&wrong)
    );
}

/// The report's SQL with its parameters at their defaults, as `sdds report --sql` prints it.
fn report_sql(name: &str) -> String {
    let output = sdds(Path::new("."), &["report", name, "--sql"]);
    assert!(output.status.success(), "{}", stderr(&output));
    stdout(&output)
}

/// (invoice id, product, gross revenue, seller net) of every row, as a sorted list.
type Lines = Vec<[String; 4]>;

fn golden_lines(name: &str) -> Lines {
    let path =
        Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("tests/golden/reports/{name}.csv"));
    let mut reader = csv::Reader::from_path(path).unwrap();
    let mut lines: Lines = reader
        .deserialize::<BTreeMap<String, String>>()
        .map(|row| {
            let row = row.unwrap();
            [
                "invoice_id",
                "product_id",
                "gross_revenue",
                "seller_net_revenue",
            ]
            .map(|column| row[column].clone())
        })
        .collect();
    lines.sort();
    lines
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_driver_binds_parameters_and_twenty_clients_run_a_report_at_once() {
    let dir = synced_sample();
    let server = Server::start(dir.path(), &["--today", "2026-11-01"]);

    // The extended protocol: a server-side prepared statement with a bound parameter.
    let client = server.driver().await;
    let statement = client
        .prepare("SELECT CAST(sum(amount) AS VARCHAR) AS total, count(*) AS events FROM billingeventfeed_v1 WHERE currency = $1")
        .await
        .unwrap();
    for (currency, total, events) in [
        ("USD", "25510.2000000000", 50i64),
        ("EUR", "3153.0000000000", 21),
    ] {
        let row = client.query_one(&statement, &[&currency]).await.unwrap();
        assert_eq!(row.get::<_, String>("total"), total);
        assert_eq!(row.get::<_, i64>("events"), events);
    }
    let refused = client
        .execute("DELETE FROM billingeventfeed_v1", &[])
        .await
        .unwrap_err();
    let refused = refused.as_db_error().unwrap();
    assert_eq!(refused.code().code(), "25006");
    assert!(refused.message().contains("read-only"), "{refused}");

    // Twenty clients at once, each running the billed-revenue report: all get its golden rows.
    let sql = report_sql("billed-revenue");
    let expected = golden_lines("billed-revenue");
    let runs = (0..20).map(|_| {
        let sql = sql.clone();
        let server = &server;
        async move {
            let client = server.driver().await;
            let wrapped = format!(
                "SELECT invoice_id, product_id, CAST(gross_revenue AS VARCHAR), \
                 CAST(seller_net_revenue AS VARCHAR) FROM ({sql}) AS report"
            );
            let rows = client.query(&wrapped, &[]).await.unwrap();
            let mut lines: Lines = rows
                .iter()
                .map(|row| {
                    [0, 1, 2, 3].map(|i| row.get::<_, Option<String>>(i).unwrap_or_default())
                })
                .collect();
            lines.sort();
            lines
        }
    });
    let results = futures::future::join_all(runs).await;
    assert!(!expected.is_empty());
    for lines in results {
        assert_eq!(lines, expected);
    }
}

#[test]
fn a_sync_is_seen_by_the_next_query_and_a_pinned_server_keeps_its_sync() {
    let dir = tempfile::tempdir().unwrap();
    let source = dir.path().join("feeds");
    sdds_testkit::copy_tree(
        &Path::new(env!("CARGO_MANIFEST_DIR")).join("sample-feeds"),
        &source,
    );
    // The first sync has no October billing events; the second brings them.
    let october = source.join("billingeventfeed_v1/year=2026/month=10");
    let held_back = dir.path().join("october");
    std::fs::rename(&october, &held_back).unwrap();
    let sync = |dir: &Path| {
        let output = sdds(dir, &["sync", "--quiet", "--source", "feeds"]);
        assert!(output.status.success(), "{}", stderr(&output));
    };
    sync(dir.path());

    let live = Server::start(dir.path(), &[]);
    let pinned = Server::start(dir.path(), &["--version", "1"]);
    let count = "SELECT count(*) FROM billingeventfeed_v1";
    let before = live.psql(count);
    assert_eq!(pinned.psql(count), before);

    std::fs::rename(&held_back, &october).unwrap();
    sync(dir.path());
    // A sync is visible to queries that start a second after it committed.
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let after = live.psql(count);
    assert!(
        after.trim().parse::<u64>().unwrap() > before.trim().parse::<u64>().unwrap(),
        "{before} then {after}"
    );
    assert_eq!(after, "71\n");
    assert_eq!(pinned.psql(count), before);
}

#[test]
fn tls_limits_and_exposure_beyond_loopback() {
    let dir = synced_sample();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_string()]).unwrap();
    std::fs::write(dir.path().join("server.crt"), cert.cert.pem()).unwrap();
    std::fs::write(
        dir.path().join("server.key"),
        cert.signing_key.serialize_pem(),
    )
    .unwrap();
    // The password from a file this time (first line).
    std::fs::write(
        dir.path().join("password"),
        format!("{PASSWORD}\nignored\n"),
    )
    .unwrap();
    let server = Server::start_with(
        dir.path(),
        &[
            "--password-file",
            "password",
            "--tls-cert",
            "server.crt",
            "--tls-key",
            "server.key",
            "--max-rows",
            "5",
            "--statement-timeout",
            "1s",
        ],
        &[],
    );
    let tls = format!(
        "host=127.0.0.1 port={} user=analyst dbname=sdds sslmode=require",
        server.port
    );
    let env = [("PGPASSWORD", PASSWORD.to_string())];
    let over_tls = program(
        "psql",
        Path::new("."),
        &[
            &tls,
            "-X",
            "-A",
            "-t",
            "-c",
            "SELECT count(*) FROM billingeventfeed_v1",
        ],
        &env,
    )
    .output()
    .unwrap();
    assert!(over_tls.status.success(), "{}", stderr(&over_tls));
    assert_eq!(stdout(&over_tls), "71\n");

    // Past the row limit: an error, never a silently cut result.
    let too_many = server.psql_as(
        PASSWORD,
        &[],
        "SELECT billing_event_id FROM billingeventfeed_v1",
    );
    assert!(!too_many.status.success());
    assert!(
        stderr(&too_many).contains("more than 5 rows"),
        "{}",
        stderr(&too_many)
    );
    assert_eq!(
        server.psql("SELECT count(*) FROM billingeventfeed_v1"),
        "71\n"
    );
    // Past the statement timeout: canceled, and the server goes on.
    let slow = server.psql_as(
        PASSWORD,
        &[],
        "SELECT count(*) FROM generate_series(1, 5000000000) AS t(x) WHERE x % 7 = 3",
    );
    assert!(!slow.status.success());
    assert!(
        stderr(&slow).contains("statement timeout"),
        "{}",
        stderr(&slow)
    );
    assert_eq!(server.psql("SELECT 1"), "1\n");

    // Beyond loopback a password is required; without one the server does not start.
    let open = command(dir.path(), &["serve", "--listen", "0.0.0.0:0"], &[])
        .output()
        .unwrap();
    assert!(!open.status.success());
    assert!(
        stderr(&open).contains("refusing to serve on 0.0.0.0:0 without a password"),
        "{}",
        stderr(&open)
    );
}

/// Logs in over a raw socket (no password asked) and sends `sql` as a simple query, then
/// returns the socket without reading the answer: a client too slow to read its rows.
fn send_and_never_read(port: u16, sql: &str) -> std::net::TcpStream {
    use std::io::{Read, Write};
    let mut socket = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut startup = Vec::new();
    startup.extend_from_slice(&196_608u32.to_be_bytes()); // protocol 3.0
    startup.extend_from_slice(b"user\0slow\0database\0sdds\0\0");
    let mut message = ((startup.len() + 4) as u32).to_be_bytes().to_vec();
    message.extend_from_slice(&startup);
    socket.write_all(&message).unwrap();
    // Messages until ReadyForQuery ('Z').
    loop {
        let mut head = [0u8; 5];
        socket.read_exact(&mut head).unwrap();
        let length = u32::from_be_bytes([head[1], head[2], head[3], head[4]]) as usize;
        let mut body = vec![0u8; length - 4];
        socket.read_exact(&mut body).unwrap();
        if head[0] == b'Z' {
            break;
        }
    }
    let mut query = vec![b'Q'];
    query.extend_from_slice(&((sql.len() + 5) as u32).to_be_bytes());
    query.extend_from_slice(sql.as_bytes());
    query.push(0);
    socket.write_all(&query).unwrap();
    socket
}

#[test]
fn a_slow_or_vanished_client_holds_only_its_own_query() {
    let dir = synced_sample();
    // No password: loopback only, which the raw client below relies on.
    let server = Server::start_with(dir.path(), &[], &[]);
    let huge = "SELECT x, 'a row the client will never read' AS padding \
                FROM generate_series(1, 100000000) AS t(x)";
    let slow = send_and_never_read(server.port, huge);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let started = std::time::Instant::now();
    assert_eq!(
        server.psql("SELECT count(*) FROM billingeventfeed_v1"),
        "71\n"
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(20),
        "another client waited {:?}",
        started.elapsed()
    );
    // The slow client goes away mid-result; the server goes on.
    drop(slow);
    assert_eq!(
        server.psql("SELECT sum(amount) FROM billingeventfeed_v1 WHERE currency = 'EUR'"),
        "3153.0000000000\n"
    );
}
