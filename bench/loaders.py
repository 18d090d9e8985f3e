#!/usr/bin/env python3
"""The peers' full load of an SDDS bucket into Parquet, one process per run (see bench.py).

    python bench/loaders.py duckdb BUCKET OUT_DIR --threads 2 --memory-limit 17000MiB
    python bench/loaders.py polars BUCKET OUT_DIR

Every top-level folder of BUCKET is a feed; all of its ``*.csv`` files below it (every
``year=YYYY/month=MM/data.csv``) are loaded into ``OUT_DIR/<feed>.parquet``.  Columns are
lined up by header name, so a file without a column (the backfill's missing ``broker_id``)
gets NULLs.

* duckdb: typed load.  ``read_csv`` with DuckDB's type auto-detection (its default sniffer
  and sample), ``union_by_name``, no Hive partition columns, then ``COPY ... TO`` Parquet.
* polars: untyped load.  ``scan_csv(infer_schema=False)`` (every column a string) per
  file, ``concat(how="diagonal")``, ``sink_parquet`` (streaming).  Its thread count comes
  from ``POLARS_MAX_THREADS``.

Prints ``{"rows": {feed: rows}}`` as JSON on stdout.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def feed_files(bucket: Path) -> dict[str, list[str]]:
    """Feed name -> its CSV files, in path order."""
    feeds = {}
    for root in sorted(p for p in bucket.iterdir() if p.is_dir() and not p.name.startswith((".", "_"))):
        files = sorted(str(f) for f in root.rglob("*.csv"))
        if files:
            feeds[root.name.lower()] = files
    return feeds


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def load_duckdb(feeds: dict[str, list[str]], out: Path, threads: int, memory_limit: str) -> dict[str, int]:
    import duckdb

    con = duckdb.connect()
    con.execute(f"SET threads = {threads}")
    con.execute(f"SET memory_limit = {_sql_str(memory_limit)}")
    rows = {}
    for feed, files in feeds.items():
        source = f"read_csv([{', '.join(map(_sql_str, files))}], union_by_name = true, hive_partitioning = false)"
        target = _sql_str(str(out / f"{feed}.parquet"))
        rows[feed] = con.execute(f"COPY (SELECT * FROM {source}) TO {target} (FORMAT parquet)").fetchone()[0]
    return rows


def load_polars(feeds: dict[str, list[str]], out: Path) -> dict[str, int]:
    import polars as pl

    rows = {}
    for feed, files in feeds.items():
        target = out / f"{feed}.parquet"
        pl.concat([pl.scan_csv(f, infer_schema=False) for f in files], how="diagonal").sink_parquet(target)
        rows[feed] = pl.scan_parquet(target).select(pl.len()).collect().item()
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Load every feed of an SDDS bucket into Parquet with DuckDB or Polars.")
    ap.add_argument("engine", choices=["duckdb", "polars"])
    ap.add_argument("bucket", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--threads", type=int, default=os.cpu_count(), help="DuckDB threads")
    ap.add_argument("--memory-limit", default="80%", help="DuckDB memory_limit")
    args = ap.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    feeds = feed_files(args.bucket)
    if args.engine == "duckdb":
        rows = load_duckdb(feeds, args.out, args.threads, args.memory_limit)
    else:
        rows = load_polars(feeds, args.out)
    json.dump({"rows": rows}, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
