#!/usr/bin/env python3
"""Compare two query results (CSV with a header) as multisets of rows.

    python bench/compare.py A.csv B.csv [--keys col,...] [--ordered]
                            [--empty-ambiguous {a,b,both}] [--examples N]

* Columns are matched by POSITION; when the header names differ (case-insensitive)
  both headers are printed.  A different number of columns is a difference.
* Rows are compared as multisets (order-insensitive) unless ``--ordered``.
* Fields: an empty unquoted field is NULL, ``""`` is the empty string.  NULL and ''
  are different values.  ``--empty-ambiguous b`` says that file B cannot tell them
  apart (``sdds query --format csv`` writes both as an empty field, or as ``""``
  when the row has a single column): NULL and '' are then compared as one value on
  both sides, and the number of NULL and '' fields of A is reported.
* Values are normalised per column, from the values of both files:
  - timestamp column (every non-empty value parses as a date-time): compared as
    instants, whatever the form: ``2026-09-15 10:20:30.743 UTC``,
    ``2026-09-15T10:20:30.743Z``, ``2026-09-15T10:20:30.743000Z``,
    ``2026-09-15T10:20:30.743`` (no zone = UTC), ``+01:00`` offsets, IANA zone
    names;
  - numeric column (every non-empty value is a decimal number, and no value is an
    integer with a leading zero such as ``000123456789``): compared as exact
    decimals, so ``3153.0000000000`` == ``3153.00`` == ``3153``;
  - otherwise the text must be equal.
* ``--keys``: rows are paired by these columns (names or 1-based positions) and
  each differing value is reported; without keys, unmatched rows are paired
  greedily by the number of equal columns to show which columns differ.

Exit status: 0 when the results are equal, 1 when they differ, 2 on bad input.
"""
from __future__ import annotations

import argparse
import collections
import datetime as _dt
import functools
import re
import sys
from decimal import Decimal, InvalidOperation

try:
    from zoneinfo import ZoneInfo
except ImportError:  # pragma: no cover
    ZoneInfo = None

NULL = None


class Ambiguous(str):
    """An empty field from a file that cannot tell NULL from ''."""


_FIELD = re.compile(r'(?:"((?:[^"]|"")*)"|([^,"\r\n]*))(,|\r\n|\n|\r|$)')


def read_csv(path: str) -> tuple[list[str], list[list[str | None]]]:
    """RFC 4180 reader that keeps NULL (empty unquoted field) apart from '' (``""``)."""
    with open(path, encoding="utf-8", newline="") as fh:
        text = fh.read()
    if text.startswith("\ufeff"):
        text = text[1:]
    rows: list[list[str | None]] = []
    row: list[str | None] = []
    pos, n = 0, len(text)
    while pos < n:
        m = _FIELD.match(text, pos)
        if m is None or (m.end() == pos and pos < n):
            line = text.count("\n", 0, pos) + 1
            raise ValueError(f"{path}: malformed CSV near line {line}")
        quoted, plain, term = m.groups()
        if quoted is not None:
            row.append(quoted.replace('""', '"'))
        else:
            row.append(plain if plain else None)
        pos = m.end()
        if term != ",":
            rows.append(row)
            row = []
        elif pos == n:  # a trailing comma ends with an empty last field
            row.append(None)
            rows.append(row)
            row = []
    if not rows:
        raise ValueError(f"{path}: no header")
    header = [h if h is not None else "" for h in rows[0]]
    return header, rows[1:]


# ---------------------------------------------------------------------------------------
# Value normalisation
# ---------------------------------------------------------------------------------------

_NUM_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_LEADING_ZERO_INT = re.compile(r"^[+-]?0\d+$")
_TS_RE = re.compile(
    r"^(?P<date>[+-]?\d{4,}-\d{1,2}-\d{1,2})(?:[T ](?P<h>\d{1,2}):(?P<mi>\d{2})(?::(?P<s>\d{2})(?:[.,](?P<f>\d+))?)?)?"
    r"\s*(?P<zone>Z|UTC|[+-]\d{2}(?::?\d{2})?|[A-Za-z][A-Za-z0-9_/+-]*)?$"
)
_EPOCH = _dt.datetime(1970, 1, 1, tzinfo=_dt.timezone.utc)


@functools.lru_cache(maxsize=1 << 16)
def parse_instant(text: str):
    """Microseconds since the epoch, or None when the text is not a date-time."""
    m = _TS_RE.match(text.strip())
    if not m or (m.group("h") is None and m.group("zone") is None):
        return None
    try:
        if m.group("date").startswith("-"):
            return None
        y, mo, d = (int(x) for x in m.group("date").lstrip("+").split("-"))
        frac = (m.group("f") or "")[:6].ljust(6, "0")
        naive = _dt.datetime(y, mo, d, int(m.group("h") or 0), int(m.group("mi") or 0), int(m.group("s") or 0), int(frac))
        zone = m.group("zone")
        if zone in (None, "Z", "UTC"):
            tz = _dt.timezone.utc
        elif zone[0] in "+-":
            hh, mm = int(zone[1:3]), int(zone[-2:]) if len(zone) > 3 else 0
            off = _dt.timedelta(hours=hh, minutes=mm)
            tz = _dt.timezone(off if zone[0] == "+" else -off)
        else:
            if ZoneInfo is None:
                return None
            tz = ZoneInfo(zone)
        aware = naive.replace(tzinfo=tz)
    except (ValueError, KeyError, OSError):
        return None
    delta = aware - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@functools.lru_cache(maxsize=1 << 16)
