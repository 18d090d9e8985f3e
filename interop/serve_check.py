"""Queries ``sdds serve`` with psycopg, the Python PostgreSQL driver most BI back ends use.

    python interop/serve_check.py --sdds target/debug/sdds

The bundled sample is synced into a temporary warehouse and served on a free loopback port
with a password.  psycopg then: runs a query with a server-side bound parameter (the extended
protocol, psycopg's default), checks that a decimal sum comes back as an exact ``Decimal`` to
the cent and timestamps as timezone-aware ``datetime``, lists the tables as SQLAlchemy does
(``information_schema``), sees an INSERT refused with SQLSTATE 25006 and a wrong password
refused, and runs the billed-revenue report (its SQL from ``sdds report --sql``) from twenty
connections at once, each getting the same rows as ``sdds report``.  Exits non-zero on any difference.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path

import psycopg

PASSWORD = "s3cret-for-the-check"
TODAY = "2026-11-01"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def connect(port: int, password: str = PASSWORD) -> psycopg.Connection:
    return psycopg.connect(
        host="127.0.0.1", port=port, user="bi", password=password, dbname="sdds", connect_timeout=10
    )


def check(condition: bool, what: str) -> None:
    print(("ok   " if condition else "FAIL ") + what)
    if not condition:
        raise SystemExit(1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdds", required=True)
    args = parser.parse_args()
    sdds = str(Path(args.sdds).resolve())

    with tempfile.TemporaryDirectory() as tmp:
        warehouse = Path(tmp) / "warehouse"
        subprocess.run([sdds, "sync", "--quiet", "--warehouse", str(warehouse)], check=True)
        report = subprocess.run(
            [sdds, "report", "billed-revenue", "--warehouse", str(warehouse), "--today", TODAY, "--format", "csv"],
            check=True, capture_output=True, text=True,
        ).stdout
        expected = sorted(
            (r["invoice_id"], r["product_id"], r["seller_net_revenue"]) for r in csv.DictReader(io.StringIO(report))
        )
        report_sql = subprocess.run(
            [sdds, "report", "billed-revenue", "--sql"], check=True, capture_output=True, text=True,
        ).stdout

        port = free_port()
        env = dict(os.environ, SDDS_SERVE_PASSWORD=PASSWORD)
        server = subprocess.Popen(
            [sdds, "serve", "--warehouse", str(warehouse), "--listen", f"127.0.0.1:{port}", "--today", TODAY],
            env=env, stderr=subprocess.PIPE, text=True,
        )
        try:
            server.stderr.readline()  # "serving ...": listening
            run_checks(port, report_sql, expected)
        finally:
            server.terminate()
            server.wait(timeout=30)
    print("serve check passed")


def run_checks(port: int, report_sql: str, expected: list[tuple[str, str, str]]) -> None:
    with connect(port) as conn:
        row = conn.execute(
            "SELECT sum(amount) AS total, count(*) AS events, max(invoice_date) AS newest "
            "FROM billingeventfeed_v1 WHERE currency = %s",
            ("EUR",),
        ).fetchone()
        check(row[0] == Decimal("3153.00") and isinstance(row[0], Decimal), f"bound parameter, exact decimal sum {row[0]!r}")
        check(row[1] == 21, f"count {row[1]}")
        check(isinstance(row[2], datetime) and row[2].utcoffset() == timezone.utc.utcoffset(None),
              f"timestamptz arrives timezone-aware: {row[2]!r}")

        brokers = conn.execute(
            "SELECT broker_id, sum(amount) FROM billingeventfeed_v1 GROUP BY 1 ORDER BY 1 NULLS LAST"
        ).fetchall()
        check(
            brokers == [("", Decimal("25.00")), ("AWS_EUROPE", Decimal("3153.00")),
                        ("AWS_INC", Decimal("24927.30")), (None, Decimal("557.90"))],
            f"totals per seller of record, to the cent: {brokers}",
        )

        tables = {r[0] for r in conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", ("default",)
        )}
        check({"billingeventfeed_v1", "billing_event_current", "piifeed"} <= tables, f"{len(tables)} tables and views listed")

        try:
            conn.execute("INSERT INTO billingeventfeed_v1 (billing_event_id) VALUES ('x')")
            check(False, "INSERT refused")
        except psycopg.Error as e:
            check(e.sqlstate == "25006" and "read-only" in str(e), f"INSERT refused: {e.sqlstate} {e}")

    try:
        connect(port, "wrong").close()
        check(False, "wrong password refused")
    except psycopg.OperationalError as e:
        check("password authentication failed" in str(e).lower(), "wrong password refused")

    wrapped = f"SELECT invoice_id, product_id, CAST(seller_net_revenue AS VARCHAR) FROM ({report_sql}) AS report"

    def one_client(_: int) -> list[tuple[str, str, str]]:
        with connect(port) as conn:
            return sorted(tuple("" if v is None else v for v in r) for r in conn.execute(wrapped))

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        results = list(pool.map(one_client, range(20)))
    check(
        bool(expected) and all(r == expected for r in results),
        f"20 concurrent clients each got the report's {len(expected)} rows ({time.monotonic() - started:.1f} s)",
    )


if __name__ == "__main__":
    sys.exit(main())
