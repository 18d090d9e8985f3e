#!/usr/bin/env python3
"""Benchmark of sdds against DuckDB and Polars on generated SDDS buckets.

    python bench/bench.py --sdds target/release/sdds --gen target/release/sdds-gen \
        [--scales 1,3,10 | --smoke] [--work bench/work] [--runs 3] [--timeout 1800]

Data.  ``sdds-gen`` writes one bucket per scale: scale k has k x 1 050 000 billing events
(about k GB of CSV), six months ending 2026-10-31, seed 1; ``--smoke`` writes 4 000 events.
A bucket is kept in ``WORK/data/<scale>/`` and reused while the generator flags are the
same.  Every query runs with ``--today`` the day after the last delivery day (2026-11-01).

Every command is its own process, measured by GNU time (``/usr/bin/time -f '%e %M'``):
wall seconds and peak RSS.  With ``--runs N`` each measured command runs N times and the
median wall time and the largest peak RSS are reported.

1. Full ingest, scale 1 (or the smoke bucket): ``sdds sync`` into an empty warehouse vs a
   DuckDB typed load and a Polars all-strings load of every feed file into Parquet
   (``bench/loaders.py``).  MB/s = CSV bytes / wall time.
2. Incremental sync, scale 1: on copies of that bucket and warehouse, ``sdds-gen
   --append-day`` adds one day; ``sdds sync --json`` then reads it (its ``bytes_read``
   against the bytes appended), and a second sync must read 0 bytes.
3. Queries at every scale: each AWS example query (from ``$AWS_SQL_DIR``), run by
   ``sdds query --format csv`` on the scale's warehouse (default settings) and by the DuckDB
   Athena oracle (``bench/athena.py --lenient``) on all-VARCHAR
   tables loaded once into ``WORK/data/<scale>/oracle.duckdb`` (the load is reported on its
   own).  DuckDB gets 2 threads, 75 % of the machine's memory and ``--timeout`` seconds per
   query.  Its time is the oracle's ``run`` time (execution and writing the canonical CSV;
   not Python start-up or the sqlglot translation), its peak RSS that of the whole process.
   The two results are compared with ``bench/compare.py`` (multisets of rows; NULL and ''
   are different values, as both CSV writers keep them apart).  Growth = time(k x) / time(1 x) / k: 1.0 is linear.
   Each bundled report (``queries/*.sql``) runs too, by ``sdds report NAME --format csv``
   with its default window; it reads sdds's current-state views, so it has no DuckDB oracle.

Results: tables on stdout, and ``bench/RESULTS.md`` (``--smoke``: ``WORK/RESULTS-smoke.md``)
with the machine, versions, commands, data sizes and every table.

Exit status 1 when a stage of sdds itself fails (generation, a sync, the incremental
checks); with ``--smoke`` also when an sdds query fails or a result differs.  A peer that
fails, runs out of memory or times out is recorded, not fatal.
"""
from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import platform
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(HERE))

import compare  # noqa: E402

EVENTS_PER_SCALE = 1_050_000
SMOKE_EVENTS = 4_000
SEED, MONTHS, END = 1, 6, "2026-10-31"
TODAY = (dt.date.fromisoformat(END) + dt.timedelta(days=1)).isoformat()
THREADS = 2
AWS_QUERIES = (
    "billed_revenue_report",
    "collections_and_disbursements_report",
    "taxation_report",
    "agreement_report",
    "usage_report",
    "sales_compensation_bi_temporal_data",
    "disbursements_bi_temporal_data",
)
# AWS queries whose answer is not unique: a difference in them is reported, never fatal.
TIES = {
    "agreement_report": "row_number() over (partition by offer_id, valid_from) in offer_product_with_uni_temporal_data "
    "keeps one product of an offer with several; which one is arbitrary in Athena too",
}
AWS_HOWTO = (
    "clone https://github.com/aws-samples/aws-marketplace-api-samples and set "
    "AWS_SQL_DIR=<clone>/seller-data-feeds/queries (files in its archived/ folder are found too)"
)


# ------------------------------------------------------------------------------------------
# Measured processes
# ------------------------------------------------------------------------------------------


