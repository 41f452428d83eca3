"""The second wall through the API: SQL that names files, settings or statements is refused with a reason, and
audited with its hash, whatever the quoting, case, scope, nesting or comments. No response holds a canary."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.security.conftest import Canaries, QueryApi, sha256

pytestmark = pytest.mark.integration


def scope_escapes(path: str) -> dict[str, str]:
    """A CTE named like a file, defined in one scope, and the same quoted name read in another."""
    q = '"' + path.replace('"', '""') + '"'
    return {
        "the reported leak": f'with "x" as (select 1) select * from (with {q} as (select 1) select 1), {q} limit 2',
        "a union branch": f"select * from (with {q} as (select 1 as a) select a from {q} union all select 2) u, {q}",
        "a scalar subquery": f"select (with {q} as (select 1) select count(*) from {q}) as n, * from {q}",
        "an IN subquery": f"select * from {q} where 1 in (with {q} as (select 1) select * from {q})",
        "a nested CTE": f"with a as (with {q} as (select 1) select * from {q}) select * from a, {q}",
        "a later sibling": f"with a as (select * from {q}), {q} as (select 1) select * from a",
        "a CTE named like the view": f"with dim_enterprise as (select * from {q}) select * from dim_enterprise",
        "a single-quoted path": f"with {q} as (select 1) select 1 union all select * from '{path}'",
        "mixed case and comments": f"WiTh {q} AS (SeLeCt 1) SELECT * FROM /* here */ (SELECT 1) AS t, --x\n {q}",
        "a join": f"select * from dim_enterprise d join {q} c on d.enterprise_key = c.enterprise_key",
        "EXISTS": f"select 1 where exists (select * from {q})",
        "recursive CTE": f"with recursive r(n) as (select 1 union all select n + 1 from r, {q} where n < 2) "
                         "select * from r",
    }


SETTING_CALLS = {
    "double-quoted": '''select "current_setting"('allowed_directories')''',
    "double-quoted upper": '''select "CURRENT_SETTING"('allowed_paths')''',
    "mixed case": "select Current_Setting('allowed_paths')",
    "schema-qualified": "select main.current_setting('allowed_paths')",
    "catalog-qualified": "select system.main.current_setting('allowed_paths')",
    "quoted schema": '''select "main"."current_setting"('allowed_paths')''',
    "pg_catalog": "select pg_catalog.current_setting('allowed_paths')",
    "comment before the bracket": "select current_setting /* x */ ('allowed_paths')",
    "in a CTE": "with s as (select current_setting('allowed_paths') as p) select * from s",
    "in WHERE": "select 1 from dim_enterprise where current_setting('allowed_paths') is not null limit 1",
    "in a lambda": "select list_transform([1], lambda x: current_setting('allowed_paths'))",
    "getenv": "select getenv('HOME')",
    "getvariable": "select getvariable('x')",
    "read_text scalar": "select (select content from read_text('/etc/hostname'))",
    "duckdb_settings": "select * from duckdb_settings()",
    "pragma function": "select * from pragma_database_list()",
    "json_execute_serialized_sql": "select * from json_execute_serialized_sql('{}')",
    "query": "select * from query('select 1')",
    "glob quoted": '''select * from "glob"('/*')''',
    "current_query": "select current_query()",
    "write_log": "select write_log('x')",
    "setseed": "select setseed(0.5)",
}

STATEMENTS = {
    "COPY to an allowed file": "COPY (select 5 as x) TO '{shared}' (format parquet, use_tmp_file false)",
    "copy lower case": "copy dim_enterprise to '{outside}'",
    "COPY after a comment": "/* select */ COPY (select 1) TO '{shared}'",
    "COPY second statement": "select 1; COPY (select 1) TO '{shared}'",
    "EXPORT": "EXPORT DATABASE '{outside_dir}'",
    "ATTACH": "ATTACH '{outside_dir}/x.duckdb' AS x",
    "DETACH": "DETACH memory",
    "PRAGMA": "PRAGMA database_list",
    "SET": "SET enable_external_access = true",
    "RESET": "RESET allowed_paths",
    "INSTALL": "INSTALL httpfs",
    "LOAD": "LOAD httpfs",
    "CALL": "CALL pragma_version()",
    "CHECKPOINT": "CHECKPOINT",
    "CREATE": "create table t as select 1",
    "INSERT": "insert into dim_enterprise select * from dim_enterprise",
    "SELECT INTO": "select 1 as x into leak",
    "SUMMARIZE": "summarize dim_enterprise",
    "SHOW": "show tables",
    "DESCRIBE": "describe dim_enterprise",
    "PREPARE": "prepare p as select 1",
    "USE": "use memory",
}


def _refused_and_audited(api: QueryApi, code: str, headers: dict, sql: str, *, leak_check: Canaries) -> str:
    status, body = api.ask(headers, sql)
    assert leak_check.leaked(body) is None, (sql, body[:300])
    assert status in (400, 403), (sql, status, body[:300])
    detail = body.decode("utf-8")
    assert "traceback" not in detail.lower() and len(detail) < 800
    return detail


def _audited(api: QueryApi, code: str, queries: list[str]) -> None:
    rows = {r["query_sha256"]: r for r in api.rows(code) if r["action"] == "query"}
    for sql in queries:
        row = rows.get(sha256(sql))
        assert row is not None, f"no audit row for {sql[:80]!r}"
        assert row["outcome"] == "refused" and row["reason"], row


def test_a_file_named_like_a_cte_of_another_scope_is_never_read(query_api: QueryApi, canaries: Canaries) -> None:
    code, headers = query_api.department("nogrant")
    sent = []
    for path in (canaries.curated, canaries.meta_parquet, canaries.old_curated, canaries.outside_parquet):
        for name, sql in scope_escapes(path).items():
            status, body = query_api.ask(headers, sql)
            assert canaries.leaked(body) is None, (name, path, body[:300])
            assert status in (200, 400, 403), (name, status, body[:300])
            if status != 200:
                sent.append(sql)
    assert sent
    _audited(query_api, code, sent)


@pytest.mark.parametrize("name", SETTING_CALLS)
def test_settings_files_and_state_functions_are_refused_however_spelled(query_api: QueryApi, canaries: Canaries,
                                                                        name: str) -> None:
    code, headers = query_api.department("fn")
    sql = SETTING_CALLS[name]
    detail = _refused_and_audited(query_api, code, headers, sql, leak_check=canaries)
    assert "not allowed" in detail or "outside your datasets" in detail or "no dataset" in detail
    assert "/" not in detail.replace("/etc/hostname", "").replace("GET /datasets", "")
    _audited(query_api, code, [sql])


def test_statements_other_than_one_select_are_refused_and_write_nothing(query_api: QueryApi, canaries: Canaries,
                                                                        tmp_path: Path) -> None:
    code, headers = query_api.department("stmt")
    tmp_path = tmp_path / "outside"
    tmp_path.mkdir()
    before = hashlib.sha256(Path(canaries.shared).read_bytes()).hexdigest()
    sent = []
    for name, template in STATEMENTS.items():
        sql = template.format(shared=canaries.shared, outside=tmp_path / "leak.csv", outside_dir=tmp_path)
        detail = _refused_and_audited(query_api, code, headers, sql, leak_check=canaries)
        assert any(word in detail for word in ("not allowed", "statements", "only SELECT", "not valid SQL")), \
            (name, detail)
        sent.append(sql)
    assert hashlib.sha256(Path(canaries.shared).read_bytes()).hexdigest() == before
    assert not list(tmp_path.iterdir())
    _audited(query_api, code, sent)


def test_what_sqlglot_cannot_parse_completely_is_refused(query_api: QueryApi, canaries: Canaries) -> None:
    code, headers = query_api.department("parse")
    sent = []
    for sql in ("select * from dim_enterprise pivot (count(*) for district_name in ('x'))",
                "select a from (select 1 as a) t, lateral (select t.a + 1)",
                "select * from range(3)", "select unnest([1, 2])", "select $1", "select ?",
                "select * from dim_enterprise where", "select `x` from dim_enterprise",
                "select 'unterminated", "select * from dim_enterprise -- ;\n; drop view dim_enterprise"):
        detail = _refused_and_audited(query_api, code, headers, sql, leak_check=canaries)
        assert detail, sql
        sent.append(sql)
    _audited(query_api, code, sent)


def test_ordinary_sql_still_runs_and_reads_only_masked_values(query_api: QueryApi, canaries: Canaries) -> None:
    _, headers = query_api.department("fine")
    for sql in ("select district_name, count(*) as n from dim_enterprise group by all order by n desc",
                "with e as (select enterprise_key, contact_phone from dim_enterprise) "
                "select e.* from e join dim_enterprise d using (enterprise_key) limit 20",
                'WITH "E" AS (SELECT * FROM DIM_ENTERPRISE) SELECT * FROM e LIMIT 50',
                "select * from shared.dim_enterprise order by 1 limit 30",
                "select legal_representative, contact_phone from dim_enterprise where contact_phone like '1%'"):
        for fmt in ("json", "csv", "arrow"):
            status, body = query_api.ask(headers, sql, fmt)
            assert status == 200, (sql, body[:300])
            assert canaries.leaked(body) is None, (sql, fmt)
