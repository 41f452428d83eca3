"""The gate's function allowlist against the DuckDB in use: every name is a scalar, aggregate, macro or window
function there, and none is also a table function (or a pragma)."""

from __future__ import annotations

import duckdb

from envlake.access.functions import ALLOWED_FUNCTIONS
from envlake.access.sqlguard import SqlRefused, check


def test_every_allowed_function_exists_and_none_is_a_table_function() -> None:
    con = duckdb.connect(":memory:")
    try:
        kinds: dict[str, set[str]] = {}
        for name, kind in con.execute("select lower(function_name), function_type from duckdb_functions() "
                                      "where schema_name = 'main'").fetchall():
            kinds.setdefault(name, set()).add(kind)
    finally:
        con.close()
    missing = sorted(n for n in ALLOWED_FUNCTIONS if n not in kinds)
    assert not missing, f"not functions of this DuckDB: {missing}"
    wrong = sorted(n for n in ALLOWED_FUNCTIONS if not kinds[n] & {"scalar", "aggregate", "macro", "window"})
    assert not wrong, wrong
    tables = sorted(n for n in ALLOWED_FUNCTIONS if kinds[n] & {"table", "table_macro", "pragma"})
    assert not tables, f"also table functions or pragmas: {tables}"


def test_a_function_off_the_list_is_refused_by_the_name_duckdb_runs() -> None:
    for sql, name in (('select "Current_Setting"(\'x\')', "current_setting"), ("select REPEAT('a', 3)", "repeat"),
                      ("select main.lower('A')", "main.lower"), ("select range(3)", "range")):
        try:
            check(sql, {}, 10)
        except SqlRefused as exc:
            assert name in str(exc), (sql, str(exc))
        else:
            raise AssertionError(f"{sql} passed the gate")
    assert check("select lower('A'), strptime('2026', '%Y'), date_trunc('day', now())", {}, 10).sql