@dataclass
class Run:
    """One process run under GNU time."""

    status: str  # "ok", "exit N", "signal N", "timeout"
    wall: float | None
    rss_kib: int | None
    stdout: str
    stderr: str

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass
class Measured:
    """The runs of one command: median wall time, largest peak RSS."""

    runs: list[Run]

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.runs)

    @property
    def status(self) -> str:
        return next((r.status for r in self.runs if not r.ok), "ok")

    @property
    def wall(self) -> float | None:
        return statistics.median(r.wall for r in self.runs) if self.runs and self.ok else None

    @property
    def rss_kib(self) -> int | None:
        return max((r.rss_kib for r in self.runs if r.rss_kib), default=None)

    @property
    def last(self) -> Run:
        return self.runs[-1]


def _parse_time_file(text: str, returncode: int) -> tuple[str, float | None, int | None]:
    lines = text.strip().splitlines()
    m = re.fullmatch(r"([\d.]+) (\d+)", lines[-1]) if lines else None
    wall, rss = (float(m.group(1)), int(m.group(2))) if m else (None, None)
    if returncode == 0:
        return "ok", wall, rss
    sig = re.search(r"terminated by signal (\d+)", text)
    return (f"signal {sig.group(1)}" if sig else f"exit {returncode}"), wall, rss


def run_timed(cmd: list[str], stdout: Path | None, timeout: float | None, env: dict | None) -> Run:
    """Run cmd under GNU time in its own process group (killed whole on timeout)."""
    with tempfile.NamedTemporaryFile("r", suffix=".time") as tf:
        out = open(stdout, "wb") if stdout else subprocess.PIPE
        try:
            proc = subprocess.Popen(
                ["/usr/bin/time", "-f", "%e %M", "-o", tf.name, *cmd],
                stdout=out,
                stderr=subprocess.PIPE,
                env=env,
                start_new_session=True,
            )
            try:
                out_b, err_b = proc.communicate(timeout=timeout)
                status, wall, rss = _parse_time_file(tf.read(), proc.returncode)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                out_b, err_b = proc.communicate()
                status, wall, rss = "timeout", None, None
        finally:
            if stdout:
                out.close()
    text = lambda b: (b or b"").decode("utf-8", "replace")  # noqa: E731
    return Run(status, wall, rss, text(out_b), text(err_b))


class Bench:
    """Settings shared by every stage, the commands run so far and the sdds failures."""

    def __init__(self, args):
        self.sdds, self.gen = args.sdds, args.gen
        self.work = Path(args.work)
        self.runs, self.timeout, self.smoke = args.runs, args.timeout, args.smoke
        self.duck_scales = {int(k) for k in args.duckdb_scales.split(",")} if args.duckdb_scales else None
        self.python = sys.executable
        self.duck_memory = f"{_mem_total_kib() * 3 // 4 // 1024}MiB"
        self.commands: list[str] = []
        self.failures: list[str] = []

    def measure(self, cmd, stdout: Path | None = None, timeout=None, env: dict | None = None, runs=None) -> Measured:
        cmd = [str(c) for c in cmd]
        shown = " ".join(f"{k}={v}" for k, v in (env or {}).items())
        line = (shown + " " if shown else "") + shlex.join(_short(c) for c in cmd)
        if not self.commands or self.commands[-1] != line:
            self.commands.append(line)
        progress(shlex.join(_short(c) for c in cmd[:4]) + " …")
        full_env = {**os.environ, **env} if env else None
        done = []
        for _ in range(runs or self.runs):
            done.append(run_timed(cmd, stdout, timeout, full_env))
            if not done[-1].ok:
                break
        return Measured(done)

    def fail(self, message: str):
        self.failures.append(message)


def _short(arg: str) -> str:
    """A path below the working directory, shown relative to it."""
    if os.path.isabs(arg) and arg.startswith(os.getcwd() + os.sep):
        return os.path.relpath(arg)
    return arg


def progress(message: str):
    if sys.stderr.isatty():
        print(f"\r\033[K{message[:150]}", end="", file=sys.stderr, flush=True)


def first_error(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip() and not ln.startswith("Command ")]
    errors = [ln for ln in lines if "error" in ln.lower()]
    return ((errors or lines or ["(no message)"])[-1])[:160]


# ------------------------------------------------------------------------------------------
# Tables
# ------------------------------------------------------------------------------------------


