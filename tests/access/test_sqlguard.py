"""The SQL gate alone: what a department may send, and every way out that it refuses."""

from __future__ import annotations

import pytest

from envlake.access.sqlguard import SqlRefused, check

MINE = {"dim_enterprise", "fct_exceedance_event"}

ESCAPES = {
    "read_csv": ("select * from read_csv('/etc/passwd')", "read_csv"),
    "read_csv in a subquery": ("select (select count(*) from read_csv_auto('/etc/passwd')) from dim_enterprise",
                               "read_csv_auto"),
    "file path as a table": ("select * from '/etc/passwd'", "no dataset"),
    "read_text": ("select read_text('/etc/passwd')", "read_text"),
    "glob": ("select * from glob('/*')", "glob"),
    "getenv": ("select getenv('HOME')", "getenv"),
    "settings": ("select * from duckdb_settings()", "duckdb_settings"),
    "attach": ("ATTACH '/tmp/other.duckdb' AS other", "ATTACH"),
    "copy out": ("COPY dim_enterprise TO '/tmp/leak.csv'", "COPY"),
    "install": ("INSTALL httpfs", "INSTALL"),
    "load": ("LOAD httpfs", "LOAD"),
    "pragma": ("PRAGMA database_list", "PRAGMA"),
    "set": ("SET enable_external_access = true", "SET"),
    "two statements": ("select 1; select 2", "2 statements"),
    "comment hiding a second statement": ("select * from dim_enterprise -- look away\n; drop view dim_enterprise",
                                          "2 statements"),
    "block comment then a statement": ("select 1 /* harmless */; attach 'x.db'", "2 statements"),
    "another schema": ("select * from information_schema.tables", "outside your datasets"),
    "the build area": ("select * from main.dim_enterprise", "outside your datasets"),
    "not granted": ("select * from some_other_mart", "no dataset"),
    "select into": ("select * into leak from dim_enterprise", "INTO"),
    "create": ("create table t as select * from dim_enterprise", "CREATE"),
    "describe": ("describe dim_enterprise", "DESCRIBE"),
    "not sql": ("select from where", "not valid SQL"),
    "empty": ("   ", "empty"),
}


@pytest.mark.parametrize("sql,reason", ESCAPES.values(), ids=ESCAPES.keys())
def test_escape_attempts_are_refused_with_a_reason(sql: str, reason: str) -> None:
    with pytest.raises(SqlRefused, match=reason):
        check(sql, MINE, 100)


def test_a_query_runs_as_parsed_with_comments_dropped_and_the_row_limit_applied() -> None:
    checked = check("select district_name, count(*) /* ; drop view x */ from shared.DIM_ENTERPRISE group by 1",
                    MINE, 100)
    assert checked.datasets == ("dim_enterprise",)
    assert "drop" not in checked.sql.lower() and "/*" not in checked.sql
    assert checked.sql.endswith("LIMIT 101")
    assert check("select * from dim_enterprise limit 5", MINE, 100).sql.endswith("LIMIT 5")
    assert check("select * from dim_enterprise limit 5000", MINE, 100).sql.endswith("LIMIT 101")


def test_ctes_joins_and_set_operations_over_own_datasets_pass() -> None:
    checked = check("with e as (select enterprise_key from dim_enterprise) "
                    "select x.* from fct_exceedance_event x join e using (enterprise_key) "
                    "union all select x.* from fct_exceedance_event x", MINE, 10)
    assert checked.datasets == ("dim_enterprise", "fct_exceedance_event")
    assert not checked.resolved  # no columns given for the views: every column of each counts as read

    views = {"dim_enterprise": ("enterprise_key", "contact_phone"),
             "fct_exceedance_event": ("enterprise_key", "event_id")}
    checked = check("with e as (select enterprise_key from dim_enterprise) "
                    "select x.* from fct_exceedance_event x join e using (enterprise_key) "
                    "union all select x.* from fct_exceedance_event x", views, 10)
    assert checked.resolved
    assert checked.read == ("dim_enterprise.enterprise_key", "fct_exceedance_event.enterprise_key",
                            "fct_exceedance_event.event_id")
