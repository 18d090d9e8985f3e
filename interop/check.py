"""Reads every table of a synced sdds warehouse with other engines and checks it against sdds.

    python interop/check.py --sdds target/debug/sdds --gen target/debug/sdds-gen

A generated bucket is synced, then two more days are appended and synced (so objects have
several files), and every table is read by the ``deltalake`` package (through pyarrow), by
Polars (``read_delta``) and by DuckDB (``read_parquet`` over the files of the table's current
Delta snapshot, as listed by ``deltalake``): each must give the row count and the sum of every
decimal (money) column that ``sdds query`` gives, exactly.  Then ``sdds optimize`` runs and
everything is checked again.  Exits non-zero on any difference.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pyarrow.compute as pc
from deltalake import DeltaTable

GEN_FLAGS = ["--billing-events", "4000", "--seed", "11", "--months", "3", "--end", "2026-10-31"]


def run(*cmd: str) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode not in (0, 4):  # 4: rows set aside in the quarantine table
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip()}")
    return done.stdout


def sdds_json(sdds: str, warehouse: Path, sql: str) -> list[dict]:
    return json.loads(run(sdds, "query", "--warehouse", str(warehouse), "--format", "json", sql))


def tables(sdds: str, warehouse: Path) -> list[str]:
    status = json.loads(run(sdds, "status", "--warehouse", str(warehouse), "--json"))
    return [t["table"] for t in status if t["version"] is not None]


def money_columns(sdds: str, warehouse: Path, table: str) -> list[str]:
    rows = sdds_json(
        sdds,
        warehouse,
        "select column_name from information_schema.columns "
        f"where table_name = '{table}' and data_type like 'Decimal%' order by ordinal_position",
    )
    return [r["column_name"] for r in rows]


def number(value) -> Decimal:
    return Decimal(0) if value is None else Decimal(str(value))


def by_sdds(sdds: str, warehouse: Path, table: str, money: list[str]) -> tuple:
    sums = "".join(f", sum({c}) as s{i}" for i, c in enumerate(money))
    row = sdds_json(sdds, warehouse, f"select count(*) as n{sums} from {table}")[0]
    return (int(row["n"]), *(number(row[f"s{i}"]) for i in range(len(money))))


def by_deltalake(path: Path, money: list[str]) -> tuple:
    data = DeltaTable(str(path)).to_pyarrow_table()
    return (data.num_rows, *(number(pc.sum(data[c]).as_py()) for c in money))


def by_polars(path: Path, money: list[str]) -> tuple:
    frame = pl.read_delta(str(path))
    return (frame.height, *(number(frame[c].sum()) for c in money))


def by_duckdb(path: Path, money: list[str]) -> tuple:
    files = [f.removeprefix("file://") for f in DeltaTable(str(path)).file_uris()]
    sums = "".join(f", sum({c})" for c in money)
    listed = ", ".join(f"'{f}'" for f in files)
    row = duckdb.sql(f"select count(*){sums} from read_parquet([{listed}], union_by_name = true)").fetchall()[0]
    return (int(row[0]), *(number(v) for v in row[1:]))


def check(sdds: str, warehouse: Path, stage: str) -> list[str]:
    problems = []
    for table in tables(sdds, warehouse):
        money = money_columns(sdds, warehouse, table)
        expected = by_sdds(sdds, warehouse, table, money)
        path = warehouse / table
        files = len(DeltaTable(str(path)).file_uris())
        for engine, read in (("deltalake", by_deltalake), ("polars", by_polars), ("duckdb", by_duckdb)):
            got = read(path, money)
            verdict = "ok" if got == expected else "DIFFERENT"
            if got != expected:
                problems.append(f"{stage} {table} {engine}: {got} != sdds {expected}")
            print(f"{stage:<16} {table:<26} {files:>3} files  {engine:<9} rows {got[0]:>6}  "
                  f"{len(money)} money sums  {verdict}")
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sdds", required=True)
    parser.add_argument("--gen", required=True)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sdds-interop-") as tmp:
        bucket, warehouse = Path(tmp) / "bucket", Path(tmp) / "warehouse"
        run(args.gen, "--out", str(bucket), *GEN_FLAGS)
        sync = (args.sdds, "sync", "--quiet", "--source", str(bucket), "--warehouse", str(warehouse))
        run(*sync)
        for _ in range(2):
            run(args.gen, "--out", str(bucket), *GEN_FLAGS, "--append-day")
            run(*sync)
        problems = check(args.sdds, warehouse, "synced")
        optimized = json.loads(run(args.sdds, "optimize", "--warehouse", str(warehouse), "--json"))
        merged = [t["table"] for t in optimized if t["version"] is not None]
        if not merged:
            problems.append("optimize merged nothing: the check after it proves nothing")
        problems += check(args.sdds, warehouse, "after optimize")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    print("interop: " + ("FAILED" if problems else f"ok (optimize merged files of {len(merged)} tables)"))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