def parse_number(text: str):
    if not _NUM_RE.match(text.strip()):
        return None
    try:
        d = Decimal(text.strip())
    except InvalidOperation:
        return None
    if d.is_zero():
        return Decimal(0)
    return d.normalize()


def column_kinds(cols: int, *tables) -> list[str]:
    kinds = []
    for c in range(cols):
        values = [row[c] for t in tables for row in t if c < len(row) and row[c] not in (None, "")]
        values = [v for v in values if not isinstance(v, Ambiguous)]
        if values and all(parse_instant(v) is not None for v in values):
            kinds.append("timestamp")
        elif values and all(parse_number(v) is not None for v in values) and not any(
            _LEADING_ZERO_INT.match(v.strip()) for v in values
        ):
            kinds.append("number")
        else:
            kinds.append("text")
    return kinds


def normalise(value, kind_: str):
    if value is None or isinstance(value, Ambiguous):
        return value
    if value == "":
        return ""
    if kind_ == "timestamp":
        return ("ts", parse_instant(value))
    if kind_ == "number":
        return ("num", parse_number(value))
    return value


def show(v) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, Ambiguous):
        return "<empty: NULL or ''>"
    if v == "":
        return "''"
    return repr(v) if isinstance(v, str) else str(v)


# ---------------------------------------------------------------------------------------
# Comparison
# ---------------------------------------------------------------------------------------


_AMB = ("<NULL or ''>",)


def _values_equal(a, b) -> bool:
    return a == b


def compare(path_a, path_b, keys=None, ordered=False, ambiguous=None, examples=3, out=sys.stdout) -> int:
    head_a, rows_a = read_csv(path_a)
    head_b, rows_b = read_csv(path_b)
    ncols = max(len(head_a), len(head_b))
    equal = True

    def p(*args):
        print(*args, file=out)

    if [h.lower() for h in head_a] != [h.lower() for h in head_b]:
        p("column names differ (compared by position):")
        p(f"  A ({len(head_a)}): {', '.join(head_a)}")
        p(f"  B ({len(head_b)}): {', '.join(head_b)}")
        if len(head_a) != len(head_b):
            p(f"different number of columns: {len(head_a)} vs {len(head_b)}")
            equal = False
    for name, rows, expected in (("A", rows_a, len(head_a)), ("B", rows_b, len(head_b))):
        bad = [i for i, r in enumerate(rows) if len(r) != expected]
        if bad:
            p(f"{name}: {len(bad)} rows do not have {expected} fields (first at data row {bad[0] + 1})")
            equal = False
    rows_a = [r + [None] * (ncols - len(r)) for r in rows_a]
    rows_b = [r + [None] * (ncols - len(r)) for r in rows_b]

    # A file that cannot tell NULL from '' makes both one value: on BOTH sides, NULL and ''
    # collapse to one token, so either matches an empty field of that file.
    collapsed = collections.Counter()
    if ambiguous:
        for label, rows in (("A", rows_a), ("B", rows_b)):
            for r in rows:
                for v in r:
                    if v is None or v == "":
                        collapsed[(label, "NULL" if v is None else "''")] += 1
        if ambiguous in ("a", "both"):
            rows_a = [[Ambiguous("") if v is None or v == "" else v for v in r] for r in rows_a]
        if ambiguous in ("b", "both"):
            rows_b = [[Ambiguous("") if v is None or v == "" else v for v in r] for r in rows_b]

    kinds = column_kinds(ncols, rows_a, rows_b)

    def norm(v, k):
        if ambiguous and (v is None or v == ""):
            return _AMB
        return normalise(v, k)

    na = [tuple(norm(v, k) for v, k in zip(r, kinds)) for r in rows_a]
    nb = [tuple(norm(v, k) for v, k in zip(r, kinds)) for r in rows_b]
    names = [head_a[i] if i < len(head_a) else head_b[i] for i in range(ncols)]

    p(f"rows: A {len(na)}, B {len(nb)}")
    if len(na) != len(nb):
        equal = False

    if ordered:
        only_a = list(range(len(nb), len(na)))
        only_b = list(range(len(na), len(nb)))
        pairs = [(i, i) for i in range(min(len(na), len(nb))) if na[i] != nb[i]]
    else:
        only_a, only_b, pairs = _match_multiset(na, nb, keys and _key_idx(keys, names), p)

    if only_a or only_b or pairs:
        equal = False
        p(f"rows only in A: {len(only_a) + len(pairs)}, rows only in B: {len(only_b) + len(pairs)}")
        if pairs:
            per_col = collections.defaultdict(list)
            for ia, ib in pairs:
                for c in range(ncols):
                    if na[ia][c] != nb[ib][c]:
                        per_col[c].append((ia, ib))
            p(f"paired rows that differ: {len(pairs)}; differing columns:")
            for c in sorted(per_col):
                lst = per_col[c]
                p(f"  [{c + 1}] {names[c]} ({kinds[c]}): {len(lst)} rows")
                for ia, ib in lst[:examples]:
                    ctx = _context(rows_a[ia], names, c, kinds)
                    p(f"      A={show(rows_a[ia][c])}  B={show(rows_b[ib][c])}   ({ctx})")
        for label, idx, rows in (("A", only_a, rows_a), ("B", only_b, rows_b)):
            if idx:
                p(f"unpaired rows only in {label}: {len(idx)}")
                for i in idx[:examples]:
                    p("   " + ", ".join(f"{names[c]}={show(v)}" for c, v in enumerate(rows[i])))
    if ambiguous:
        side = {"a": "A", "b": "B", "both": "A and B"}[ambiguous]
        other = {"a": "B", "b": "A", "both": "A/B"}[ambiguous]
        p(
            f"note: {side} cannot tell NULL from ''; NULL and '' were compared as one value "
            f"({other} has {collapsed[(other[0], 'NULL')]} NULL and {collapsed[(other[0], chr(39) * 2)]} '' fields)"
        )
    p("EQUAL" if equal else "DIFFERENT")
    return 0 if equal else 1