@dataclass
class Table:
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def text(self) -> str:
        widths = [max(len(str(r[i])) for r in [self.headers, *self.rows]) for i in range(len(self.headers))]
        numeric = [all(_looks_numeric(r[i]) for r in self.rows) and self.rows for i in range(len(self.headers))]
        fmt = lambda r: "  ".join(  # noqa: E731
            str(v).rjust(w) if num else str(v).ljust(w) for v, w, num in zip(r, widths, numeric)
        ).rstrip()
        lines = [self.title, fmt(self.headers), "  ".join("-" * w for w in widths)]
        return "\n".join(lines + [fmt(r) for r in self.rows] + self.notes)

    def markdown(self) -> str:
        head = f"| {' | '.join(self.headers)} |\n|{'|'.join('---' for _ in self.headers)}|\n"
        body = "".join(f"| {' | '.join(str(v).replace('|', '/') for v in r)} |\n" for r in self.rows)
        notes = "".join(f"\n{n}\n" for n in self.notes)
        return f"### {self.title}\n\n{head}{body}{notes}"


def _looks_numeric(v) -> bool:
    return bool(re.fullmatch(r"[-\d.,×x%]+|—", str(v)))


def secs(v: float | None) -> str:
    return "—" if v is None else f"{v:.2f}" if v < 100 else f"{v:.0f}"


def mib(kib: int | None) -> str:
    return "—" if kib is None else f"{kib / 1024:.0f}"


def ratio(a: float | None, b: float | None) -> str:
    return "—" if not a or not b else f"{a / b:.2f}"


def outcome(m: Measured) -> str:
    if m.ok:
        return "ok"
    if m.status == "timeout":
        return "timeout"
    err = first_error(m.last.stderr)
    return "out of memory" if "out of memory" in err.lower() else f"{m.status}: {err}"


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


@dataclass
class Dataset:
    key: str  # "scale-1", "smoke"
    label: str  # "1×", "smoke"
    scale: int
    events: int
    dir: Path  # WORK/data/<key>
    feeds: dict[str, dict] = field(default_factory=dict)  # feed -> {"files", "rows", "bytes"}

    @property
    def bucket(self) -> Path:
        return self.dir / "bucket"

    @property
    def rows(self) -> int:
        return sum(f["rows"] for f in self.feeds.values())

    @property
    def csv_bytes(self) -> int:
        return tree_bytes(self.bucket)


def gen_flags(events: int) -> list[str]:
    return ["--billing-events", str(events), "--seed", str(SEED), "--months", str(MONTHS), "--end", END]


def tree_bytes(root: Path) -> int:
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def parse_gen_summary(stderr: str) -> dict[str, dict]:
    rx = re.compile(r"^(\w+)\s+(\d+) files\s+(\d+) rows\s+(\d+) bytes", re.M)
    return {m[1]: {"files": int(m[2]), "rows": int(m[3]), "bytes": int(m[4])} for m in rx.finditer(stderr)}


def prepare_dataset(key: str, label: str, scale: int, events: int) -> Dataset:
    """The bucket for these generator flags: reused when present, generated otherwise."""
    ds = Dataset(key, label, scale, events, BENCH.work / "data" / key)
    stamp = ds.dir / "gen.json"
    flags = gen_flags(events)
    if stamp.exists() and ds.bucket.is_dir():
        saved = json.loads(stamp.read_text())
        if saved["flags"] == flags:
            ds.feeds = saved["feeds"]
            return ds
    shutil.rmtree(ds.dir, ignore_errors=True)
    ds.dir.mkdir(parents=True)
    gen = BENCH.measure([BENCH.gen, "--out", ds.bucket, *flags], runs=1)
    if not gen.ok:
        raise SystemExit(f"sdds-gen failed: {first_error(gen.last.stderr)}")
    ds.feeds = parse_gen_summary(gen.last.stderr)
    stamp.write_text(json.dumps({"flags": flags, "feeds": ds.feeds}, indent=1))
    return ds


def data_table(datasets: list[Dataset]) -> Table:
    t = Table("Data: rows and CSV bytes per feed", ["feed"] + [f"{d.label} {w}" for d in datasets for w in ("rows", "MB")])
    for feed in datasets[0].feeds:
        t.rows.append([feed] + [v for d in datasets for v in (d.feeds[feed]["rows"], f"{d.feeds[feed]['bytes'] / 1e6:.1f}")])
    t.rows.append(["total"] + [v for d in datasets for v in (d.rows, f"{d.csv_bytes / 1e6:.1f}")])
    return t


# ------------------------------------------------------------------------------------------
# Stage 1: full ingest
# ------------------------------------------------------------------------------------------


