"""Issue 17's Superset cases, against a real Superset on the modelled lake (the `deployed` session fixture of
tests/dashboards, built once per worker).

- A district branch is held by its data: whatever SQL expressions a chart-data request carries (adhoc columns,
  filters, metrics, orderby, extras, the tester's ``1=1 or district_code``), every row it returns is its own
  district's, and no count exceeds its district's rows. Its catalog holds no other district's rows at all.
- It cannot read Superset's action log, list schemas it has no dataset in, or read the lake's records.
- The admin's SQL Lab creates or changes no file, whatever statement it sends, and cannot unlock its connection.
"""

from __future__ import annotations

import ast
import json
import uuid
from pathlib import Path
from typing import Any

import duckdb
import pytest

from envlake.dashboards.bundle import DATABASE_NAME, dataset_sql, load_definitions
from envlake.dashboards.client import SupersetAPIError, SupersetClient
from envlake.kernel.departments import load_departments
from envlake.publishing import superset_catalogs as catalogs
from tests.dashboards.conftest import DeployedSuperset, deployed  # noqa: F401 - the session fixture, shared
from tests.modelling.conftest import modelled_lake  # noqa: F401 - deployed's own, shared

pytestmark = pytest.mark.integration

XIHU = "330106"
DATASETS, _ = load_definitions()
DISTRICT_DATASETS = [d for d in DATASETS if d.get("district")]
RECORD_DATASETS = [d for d in DATASETS if not d.get("district")]


def _sql(expression: str, label: str = "expr") -> dict[str, str]:
    return {"expressionType": "SQL", "sqlExpression": expression, "label": label}


def _count(expression: str = "COUNT(*)") -> dict[str, str]:
    return _sql(expression, "n")


# Each a change to a plain query (columns district_code, metric COUNT(*) as n). The first is the tester's.
WIDENING: dict[str, dict[str, Any]] = {
    "filter column 1=1 or district_code": {"filters": [{"col": _sql("1=1 or district_code"), "op": "IS NOT NULL"}]},
    "filter column district_code = district_code": {
        "filters": [{"col": _sql("district_code = district_code or district_code"), "op": "IS NOT NULL"}]},
    "filter column quoted and cased": {"filters": [{"col": _sql('TRUE OR "DISTRICT_CODE"'), "op": "IS NOT NULL"}]},
    "filter column with a comment": {"filters": [{"col": _sql("1=1 OR/**/district_code"), "op": "IS NOT NULL"}]},
    "filter column across lines": {"filters": [{"col": _sql("1=1\nOR district_code"), "op": "IS NULL"}]},
    "filter in": {"filters": [{"col": _sql("1=1 or district_code"), "op": "IN", "val": ["330102", "330105"]}]},
    "extras.where closing the parenthesis": {"extras": {"where": "true) or (1=1"}},
    "extras.where district_code = district_code": {"extras": {"where": "1=1 or district_code = district_code"}},
    "extras.where with a line comment": {"extras": {"where": "1=1 or district_code is not null --"}},
    "extras.where with an open block comment": {"extras": {"where": "1=1 or /* district_code */ true /*"}},
    "extras.having": {"extras": {"having": "1=1 or count(*) > 0"}},
    "adhoc column": {"columns": [_sql("case when 1=1 or district_code is null then district_code end",
                                      "district_code")]},
    "metric with its own filter": {"metrics": [_count("COUNT(*) FILTER (WHERE 1=1 OR district_code IS NOT NULL)")]},
    "orderby expression": {"orderby": [[_sql("1=1 or district_code"), False]]},
    "series columns and a huge row limit": {"series_columns": ["district_code"], "row_limit": 10_000_000},
    "a file read in a column": {"columns": ["district_code", _sql("(select count(*) from read_parquet("
                                                                 "'{lake}/shared/**/*.parquet'))", "files")]},
    "a subquery on another mart": {"filters": [{"col": _sql(
        "district_code in (select district_code from shared.mart_district_scorecard) or district_code"),
        "op": "IS NOT NULL"}]},
}


def _query(dataset_id: int, change: dict[str, Any], lake: Path) -> dict[str, Any]:
    query: dict[str, Any] = {"columns": ["district_code"], "metrics": [_count()], "filters": [],
                             "extras": {"where": "", "having": ""}, "orderby": [], "row_limit": 10000}
    for key, value in json.loads(json.dumps(change).replace("{lake}", str(lake))).items():
        query[key] = {**query[key], **value} if key == "extras" else value
    return {"datasource": {"id": dataset_id, "type": "table"}, "force": True, "queries": [query],
            "result_format": "json", "result_type": "full"}


@pytest.fixture(scope="module")
def ids(deployed: DeployedSuperset) -> dict[str, int]:  # noqa: F811
    """Every dataset's id, as the admin sees them (a branch does not see the record datasets)."""
    with deployed.client() as admin:
        database = admin.find("database", "database_name", DATABASE_NAME)[0]["id"]
        found = {}
        for ds in DATASETS:
            name = ds["table"] if "table" in ds and "sql" not in ds else ds["name"]
            found[ds["name"]] = next(r["id"] for r in admin.find("dataset", "table_name", name)
                                     if r["database"]["id"] == database)
        return found


