#!/usr/bin/env python3
"""Self-check of the Athena oracle (plain asserts, no pytest).

    bench/.venv/bin/python bench/test_oracle.py

Every expected value below is derived from the Presto/Trino documentation or source
(cited next to each group), not from running DuckDB.
"""
from __future__ import annotations

import os
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import athena  # noqa: E402
import compare  # noqa: E402

TODAY = "2026-11-01"
FAILURES: list[str] = []


def write(path, text):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)


def make_bucket(root):
    # new file: has column c, an unquoted empty field, a quoted empty field, a quoted comma,
    # a quoted line break and a doubled quote
    write(
        os.path.join(root, "tfeed_v1/year=2026/month=08/data.csv"),
        'id,a,b,c\n'
        '1,,x,c1\n'
        '2,"",y,c2\n'
        '3,"q,""w""\nz", v ,c3\n',
    )
    # old file: no column c, columns in another order
    write(os.path.join(root, "tfeed_v1/year=2010/month=01/data.csv"), "b,id,a\nold,4,a4\n")
    # header-only file and an empty file
    write(os.path.join(root, "tfeed_v1/year=2026/month=10/data.csv"), "id,a,b,c\n")
    write(os.path.join(root, "tfeed_v1/year=2026/month=09/data.csv"), "")
    write(
        os.path.join(root, "numfeed_v1/year=2026/month=08/data.csv"),
        "k,v,amount,ts\n"
        "1,1,1.5,2026-09-15T10:20:30.743Z\n"
        "2,,-2.345,2026-09-15T10:20:30+00:00\n"
        "3,3,,\n",
    )


def q(oracle, sql):
    cols, rows = oracle.query(sql)
    return cols, [list(r) for r in rows]


def one(oracle, sql):
    _, rows = q(oracle, sql)
    assert len(rows) == 1, rows
    return rows[0] if len(rows[0]) > 1 else rows[0][0]


def check(name, got, expected):
    if got != expected:
        FAILURES.append(f"{name}: expected {expected!r}, got {got!r}")
        print(f"FAIL {name}: expected {expected!r}, got {got!r}")
    else:
        print(f"ok   {name}")


def raises(name, oracle, sql, fragment):
    try:
        q(oracle, sql)
    except (athena.AthenaError, athena.NotEmulated) as err:
        if fragment.lower() in str(err).lower():
            print(f"ok   {name}")
            return
        FAILURES.append(f"{name}: wrong error {err}")
        print(f"FAIL {name}: wrong error {err}")
        return
    FAILURES.append(f"{name}: no error")
    print(f"FAIL {name}: no error")