def run_dir(ds: Dataset) -> Path:
    return BENCH.work / "runs" / ds.key


def sync_report(m: Measured) -> dict:
    """The --json report of a sync, with totals; {} when it printed none."""
    try:
        report = json.loads(m.last.stdout)
    except json.JSONDecodeError:
        return {}
    tables = report.get("tables", [])
    report["bytes_read"] = sum(t["bytes_read"] for t in tables)
    report["rows_added"] = sum(t["rows_added"] for t in tables)
    report["errors"] = [f"{t['table']}: {t['error']}" for t in tables if t.get("error")]
    return report


def full_sync(ds: Dataset, warehouse: Path) -> tuple[Measured, dict]:
    """sdds sync of the whole bucket into an empty warehouse (every run starts empty)."""

    def once():
        shutil.rmtree(warehouse, ignore_errors=True)
        return BENCH.measure([BENCH.sdds, "sync", "--source", ds.bucket, "--warehouse", warehouse, "--json"], runs=1)

    runs = [once() for _ in range(BENCH.runs)]
    m = Measured([r for ms in runs for r in ms.runs])
    report = sync_report(m)
    if not m.ok or report.get("errors"):
        BENCH.fail(f"sdds sync at {ds.label}: {'; '.join(report.get('errors', [])) or first_error(m.last.stderr)}")
    elif report["rows_added"] != ds.rows:
        BENCH.fail(f"sdds sync at {ds.label}: {report['rows_added']} rows loaded, the generator wrote {ds.rows}")
    return m, report


def peer_load(engine: str, ds: Dataset) -> tuple[Measured, int | None]:
    out = run_dir(ds) / f"ingest-{engine}"
    shutil.rmtree(out, ignore_errors=True)
    cmd = [BENCH.python, HERE / "loaders.py", engine, ds.bucket, out]
    if engine == "duckdb":
        m = BENCH.measure([*cmd, "--threads", THREADS, "--memory-limit", BENCH.duck_memory])
    else:
        m = BENCH.measure(cmd, env={"POLARS_MAX_THREADS": str(THREADS)})
    rows = sum(json.loads(m.last.stdout)["rows"].values()) if m.ok else None
    return m, rows


def stage_ingest(ds: Dataset, warehouse: Path) -> tuple[Table, Measured]:
    sdds, report = full_sync(ds, warehouse)
    results = [("sdds sync", "typed Delta tables", sdds, report.get("rows_added"))]
    for engine, what in (("duckdb", "typed Parquet (auto-detected types)"), ("polars", "all-string Parquet")):
        results.append((engine, what, *peer_load(engine, ds)))
    t = Table(
        f"1. Full ingest of the {ds.label} bucket ({ds.csv_bytes / 1e6:.0f} MB of CSV)",
        ["tool", "output", "wall s", "MB/s", "peak RSS MiB", "rows", "sdds/tool time", "status"],
    )
    for tool, what, m, rows in results:
        mbps = f"{ds.csv_bytes / 1e6 / m.wall:.1f}" if m.wall else "—"
        t.rows.append([tool, what, secs(m.wall), mbps, mib(m.rss_kib), rows if rows is not None else "—", ratio(sdds.wall, m.wall), outcome(m)])
    return t, sdds


# ------------------------------------------------------------------------------------------
# Stage 2: incremental sync
# ------------------------------------------------------------------------------------------