@pytest.fixture(scope="module")
def counts(deployed: DeployedSuperset) -> dict[str, tuple[int, int]]:  # noqa: F811
    """Per district dataset: its rows in the whole city and in 西湖区, read from the readers' catalog."""
    con = duckdb.connect(str(deployed.catalog), read_only=True)
    try:
        return {ds["name"]: con.execute(
            f"select count(*), count(*) filter (where district_code = '{XIHU}') from ({dataset_sql(ds)})").fetchone()
            for ds in DISTRICT_DATASETS}
    finally:
        con.close()


def _chart_rows(client: SupersetClient, context: dict[str, Any]) -> list[dict[str, Any]] | None:
    """The rows of a chart-data request; None when Superset refused it (any refusal is an answer here)."""
    response = client.http.post("/api/v1/chart/data", json=context)
    if response.status_code != 200:
        return None
    result = response.json()["result"][0]
    return None if result.get("error") else result["data"]


@pytest.mark.parametrize("dataset", [d["name"] for d in DISTRICT_DATASETS])
def test_a_plain_request_of_a_branch_answers_with_its_district(deployed: DeployedSuperset,  # noqa: F811
                                                               ids: dict[str, int], counts: dict[str, tuple[int, int]],
                                                               dataset: str) -> None:
    city, xihu_rows = counts[dataset]
    assert city > xihu_rows  # other districts' rows are there to leak
    with deployed.client("xihu", "envlake-demo") as xihu:
        rows = _chart_rows(xihu, _query(ids[dataset], {}, Path(deployed.lake.settings.lake)))
        assert rows == ([{"district_code": XIHU, "n": xihu_rows}] if xihu_rows else [])
        widened = _chart_rows(xihu, _query(ids[dataset], WIDENING["filter column 1=1 or district_code"],
                                           Path(deployed.lake.settings.lake)))
        assert widened is None or {r["district_code"] for r in widened} <= {XIHU}
        assert widened is None or sum(r["n"] for r in widened) <= xihu_rows


@pytest.mark.parametrize("dataset", ["district_scorecard", "exceedance_events", "credit_grade_changes"])
def test_no_expression_in_a_chart_request_widens_a_branchs_rows(deployed: DeployedSuperset,  # noqa: F811
                                                                ids: dict[str, int],
                                                                counts: dict[str, tuple[int, int]],
                                                                dataset: str) -> None:
    """A physical dataset, a SQL dataset with joins, and one whose mart has no district column of its own."""
    _, xihu_rows = counts[dataset]
    lake = Path(deployed.lake.settings.lake)
    answered = 0
    with deployed.client("xihu", "envlake-demo") as xihu:
        for name, change in WIDENING.items():
            rows = _chart_rows(xihu, _query(ids[dataset], change, lake))
            if rows is None:
                continue
            answered += 1
            assert {r["district_code"] for r in rows} <= {XIHU}, name
            assert sum(r.get("n") or 0 for r in rows) <= xihu_rows, name
            assert all(r.get("files") in (None, 0) for r in rows), name
    assert answered >= len(WIDENING) // 2  # most were run, not refused: the engine, not the parser, held them


def test_a_branchs_catalog_holds_its_district_only_and_opens_no_file(deployed: DeployedSuperset) -> None:  # noqa: F811
    rules = {r.mart: r for r in catalogs.district_rules()}
    for district in load_departments().districts:
        path = catalogs.district_catalog(deployed.catalog, district.code)
        con = duckdb.connect(str(path), read_only=True)
        try:
            assert con.execute("select count(*) from duckdb_views() where not internal").fetchone()[0] == 0
            tables = {r[0] for r in con.execute(
                "select table_name from duckdb_tables() where schema_name = 'shared'").fetchall()}
            assert tables == set(rules)
            for mart, rule in rules.items():
                if rule.column:
                    assert con.execute(f'select count(*) from shared."{mart}" where "{rule.column}" is distinct '
                                       "from ?", [district.code]).fetchone()[0] == 0, (district.code, mart)
            for ds in DISTRICT_DATASETS:  # every district dataset reads its marts only
                con.execute(f"describe ({dataset_sql(ds)})")
        finally:
            con.close()