def main():
    with tempfile.TemporaryDirectory() as root:
        make_bucket(root)
        o = athena.Oracle(root, TODAY)
        ol = athena.Oracle(root, TODAY, lenient=True)

        # ---- OpenCSVSerde model: '' for an empty field, NULL for a missing column --------
        cols, rows = q(o, "select id, a, b, c, year, month, a = '', a is null, c is null from tfeed_v1 order by id")
        check("columns", cols, ["id", "a", "b", "c", "year", "month", "_col6", "_col7", "_col8"])
        check("empty unquoted field is ''", rows[0][1], "")
        check("'' = '' is true, not NULL", rows[0][6:8], ["true", "false"])
        check("quoted empty field is ''", rows[1][1], "")
        check("quoted comma, newline, doubled quote", rows[2][1], 'q,"w"\nz')
        check("blanks kept", rows[2][2], " v ")
        check("missing column is NULL", rows[3][3], None)
        check("missing column: c is null", rows[3][8], "true")
        check("reordered header by name", rows[3][:3], ["4", "a4", "old"])
        check("partition columns as text", rows[0][4:6], ["2026", "08"])
        check("header-only and empty files add no rows", len(rows), 4)
        lines = list(athena.canonical_csv_lines(["e", "n"], [["", None]]))
        check("canonical CSV: '' is \"\" and NULL is empty", lines[1], '"",\n')

        # ---- decimal arithmetic (Trino DecimalOperators / decimal.md) -------------------
        # decimal(38,6) / decimal(38,6): precision min(38, 38+6+0) = 38, scale max(6,6) = 6, half up
        check("dec div scale", one(o, "select cast(1 as decimal(38,6)) / cast(3 as decimal(38,6))"), "0.333333")
        check("dec div half up", one(o, "select cast(2 as decimal(38,6)) / cast(3 as decimal(38,6))"), "0.666667")
        check("dec div negative", one(o, "select cast(-2 as decimal(38,6)) / cast(3 as decimal(38,6))"), "-0.666667")
        # decimal(10,2) / decimal(10,4): scale 4
        check("dec div max scale", one(o, "select cast(1 as decimal(10,2)) / cast(3 as decimal(10,4))"), "0.3333")
        # AWS listing fee: decimal(15,6) / decimal(38,6) -> scale 6
        check("listing fee %", one(o, "select abs(cast(-60 as decimal(15,6)) / cast(2000 as decimal(38,6)))"), "0.030000")
        # integer 7 is DECIMAL(10,0); 7 / 2.0 -> scale 1
        check("int / decimal", one(o, "select 7 / 2.0"), "3.5")
        check("integer division truncates", one(o, "select 7 / 2, -7 / 2"), ["3", "-3"])
        raises("division by zero", o, "select cast(1 as decimal(10,2)) / cast(0 as decimal(10,2))", "Division by zero")
        check("decimal sum keeps scale", one(o, "select sum(cast(amount as decimal(38,6))) from numfeed_v1 where amount <> ''"), "-0.845000")

        # ---- round / truncate (Trino MathFunctions.RoundN: half away from zero, decimal(p+1,s))
        check("round half up", one(o, "select round(cast(2.345 as decimal(10,3)), 2)"), "2.350")
        check("round half away from zero", one(o, "select round(cast(-2.345 as decimal(10,3)), 2)"), "-2.350")
        check("round no digits", one(o, "select round(decimal '2.5'), round(decimal '-2.5')"), ["3", "-3"])
        check("truncate toward zero", one(o, "select truncate(cast(-2.349 as decimal(10,3)), 2)"), "-2.340")
        check("truncate(x)", one(o, "select truncate(decimal '-2.9')"), "-2")

        # ---- date_diff (datetime.md: timestamp2 - timestamp1 in whole units; Joda) -------
        check("date_diff day truncates", one(o, "select date_diff('day', from_iso8601_timestamp('2026-09-15T10:20:30.743Z'), from_iso8601_timestamp('2026-10-15T00:00:00Z'))"), "29")
        check("date_diff day negative", one(o, "select date_diff('day', from_iso8601_timestamp('2026-10-15T00:00:00Z'), from_iso8601_timestamp('2026-09-15T10:20:30.743Z'))"), "-29")
        check("date_diff day on dates", one(o, "select date_diff('day', date '2020-03-01', date '2020-03-02')"), "1")
        check("date_diff month end of month", one(o, "select date_diff('month', date '2026-01-31', date '2026-02-28')"), "1")
        check("date_diff month not yet", one(o, "select date_diff('month', timestamp '2026-01-15 10:00:00', timestamp '2026-02-15 09:59:59')"), "0")
        check("date_diff month reached", one(o, "select date_diff('month', timestamp '2026-01-15 10:00:00', timestamp '2026-02-15 10:00:00')"), "1")
        check("date_diff month backwards", one(o, "select date_diff('month', date '2026-03-31', date '2026-02-28')"), "-1")
        check("date_diff quarter", one(o, "select date_diff('quarter', date '2026-01-31', date '2026-07-30')"), "1")
        check("date_diff year leap", one(o, "select date_diff('year', date '2020-02-29', date '2021-02-28'), date_diff('year', date '2020-03-01', date '2021-02-28')"), ["1", "0"])
        check("date_diff second", one(o, "select date_diff('second', timestamp '2020-03-01 00:00:00', timestamp '2020-03-02 00:00:00')"), "86400")

        # ---- date_add / date_trunc / date_format / casts to text ------------------------
        check("date_add 'Day' on current_date stays a date", one(o, "select date_add('Day', -90, current_date)"), "2026-08-03")
        check("date_add minute", one(o, "select date_add('minute', -60, from_iso8601_timestamp('2026-09-01T00:00:00Z'))"), "2026-08-31T23:00:00Z")
        check("date_add month clamps", one(o, "select date_add('month', 1, timestamp '2012-10-31 01:00')"), "2012-11-30T01:00:00Z")
        check("date_trunc", one(o, "select date_trunc('month', timestamp '2022-10-20 05:10:00')"), "2022-10-01T00:00:00Z")
        check("date_trunc week is Monday", one(o, "select date_trunc('week', date '2001-08-22')"), "2001-08-20")
        check("date_format", one(o, "select date_format(timestamp '2022-10-20 05:10:00', '%m-%d-%Y %H')"), "10-20-2022 05")
        check("date_format %i %s %f", one(o, "select date_format(from_iso8601_timestamp('2026-09-15T10:20:30.743Z'), '%H:%i:%s.%f %W %M %e')"), "10:20:30.743000 Tuesday September 15")
        raises("date_format %D unsupported", o, "select date_format(current_timestamp, '%D')", "not supported")
        check("cast(tstz as varchar)", one(o, "select cast(from_iso8601_timestamp('2026-09-15T10:20:30.743Z') as varchar)"), "2026-09-15 10:20:30.743 UTC")
        check("+00:00 is UTC", one(o, "select cast(from_iso8601_timestamp(ts) as varchar) from numfeed_v1 where k = '2'"), "2026-09-15 10:20:30.000 UTC")
        check("cast(timestamp(0) literal as varchar)", one(o, "select cast(timestamp '2999-01-01 00:00:00' as varchar)"), "2999-01-01 00:00:00")
        check("cast(date as varchar)", one(o, "select cast(date '2026-09-15' as varchar)"), "2026-09-15")
        check("cast(decimal as varchar)", one(o, "select cast(cast(-0.5 as decimal(38,6)) as varchar)"), "-0.500000")
        check("at_timezone + date_trunc in CET", one(o, "select date_trunc('day', at_timezone(from_iso8601_timestamp('2026-09-15T23:30:00Z'), 'CET'))"), "2026-09-15T22:00:00Z")
        check("from_iso8601_timestamp fraction", one(o, "select from_iso8601_timestamp('2026-09-15T10:20:30.743Z')"), "2026-09-15T10:20:30.743000Z")
        check("from_iso8601_date", one(o, "select from_iso8601_date('2020-05-11'), from_iso8601_date('2020-05')"), ["2020-05-11", "2020-05-01"])
        raises("from_iso8601_date with a time fails", o, "select from_iso8601_date('2020-05-11T10:00:00Z')", "Invalid format")
        check("from_iso8601_timestamp date only", one(o, "select from_iso8601_timestamp('2020-05-11')"), "2020-05-11T00:00:00Z")
        check("from_iso8601_timestamp offset", one(o, "select from_iso8601_timestamp('2020-05-11T11:15:05.055+01:00')"), "2020-05-11T10:15:05.055000Z")
        raises("from_iso8601_timestamp('') fails", o, "select from_iso8601_timestamp('')", "Invalid format")
        raises("from_iso8601_timestamp with a space fails", o, "select from_iso8601_timestamp('2026-09-15 10:20:30')", "Invalid format")
        check("cast text with offset / zone name", one(o, "select cast('2026-09-15 10:00:00 +01:00' as timestamp with time zone), cast('2026-09-15 10:00:00 America/New_York' as timestamp with time zone)"), ["2026-09-15T09:00:00Z", "2026-09-15T14:00:00Z"])
        check("try() catches the errors", one(o, "select try(from_iso8601_timestamp('')), try(cast('x' as integer)), try(1 / 0)"), [None, None, None])
        check("literal types", one(o, "select typeof(2147483648), typeof(1.50), typeof(decimal '0000012345.1234500000')"), ["BIGINT", "DECIMAL(3,2)", "DECIMAL(20,10)"])
        check("timestamp literal with zone", one(o, "select timestamp '1970-01-01 00:00:00 UTC'"), "1970-01-01T00:00:00Z")
        check("current_timestamp is today's midnight UTC", one(o, "select now(), current_timestamp, current_date"), ["2026-11-01T00:00:00Z", "2026-11-01T00:00:00Z", "2026-11-01"])

        # ---- casts from text: strict vs lenient ------------------------------------------
        raises("cast('' as decimal) fails", o, "select cast(amount as decimal(38,6)) from numfeed_v1", "Cannot cast VARCHAR ''")
        check("lenient cast('' as decimal) is NULL", one(ol, "select cast(amount as decimal(38,6)) from numfeed_v1 where k = '3'"), None)
        raises("cast ISO 'T' text as timestamp fails", o, "select cast(ts as timestamp) from numfeed_v1 where k = '1'", "cannot be cast to timestamp")
        check("lenient cast ISO text as timestamp", one(ol, "select cast(ts as timestamp with time zone) from numfeed_v1 where k = '1'"), "2026-09-15T10:20:30.743000Z")
        check("cast space text as timestamp", one(o, "select cast('2026-09-15 10:20:30.7436' as timestamp)"), "2026-09-15T10:20:30.744000Z")
        raises("cast('1.0' as int) fails", o, "select cast('1.0' as integer)", "Cannot cast")
        raises("varchar = integer fails", o, "select count(*) from numfeed_v1 where v = 1", "Cannot apply operator")
        check("lenient varchar = integer", one(ol, "select count(*) from numfeed_v1 where v = 1"), "1")

        # ---- strings ----------------------------------------------------------------------
        check("substring negative start", one(o, "select substring('000000000000' || '123456789012', -12)"), "123456789012")
        check("substring negative beyond length", one(o, "select substring('abc', -5), substring('abc', 0), substring('abc', 4)"), ["", "", ""])
        check("substring with length", one(o, "select substring('hello', -3, 2), substr('abc', 2, 1)"), ["ll", "b"])
        check("|| with NULL is NULL", one(o, "select 'a' || cast(null as varchar), concat('a', cast(null as varchar))"), [None, None])
        raises("varchar || integer fails", o, "select 'a' || 1", "Cannot apply operator")
        check("greatest/least with NULL is NULL", one(o, "select greatest(1, null), least('a', null), greatest(1, 2)"), [None, None, "2"])
        check("count distinct", one(o, "select count(distinct a) from tfeed_v1"), "3")
        check("bool_or", one(o, "select bool_or(a = '') from tfeed_v1"), "true")

        # ---- NULL ordering: NULLS LAST for ASC and DESC (Trino select.md) -----------------
        _, rows = q(o, "select x, row_number() over (order by x desc) from (values 1, null, 3) t(x) order by 2")
        check("row_number over desc: NULL last", [r[0] for r in rows], ["3", "1", None])
        _, rows = q(o, "select x from (values 1, null, 3) t(x) order by x")
        check("order by asc: NULL last", [r[0] for r in rows], ["1", "3", None])
        _, rows = q(o, "select x, lead(x) over (order by x desc) from (values 1, null, 3) t(x) order by 2 nulls first, 1")
        check("lead over desc sees NULL last", rows, [["1", None], [None, None], ["3", "1"]])

        # ---- listagg (aggregate.md: values joined in ORDER BY order; NULL values skipped) -
        check("listagg order", one(o, "select listagg(value, ',') within group (order by value) from (values 'a', 'c', 'b') t(value)"), "a,b,c")
        check(
            "listagg order by other key, NULL key last, NULL value skipped",
            one(o, "select listagg(v, '|') within group (order by k desc) from (values ('x', 1), ('y', null), (null, 3), ('z', 2)) t(v, k)"),
            "z|x|y",
        )
        check("listagg of nothing is NULL", one(o, "select listagg(v, ',') within group (order by v) from (values cast(null as varchar)) t(v)"), None)

        # ---- legacy views -----------------------------------------------------------------
    with tempfile.TemporaryDirectory() as root:
        write(os.path.join(root, "addressfeed_v1/year=2026/month=08/data.csv"), "address_id,country_code\nad1,CH\n")
        write(
            os.path.join(root, "agreementfeed_v1/year=2026/month=08/data.csv"),
            "agreement_id,offer_id,start_time,end_time,acceptance_time,intent,preceding_agreement_id\n"
            "ag1,of1,s,e,a,NEW,\n",
        )
        o = athena.Oracle(root, TODAY)
        check("piifeed.country", one(o, "select country, country_code from piifeed"), ["CH", "CH"])
        check(
            "agreementfeed beta names",
            one(o, "select origin_offer_id, start_date, end_date, acceptance_date, agreement_intent, previous_agreement_id, agreement_revision, agreement_type from agreementfeed"),
            ["of1", "s", "e", "a", "NEW", "", None, None],
        )

    # ---- compare.py ----------------------------------------------------------------------
    with tempfile.TemporaryDirectory() as root:
        a = os.path.join(root, "a.csv")
        b = os.path.join(root, "b.csv")
        write(a, 'id,amount,ts,name\n1,3153.0000000000,2026-09-15 10:20:30.743 UTC,""\n2,3153,2026-09-15T10:20:30Z,x\n')
        write(b, 'id,amount,ts,name\n2,3153.00,2026-09-15T10:20:30.000000Z,x\n1,3153,2026-09-15T10:20:30.743Z,""\n')
        check("compare: equal after normalisation", compare.compare(a, b, out=open(os.devnull, "w")), 0)
        write(b, 'id,amount,ts,name\n2,3153.00,2026-09-15T10:20:30.000000Z,x\n1,3153,2026-09-15T10:20:30.743Z,\n')
        check("compare: NULL differs from ''", compare.compare(a, b, out=open(os.devnull, "w")), 1)
        check("compare: ambiguous empties", compare.compare(a, b, ambiguous="b", out=open(os.devnull, "w")), 0)
        write(a, "acct\n000123456789\n")
        write(b, "acct\n123456789\n")
        check("compare: leading zeros are text", compare.compare(a, b, out=open(os.devnull, "w")), 1)

    print()
    if FAILURES:
        print(f"{len(FAILURES)} FAILED")
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