def stage_incremental(ds: Dataset, warehouse: Path) -> Table | list[str]:
    """One appended day on copies of the bucket and the synced warehouse (the originals stay)."""
    inc = run_dir(ds) / "incremental"
    shutil.rmtree(inc, ignore_errors=True)
    bucket, wh = inc / "bucket", inc / "warehouse"
    shutil.copytree(ds.bucket, bucket)  # copy2 keeps mtimes: the local source's ETags stay the same
    shutil.copytree(warehouse, wh)
    before = tree_bytes(bucket)
    gen = BENCH.measure([BENCH.gen, "--out", bucket, *gen_flags(ds.events), "--append-day"], runs=1)
    if not gen.ok:
        BENCH.fail(f"sdds-gen --append-day: {first_error(gen.last.stderr)}")
        return ["2. Incremental sync: not run (sdds-gen --append-day failed)"]
    appended = tree_bytes(bucket) - before
    sync = [BENCH.measure([BENCH.sdds, "sync", "--source", bucket, "--warehouse", wh, "--json"], runs=1) for _ in range(2)]
    reports = [sync_report(m) for m in sync]
    t = Table(
        f"2. Incremental sync after one appended day ({gen.last.stdout.strip()}) at {ds.label}",
        ["step", "wall s", "peak RSS MiB", "bytes read", "bytes appended", "rows added", "status"],
    )
    t.rows.append(["sdds-gen --append-day", secs(gen.wall), mib(gen.rss_kib), "—", appended, "—", "ok"])
    for step, m, r in zip(("sdds sync (new day)", "sdds sync (nothing new)"), sync, reports):
        t.rows.append([step, secs(m.wall), mib(m.rss_kib), r.get("bytes_read", "—"), appended if step.endswith("day)") else 0, r.get("rows_added", "—"), outcome(m)])
    for step, m, r in zip(("first", "second"), sync, reports):
        if not m.ok or not r or r["errors"]:
            BENCH.fail(f"incremental {step} sync: {'; '.join(r.get('errors', [])) or first_error(m.last.stderr)}")
    if reports[0] and reports[0]["rows_added"] == 0:
        BENCH.fail("incremental sync: the appended day added no rows")
    if reports[1] and reports[1]["bytes_read"] != 0:
        BENCH.fail(f"incremental sync: the second sync read {reports[1]['bytes_read']} bytes, expected 0")
    if reports[0]:
        t.notes.append(f"bytes read / bytes appended = {ratio(reports[0]['bytes_read'], appended)}")
    return t


# ------------------------------------------------------------------------------------------
# Stage 3: queries
# ------------------------------------------------------------------------------------------


def find_queries() -> tuple[list[Path], list[str]]:
    """The AWS example queries found in $AWS_SQL_DIR and queries/*.sql; notes on what is missing."""
    files, notes = [], []
    aws_dir = os.environ.get("AWS_SQL_DIR")
    if not aws_dir or not os.path.isdir(aws_dir):
        why = "AWS_SQL_DIR is not set" if not aws_dir else f"AWS_SQL_DIR={aws_dir} is not a directory"
        notes.append(f"AWS queries skipped: {why}; {AWS_HOWTO}.")
    else:
        missing = []
        for name in AWS_QUERIES:
            found = [p for p in (Path(aws_dir) / f"{name}.sql", Path(aws_dir) / "archived" / f"{name}.sql") if p.is_file()]
            (files.append(found[0]) if found else missing.append(name))
        if missing:
            notes.append(f"AWS queries not found in {aws_dir} (nor its archived/): {', '.join(missing)}.")
    files += sorted((REPO / "queries").glob("*.sql"))
    return files, notes


def query_name(path: Path) -> str:
    return f"queries/{path.stem}" if path.parent == REPO / "queries" else path.stem


@dataclass
class QueryResult:
    name: str
    ds: Dataset
    sdds: Measured
    duck: Measured
    duck_run: float | None  # the oracle's own run time (median)
    result: str  # "equal", "differs", "n/a"
    diff: list[str]


def load_oracle_db(ds: Dataset) -> tuple[Measured, dict | None]:
    """Load (or reuse) the all-VARCHAR DuckDB tables of this bucket; the load's measure."""
    db = ds.dir / "oracle.duckdb"
    cached = ds.dir / "oracle-load.json"
    m = BENCH.measure(
        [BENCH.python, HERE / "athena.py", "--bucket", ds.bucket, "--today", TODAY, "--database", db,
         "--threads", THREADS, "--memory-limit", BENCH.duck_memory],
        timeout=BENCH.timeout, runs=1,
    )
    if m.ok and "tables: loaded" in m.last.stderr:
        cached.write_text(json.dumps({"wall": m.wall, "rss_kib": m.rss_kib}))
    elif m.ok and cached.exists():
        return m, json.loads(cached.read_text())
    return m, None


def compare_outputs(duck_csv: Path, sdds_csv: Path, save: Path) -> tuple[str, list[str]]:
    buf = io.StringIO()
    try:
        equal = compare.compare(str(duck_csv), str(sdds_csv), out=buf) == 0
    except (OSError, ValueError) as err:
        buf.write(f"error: {err}\n")
        equal = False
    save.write_text(buf.getvalue())
    lines = [ln for ln in buf.getvalue().splitlines() if not ln.startswith(("note:", "EQUAL", "DIFFERENT"))]
    return ("equal" if equal else "differs"), ([] if equal else lines[:10])


