#!/usr/bin/env python3
"""Athena reference ("oracle") for SDDS SQL, built on DuckDB.

Runs a Presto/Athena SQL file over an SDDS bucket folder
(``<feed>_v1/year=YYYY/month=MM/data.csv``) the way Athena would run it over
Glue tables whose columns are all ``VARCHAR`` (OpenCSVSerde), and writes the
result as a canonical CSV.

    python bench/athena.py --bucket DIR --today YYYY-MM-DD -f FILE.sql \
        [--out result.csv] [--memory-limit 20GB] [--threads 2] [--lenient] \
        [--materialize | --database FILE.duckdb] [--show-sql]
    python bench/athena.py --bucket DIR --today YYYY-MM-DD --database FILE.duckdb   # load only

As a module: ``Oracle(bucket, today).query(sql)`` returns ``(columns, rows)``
with every value already in canonical text form (``None`` for NULL), and
``Oracle.translate(sql)`` returns the DuckDB SQL.

Data model (what a query sees)
==============================
* One view per feed folder (``accountfeed_v1``, ``billingeventfeed_v1``, ...),
  the union of every file below it.  Each file is read with its own header
  (``read_csv(header=true, auto_detect=false, columns=<its header, all
  VARCHAR>)``, RFC 4180: ``,`` delimiter, ``"`` quote, ``""`` escape, quoted
  commas and newlines), and its columns are lined up with the view by NAME: a
  column a file does not have is NULL for that file's rows.  Files of 0 bytes
  and names starting with ``.`` or ``_`` are skipped (as Hive does); a
  header-only file contributes no rows.
* An empty field, quoted or not, is the empty string ``''`` and never NULL
  (``force_not_null`` on every column of the file): OpenCSVSerde semantics.
* The Hive partition columns ``year`` and ``month`` are VARCHAR, exactly as
  written in the path (``'2026'``, ``'08'``), as a Glue crawler declares them.
* Legacy names: ``piifeed`` = ``addressfeed_v1`` plus ``country``
  (= ``country_code``); ``agreementfeed`` = ``agreementfeed_v1`` plus the beta
  names ``origin_offer_id``, ``start_date``, ``end_date``,
  ``acceptance_date``, ``agreement_intent``, ``previous_agreement_id`` (same
  values as ``offer_id``, ``start_time``, ``end_time``, ``acceptance_time``,
  ``intent``, ``preceding_agreement_id``) and ``agreement_revision``,
  ``agreement_type`` (NULL).
* Session: time zone UTC (Athena's), ``current_date`` = ``--today``,
  ``now()``/``current_timestamp`` = its midnight UTC, ``localtimestamp`` = its
  midnight.
* ``--materialize`` loads the views into in-memory tables first.
  ``--database FILE`` loads them into tables of a persistent DuckDB file once;
  later runs with the same file reuse them as long as every CSV file has the
  same path, size and modification time (recorded in the table
  ``_oracle_loaded_files``), and reload everything otherwise.  The macros are
  TEMP, so a query run does not write to the file.

Translation
===========
The SQL is parsed with sqlglot (``read="trino"``: Athena engine 3 is Trino),
qualified against the schema above (every column VARCHAR; an unresolvable
column is an analysis error), pruned, typed with Presto's typing rules (our
own annotators: decimal precision/scale, integer literal types, timestamp
precision, the zone given to ``at_timezone``), rewritten node by node, and
printed with ``write="duckdb"``.  DuckDB macros named ``presto_*`` (see
``_macros``) do the runtime work.  A runtime error is raised by casting the
message to an integer (DuckDB's ``error()`` is volatile and refused in window
ORDER BY); it surfaces as ``AthenaError`` with the Trino-like message.

Rewrite list (each rule checked against the Trino documentation or source;
"strict" = default, "lenient" = ``--lenient``):

 1. Pruning: unreferenced projections, window functions and aggregates are
    removed and unused WITH queries dropped (sqlglot ``pushdown_projections``
    + ``eliminate_ctes``), and every remaining CTE is emitted ``AS NOT
    MATERIALIZED`` (Trino inlines WITH queries).  So a cast that would fail
    only in an unused column (``from_iso8601_timestamp(delete_date)`` with
    ``delete_date = ''``) does not fail, as in Trino; a failing value that
    reaches an output, a filter, a join or a GROUP BY key does.
 2. ``from_iso8601_timestamp(s)`` -> ``presto_from_iso8601_timestamp(s)``.
    Trino parses with Joda ``ISODateTimeFormat.dateTimeParser()`` in the
    session zone and returns ``timestamp(3) with time zone``.  Accepted here:
    ``yyyy[-MM[-dd]]`` optionally followed by ``T HH[:mm[:ss[(.|,)f+]]]`` and
    an offset ``Z``/``+HH``/``+HH:mm``/``+HHmm``; no offset = UTC (the session
    zone); the fraction is truncated to milliseconds (Joda keeps millis).
    Anything else, including ``''`` and a space instead of ``T``, fails with
    ``Invalid format: "..."`` as in Trino.  The instant is exact; the
    per-value offset (Trino keeps ``+01:00``) is not kept - see below.
 3. ``from_iso8601_date(s)`` -> ``presto_from_iso8601_date(s)``
    (``yyyy[-MM[-dd]]``, else an error).
 4. ``CAST(x AS VARCHAR)``: text unchanged; integer/decimal -> DuckDB's text
    (identical to Trino: ``12.340000``, ``-0.500000``, ``5``); boolean ->
    ``true``/``false``; date -> ``YYYY-MM-DD``; ``timestamp(p)`` ->
    ``YYYY-MM-DD HH:MM:SS[.f{p}]``; ``timestamp(p) with time zone`` -> the
    same in the value's zone followed by `` UTC`` (or the ``at_timezone``
    zone): ``2026-09-15 10:20:30.743 UTC`` (Trino
    ``formatTimestampWithTimeZone``).  p: 3 for ``from_iso8601_timestamp``,
    ``CAST(.. AS TIMESTAMP)``, ``current_timestamp``; the literal's digits for
    ``timestamp '...'`` (``timestamp '2999-01-01 00:00:00'`` has p = 0).
    ``CAST(double AS VARCHAR)`` is not emulated (error).
 5. ``CAST(varchar AS TIMESTAMP [WITH TIME ZONE])`` and ``timestamp '...'``
    literals use Trino's ``DateTimes.DATETIME_PATTERN`` after trimming:
    ``yyyy-M-d[ H:m[:s[.f]]][ zone]`` - a SPACE before the time; fraction
    rounded half up to milliseconds; for TIMESTAMP a zone is ignored, for WITH
    TIME ZONE it is applied (``UTC``, ``Z``, ``+01:00``, IANA names; default
    UTC).  Literals are evaluated at translation time, columns by
    ``presto_cast_ts``/``presto_cast_tstz``.  ISO text with ``T``
    (``2026-09-10T00:00:00Z``) fails in Trino ("Value cannot be cast to
    timestamp"); lenient reads it like rule 2 (TIMESTAMP = its UTC wall clock).
 6. Other casts from text: ``DECIMAL(p,s)`` needs a plain number (Java
    ``BigDecimal`` syntax) and rounds half up; ``INTEGER``/``BIGINT`` need
    digits with an optional sign (``'1.0'`` fails; DuckDB would accept it);
    ``DATE`` needs ``yyyy-M-d`` (DuckDB would accept a timestamp); ``''``
    fails for every non-text type.  Lenient: ``CAST('' AS <non-text>)`` is
    NULL, which is what a typed column gives for an empty field.
    ``DECIMAL '1.5'`` (parsed by sqlglot as a cast without precision) gets the
    literal's type, DECIMAL(2,1).
 7. Division ``a / b`` (Trino ``DecimalOperators``): integer/integer ->
    ``presto_int_div`` (truncates toward zero; error on 0).  With a decimal
    operand (an INTEGER counts as DECIMAL(10,0), a BIGINT as DECIMAL(19,0)):
    exact division of the unscaled HUGEINT values to the Trino result type
    ``DECIMAL(min(38, p1 + s2 + max(0, s2 - s1)), max(s1, s2))``, rounded half
    up (away from zero), error on 0.  DuckDB would return a DOUBLE.  A double
    operand -> double division (x/0 -> Infinity/-Infinity/NaN as in Java).
 8. ``+ - *`` with a decimal result: cast to Trino's type (add/sub:
    ``min(38, 1 + max(s1,s2) + max(p1-s1, p2-s2)), max(s1,s2)``; mul:
    ``min(38, p1+p2), s1+s2``; same values as DuckDB).  ``date +- interval``
    stays a DATE (DuckDB gives a TIMESTAMP).  Text in arithmetic is an
    analysis error.
 9. ``round(decimal(p,s), d)`` -> DuckDB ``round`` (half away from zero, like
    Trino ``RoundN``) cast back to ``DECIMAL(min(38,p+1), s)``;
    ``round(decimal)`` -> ``DECIMAL(min(38, p-s+min(1,s)), 0)``.
    ``truncate(decimal(p,s), n)`` -> exact truncation toward zero on the
    unscaled value, type ``DECIMAL(p,s)``; ``truncate(decimal)`` ->
    ``DECIMAL(max(1,p-s),0)``.
10. ``sum`` of integers -> BIGINT (DuckDB: HUGEINT); of decimal(p,s) ->
    DECIMAL(38,s) (same in both).
11. ``date_add(unit, n, x)``: the unit is case-insensitive (``'Day'``) and one
    of millisecond, second, minute, hour, day, week, month, quarter, year;
    emitted as ``x + INTERVAL (n) unit`` (quarter = 3 months; month/year add
    clamps to the month's end, as Joda's ``add``); a DATE stays a DATE and
    takes day..year only; an ``at_timezone`` value moves in its zone.
12. ``date_diff(unit, a, b)`` (Trino: Joda ``getDifferenceAsLong(b, a)`` in
    the zone of ``a``): millisecond..hour -> whole units of elapsed time,
    truncated toward zero; day/week -> the same on local wall-clock time (=
    elapsed time in UTC); month -> Joda's month difference
    (``presto_diff_months``: a month has elapsed when the day-of-month and
    time of day come round again; when ``b`` is on its month's last day a
    larger day of ``a`` is clamped, so Jan 31 -> Feb 28 is 1); quarter =
    months / 3 truncated; year -> Joda's year difference with its Feb-29
    balancing (``presto_diff_years``).  DuckDB's ``date_diff`` counts calendar
    boundaries instead (Sep 15 10:20 -> Oct 15 00:00 is 30 days there, 29 in
    Trino).
13. ``date_trunc(unit, x)``: DuckDB ``date_trunc`` in UTC (week = Monday, as
    Joda's ``weekOfWeekyear``); a DATE stays a DATE; an ``at_timezone`` value
    is truncated in its zone.
14. ``date_format(x, fmt)``: MySQL specifiers translated to ``strftime`` as
    Trino's ``createDateTimeFormatter`` defines them (``%i`` minutes, ``%s``
    seconds, ``%f`` six fraction digits, ``%c %e %k %l`` unpadded, ``%W``
    weekday, ``%M`` month name, ``%v``/``%x`` ISO week/year, ``%r``, ``%T``,
    ``%%``, ``%<other>`` = that character); ``%D %U %u %V %w %X`` fail as in
    Trino.  Formatted in the value's zone; the format must be a literal.
15. ``at_timezone(ts, 'zone')`` and ``ts AT TIME ZONE 'zone'``: the same
    instant; the typer records the zone so rules 4, 11, 12, 13, 14 work in it.
16. ``listagg(x, sep) WITHIN GROUP (ORDER BY k)`` -> DuckDB
    ``listagg(x, sep ORDER BY k)`` with NULLS LAST: NULL values skipped, NULL
    when nothing is left (Trino aggregate rules); x must be text.  The 1 MB
    overflow error is not emulated.
17. ``substring``/``substr(s, start[, len])`` -> ``presto_substr``: 1-based,
    a negative start counts from the end, start 0 or |start| > length -> '',
    len <= 0 -> '' (Trino ``StringFunctions.substr``); counts code points.
18. ``a || b`` and ``concat(...)``: NULL if any operand is NULL (DuckDB's
    ``||``, never DuckDB's NULL-skipping ``concat``); every operand must be
    text (Trino has no ``concat(varchar, bigint)``): analysis error otherwise.
19. ``greatest``/``least``: NULL when any argument is NULL (Trino); DuckDB
    skips NULLs, so a CASE guards the call.
20. ``current_date``, ``now()``, ``current_timestamp``, ``localtimestamp`` ->
    literals of ``--today`` (midnight UTC).
21. ORDER BY (queries, windows, aggregates): NULLS LAST for ASC and DESC, as
    Trino (``select.md``): DuckDB's ``default_null_order`` is set to
    ``nulls_last``; an explicit NULLS FIRST is kept.
22. Text compared with a number (``balance_impacting = 1``, also ``IN``):
    Trino rejects it at analysis ("Cannot apply operator: varchar =
    integer") and so does strict; lenient casts the text side to the number's
    type (rule 6) and prints a warning.
23. A scalar subquery returning several rows fails
    (``scalar_subquery_error_on_multiple_rows``), as in Trino.
24. Output names: lower case, as Athena; an unnamed expression is ``_colN``
    (0-based position), as Trino.
25. Not rewritten because DuckDB already means the same: ``count(distinct)``,
    ``bool_or``, ``row_number``/``rank``/``dense_rank``/``lag``/``lead``/
    ``first_value`` (given rule 21), ``coalesce``, ``nullif``, ``abs``,
    ``length`` (code points), ``replace``, ``x = ''``, ``LIKE``, ``IN``,
    ``CASE``, ``try()`` (it also catches the macros' errors), text comparison
    (by code point in both).

Canonical output (``--out`` or stdout): a header line, then one line per row;
NULL = empty unquoted field, ``''`` = ``""``, a field is quoted only when it
contains ``,`` ``"`` or a line break; decimals and integers as exact plain
text (no exponent; a decimal keeps its scale); doubles as their shortest
round-trip text without exponent (``NaN``, ``Infinity``); timestamps, with or
without zone, as UTC ``YYYY-MM-DDTHH:MM:SS[.ffffff]Z`` (fraction only when not
zero); dates ``YYYY-MM-DD``; booleans ``true``/``false``.  Row order is the
query's (DuckDB's when the query has no ORDER BY).

Not emulated exactly
====================
* Real Athena with OpenCSVSerde maps CSV fields to columns by POSITION and does
  not support quoted fields containing line breaks (AWS documents this); the
  model above (by name, RFC 4180) is the intended one, not Athena's reality.
* Per-value zones: Trino keeps the offset parsed by ``from_iso8601_timestamp``
  or a cast (``+01:00``) and uses it in ``date_trunc``, ``date_format``,
  ``date_diff``, ``CAST(.. AS VARCHAR)``; here every parsed value is a UTC
  instant.  Identical for ``Z``/``+00:00``/no-offset data such as SDDS's.
* Which row-level errors fire depends on the plan; rule 1 removes the obvious
  differences, but DuckDB may still evaluate (or skip) an expression where
  Trino skips (or evaluates) it.
* ``CAST(double AS VARCHAR)``; ``round(decimal, -n)`` edge cases; listagg ON
  OVERFLOW; Joda's ordinal/week ISO date forms and a fraction after hours or
  minutes; whitespace accepted around numbers by DuckDB's decimal cast.
* Decimal division needs |dividend unscaled| * 10^k < 1.7e38 (HUGEINT);
  beyond that the oracle raises an overflow error (Trino has more headroom).
* Functions outside this list that sqlglot knows (``regexp_like``,
  ``split_part``, ``year``, ``date_parse``, JSON functions, ...) are passed to
  DuckDB with sqlglot's own translation and are not checked; a function
  sqlglot does not know raises "not emulated".
* Ties: the order of tied rows (``row_number`` over equal keys, ``listagg``
  with equal ORDER BY keys) is arbitrary in both engines.
"""
from __future__ import annotations