def test_a_branch_cannot_read_the_action_log_the_records_or_other_schemas(deployed: DeployedSuperset,  # noqa: F811
                                                                          ids: dict[str, int]) -> None:
    with deployed.client() as admin:
        assert admin.get("/api/v1/log/")["count"] > 0  # there is a log, and the admin reads it
    with deployed.client("xihu", "envlake-demo") as xihu:
        for path in ("/api/v1/log/", "/api/v1/log/recent_activity/", "/api/v1/log/1"):
            assert xihu.http.get(path).status_code in (401, 403, 404), path
        database = xihu.find("database", "database_name", DATABASE_NAME)[0]["id"]
        schemas = xihu.get(f"/api/v1/database/{database}/schemas/")["result"]
        assert "curated" not in schemas and "lake_meta" not in schemas and set(schemas) <= {"shared", "main"}
        listed = {r["table_name"] for r in xihu.get("/api/v1/dataset/", q="(page_size:100)")["result"]}
        assert not listed & {d["name"] for d in RECORD_DATASETS}
        titles = {r["dashboard_title"] for r in xihu.get("/api/v1/dashboard/", q="(page_size:100)")["result"]}
        assert titles == {"生态环境综合驾驶舱"}
        for ds in RECORD_DATASETS:
            query = {"datasource": {"id": ids[ds["name"]], "type": "table"}, "force": True, "result_format": "json",
                     "result_type": "full", "queries": [{"columns": [], "metrics": [_count()], "row_limit": 10}]}
            assert _chart_rows(xihu, query) is None, ds["name"]
        with pytest.raises(SupersetAPIError):  # nor SQL Lab
            xihu.post("/api/v1/sqllab/execute/", {"database_id": database, "sql": "select 1", "runAsync": False})


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_sql_lab_creates_and_changes_no_file(deployed: DeployedSuperset, tmp_path: Path) -> None:  # noqa: F811
    lake = Path(deployed.lake.settings.lake)
    audit = next((lake / "_meta" / "audit").rglob("*.parquet"))
    shared = next((lake / "shared").rglob("*.parquet"))
    outside = tmp_path / f"escape-{uuid.uuid4().hex[:6]}"
    targets = [lake / "shared" / "escape.parquet", lake / "escape.csv", outside.with_suffix(".csv"),
               outside.with_suffix(".duckdb"), outside]
    statements = [
        f"copy (select 5 as x) to '{audit}' (use_tmp_file false)",
        f"COPY (SELECT 5 AS x) TO '{shared}' (FORMAT PARQUET, USE_TMP_FILE FALSE)",
        f"copy (select 5) to 'lakero://{audit}' (use_tmp_file false)",
        f"/* a report */ CoPy (select 5) To '{lake}/shared/escape.parquet'",
        f"copy (select 5) to '{lake}/escape.csv'", f"copy (select 5) to '{outside}.csv'",
        f"copy shared.dim_enterprise to 'lakero://{lake}/shared/escape.parquet'",
        f"select 1; copy (select 5) to '{outside}.csv'",
        f"with x as (select 5) select * from x; copy (select 5) to '{outside}.csv'",
        f"export database '{outside}'", f"export database 'lakero://{lake}/shared/exported'",
        "create table escape as select 1", "create table shared.escape as select 1",
        "insert into shared.mart_district_scorecard select * from shared.mart_district_scorecard",
        "create or replace view shared.dim_enterprise as select 1",
        f"attach '{outside}.duckdb' as escape", f"attach 'lakero://{audit}' as escape", "attach ':memory:' as m",
        "set enable_external_access = true", "set disabled_filesystems = ''", "reset disabled_filesystems",
        "set lock_configuration = false", "set global lock_configuration = false",
        f"set allowed_directories = ['{tmp_path}/']", f"set temp_directory = '{tmp_path}'",
        "pragma enable_profiling = 'json'", f"set profile_output = '{outside}.json'", "pragma memory_limit = '1GB'",
        "call checkpoint()", "force checkpoint", "vacuum",
        "install httpfs", "load httpfs", f"load '{outside}.duckdb_extension'", "call pragma_version()",
        "create persistent secret escape (type s3, key_id 'a', secret 'b')",
        f"select * from read_csv('{lake}/_meta/publish/current.json')", "select * from read_csv('/etc/passwd')",
    ]
    before = _files(lake)
    with deployed.client() as admin:
        database = admin.find("database", "database_name", DATABASE_NAME)[0]["id"]

        def run(sql: str) -> Any:
            return admin.post("/api/v1/sqllab/execute/", {"database_id": database, "sql": sql, "runAsync": False})

        answered = []
        for sql in statements:
            try:
                run(sql)
                answered.append(sql)
            except SupersetAPIError:
                pass
        assert run("select count(*) as n from shared.mart_district_scorecard")["data"][0]["n"] == 13
        lock = run("select current_setting('enable_external_access') as external, "
                   "current_setting('lock_configuration') as locked, "
                   "current_setting('allowed_directories') as folders")["data"][0]
    assert _files(lake) == before
    assert not [t for t in targets if t.exists()] and not list(tmp_path.iterdir())
    # what ran is what cannot write on a read-only database
    assert set(answered) <= {"call checkpoint()", "force checkpoint", "vacuum", "call pragma_version()"}, answered
    assert lock["external"] is False and lock["locked"] is True
    folders = lock["folders"] if isinstance(lock["folders"], list) else ast.literal_eval(lock["folders"])
    assert folders and all(f.startswith("lakero://") or f.endswith(".duckdb.tmp/") for f in folders), folders