def is_report(sql: Path) -> bool:
    """A bundled report: run by ``sdds report`` (its parameters bound), never by the oracle."""
    return sql.parent == REPO / "queries"


def run_query(sql: Path, ds: Dataset, warehouse: Path, db: Path | None) -> QueryResult:
    name = query_name(sql)
    if is_report(sql):
        db = None
    out = run_dir(ds) / "queries"
    out.mkdir(parents=True, exist_ok=True)
    stem = name.replace("/", "_")
    sdds_csv, duck_csv = out / f"{stem}.sdds.csv", out / f"{stem}.duckdb.csv"
    # Spill files go to a directory of their own, emptied after the query: a query killed at
    # the timeout cannot remove its own.
    spill = BENCH.work / "spill"
    spill.mkdir(parents=True, exist_ok=True)
    what = ["report", sql.stem] if is_report(sql) else ["query", "-f", sql]
    sdds = BENCH.measure(
        [BENCH.sdds, *what, "-w", warehouse, "--today", TODAY, "--format", "csv", "--spill-dir", spill],
        stdout=sdds_csv, timeout=BENCH.timeout,
    )
    shutil.rmtree(spill, ignore_errors=True)
    if db is None:
        if BENCH.smoke and not sdds.ok:
            BENCH.fail(f"sdds query {name}: {outcome(sdds)}")
        return QueryResult(name, ds, sdds, Measured([]), None, "n/a", [])
    duck = BENCH.measure(
        [BENCH.python, HERE / "athena.py", "--bucket", ds.bucket, "--today", TODAY, "--database", db, "--lenient",
         "--threads", THREADS, "--memory-limit", BENCH.duck_memory, "-f", sql, "--out", duck_csv],
        timeout=BENCH.timeout,
    )
    inner = [float(m[1]) for r in duck.runs if r.ok and (m := re.search(r"run: ([\d.]+)s", r.stderr))]
    duck_run = statistics.median(inner) if duck.ok and inner else None
    result, diff = ("n/a", [])
    if sdds.ok and duck.ok:
        result, diff = compare_outputs(duck_csv, sdds_csv, out / f"{stem}.compare.txt")
    if BENCH.smoke and not sdds.ok:
        BENCH.fail(f"sdds query {name}: {outcome(sdds)}")
    if result == "differs" and name in TIES:
        result = "differs (tie)"
        diff = [f"{name}: {TIES[name]}", *diff]
    if BENCH.smoke and result == "differs":
        BENCH.fail(f"{name}: sdds and DuckDB results differ")
    return QueryResult(name, ds, sdds, duck, duck_run, result, diff)


def stage_queries(ds: Dataset, warehouse: Path, queries: list[Path]) -> tuple[list[QueryResult], Measured, dict | None]:
    if BENCH.duck_scales is not None and ds.scale not in BENCH.duck_scales:
        # sdds alone: DuckDB needs about 13 GB per 1x for the two largest AWS reports.
        results = [run_query(sql, ds, warehouse, None) for sql in queries]
        return results, Measured([]), None
    load, cached = load_oracle_db(ds)
    db = ds.dir / "oracle.duckdb"
    results = []
    for sql in queries:
        if load.ok:
            results.append(run_query(sql, ds, warehouse, db))
        else:
            results.append(QueryResult(query_name(sql), ds, Measured([]), load, None, "n/a", []))
    return results, load, cached


def query_table(results: list[QueryResult]) -> Table:
    t = Table(
        "3. Queries: sdds vs DuckDB (Athena oracle)",
        ["query", "scale", "sdds s", "sdds MiB", "DuckDB s", "DuckDB proc s", "DuckDB MiB", "sdds/DuckDB", "result", "status"],
    )
    for r in results:
        problems = [f"sdds {outcome(r.sdds)}" if r.sdds.runs else "sdds not run",
                    f"DuckDB {outcome(r.duck)}" if r.duck.runs else "DuckDB not run"]
        if r.name.startswith("queries/"):
            problems[1] = "no oracle (a report on sdds's views) ok"
        status = "; ".join(p for p in problems if not p.endswith(" ok")) or "ok"
        t.rows.append([r.name, r.ds.label, secs(r.sdds.wall), mib(r.sdds.rss_kib), secs(r.duck_run), secs(r.duck.wall),
                       mib(r.duck.rss_kib), ratio(r.sdds.wall, r.duck_run), r.result, status])
    t.notes.append(
        "DuckDB s: the oracle's execution and CSV writing; DuckDB proc s: the whole process "
        "(Python start-up, sqlglot translation). sdds s is its whole process. queries/*: the bundled "
        "reports, by `sdds report NAME` with the default window; they read sdds's views, so DuckDB cannot run them."
    )
    return t