import argparse
import csv
import datetime as _dt
import math
import os
import re
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.eliminate_ctes import eliminate_ctes
from sqlglot.optimizer.pushdown_projections import pushdown_projections
from sqlglot.optimizer.qualify import qualify
from sqlglot.dialects.trino import Trino as _Trino
from sqlglot.typing import EXPRESSION_METADATA as _BASE_METADATA

__all__ = ["Oracle", "AthenaError", "NotEmulated", "discover_bucket", "canonical_csv_lines"]


class AthenaError(Exception):
    """The query would fail in Athena (analysis or runtime error)."""


class NotEmulated(Exception):
    """A construct this oracle cannot reproduce exactly."""


# --------------------------------------------------------------------------------------
# Bucket discovery and views
# --------------------------------------------------------------------------------------

_PART_RE = re.compile(r"^(\w+)=(.*)$")


@dataclass
class FeedFile:
    path: str
    header: list[str]
    partitions: dict[str, str]


@dataclass
class Feed:
    name: str
    files: list[FeedFile] = field(default_factory=list)
    columns: list[str] = field(default_factory=list)
    partition_columns: list[str] = field(default_factory=list)


def _read_header(path: str) -> list[str] | None:
    with open(path, newline="", encoding="utf-8") as fh:
        try:
            header = next(csv.reader(fh))
        except StopIteration:
            return None
    if header and header[0].startswith("\ufeff"):
        header[0] = header[0][1:]
    return header


def discover_bucket(bucket: str) -> dict[str, Feed]:
    """Every top-level folder with data files below it is a table (lower-cased name)."""
    feeds: dict[str, Feed] = {}
    for entry in sorted(os.listdir(bucket)):
        root = os.path.join(bucket, entry)
        if not os.path.isdir(root) or entry.startswith((".", "_")):
            continue
        feed = Feed(name=entry.lower())
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
            rel = os.path.relpath(dirpath, root)
            parts: dict[str, str] = {}
            if rel != ".":
                for seg in rel.split(os.sep):
                    m = _PART_RE.match(seg)
                    if m:
                        parts[m.group(1).lower()] = m.group(2)
            for name in sorted(filenames):
                if name.startswith((".", "_")):
                    continue
                path = os.path.join(dirpath, name)
                if os.path.getsize(path) == 0:
                    continue
                header = _read_header(path)
                if not header:
                    continue
                feed.files.append(FeedFile(path, header, parts))
                for k in parts:
                    if k not in feed.partition_columns:
                        feed.partition_columns.append(k)
        if not feed.files:
            continue
        # Column order: the newest file's header, then columns only older files have.
        for f in sorted(feed.files, key=lambda f: f.path, reverse=True):
            for c in f.header:
                if c not in feed.columns and c not in feed.partition_columns:
                    feed.columns.append(c)
        feeds[feed.name] = feed
    return feeds