def _key_idx(keys, names):
    idx = []
    lower = [n.lower() for n in names]
    for k in keys:
        if k.isdigit():
            idx.append(int(k) - 1)
        elif k.lower() in lower:
            idx.append(lower.index(k.lower()))
        else:
            raise ValueError(f"unknown key column {k!r}")
    return idx


def _context(row, names, c, kinds):
    # the first two text columns other than c, to identify the row
    parts = []
    for i, v in enumerate(row):
        if i != c and kinds[i] == "text" and v not in (None, "") and not isinstance(v, Ambiguous):
            parts.append(f"{names[i]}={v!r}")
        if len(parts) == 2:
            break
    return ", ".join(parts)


PAIRING_LIMIT = 4_000_000  # unmatched A rows x unmatched B rows compared when pairing without keys


def _match_multiset(na, nb, key_idx, p):
    """Return (only_a, only_b, pairs) of row indexes: exact multiset matching, then pairing."""
    bucket = collections.defaultdict(list)
    for j, r in enumerate(nb):
        bucket[r].append(j)
    still_a = []
    for i, r in enumerate(na):
        lst = bucket.get(r)
        if lst:
            lst.pop()
        else:
            still_a.append(i)
    rest_b = sorted(j for lst in bucket.values() for j in lst)
    pairs = []
    if key_idx:
        by_key = collections.defaultdict(list)
        for j in rest_b:
            by_key[tuple(nb[j][c] for c in key_idx)].append(j)
        only_a = []
        taken = set()
        for i in still_a:
            lst = by_key.get(tuple(na[i][c] for c in key_idx))
            if lst:
                j = lst.pop(0)
                pairs.append((i, j))
                taken.add(j)
            else:
                only_a.append(i)
        return only_a, [j for j in rest_b if j not in taken], pairs
    if len(still_a) * len(rest_b) > PAIRING_LIMIT:
        p("(too many unmatched rows to pair them column by column; use --keys)")
        return still_a, rest_b, []
    only_a = []
    remaining = list(rest_b)
    for i in still_a:
        best, best_score = None, 0
        for j in remaining:
            score = sum(1 for x, y in zip(na[i], nb[j]) if x == y)
            if score > best_score:
                best, best_score = j, score
        if best is not None and best_score * 2 >= len(na[i]):
            pairs.append((i, best))
            remaining.remove(best)
        else:
            only_a.append(i)
    return only_a, remaining, pairs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="Compare two query results as multisets of rows.")
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--keys", help="comma-separated key columns (names or 1-based positions) to pair rows")
    ap.add_argument("--ordered", action="store_true", help="compare row by row in file order")
    ap.add_argument(
        "--empty-ambiguous",
        choices=["a", "b", "both"],
        help="that file writes NULL and '' the same way: its empty fields match either",
    )
    ap.add_argument("--examples", type=int, default=3, help="examples shown per differing column")
    args = ap.parse_args(argv)
    try:
        return compare(
            args.a,
            args.b,
            keys=args.keys.split(",") if args.keys else None,
            ordered=args.ordered,
            ambiguous=args.empty_ambiguous,
            examples=args.examples,
        )
    except (OSError, ValueError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