def growth_table(results: list[QueryResult], datasets: list[Dataset]) -> Table | None:
    base = next((d for d in datasets if d.scale == 1), None)
    others = [d for d in datasets if d.scale != 1]
    if base is None or not others:
        return None
    t = Table(
        "Growth of sdds query time with the data (time(k×) / time(1×) / k; 1.0 = linear)",
        ["query"] + [f"sdds s {d.label}" for d in datasets] + [f"growth {d.label}" for d in others],
    )
    by = {(r.name, r.ds.key): r.sdds.wall for r in results}
    for name in dict.fromkeys(r.name for r in results):
        t1 = by.get((name, base.key))
        walls = [by.get((name, d.key)) for d in datasets]
        growth = [f"{w / t1 / d.scale:.2f}" if w and t1 else "—" for w, d in zip(walls[1:], others)]
        t.rows.append([name] + [secs(w) for w in walls] + growth)
    return t


def setup_table(rows: list[tuple[Dataset, Measured, Measured, dict | None]]) -> Table:
    t = Table(
        "Per scale: sdds full sync and the DuckDB load (all VARCHAR), not counted in query times",
        ["scale", "CSV MB", "sdds sync s", "sdds sync MB/s", "sdds sync MiB", "DuckDB load s", "DuckDB load MiB", "DuckDB load"],
    )
    for ds, sync, load, cached in rows:
        shown = cached or {"wall": load.wall, "rss_kib": load.rss_kib}
        state = "reused (time of its first load)" if cached else outcome(load) if load.runs else "not needed"
        mbps = f"{ds.csv_bytes / 1e6 / sync.wall:.1f}" if sync.wall else "—"
        t.rows.append([ds.label, f"{ds.csv_bytes / 1e6:.0f}", secs(sync.wall), mbps, mib(sync.rss_kib),
                       secs(shown["wall"]), mib(shown["rss_kib"]), state])
    return t


def differences(results: list[QueryResult]) -> list[str]:
    out = []
    for r in results:
        if r.result.startswith("differs"):
            out.append(f"{r.name} at {r.ds.label} (DuckDB = A, sdds = B):")
            out += [f"    {ln}" for ln in r.diff]
    return out


# ------------------------------------------------------------------------------------------
# Machine, versions, report
# ------------------------------------------------------------------------------------------


def _mem_total_kib() -> int:
    with open("/proc/meminfo") as fh:
        return int(re.search(r"MemTotal:\s+(\d+)", fh.read())[1])


def _command_output(cmd: list[str]) -> str:
    try:
        return subprocess.run(cmd, capture_output=True, text=True, cwd=REPO).stdout.strip() or "?"
    except OSError:
        return "?"


def machine() -> list[str]:
    cpu = re.search(r"model name\s*:\s*(.*)", Path("/proc/cpuinfo").read_text())
    os_name = re.search(r'PRETTY_NAME="(.*)"', Path("/etc/os-release").read_text()) if Path("/etc/os-release").exists() else None
    return [
        f"CPU: {cpu[1] if cpu else platform.processor()}, {os.cpu_count()} cores",
        f"RAM: {_mem_total_kib() / 1024 / 1024:.1f} GiB",
        f"OS: {os_name[1] if os_name else platform.system()}, kernel {platform.release()}",
    ]


def versions() -> list[str]:
    import duckdb
    import polars

    commit = _command_output(["git", "rev-parse", "--short", "HEAD"])
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=REPO).returncode != 0
    return [
        f"sdds: {_command_output([BENCH.sdds, '--version'])}, commit {commit}{' (uncommitted changes)' if dirty else ''}",
        f"sdds-gen: {_command_output([BENCH.gen, '--version'])}",
        f"rustc: {_command_output(['rustc', '--version'])}",
        f"Python {platform.python_version()}, duckdb {duckdb.__version__}, polars {polars.__version__}",
    ]