def _sql_str(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _ident(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _file_select(feed: Feed, f: FeedFile) -> str:
    cols = "{" + ", ".join(f"{_sql_str(c)}: 'VARCHAR'" for c in f.header) + "}"
    fnn = "[" + ", ".join(_sql_str(c) for c in f.header) + "]"
    present = set(f.header)
    proj = [
        (f"{_ident(c)}" if c in present else f"CAST(NULL AS VARCHAR) AS {_ident(c)}")
        for c in feed.columns
    ]
    for p in feed.partition_columns:
        v = f.partitions.get(p)
        proj.append((_sql_str(v) if v is not None else "CAST(NULL AS VARCHAR)") + f" AS {_ident(p)}")
    return (
        f"SELECT {', '.join(proj)} FROM read_csv({_sql_str(f.path)}, header=true, auto_detect=false, "
        f"columns={cols}, delim=',', quote='\"', escape='\"', force_not_null={fnn}, "
        f"strict_mode=true, encoding='utf-8')"
    )


LEGACY_VIEWS = {
    # name: (source table, [(new column, expression over the source or None = NULL)])
    "piifeed": ("addressfeed_v1", [("country", "country_code")]),
    "agreementfeed": (
        "agreementfeed_v1",
        [
            ("origin_offer_id", "offer_id"),
            ("start_date", "start_time"),
            ("end_date", "end_time"),
            ("acceptance_date", "acceptance_time"),
            ("agreement_intent", "intent"),
            ("previous_agreement_id", "preceding_agreement_id"),
            ("agreement_revision", None),
            ("agreement_type", None),
        ],
    ),
}


def _legacy_columns(cols: dict[str, str], extra) -> list[tuple[str, str]]:
    """(name, DuckDB expression) of each legacy column the source table does not have."""
    return [
        (new, _ident(src) if src and src in cols else "CAST(NULL AS VARCHAR)")
        for new, src in extra
        if new not in cols
    ]


def feed_schema(feeds: dict[str, Feed]) -> dict:
    """The sqlglot schema of the feed tables and legacy views: every column VARCHAR."""
    schema: dict[str, dict[str, str]] = {
        feed.name: {c: "VARCHAR" for c in feed.columns + feed.partition_columns} for feed in feeds.values()
    }
    for name, (source, extra) in LEGACY_VIEWS.items():
        if source in feeds and name not in feeds:
            schema[name] = dict(schema[source]) | {new: "VARCHAR" for new, _ in _legacy_columns(schema[source], extra)}
    return schema


def register_tables(con: duckdb.DuckDBPyConnection, feeds: dict[str, Feed], materialize: bool = False) -> dict:
    """Create one view (or table) per feed plus the legacy views; return the sqlglot schema."""
    kind = "TABLE" if materialize else "VIEW"
    for feed in feeds.values():
        body = "\nUNION ALL\n".join(_file_select(feed, f) for f in feed.files)
        con.execute(f"CREATE OR REPLACE {kind} {_ident(feed.name)} AS {body}")
    schema = feed_schema(feeds)
    for name, (source, extra) in LEGACY_VIEWS.items():
        if source in feeds and name not in feeds:
            proj = ["*"] + [f"{expr} AS {_ident(new)}" for new, expr in _legacy_columns(schema[source], extra)]
            con.execute(f"CREATE OR REPLACE VIEW {_ident(name)} AS SELECT {', '.join(proj)} FROM {_ident(source)}")
    return schema


# The files a persistent database was loaded from: (path, size, mtime_ns) of each.
LOADED_FILES_TABLE = "_oracle_loaded_files"


def _file_signature(feeds: dict[str, Feed]) -> list[tuple[str, int, int]]:
    sig = []
    for feed in feeds.values():
        for f in feed.files:
            st = os.stat(f.path)
            sig.append((os.path.abspath(f.path), st.st_size, st.st_mtime_ns))
    return sorted(sig)


def _loaded_signature(con: duckdb.DuckDBPyConnection) -> list[tuple[str, int, int]] | None:
    try:
        rows = con.execute(f"SELECT path, size, mtime_ns FROM {LOADED_FILES_TABLE} ORDER BY path").fetchall()
    except duckdb.CatalogException:
        return None
    return [tuple(r) for r in rows]


def load_database(con: duckdb.DuckDBPyConnection, feeds: dict[str, Feed]) -> tuple[dict, bool]:
    """Feed tables in a persistent database: reused when loaded from the same files (path, size,
    mtime), otherwise everything is dropped and loaded again.  Returns (schema, reused)."""
    signature = _file_signature(feeds)
    if _loaded_signature(con) == signature:
        return feed_schema(feeds), True
    for name, kind in con.execute(
        "SELECT table_name, table_type FROM information_schema.tables WHERE table_schema = 'main'"
    ).fetchall():
        con.execute(f"DROP {'VIEW' if kind == 'VIEW' else 'TABLE'} {_ident(name)}")
    schema = register_tables(con, feeds, materialize=True)
    con.execute(f"CREATE TABLE {LOADED_FILES_TABLE} (path VARCHAR, size BIGINT, mtime_ns BIGINT)")
    con.executemany(f"INSERT INTO {LOADED_FILES_TABLE} VALUES (?, ?, ?)", signature)
    con.execute("CHECKPOINT")
    return schema, False


# --------------------------------------------------------------------------------------
# DuckDB macros
# --------------------------------------------------------------------------------------

ISO_RE = (
    r"^([+-]?[0-9]{4,9})(?:-([0-9]{2})(?:-([0-9]{2}))?)?"
    r"(?:T([0-9]{2})(?::([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]+))?)?)?)?"
    r"(Z|[+-][0-9]{2}(?::?[0-9]{2})?)?$"
)
ISO_DATE_RE = r"^([+-]?[0-9]{4,9})(?:-([0-9]{2})(?:-([0-9]{2}))?)?$"
# Trino DateTimes.DATETIME_PATTERN (applied after trim)
TRINO_TS_RE = (
    r"^([+-]?[0-9]{4,})-([0-9]{1,2})-([0-9]{1,2})"
    r"(?: (?:([0-9]{1,2}):([0-9]{1,2})(?::([0-9]{1,2})(?:\.([0-9]+))?)?)?\s*(.+)?)?$"
)
DECIMAL_TEXT_RE = r"^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$"

_ISO_FIELDS = "['y','mo','d','h','mi','s','f','tz']"


def _macros(lenient: bool) -> list[str]:
    empty_to_null = "WHEN s = '' THEN NULL" if lenient else ""
    iso_parse = f"presto__iso_build(regexp_extract(s, '{ISO_RE}', {_ISO_FIELDS}))"
    trino_ts = f"regexp_extract(trim(s), '{TRINO_TS_RE}', {_ISO_FIELDS})"
    return [
        # A runtime error that DuckDB does not consider volatile (error() is volatile and not
        # allowed in window ORDER BY): the cast of the message to an integer fails with it.
        """CREATE OR REPLACE MACRO presto__fail(msg) AS
            CAST(CAST('ATHENA_ERROR: ' || msg AS INTEGER) AS VARCHAR)""",
        # ---- ISO 8601 (Joda dateTimeParser subset) -> TIMESTAMPTZ, millisecond precision
        """CREATE OR REPLACE MACRO presto__iso_offset(tz) AS (
            CASE WHEN tz = '' OR tz = 'Z' THEN '+00:00'
                 WHEN length(tz) = 3 THEN tz || ':00'
                 WHEN length(tz) = 5 THEN substr(tz, 1, 3) || ':' || substr(tz, 4, 2)
                 ELSE tz END)""",
        """CREATE OR REPLACE MACRO presto__iso_build(r) AS CAST(
            r.y || '-' || coalesce(nullif(r.mo, ''), '01') || '-' || coalesce(nullif(r.d, ''), '01')
            || ' ' || coalesce(nullif(r.h, ''), '00') || ':' || coalesce(nullif(r.mi, ''), '00')
            || ':' || coalesce(nullif(r.s, ''), '00') || '.' || rpad(left(r.f, 3), 3, '0')
            || presto__iso_offset(r.tz) AS TIMESTAMPTZ)""",
        f"""CREATE OR REPLACE MACRO presto_from_iso8601_timestamp(s) AS (
            CASE WHEN s IS NULL THEN NULL
                 WHEN NOT regexp_full_match(s, '{ISO_RE}') THEN CAST(presto__fail('Invalid format: "' || s || '"') AS TIMESTAMPTZ)
                 ELSE {iso_parse} END)""",
        f"""CREATE OR REPLACE MACRO presto_from_iso8601_date(s) AS (
            CASE WHEN s IS NULL THEN NULL
                 WHEN NOT regexp_full_match(s, '{ISO_DATE_RE}') THEN CAST(presto__fail('Invalid format: "' || s || '"') AS DATE)
                 ELSE CAST({iso_parse} AS DATE) END)""",
        # ---- Trino CAST(varchar AS TIMESTAMP[ WITH TIME ZONE]) (DATETIME_PATTERN, space separator)
        """CREATE OR REPLACE MACRO presto__ts_wall(r) AS (
            make_timestamp(CAST(r.y AS BIGINT), CAST(r.mo AS BIGINT), CAST(r.d AS BIGINT),
                           CAST(coalesce(nullif(r.h, ''), '0') AS BIGINT),
                           CAST(coalesce(nullif(r.mi, ''), '0') AS BIGINT),
                           CAST(coalesce(nullif(r.s, ''), '0') AS DOUBLE))
            + to_milliseconds(CAST(round(CAST('0.' || coalesce(nullif(r.f, ''), '0') AS DECIMAL(38, 18)), 3)
                                   * 1000 AS BIGINT)))""",
        f"""CREATE OR REPLACE MACRO presto_cast_ts(s) AS (
            CASE WHEN s IS NULL THEN NULL {empty_to_null}
                 WHEN regexp_full_match(trim(s), '{TRINO_TS_RE}') THEN presto__ts_wall({trino_ts})
                 {"WHEN regexp_full_match(s, '" + ISO_RE + "') THEN CAST(" + iso_parse + " AS TIMESTAMP)" if lenient else ""}
                 ELSE CAST(presto__fail('Value cannot be cast to timestamp: ' || s) AS TIMESTAMP) END)""",
        # a wall-clock TIMESTAMP read in a zone: '' / Z / UTC, an offset (+01:00) or an IANA name
        """CREATE OR REPLACE MACRO presto__at_zone(w, tz) AS (
            CASE WHEN tz IN ('', 'Z', 'UTC') THEN timezone('UTC', w)
                 WHEN regexp_full_match(tz, '[+-][0-9]{2}:[0-9]{2}')
                      THEN CAST(strftime(w, '%Y-%m-%d %H:%M:%S.%f') || tz AS TIMESTAMPTZ)
                 ELSE timezone(tz, w) END)""",
        f"""CREATE OR REPLACE MACRO presto_cast_tstz(s) AS (
            CASE WHEN s IS NULL THEN NULL {empty_to_null}
                 WHEN regexp_full_match(trim(s), '{TRINO_TS_RE}') THEN
                      presto__at_zone(presto__ts_wall({trino_ts}), ({trino_ts}).tz)
                 {"WHEN regexp_full_match(s, '" + ISO_RE + "') THEN " + iso_parse if lenient else ""}
                 ELSE CAST(presto__fail('Value cannot be cast to timestamp: ' || s) AS TIMESTAMPTZ) END)""",
        # ---- other casts from text
        f"""CREATE OR REPLACE MACRO presto_check_decimal_text(s) AS (
            CASE WHEN s IS NULL THEN NULL {empty_to_null}
                 WHEN regexp_full_match(s, '{DECIMAL_TEXT_RE}') THEN s
                 ELSE presto__fail('Cannot cast VARCHAR ''' || s || ''' to DECIMAL. Value is not a number.') END)""",
        f"""CREATE OR REPLACE MACRO presto_check_integer_text(s) AS (
            CASE WHEN s IS NULL THEN NULL {empty_to_null}
                 WHEN regexp_full_match(s, '[+-]?[0-9]+') THEN s
                 ELSE presto__fail('Cannot cast ''' || s || ''' to an integer type') END)""",
        f"""CREATE OR REPLACE MACRO presto_check_date_text(s) AS (
            CASE WHEN s IS NULL THEN NULL {empty_to_null}
                 WHEN regexp_full_match(trim(s), '[+-]?[0-9]{{4,}}-[0-9]{{1,2}}-[0-9]{{1,2}}') THEN trim(s)
                 ELSE presto__fail('Value cannot be cast to date: ' || s) END)""",
        f"""CREATE OR REPLACE MACRO presto_check_other_text(s) AS (
            CASE WHEN s IS NULL THEN NULL {empty_to_null} ELSE s END)""",
        # ---- exact decimal arithmetic helpers (unscaled HUGEINT values)
        "CREATE OR REPLACE MACRO presto_unscaled(x) AS CAST(replace(CAST(x AS VARCHAR), '.', '') AS HUGEINT)",
        """CREATE OR REPLACE MACRO presto__div_round(n, d) AS (
            (n // d) + CASE WHEN 2 * (n - (n // d) * d) >= d THEN 1 ELSE 0 END)""",
        """CREATE OR REPLACE MACRO presto_div_unscaled(a, b, p10) AS (
            CASE WHEN a IS NULL OR b IS NULL THEN NULL
                 WHEN b = 0 THEN CAST(presto__fail('Division by zero') AS HUGEINT)
                 ELSE CAST(sign(a) * sign(b) AS HUGEINT) * presto__div_round(abs(a) * p10, abs(b)) END)""",
        """CREATE OR REPLACE MACRO presto_dec_text(r, s, p10) AS (
            CASE WHEN r IS NULL THEN NULL
                 WHEN s = 0 THEN CAST(r AS VARCHAR)
                 ELSE (CASE WHEN r < 0 THEN '-' ELSE '' END) || CAST(abs(r) // p10 AS VARCHAR) || '.'
                      || lpad(CAST(abs(r) % p10 AS VARCHAR), s, '0') END)""",
        # (r // f) * g: r // f truncates toward zero in DuckDB, as Trino's truncate
        """CREATE OR REPLACE MACRO presto_trunc_unscaled(r, f, g) AS (
            CASE WHEN r IS NULL THEN NULL ELSE (r // f) * g END)""",
        """CREATE OR REPLACE MACRO presto_int_div(a, b) AS (
            CASE WHEN a IS NULL OR b IS NULL THEN NULL
                 WHEN b = 0 THEN CAST(presto__fail('Division by zero') AS BIGINT) ELSE a // b END)""",
        """CREATE OR REPLACE MACRO presto_double_div(a, b) AS (
            CASE WHEN a IS NULL OR b IS NULL THEN NULL
                 WHEN b = 0 THEN (CASE WHEN a > 0 THEN 'Infinity' WHEN a < 0 THEN '-Infinity' ELSE 'NaN' END)::DOUBLE
                 ELSE CAST(a AS DOUBLE) / CAST(b AS DOUBLE) END)""",
        # ---- strings
        """CREATE OR REPLACE MACRO presto_substr(s, st, ln) AS (
            CASE WHEN s IS NULL OR st IS NULL OR ln IS NULL THEN NULL
                 WHEN st = 0 OR ln <= 0 OR length(s) = 0 THEN ''
                 WHEN st > 0 THEN (CASE WHEN st > length(s) THEN '' ELSE substring(s, st, ln) END)
                 WHEN length(s) + st < 0 THEN ''
                 ELSE substring(s, length(s) + st + 1, ln) END)""",
        # ---- timestamps to text (Trino formatTimestamp / formatTimestampWithTimeZone)
        """CREATE OR REPLACE MACRO presto_wall_text(w, p) AS (
            strftime(w, '%Y-%m-%d %H:%M:%S')
            || CASE WHEN p > 0 THEN '.' || left(strftime(w, '%f'), p) ELSE '' END)""",
        # ---- date_diff (Joda getDifferenceAsLong); arguments are wall-clock TIMESTAMPs
        """CREATE OR REPLACE MACRO presto_diff_fixed(a, b, unit_ms) AS (
            CASE WHEN a IS NULL OR b IS NULL THEN NULL ELSE (epoch_ms(b) - epoch_ms(a)) // unit_ms END)""",
        """CREATE OR REPLACE MACRO presto__clamp_dom(s, m) AS (
            CASE WHEN day(m) = day(last_day(m)) AND day(s) > day(m)
                 THEN s - to_days(CAST(day(s) - day(m) AS INTEGER)) ELSE s END)""",
        """CREATE OR REPLACE MACRO presto__months_pos(s, m) AS (
            (year(m) - year(s)) * 12 + month(m) - month(s)
            - CASE WHEN epoch_ms(m) - epoch_ms(date_trunc('month', m))
                        < epoch_ms(presto__clamp_dom(s, m)) - epoch_ms(date_trunc('month', s))
                   THEN 1 ELSE 0 END)""",
        """CREATE OR REPLACE MACRO presto_diff_months(a, b) AS (
            CASE WHEN a IS NULL OR b IS NULL THEN NULL
                 WHEN b < a THEN -presto__months_pos(b, a) ELSE presto__months_pos(a, b) END)""",
        """CREATE OR REPLACE MACRO presto__leap(y) AS (y % 4 = 0 AND (y % 100 <> 0 OR y % 400 = 0))""",
        """CREATE OR REPLACE MACRO presto__yrem(x) AS (epoch_ms(x) - epoch_ms(date_trunc('year', x)))""",
        """CREATE OR REPLACE MACRO presto__years_pos(s, m) AS (
            year(m) - year(s)
            - CASE WHEN (CASE WHEN presto__yrem(s) >= 5097600000 AND NOT presto__leap(year(s))
                                   AND presto__yrem(m) >= 5097600000 AND presto__leap(year(m))
                              THEN presto__yrem(m) - 86400000 ELSE presto__yrem(m) END)
                        < (CASE WHEN presto__yrem(s) >= 5097600000 AND presto__leap(year(s))
                                     AND NOT presto__leap(year(m))
                                THEN presto__yrem(s) - 86400000 ELSE presto__yrem(s) END)
                   THEN 1 ELSE 0 END)""",
        """CREATE OR REPLACE MACRO presto_diff_years(a, b) AS (
            CASE WHEN a IS NULL OR b IS NULL THEN NULL
                 WHEN b < a THEN -presto__years_pos(b, a) ELSE presto__years_pos(a, b) END)""",
    ]


# --------------------------------------------------------------------------------------
# Presto types (sqlglot DataType values; precision/scale/zone tracked)
# --------------------------------------------------------------------------------------

D = exp.DType
INT_TYPES = {D.TINYINT: 3, D.SMALLINT: 5, D.INT: 10, D.BIGINT: 19}
INT_ORDER = [D.TINYINT, D.SMALLINT, D.INT, D.BIGINT]
TEXT_TYPES = {D.VARCHAR, D.CHAR, D.TEXT, D.NVARCHAR, D.NCHAR}
FLOAT_TYPES = {D.DOUBLE, D.FLOAT}
TS_TYPES = {D.TIMESTAMP, D.DATETIME, D.TIMESTAMPNTZ}
TSTZ_TYPES = {D.TIMESTAMPTZ, D.TIMESTAMPLTZ}


def T(text: str) -> exp.DataType:
    return exp.DataType.build(text)


def dec(p: int, s: int) -> exp.DataType:
    return exp.DataType.build(f"DECIMAL({p}, {s})")


def ts(p: int = 3) -> exp.DataType:
    return exp.DataType.build(f"TIMESTAMP({p})")


def tstz(p: int = 3, zone: str | None = None) -> exp.DataType:
    t = exp.DataType(this=D.TIMESTAMPTZ, expressions=[exp.DataTypeParam(this=exp.Literal.number(p))])
    if zone and zone.upper() != "UTC":
        t.meta["zone"] = zone
    return t


def kind(t) -> D | None:
    if t is None:
        return None
    return t.this if isinstance(t, exp.DataType) else t


def is_text(t):
    return kind(t) in TEXT_TYPES


def is_int(t):
    return kind(t) in INT_TYPES


def is_dec(t):
    return kind(t) == D.DECIMAL


def is_float(t):
    return kind(t) in FLOAT_TYPES


def is_num(t):
    return is_int(t) or is_dec(t) or is_float(t)


def is_ts(t):
    return kind(t) in TS_TYPES


def is_tstz(t):
    return kind(t) in TSTZ_TYPES


def is_date(t):
    return kind(t) == D.DATE


def is_temporal(t):
    return is_ts(t) or is_tstz(t) or is_date(t)


def is_null(t):
    return kind(t) in (D.NULL, None)


def is_unknown(t):
    return kind(t) in (D.UNKNOWN, None)


def _params(t) -> list[int]:
    out = []
    for p in t.expressions if isinstance(t, exp.DataType) else []:
        v = p.this if isinstance(p, exp.DataTypeParam) else p
        try:
            out.append(int(v.name if isinstance(v, exp.Expr) else v))
        except (TypeError, ValueError):
            pass
    return out


def dec_ps(t) -> tuple[int, int]:
    if is_int(t):
        return INT_TYPES[kind(t)], 0
    ps = _params(t)
    if not ps:
        return 38, 0
    return ps[0], (ps[1] if len(ps) > 1 else 0)


def ts_prec(t) -> int:
    ps = _params(t)
    return ps[0] if ps else 3


def zone_of(t) -> str | None:
    return t.meta.get("zone") if isinstance(t, exp.DataType) else None


def tname(t) -> str:
    if t is None:
        return "unknown"
    if isinstance(t, exp.DataType):
        return t.sql("trino").lower()
    return str(t).lower()


def supertype(a, b):
    """Presto's common super type of two types (raises AthenaError when there is none)."""
    if is_null(a) or is_unknown(a):
        return b if not is_null(b) else a
    if is_null(b) or is_unknown(b):
        return a
    ka, kb = kind(a), kind(b)
    if ka == kb and ka not in (D.DECIMAL,) and ka not in TS_TYPES | TSTZ_TYPES:
        return a
    if is_int(a) and is_int(b):
        return T(max(ka, kb, key=INT_ORDER.index).value)
    if is_num(a) and is_num(b):
        if is_float(a) or is_float(b):
            return T("DOUBLE")
        p1, s1 = dec_ps(a)
        p2, s2 = dec_ps(b)
        s = max(s1, s2)
        return dec(min(38, max(p1 - s1, p2 - s2) + s), s)
    if is_text(a) and is_text(b):
        return T("VARCHAR")
    if is_temporal(a) and is_temporal(b):
        if is_date(a) and is_date(b):
            return a
        p = max(ts_prec(a) if not is_date(a) else 0, ts_prec(b) if not is_date(b) else 0)
        if is_tstz(a) or is_tstz(b):
            za, zb = zone_of(a) if is_tstz(a) else None, zone_of(b) if is_tstz(b) else None
            return tstz(p, za if za == zb else None)
        return ts(p)
    if kind(a) == D.BOOLEAN and kind(b) == D.BOOLEAN:
        return a
    raise AthenaError(f"no common type for {tname(a)} and {tname(b)}")


# --------------------------------------------------------------------------------------
# Type annotators (sqlglot TypeAnnotator hooks)
# --------------------------------------------------------------------------------------


def _set(self, e, t):
    self._set_type(e, t)
    return e


def _ann_literal(self, e: exp.Literal):
    if e.is_string:
        return _set(self, e, T("VARCHAR"))
    text = e.name
    if re.fullmatch(r"[0-9]+", text):
        return _set(self, e, T("INT") if int(text) <= 2**31 - 1 else T("BIGINT"))
    if re.fullmatch(r"[0-9]*\.[0-9]*", text):
        digits = text.replace(".", "")
        frac = text.split(".")[1]
        return _set(self, e, dec(max(1, len(digits)), len(frac)))
    return _set(self, e, T("DOUBLE"))


def _decimal_literal_type(text: str) -> exp.DataType:
    """Type of DECIMAL 'x' (decimal.md): precision = all digits, scale = fraction digits."""
    body = text.strip().lstrip("+-")
    whole, _, frac = body.partition(".")
    return dec(max(1, len(whole + frac)), len(frac))


def _is_decimal_literal(e: exp.Cast) -> bool:
    # sqlglot parses DECIMAL '1.5' as CAST('1.5' AS DECIMAL); a DECIMAL without (p, s) on a
    # string literal is read as that literal form.
    to = e.args.get("to")
    return (
        kind(to) == D.DECIMAL
        and not _params(to)
        and isinstance(e.this, exp.Literal)
        and e.this.is_string
        and re.fullmatch(r"\s*[+-]?\d*\.?\d*\s*", e.this.name) is not None
    )


def _cast_target(to: exp.DataType) -> exp.DataType:
    k = kind(to)
    if k in TS_TYPES:
        return ts(ts_prec(to))
    if k in TSTZ_TYPES:
        return tstz(ts_prec(to))
    if k in TEXT_TYPES:
        return T("VARCHAR")
    if k == D.DECIMAL:
        return dec(*dec_ps(to))
    return to


def _ann_cast(self, e: exp.Cast):
    if _is_decimal_literal(e):
        return _set(self, e, _decimal_literal_type(e.this.name))
    return _set(self, e, _cast_target(e.args["to"]))


def _arith_type(op, a, b):
    if is_null(a) or is_null(b):
        return b if is_null(a) else a
    if is_unknown(a) or is_unknown(b):
        return T("UNKNOWN")
    if isinstance(op, (exp.Add, exp.Sub)) and (is_temporal(a) or is_temporal(b)):
        if kind(b) == D.INTERVAL or kind(a) == D.INTERVAL:
            return a if is_temporal(a) else b
        return T("INTERVAL")
    if kind(a) == D.INTERVAL and kind(b) == D.INTERVAL:
        return a
    if not (is_num(a) and is_num(b)):
        raise AthenaError(f"Cannot apply operator: {tname(a)} {op.key} {tname(b)}")
    if is_float(a) or is_float(b):
        return T("DOUBLE")
    if is_int(a) and is_int(b):
        return supertype(a, b)
    p1, s1 = dec_ps(a)
    p2, s2 = dec_ps(b)
    if isinstance(op, (exp.Add, exp.Sub)):
        return dec(min(38, 1 + max(s1, s2) + max(p1 - s1, p2 - s2)), max(s1, s2))
    if isinstance(op, exp.Mul):
        return dec(min(38, p1 + p2), s1 + s2)
    if isinstance(op, exp.Div):
        return dec(min(38, p1 + s2 + max(0, s2 - s1)), max(s1, s2))
    if isinstance(op, exp.Mod):
        return dec(min(p2 - s2, p1 - s1) + max(s1, s2), max(s1, s2))
    raise NotEmulated(f"arithmetic {op.key}")


def _ann_arith(self, e):
    return _set(self, e, _arith_type(e, e.left.type, e.right.type))


def _ann_same(arg="this"):
    def f(self, e):
        v = e.args.get(arg)
        return _set(self, e, v.type if v is not None else T("UNKNOWN"))

    return f


def _ann_super(*args):
    def f(self, e):
        t = T("NULL")
        for a in args:
            v = e.args.get(a)
            for x in v if isinstance(v, list) else [v]:
                if x is not None:
                    t = supertype(t, x.type)
        return _set(self, e, t)

    return f


def _ann_case(self, e: exp.Case):
    t = T("NULL")
    for i in e.args.get("ifs") or []:
        t = supertype(t, i.args["true"].type)
    if e.args.get("default") is not None:
        t = supertype(t, e.args["default"].type)
    return _set(self, e, t)


def _ann_sum(self, e):
    t = e.this.type
    if is_int(t):
        return _set(self, e, T("BIGINT"))
    if is_dec(t):
        return _set(self, e, dec(38, dec_ps(t)[1]))
    return _set(self, e, t)


def _ann_avg(self, e):
    t = e.this.type
    if is_dec(t):
        return _set(self, e, dec(*dec_ps(t)))
    return _set(self, e, T("DOUBLE"))


def _ann_round(self, e):
    t = e.this.type
    if is_dec(t):
        p, s = dec_ps(t)
        if e.args.get("decimals") is None:
            return _set(self, e, dec(min(38, p - s + min(1, s)), 0))
        return _set(self, e, dec(min(38, p + 1), s))
    return _set(self, e, t)


def _ann_trunc(self, e):
    t = e.this.type
    if is_dec(t):
        p, s = dec_ps(t)
        if e.args.get("decimals") is None:
            return _set(self, e, dec(max(1, p - s), 0))
        return _set(self, e, dec(p, s))
    return _set(self, e, t)


def _ann_window(self, e):
    return _set(self, e, e.this.type)


def _ann_anonymous(self, e: exp.Anonymous):
    name = e.name.lower()
    if name == "at_timezone" and len(e.expressions) == 2:
        zone = e.expressions[1]
        t = e.expressions[0].type
        z = zone.name if isinstance(zone, exp.Literal) and zone.is_string else None
        return _set(self, e, tstz(ts_prec(t) if not is_date(t) else 3, z or "?"))
    if name == "listagg":
        return _set(self, e, T("VARCHAR"))
    return _set(self, e, T("UNKNOWN"))


def _ann_at_time_zone(self, e: exp.AtTimeZone):
    zone = e.args.get("zone")
    z = zone.name if isinstance(zone, exp.Literal) and zone.is_string else "?"
    t = e.this.type
    return _set(self, e, tstz(ts_prec(t) if not is_date(t) else 3, z))


def _ann_subquery(self, e: exp.Subquery):
    q = e.this
    sel = q.selects if isinstance(q, exp.Query) else []
    return _set(self, e, sel[0].type if len(sel) == 1 else T("UNKNOWN"))


def _returns(t):
    return lambda self, e: _set(self, e, T(t) if isinstance(t, str) else t())


PRESTO_METADATA = dict(_BASE_METADATA)
PRESTO_METADATA.update(
    {
        exp.Literal: {"annotator": _ann_literal},
        exp.Cast: {"annotator": _ann_cast},
        exp.TryCast: {"annotator": _ann_cast},
        exp.Add: {"annotator": _ann_arith},
        exp.Sub: {"annotator": _ann_arith},
        exp.Mul: {"annotator": _ann_arith},
        exp.Div: {"annotator": _ann_arith},
        exp.Mod: {"annotator": _ann_arith},
        exp.Neg: {"annotator": _ann_same()},
        exp.Paren: {"annotator": _ann_same()},
        exp.Abs: {"annotator": _ann_same()},
        exp.Case: {"annotator": _ann_case},
        exp.If: {"annotator": _ann_super("true", "false")},
        exp.Coalesce: {"annotator": _ann_super("this", "expressions")},
        exp.Greatest: {"annotator": _ann_super("this", "expressions")},
        exp.Least: {"annotator": _ann_super("this", "expressions")},
        exp.Nullif: {"annotator": _ann_same()},
        exp.Sum: {"annotator": _ann_sum},
        exp.Avg: {"annotator": _ann_avg},
        exp.Max: {"annotator": _ann_same()},
        exp.Min: {"annotator": _ann_same()},
        exp.AnyValue: {"annotator": _ann_same()},
        exp.FirstValue: {"annotator": _ann_same()},
        exp.LastValue: {"annotator": _ann_same()},
        exp.Lag: {"annotator": _ann_same()},
        exp.Lead: {"annotator": _ann_same()},
        exp.Round: {"annotator": _ann_round},
        exp.Trunc: {"annotator": _ann_trunc},
        exp.Window: {"annotator": _ann_window},
        exp.WithinGroup: {"annotator": _ann_same()},
        exp.Try: {"annotator": _ann_same()},
        exp.Count: {"annotator": _returns("BIGINT")},
        exp.RowNumber: {"annotator": _returns("BIGINT")},
        exp.Rank: {"annotator": _returns("BIGINT")},
        exp.DenseRank: {"annotator": _returns("BIGINT")},
        exp.Length: {"annotator": _returns("BIGINT")},
        exp.DateDiff: {"annotator": _returns("BIGINT")},
        exp.LogicalOr: {"annotator": _returns("BOOLEAN")},
        exp.LogicalAnd: {"annotator": _returns("BOOLEAN")},
        exp.Boolean: {"annotator": _returns("BOOLEAN")},
        exp.Null: {"annotator": _returns("NULL")},
        exp.FromISO8601Timestamp: {"annotator": lambda self, e: _set(self, e, tstz(3))},
        exp.FromISO8601Date: {"annotator": _returns("DATE")},
        exp.CurrentDate: {"annotator": _returns("DATE")},
        exp.CurrentTimestamp: {"annotator": lambda self, e: _set(self, e, tstz(3))},
        exp.Localtimestamp: {"annotator": lambda self, e: _set(self, e, ts(3))},
        exp.DateAdd: {"annotator": _ann_same()},
        exp.TimestampTrunc: {"annotator": _ann_same()},
        exp.DateTrunc: {"annotator": _ann_same()},
        exp.TimeToStr: {"annotator": _returns("VARCHAR")},
        exp.Substring: {"annotator": _returns("VARCHAR")},
        exp.Concat: {"annotator": _returns("VARCHAR")},
        exp.DPipe: {"annotator": _returns("VARCHAR")},
        exp.Replace: {"annotator": _returns("VARCHAR")},
        exp.Lower: {"annotator": _returns("VARCHAR")},
        exp.Upper: {"annotator": _returns("VARCHAR")},
        exp.Trim: {"annotator": _returns("VARCHAR")},
        exp.Anonymous: {"annotator": _ann_anonymous},
        exp.AtTimeZone: {"annotator": _ann_at_time_zone},
        exp.Subquery: {"annotator": _ann_subquery},
        exp.Interval: {"annotator": _returns("INTERVAL")},
    }
)


class _TypingTrino(_Trino):
    """Trino, but a NULL literal keeps the type NULL (Presto's "unknown") after annotation."""

    DEFAULT_NULL_TYPE = D.NULL


# --------------------------------------------------------------------------------------
# Rewriter
# --------------------------------------------------------------------------------------

DATE_UNITS = {"DAY", "WEEK", "MONTH", "QUARTER", "YEAR"}
TS_UNITS = {"MILLISECOND", "SECOND", "MINUTE", "HOUR"} | DATE_UNITS
FIXED_MS = {"MILLISECOND": 1, "SECOND": 1000, "MINUTE": 60_000, "HOUR": 3_600_000, "DAY": 86_400_000, "WEEK": 604_800_000}

# Trino createDateTimeFormatter -> DuckDB strftime
MYSQL_TO_STRFTIME = {
    "a": "%a", "b": "%b", "c": "%-m", "d": "%d", "e": "%-d", "f": "%f", "H": "%H", "h": "%I",
    "I": "%I", "i": "%M", "j": "%j", "k": "%-H", "l": "%-I", "M": "%B", "m": "%m", "p": "%p",
    "r": "%I:%M:%S %p", "S": "%S", "s": "%S", "T": "%H:%M:%S", "v": "%V", "x": "%G",
    "W": "%A", "Y": "%Y", "y": "%y", "%": "%%",
}
MYSQL_UNSUPPORTED = set("wUuVXD")


def translate_mysql_format(fmt: str) -> str:
    out = []
    i = 0
    while i < len(fmt):
        ch = fmt[i]
        if ch == "%" and i + 1 < len(fmt):
            nxt = fmt[i + 1]
            if nxt in MYSQL_UNSUPPORTED:
                raise AthenaError(f"%{nxt} not supported in date format string")
            out.append(MYSQL_TO_STRFTIME.get(nxt, "%%" if nxt == "%" else nxt))
            i += 2
            continue
        out.append("%%" if ch == "%" else ch)
        i += 1
    return "".join(out)


def _fn(name: str, *args) -> exp.Anonymous:
    return exp.Anonymous(this=name, expressions=list(args))


def _lit(v) -> exp.Expr:
    if isinstance(v, str):
        return exp.Literal.string(v)
    if isinstance(v, bool):
        return exp.Boolean(this=v)
    return exp.Literal.number(v)


def _cast(e: exp.Expr, duck_type: str) -> exp.Cast:
    return exp.Cast(this=e, to=exp.DataType.build(duck_type, dialect="duckdb"))


def _hugeint(n: int) -> exp.Expr:
    return _cast(_lit(str(n)), "HUGEINT")


def duck_type(t) -> str:
    k = kind(t)
    if k in TEXT_TYPES:
        return "VARCHAR"
    if k in TS_TYPES:
        return "TIMESTAMP"
    if k in TSTZ_TYPES:
        return "TIMESTAMPTZ"
    if k == D.DECIMAL:
        p, s = dec_ps(t)
        return f"DECIMAL({p}, {s})"
    if k == D.INT:
        return "INTEGER"
    if k in (D.BIGINT, D.SMALLINT, D.TINYINT, D.DATE, D.BOOLEAN, D.DOUBLE):
        return k.value
    if k == D.FLOAT:
        return "FLOAT"
    raise NotEmulated(f"type {tname(t)}")


def _paren(e: exp.Expr) -> exp.Expr:
    return e if isinstance(e, (exp.Column, exp.Literal, exp.Anonymous, exp.Paren, exp.Cast, exp.Func)) else exp.Paren(this=e)


def _parse_trino_timestamp_literal(text: str, with_zone: bool, lenient: bool):
    """Evaluate a Trino timestamp text (DATETIME_PATTERN) at translation time -> (wall_text, zone)."""
    s = text.strip()
    m = re.fullmatch(
        r"([+-]?\d{4,})-(\d{1,2})-(\d{1,2})(?: (?:(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d+))?)?)?\s*(.+)?)?", s
    )
    if not m:
        if lenient and re.fullmatch(ISO_RE.strip("^$"), text):
            return None  # handled at runtime by the lenient macro
        raise AthenaError(f"Value cannot be cast to timestamp: {text}")
    y, mo, d, h, mi, sec, frac, zone = m.groups()
    ms = 0
    if frac:
        ms = int((Decimal("0." + frac).quantize(Decimal("0.001"), rounding="ROUND_HALF_UP")) * 1000)
    base = _dt.datetime(int(y), int(mo), int(d), int(h or 0), int(mi or 0), int(sec or 0))
    base += _dt.timedelta(milliseconds=ms)
    return base.strftime("%Y-%m-%d %H:%M:%S.%f"), (zone if with_zone else None)


@dataclass
class Translation:
    duckdb_sql: str
    columns: list[str]
    warnings: list[str]


class Translator:
    def __init__(self, schema: dict, today: _dt.date, lenient: bool = False):
        self.schema = schema
        self.today = today
        self.lenient = lenient
        self.warnings: list[str] = []

    # -- entry point -------------------------------------------------------------------
    def translate_statement(self, stmt: exp.Expr) -> Translation:
        self.warnings = []
        try:
            q = qualify(stmt, schema=self.schema, dialect="trino", quote_identifiers=True)
        except sqlglot.errors.OptimizeError as err:
            raise AthenaError(f"analysis: {err}") from err
        # Trino prunes unreferenced outputs (projections, window functions, aggregates) and
        # never evaluates an unused WITH query; do the same before DuckDB sees the query, so a
        # cast that would fail only in an unused column does not fail here either.
        q = eliminate_ctes(pushdown_projections(q))
        q = annotate_types(q, schema=self.schema, dialect=_TypingTrino, expression_metadata=PRESTO_METADATA)
        q = self._rewrite(q)
        columns = []
        if isinstance(q, exp.Query):
            renamed = {}
            for i, sel in enumerate(q.selects):
                name = sel.alias_or_name
                if isinstance(sel, exp.Alias) and re.fullmatch(r"_col_\d+", name):
                    renamed[name] = f"_col{i}"
                    name = f"_col{i}"
                    sel.set("alias", exp.to_identifier(name, quoted=True))
                columns.append(name)
            order = q.args.get("order")
            if renamed and order is not None:
                for col in order.find_all(exp.Column):
                    if not col.table and col.name in renamed:
                        col.set("this", exp.to_identifier(renamed[col.name], quoted=True))
        return Translation(q.sql(dialect="duckdb"), columns, list(self.warnings))

    # -- traversal ---------------------------------------------------------------------
    def _rewrite(self, root: exp.Expr) -> exp.Expr:
        nodes = list(root.walk(bfs=False))
        new_root = root
        for node in reversed(nodes):
            replacement = self._visit(node)
            if replacement is not None and replacement is not node:
                replacement._type = node.type
                if node is new_root:
                    new_root = replacement
                else:
                    node.replace(replacement)
        return new_root

    def _visit(self, e: exp.Expr):
        method = getattr(self, "_v_" + type(e).__name__, None)
        return method(e) if method else None

    # -- helpers -----------------------------------------------------------------------
    def _need_type(self, e: exp.Expr, what: str):
        if is_unknown(e.type):
            raise NotEmulated(f"cannot determine the type of {e.sql('trino')} ({what})")
        return e.type

    def _unit(self, e: exp.Expr) -> str:
        u = e.args.get("unit")
        name = (u.name if u is not None else "DAY").upper()
        if name not in TS_UNITS:
            raise AthenaError(f"'{name.lower()}' is not a valid Timestamp field")
        return name

    def _wall(self, x: exp.Expr, t) -> exp.Expr:
        """Wall-clock TIMESTAMP of a temporal value (in its zone; UTC by default)."""
        if is_date(t):
            return _cast(x, "TIMESTAMP")
        if is_tstz(t):
            z = zone_of(t)
            if z:
                return _fn("timezone", _lit(z), x)
            return _cast(x, "TIMESTAMP")
        return x

    def _from_wall(self, w: exp.Expr, t) -> exp.Expr:
        if is_tstz(t):
            return _fn("timezone", _lit(zone_of(t) or "UTC"), w)
        if is_date(t):
            return _cast(w, "DATE")
        return w

    # -- casts -------------------------------------------------------------------------
    def _v_Cast(self, e: exp.Cast):
        src = e.this
        st = src.type
        target = _decimal_literal_type(src.name) if _is_decimal_literal(e) else _cast_target(e.args["to"])
        tk = kind(target)
        if is_null(st):
            return _cast(src, duck_type(target))
        if is_unknown(st):
            self._need_type(src, "cast source")
        if tk in TEXT_TYPES:
            return self._to_varchar(src, st)
        if is_text(st):
            return self._from_varchar(src, target)
        if is_temporal(target) and is_temporal(st):
            if is_tstz(target) and is_tstz(st):
                return src
            if is_tstz(target):
                return self._from_wall(self._wall(src, st), tstz())
            return _cast(self._wall(src, st), duck_type(target))
        if tk == D.BOOLEAN and is_num(st):
            return _cast(src, "BOOLEAN")
        if is_num(target) and (is_num(st) or kind(st) == D.BOOLEAN):
            return _cast(src, duck_type(target))
        raise AthenaError(f"Cannot cast {tname(st)} to {tname(target)}")

    def _to_varchar(self, x: exp.Expr, t) -> exp.Expr:
        if is_text(t):
            return x
        if is_int(t) or is_dec(t):
            return _cast(x, "VARCHAR")
        if kind(t) == D.BOOLEAN:
            return _cast(x, "VARCHAR")  # DuckDB spells them true/false, as Trino
        if is_date(t):
            return _fn("strftime", x, _lit("%Y-%m-%d"))
        if is_ts(t):
            return _fn("presto_wall_text", x, _lit(ts_prec(t)))
        if is_tstz(t):
            z = zone_of(t) or "UTC"
            return exp.DPipe(
                this=_fn("presto_wall_text", self._wall(x, t), _lit(ts_prec(t))), expression=_lit(" " + z), safe=False
            )
        raise NotEmulated(f"CAST({tname(t)} AS VARCHAR)")

    def _from_varchar(self, x: exp.Expr, target) -> exp.Expr:
        k = kind(target)
        if isinstance(x, exp.Literal) and x.is_string and k in TS_TYPES | TSTZ_TYPES:
            parsed = _parse_trino_timestamp_literal(x.name, k in TSTZ_TYPES, self.lenient)
            if parsed is not None:
                wall, zone = parsed
                w = _cast(_lit(wall), "TIMESTAMP")
                if k in TSTZ_TYPES:
                    return _fn("presto__at_zone", w, _lit(zone or ""))
                return w
        if k in TS_TYPES:
            return _fn("presto_cast_ts", x)
        if k in TSTZ_TYPES:
            return _fn("presto_cast_tstz", x)
        if k == D.DECIMAL:
            return _cast(_fn("presto_check_decimal_text", x), duck_type(target))
        if k in INT_TYPES:
            return _cast(_fn("presto_check_integer_text", x), duck_type(target))
        if k == D.DATE:
            return _cast(_fn("presto_check_date_text", x), "DATE")
        if k in FLOAT_TYPES or k == D.BOOLEAN:
            return _cast(_fn("presto_check_other_text", x), duck_type(target))
        raise NotEmulated(f"CAST(varchar AS {tname(target)})")

    def _v_TryCast(self, e: exp.TryCast):
        inner = self._v_Cast(exp.Cast(this=e.this, to=e.args["to"]))
        return _fn("try", inner)

    # -- functions ---------------------------------------------------------------------
    def _v_FromISO8601Timestamp(self, e):
        if not (is_text(e.this.type) or is_null(e.this.type)):
            raise AthenaError(f"from_iso8601_timestamp({tname(e.this.type)}) does not exist")
        return _fn("presto_from_iso8601_timestamp", e.this)

    def _v_FromISO8601Date(self, e):
        if not (is_text(e.this.type) or is_null(e.this.type)):
            raise AthenaError(f"from_iso8601_date({tname(e.this.type)}) does not exist")
        return _fn("presto_from_iso8601_date", e.this)

    def _v_CurrentDate(self, e):
        return _cast(_lit(self.today.isoformat()), "DATE")

    def _v_CurrentTimestamp(self, e):
        return _cast(_lit(self.today.isoformat() + " 00:00:00+00"), "TIMESTAMPTZ")

    def _v_Localtimestamp(self, e):
        return _cast(_lit(self.today.isoformat() + " 00:00:00"), "TIMESTAMP")

    def _v_Substring(self, e: exp.Substring):
        s = e.this
        if not (is_text(s.type) or is_null(s.type)):
            raise AthenaError(f"substring({tname(s.type)}, ...) does not exist")
        start = e.args.get("start") or _lit(1)
        length = e.args.get("length") or _lit(2_147_483_647)
        return _fn("presto_substr", s, start, length)

    def _concat_check(self, parts):
        for p in parts:
            if not (is_text(p.type) or is_null(p.type)):
                raise AthenaError(f"Cannot apply operator: varchar || {tname(p.type)}")

    def _v_DPipe(self, e: exp.DPipe):
        self._concat_check([e.left, e.right])
        return exp.DPipe(this=e.left, expression=e.right, safe=False)

    def _v_Concat(self, e: exp.Concat):
        parts = list(e.expressions)
        self._concat_check(parts)
        out = parts[0]
        for p in parts[1:]:
            out = exp.DPipe(this=out, expression=p, safe=False)
        return exp.Paren(this=out)

    def _greatest_least(self, e, name):
        args = [e.this] + list(e.expressions)
        cond = exp.or_(*[exp.Is(this=_paren(a.copy()), expression=exp.Null()) for a in args])
        return exp.Case(ifs=[exp.If(this=cond, true=exp.Null())], default=_fn(name, *args))

    def _v_Greatest(self, e):
        return self._greatest_least(e, "greatest")

    def _v_Least(self, e):
        return self._greatest_least(e, "least")

    def _v_Anonymous(self, e: exp.Anonymous):
        name = e.name.lower()
        if name == "at_timezone":
            return e.expressions[0]
        if name == "listagg":
            return None
        raise NotEmulated(f"function {e.name}()")

    def _v_AtTimeZone(self, e):
        return e.this

    def _v_WithinGroup(self, e: exp.WithinGroup):
        fn = e.this
        if isinstance(fn, exp.Anonymous) and fn.name.lower() == "listagg":
            x = fn.expressions[0]
            if not (is_text(x.type) or is_null(x.type)):
                raise AthenaError(f"listagg({tname(x.type)}, varchar) does not exist")
            sep = fn.expressions[1] if len(fn.expressions) > 1 else _lit("")
            order = e.expression
            for o in order.find_all(exp.Ordered):
                if o.args.get("nulls_first") is None:
                    o.set("nulls_first", False)
            return exp.WithinGroup(this=_fn("listagg", x, sep), expression=order)
        return None

    # -- arithmetic --------------------------------------------------------------------
    def _v_Div(self, e: exp.Div):
        a, b = e.left, e.right
        ta, tb = self._need_type(a, "division"), self._need_type(b, "division")
        rt = e.type
        if is_null(ta) or is_null(tb):
            return exp.Null()
        if is_float(rt):
            return _fn("presto_double_div", a, b)
        if is_int(rt):
            return _cast(_fn("presto_int_div", a, b), duck_type(rt))
        if is_dec(rt):
            p1, s1 = dec_ps(ta)
            p2, s2 = dec_ps(tb)
            rp, rs = dec_ps(rt)
            k = rs - s1 + s2
            au = _fn("presto_unscaled", a) if is_dec(ta) else _cast(a, "HUGEINT")
            bu = _fn("presto_unscaled", b) if is_dec(tb) else _cast(b, "HUGEINT")
            r = _fn("presto_div_unscaled", au, bu, _hugeint(10**k))
            return _cast(_fn("presto_dec_text", r, _lit(rs), _hugeint(10**rs)), duck_type(rt))
        raise NotEmulated(f"division of {tname(ta)} by {tname(tb)}")

    def _arith_cast(self, e):
        rt = e.type
        if is_dec(rt):
            return _cast(exp.Paren(this=e.__class__(this=e.left, expression=e.right)), duck_type(rt))
        if is_date(rt) and (kind(e.left.type) == D.INTERVAL or kind(e.right.type) == D.INTERVAL):
            return _cast(exp.Paren(this=e.__class__(this=e.left, expression=e.right)), "DATE")
        return None

    _v_Add = _arith_cast
    _v_Sub = _arith_cast
    _v_Mul = _arith_cast

    def _v_Round(self, e: exp.Round):
        t = e.this.type
        d = e.args.get("decimals")
        if is_dec(t):
            if d is not None and not isinstance(d, exp.Literal) and not (
                isinstance(d, exp.Neg) and isinstance(d.this, exp.Literal)
            ):
                raise NotEmulated("round(decimal, non-literal)")
            args = [e.this] + ([d] if d is not None else [])
            return _cast(_fn("round", *args), duck_type(e.type))
        return None

    def _v_Trunc(self, e: exp.Trunc):
        t = e.this.type
        if not is_dec(t):
            return _fn("trunc", e.this) if e.args.get("decimals") is None else None
        p, s = dec_ps(t)
        d = e.args.get("decimals")
        n = 0
        if d is not None:
            if isinstance(d, exp.Literal):
                n = int(d.name)
            elif isinstance(d, exp.Neg) and isinstance(d.this, exp.Literal):
                n = -int(d.this.name)
            else:
                raise NotEmulated("truncate(decimal, non-literal)")
        if d is not None and n >= s:
            return e.this
        rp, rs = dec_ps(e.type)
        r = _fn("presto_unscaled", e.this)
        f = _hugeint(10 ** (s - n))
        tr = _fn("presto_trunc_unscaled", r, f, f)
        if d is None:
            return _cast(_fn("presto_trunc_unscaled", r, _hugeint(10**s), _hugeint(1)), duck_type(e.type))
        return _cast(_fn("presto_dec_text", tr, _lit(rs), _hugeint(10**rs)), duck_type(e.type))

    def _v_Sum(self, e: exp.Sum):
        if is_int(e.this.type):
            return _cast(exp.Sum(this=e.this), "BIGINT")
        return None

    # -- date/time ---------------------------------------------------------------------
    def _v_DateAdd(self, e: exp.DateAdd):
        x = e.this
        t = self._need_type(x, "date_add")
        unit = self._unit(e)
        n = e.expression
        if is_text(t):
            raise AthenaError("date_add(varchar, ...) does not exist")
        if is_date(t) and unit not in DATE_UNITS:
            raise AthenaError(f"'{unit.lower()}' is not a valid DATE field")
        if unit == "QUARTER":
            n, unit = exp.Mul(this=exp.Paren(this=n), expression=_lit(3)), "MONTH"
        interval = exp.Interval(this=exp.Paren(this=n), unit=exp.Var(this=unit))
        if is_date(t):
            return _cast(exp.Paren(this=exp.Add(this=x, expression=interval)), "DATE")
        if is_tstz(t) and zone_of(t):
            return self._from_wall(exp.Add(this=self._wall(x, t), expression=interval), t)
        return exp.Paren(this=exp.Add(this=x, expression=interval))

    def _v_DateDiff(self, e: exp.DateDiff):
        b, a = e.this, e.expression  # date_diff(unit, a, b) = b - a
        ta, tb = self._need_type(a, "date_diff"), self._need_type(b, "date_diff")
        unit = self._unit(e)
        if is_date(ta) and is_date(tb) and unit not in DATE_UNITS:
            raise AthenaError(f"'{unit.lower()}' is not a valid DATE field")
        if not (is_temporal(ta) or is_null(ta)) or not (is_temporal(tb) or is_null(tb)):
            raise AthenaError(f"date_diff(varchar(x), {tname(ta)}, {tname(tb)}) does not exist")
        # Trino uses the chronology (zone) of the first argument; a TIMESTAMP next to a
        # TIMESTAMP WITH TIME ZONE is coerced at the session zone (UTC).
        zone = zone_of(ta) if is_tstz(ta) else None

        def wall(x, t):
            if is_date(t):
                return _cast(x, "TIMESTAMP")
            if is_tstz(t):
                return _fn("timezone", _lit(zone), x) if zone else _cast(x, "TIMESTAMP")
            if zone and is_ts(t):
                return _fn("timezone", _lit(zone), _fn("timezone", _lit("UTC"), x))
            return x

        wa, wb = wall(a, ta), wall(b, tb)
        if unit in ("MILLISECOND", "SECOND", "MINUTE", "HOUR"):
            ia = a if not is_date(ta) else _cast(a, "TIMESTAMP")
            ib = b if not is_date(tb) else _cast(b, "TIMESTAMP")
            return _fn("presto_diff_fixed", ia, ib, _lit(FIXED_MS[unit]))
        if unit in ("DAY", "WEEK"):
            # days in the zone's local time (Joda ZonedDurationField); in UTC plain elapsed time
            return _fn("presto_diff_fixed", wa, wb, _lit(FIXED_MS[unit]))
        if unit == "MONTH":
            return _fn("presto_diff_months", wa, wb)
        if unit == "QUARTER":
            return exp.Paren(this=exp.IntDiv(this=_fn("presto_diff_months", wa, wb), expression=_lit(3)))
        return _fn("presto_diff_years", wa, wb)

    def _v_TimestampTrunc(self, e):
        x = e.this
        t = self._need_type(x, "date_trunc")
        unit = self._unit(e)
        if is_text(t):
            raise AthenaError("date_trunc(varchar(x), varchar) does not exist")
        if is_date(t):
            if unit not in DATE_UNITS:
                raise AthenaError(f"'{unit.lower()}' is not a valid DATE field")
            return _cast(_fn("date_trunc", _lit(unit.lower()), x), "DATE")
        if is_tstz(t) and zone_of(t):
            return self._from_wall(_fn("date_trunc", _lit(unit.lower()), self._wall(x, t)), t)
        return _fn("date_trunc", _lit(unit.lower()), x)

    _v_DateTrunc = _v_TimestampTrunc

    def _v_TimeToStr(self, e: exp.TimeToStr):
        x = e.this
        t = self._need_type(x, "date_format")
        fmt = e.args.get("format")
        if not isinstance(fmt, exp.Literal):
            raise NotEmulated("date_format with a non-literal format")
        trino_sql = exp.TimeToStr(this=exp.column("x"), format=fmt.copy()).sql("trino")
        m = re.search(r"'((?:[^']|'')*)'\)$", trino_sql)
        if not m:
            raise NotEmulated(f"date_format format {fmt.name!r}")
        mysql = m.group(1).replace("''", "'")
        if is_text(t):
            raise AthenaError("date_format(varchar, varchar) does not exist")
        return _fn("strftime", self._wall(x, t), _lit(translate_mysql_format(mysql)))

    # -- comparisons (text vs number) --------------------------------------------------
    def _coerce_pair(self, a, b):
        ta, tb = a.type, b.type
        if is_text(ta) and is_num(tb):
            if not self.lenient:
                raise AthenaError(f"Cannot apply operator: varchar = {tname(tb)} ({a.sql('trino')} vs {b.sql('trino')})")
            self.warnings.append(f"lenient: {a.sql('trino')} (varchar) cast to {tname(tb)} for comparison")
            return self._from_varchar(a, tb), b
        if is_num(ta) and is_text(tb):
            nb, na = self._coerce_pair(b, a)
            return na, nb
        return a, b

    def _cmp(self, e):
        a, b = self._coerce_pair(e.left, e.right)
        if a is e.left and b is e.right:
            return None
        return e.__class__(this=a, expression=b)

    _v_EQ = _cmp
    _v_NEQ = _cmp
    _v_GT = _cmp
    _v_GTE = _cmp
    _v_LT = _cmp
    _v_LTE = _cmp

    def _v_In(self, e: exp.In):
        if e.args.get("query"):
            return None
        x = e.this
        changed = False
        new = []
        for v in e.expressions:
            nx, nv = self._coerce_pair(x, v)
            if nv is not v or nx is not x:
                changed = True
            new.append(nv)
            if nx is not x:
                x = nx
        if not changed:
            return None
        return exp.In(this=x, expressions=new)

    # -- structure ---------------------------------------------------------------------
    def _v_CTE(self, e: exp.CTE):
        e.set("materialized", False)
        return None

    def _v_Ordered(self, e: exp.Ordered):
        if e.args.get("nulls_first") is None:
            e.set("nulls_first", False)
        return None


# --------------------------------------------------------------------------------------
# Canonical output
# --------------------------------------------------------------------------------------


def _canon_expr(col: str, duck_type_name: str) -> str:
    c = _ident(col)
    t = duck_type_name.upper()
    if t.startswith("TIMESTAMP"):
        w = c if t in ("TIMESTAMP", "TIMESTAMP_NS", "TIMESTAMP_MS", "TIMESTAMP_S") else f"CAST({c} AS TIMESTAMP)"
        return (
            f"CASE WHEN {c} IS NULL THEN NULL ELSE strftime({w}, '%Y-%m-%dT%H:%M:%S') || "
            f"CASE WHEN microsecond({w}) % 1000000 <> 0 THEN '.' || strftime({w}, '%f') ELSE '' END || 'Z' END"
        )
    if t == "DATE":
        return f"strftime({c}, '%Y-%m-%d')"
    if t == "BOOLEAN":
        return f"CASE WHEN {c} IS NULL THEN NULL WHEN {c} THEN 'true' ELSE 'false' END"
    if t in ("DOUBLE", "FLOAT", "REAL"):
        return c  # formatted in Python (shortest round-trip text)
    if t == "VARCHAR":
        return c
    return f"CAST({c} AS VARCHAR)"


def _format_float(v) -> str | None:
    if v is None:
        return None
    if isinstance(v, str):
        return v
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    text = repr(float(v))
    if "e" in text or "E" in text:
        text = format(Decimal(text), "f")
    return text


def _csv_field(v: str | None) -> str:
    if v is None:
        return ""
    if v == "":
        return '""'
    if any(ch in v for ch in ',"\r\n'):
        return '"' + v.replace('"', '""') + '"'
    return v


def canonical_csv_lines(columns, rows):
    yield ",".join(_csv_field(c) for c in columns) + "\n"
    for row in rows:
        yield ",".join(_csv_field(v) for v in row) + "\n"


# --------------------------------------------------------------------------------------
# Oracle
# --------------------------------------------------------------------------------------


class Oracle:
    """DuckDB session over a bucket: views over the CSV files (``materialize``: tables), or,
    with ``database`` a file path, tables loaded into that file once and reused."""

    def __init__(
        self,
        bucket: str,
        today: _dt.date | str,
        memory_limit: str | None = None,
        threads: int | None = None,
        lenient: bool = False,
        materialize: bool = False,
        database: str = ":memory:",
    ):
        self.today = today if isinstance(today, _dt.date) else _dt.date.fromisoformat(today)
        self.lenient = lenient
        self.con = duckdb.connect(database)
        settings = {
            "TimeZone": "UTC",
            "default_null_order": "nulls_last",
            "scalar_subquery_error_on_multiple_rows": True,
        }
        if memory_limit:
            settings["memory_limit"] = memory_limit
        if threads:
            settings["threads"] = int(threads)
        for k, v in settings.items():
            self.con.execute(f"SET {k} = {_sql_str(v) if isinstance(v, str) else str(v).lower() if isinstance(v, bool) else v}")
        for m in _macros(lenient):
            self.con.execute(m.replace("CREATE OR REPLACE MACRO", "CREATE OR REPLACE TEMP MACRO", 1))
        self.feeds = discover_bucket(bucket)
        if database == ":memory:":
            self.schema = register_tables(self.con, self.feeds, materialize=materialize)
            self.reused = False
        else:
            self.schema, self.reused = load_database(self.con, self.feeds)
        self.translator = Translator(self.schema, self.today, lenient=lenient)
        self.last_warnings: list[str] = []

    def translate(self, sql: str) -> list[Translation]:
        try:
            statements = [s for s in sqlglot.parse(sql, read="trino") if s is not None]
        except sqlglot.errors.ParseError as err:
            raise AthenaError(f"syntax: {err}") from err
        return [self.translator.translate_statement(s) for s in statements]

    def query(self, sql: str):
        """Run every statement; return (columns, rows) of the last one, values canonical text or None."""
        return self.run(self.translate(sql))

    def run(self, translations: list[Translation]):
        """Run translated statements; (columns, row iterator) of the last one."""
        if not translations:
            raise AthenaError("no statement")
        for tr in translations[:-1]:
            self._execute(tr.duckdb_sql)
        tr = translations[-1]
        self.last_warnings = tr.warnings
        return self._run_canonical(tr)

    def _execute(self, sql: str):
        try:
            return self.con.execute(sql)
        except duckdb.Error as err:
            raise AthenaError(_clean_duck_error(err)) from err

    def _run_canonical(self, tr: Translation):
        try:
            desc = self.con.execute(f"DESCRIBE {tr.duckdb_sql}").fetchall()
        except duckdb.Error as err:
            raise AthenaError(_clean_duck_error(err)) from err
        names = [r[0] for r in desc]
        types = [r[1] for r in desc]
        inner_cols = [f"c{i}" for i in range(len(names))]
        proj = ", ".join(_canon_expr(c, t) for c, t in zip(inner_cols, types))
        wrapped = f"SELECT {proj} FROM ({tr.duckdb_sql}) AS __q({', '.join(_ident(c) for c in inner_cols)})"
        cur = self._execute(wrapped)
        float_idx = [i for i, t in enumerate(types) if t.upper() in ("DOUBLE", "FLOAT", "REAL")]
        columns = [n.lower() for n in (tr.columns if len(tr.columns) == len(names) else names)]

        def rows():
            while True:
                try:
                    batch = cur.fetchmany(10_000)
                except duckdb.Error as err:
                    raise AthenaError(_clean_duck_error(err)) from err
                if not batch:
                    return
                for row in batch:
                    if float_idx:
                        row = list(row)
                        for i in float_idx:
                            row[i] = _format_float(row[i])
                    yield row

        return columns, rows()


def _clean_duck_error(err: Exception) -> str:
    text = str(err)
    m = re.search(r"ATHENA_ERROR: (.*?)' to INT32", text, re.S)
    if m:
        return m.group(1)
    return text.split("\n\n")[0].strip()


# --------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Run Athena (Presto/Trino) SQL over an SDDS bucket folder on DuckDB.")
    ap.add_argument("--bucket", required=True, help="folder laid out as <feed>_v1/year=YYYY/month=MM/data.csv")
    ap.add_argument("--today", required=True, help="current_date (YYYY-MM-DD); now() is its midnight UTC")
    ap.add_argument("-f", "--file", help="SQL file (';'-separated statements; the last one's result is written)")
    ap.add_argument("--out", help="result CSV (default: stdout)")
    ap.add_argument("--memory-limit", help="DuckDB memory_limit, e.g. 20GB")
    ap.add_argument("--threads", type=int, help="DuckDB threads")
    ap.add_argument("--lenient", action="store_true", help="typed-table leniency: ISO 'T' casts, '' casts to NULL, text=number comparisons")
    ap.add_argument("--materialize", action="store_true", help="load the CSV views into tables before running the query")
    ap.add_argument(
        "--database",
        help="persistent DuckDB file: the feed tables are loaded into it once and reused while the bucket's "
        "files are unchanged; without -f, only load",
    )
    ap.add_argument("--show-sql", action="store_true", help="print the DuckDB SQL to stderr")
    args = ap.parse_args(argv)
    if not args.file and not args.database:
        ap.error("-f/--file is required (or --database alone, to load the tables)")

    t0 = time.perf_counter()
    try:
        database = args.database or ":memory:"
        oracle = Oracle(args.bucket, args.today, args.memory_limit, args.threads, args.lenient, args.materialize, database)
        t1 = time.perf_counter()
        if not args.file:
            state = "reused" if oracle.reused else "loaded"
            print(f"tables: {state} {len(oracle.feeds)} feeds in {t1 - t0:.3f}s", file=sys.stderr)
            return 0
        with open(args.file, encoding="utf-8") as fh:
            translations = oracle.translate(fh.read())
        t2 = time.perf_counter()
        if args.show_sql:
            for tr in translations:
                print(tr.duckdb_sql + ";", file=sys.stderr)
        columns, rows = oracle.run(translations)
        out = open(args.out, "w", encoding="utf-8", newline="") if args.out else sys.stdout
        n = -1
        try:
            for n, line in enumerate(canonical_csv_lines(columns, rows)):
                out.write(line)
        finally:
            if args.out:
                out.close()
    except (AthenaError, NotEmulated) as err:
        kind_ = "athena error" if isinstance(err, AthenaError) else "not emulated"
        print(f"error ({kind_}): {err}", file=sys.stderr)
        return 1
    t3 = time.perf_counter()
    for w in oracle.last_warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(
        f"rows: {n}  views: {t1 - t0:.3f}s  translate: {t2 - t1:.3f}s  run: {t3 - t2:.3f}s  total: {t3 - t0:.3f}s",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