def write_report(path: Path, started: dt.datetime, sections: list, notes: list[str]):
    parts = [
        f"# sdds benchmark{' (smoke)' if BENCH.smoke else ''}\n",
        f"Run {started:%Y-%m-%d %H:%M} UTC, {BENCH.runs} run(s) per measurement (median wall time, largest peak RSS). "
        "How it is measured: `bench/README.md` and the docstring of `bench/bench.py`.\n",
        "## Machine\n\n" + "".join(f"- {ln}\n" for ln in machine()),
        "## Versions\n\n" + "".join(f"- {ln}\n" for ln in versions()),
    ]
    parts += [f"{n}\n" for n in notes]
    parts.append("## Results\n")
    for s in sections:
        parts.append(s.markdown() if isinstance(s, Table) else "```\n" + "\n".join(s) + "\n```\n")
    parts.append(
        "## Commands\n\nIn the order run; each measured one under `/usr/bin/time -f '%e %M'`.\n\n```\n"
        + "\n".join(BENCH.commands) + "\n```\n"
    )
    path.write_text("\n".join(parts))


def emit(sections: list, item):
    """Print a table (or a block of lines) now and keep it for the report."""
    progress("")
    if item is None:
        return
    sections.append(item)
    print((item.text() if isinstance(item, Table) else "\n".join(item)) + "\n", flush=True)


# ------------------------------------------------------------------------------------------
# Main
# ------------------------------------------------------------------------------------------


def parse_args(argv):
    ap = argparse.ArgumentParser(description="Benchmark sdds against DuckDB and Polars.")
    ap.add_argument("--sdds", required=True, help="the sdds binary")
    ap.add_argument("--gen", required=True, help="the sdds-gen binary")
    ap.add_argument("--scales", default="1,3,10", help="multiples of 1 050 000 billing events (default 1,3,10)")
    ap.add_argument("--smoke", action="store_true", help="4 000 events, one run each; report in WORK/RESULTS-smoke.md")
    ap.add_argument("--work", default=str(HERE / "work"), help="scratch directory (default bench/work)")
    ap.add_argument("--runs", type=int, help="runs per measured command (default 3; 1 with --smoke)")
    ap.add_argument("--duckdb-scales", help="scales at which DuckDB runs the queries too (default: all)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per query before it is killed (default 1800)")
    args = ap.parse_args(argv)
    args.runs = args.runs or (1 if args.smoke else 3)
    args.sdds, args.gen = os.path.abspath(args.sdds), os.path.abspath(args.gen)
    return args


def main(argv=None) -> int:
    global BENCH
    args = parse_args(argv)
    BENCH = Bench(args)
    started = dt.datetime.now(dt.timezone.utc)
    queries, query_notes = find_queries()
    for note in query_notes:
        print(note)
    if args.smoke:
        datasets = [prepare_dataset("smoke", "smoke", 1, SMOKE_EVENTS)]
    else:
        scales = [int(s) for s in args.scales.split(",")]
        datasets = [prepare_dataset(f"scale-{k}", f"{k}×", k, k * EVENTS_PER_SCALE) for k in scales]

    sections: list = []
    emit(sections, data_table(datasets))
    first = datasets[0]
    warehouses = {d.key: run_dir(d) / "warehouse" for d in datasets}
    table, first_sync = stage_ingest(first, warehouses[first.key])
    emit(sections, table)
    if first_sync.ok:
        emit(sections, stage_incremental(first, warehouses[first.key]))
    else:
        emit(sections, ["2. Incremental sync: not run (the full sync failed)"])

    results, setups = [], []
    for ds in datasets:
        sync = first_sync if ds is first else full_sync(ds, warehouses[ds.key])[0]
        if queries and sync.ok:
            found, load, cached = stage_queries(ds, warehouses[ds.key], queries)
            results += found
            setups.append((ds, sync, load, cached))
        else:
            setups.append((ds, sync, Measured([]), None))
    emit(sections, setup_table(setups))
    if results:
        emit(sections, query_table(results))
        emit(sections, growth_table(results, datasets))
        diffs = differences(results)
        emit(sections, ["Result differences (first differing values):", *diffs] if diffs else None)

    report = BENCH.work / "RESULTS-smoke.md" if args.smoke else HERE / "RESULTS.md"
    write_report(report, started, sections, query_notes)
    print(f"report: {_short(str(report))}")
    for f in BENCH.failures:
        print(f"FAILED: {f}", file=sys.stderr)
    return 1 if BENCH.failures else 0


BENCH: Bench

if __name__ == "__main__":
    sys.exit(main())
