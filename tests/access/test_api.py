"""The departments' query API on the modelled lake: tokens, masking and grants, fetch and SQL, the audit."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pytest

from tests.access.conftest import Api
from tests.access.test_sqlguard import ESCAPES

pytestmark = pytest.mark.integration
CONDITIONAL = ["legal_representative", "contact_phone"]
NOW = datetime.now(UTC)


def _rows(api: Api, headers: dict, dataset: str = "dim_enterprise", **params: object) -> dict:
    response = api.client.get(f"/datasets/{dataset}/rows", headers=headers, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def _grant(api: Api, code: str, columns: list[str], start: datetime, end: datetime) -> int:
    grant = api.service.store.apply(code, "dim_enterprise", columns, "执法检查联系企业", start, end, "test")
    api.service.store.approve(grant.id, "数据办")
    return grant.id


def _curated(api: Api, sql: str) -> list[tuple]:
    con = duckdb.connect()
    try:
        files = api.service.published.get().datasets["dim_enterprise"].curated_files
        listed = ", ".join(f"'{f}'" for f in files)
        return con.execute(sql.replace("{t}", f"read_parquet([{listed}], hive_partitioning = false)")).fetchall()
    finally:
        con.close()


def test_a_wrong_or_missing_token_gets_401_and_is_audited(api: Api) -> None:
    assert api.client.get("/datasets").status_code == 401
    response = api.client.get("/datasets", headers={"Authorization": "Bearer elk_not-a-token"})
    assert response.status_code == 401 and response.headers["www-authenticate"] == "Bearer"
    assert api.client.get("/health").status_code == 200
    reasons = [r["reason"] for r in api.audit("(unknown)")]
    assert any("no token" in r for r in reasons) and any("unknown or revoked token" in r for r in reasons)


def test_a_department_lists_its_datasets_with_catalogue_entries(api: Api) -> None:
    _, headers = api.department()
    listing = api.client.get("/datasets", headers=headers).json()
    by_id = {d["id"]: d for d in listing["datasets"]}
    assert {"dim_enterprise", "fct_monitoring_hourly", "fct_exceedance_event"} <= set(by_id)
    enterprise = by_id["dim_enterprise"]
    assert enterprise["catalogue"]["freshness"] and enterprise["name_zh"] != "dim_enterprise"
    assert sorted(enterprise["masked_columns"]) == sorted(CONDITIONAL)
    access = {c["name"]: c["access"] for c in enterprise["columns"]}
    assert access["legal_representative"] == "masked" and access["enterprise_name"] == "clear"


def test_conditional_columns_masked_refused_in_the_clear_then_granted_then_revoked(api: Api) -> None:
    code, headers = api.department("xihu")
    # an unconditional dataset, as JSON, CSV and Arrow
    events = _rows(api, headers, "fct_exceedance_event", limit=5)
    assert events["row_count"] == 5 and not events["clear_columns"]
    csv = api.client.get("/datasets/fct_exceedance_event/rows", headers=headers, params={"limit": 5, "format": "csv"})
    assert csv.headers["content-type"].startswith("text/csv") and len(csv.text.strip().splitlines()) == 6
    arrow = api.client.get("/datasets/fct_exceedance_event/rows", headers=headers,
                           params={"limit": 5, "format": "arrow"})
    assert pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all().num_rows == 5

    # no grant: masked, and asking for them in the clear is refused
    params = {"columns": "enterprise_key," + ",".join(CONDITIONAL), "filter": "contact_phone~****",
              "order_by": "enterprise_key", "limit": 20}
    masked = _rows(api, headers, **params)
    assert masked["row_count"] > 0
    assert all(r["contact_phone"] is None or "****" in r["contact_phone"] for r in masked["rows"])
    assert all(r["legal_representative"] is None or r["legal_representative"].endswith("**") for r in masked["rows"])
    refused = api.client.get("/datasets/dim_enterprise/rows", headers=headers, params={**params, "clear": True})
    assert refused.status_code == 403 and "contact_phone" in refused.json()["detail"]
    refused_sql = api.client.post("/query", headers=headers,
                                  json={"sql": "select contact_phone from dim_enterprise", "clear": True})
    assert refused_sql.status_code == 403

    # approved: the same rows in the clear, as curated/ holds them
    grant_id = _grant(api, code, ["*"], NOW - timedelta(days=1), NOW + timedelta(days=30))
    keys = [r["enterprise_key"] for r in masked["rows"]]
    clear = _rows(api, headers, columns=params["columns"], order_by="enterprise_key", limit=2000, clear=True)
    clear_by_key = {r["enterprise_key"]: r for r in clear["rows"]}
    expected = dict(_curated(api, "select enterprise_key, contact_phone from {t}"))
    assert all(clear_by_key[k]["contact_phone"] == expected[k] for k in keys)
    assert any(clear_by_key[k]["contact_phone"] and "****" not in clear_by_key[k]["contact_phone"] for k in keys)
    assert sorted(clear["clear_columns"]) == sorted(CONDITIONAL)

    # revoked: masked again
    api.service.store.revoke(grant_id, "数据办")
    again = _rows(api, headers, **params)
    assert again["rows"] == masked["rows"]

    audit = api.audit(code)
    fetches = [(r["action"], r["outcome"], r["clear_columns"]) for r in audit if r["action"] in ("fetch", "query")]
    assert ("fetch", "refused", "") in fetches and ("query", "refused", "") in fetches
    assert ("fetch", "granted", "contact_phone,legal_representative") in fetches
    assert fetches[-1] == ("fetch", "granted", "")
    assert all(r["department"] == code and r["channel"] == "api" for r in audit)


def test_an_expired_grant_stops_working_and_a_partial_grant_masks_the_rest_as_shared_does(api: Api) -> None:
    code, headers = api.department("binjiang")
    _grant(api, code, ["*"], NOW - timedelta(days=60), NOW - timedelta(days=1))
    assert api.client.get("/datasets/dim_enterprise/rows", headers=headers,
                          params={"columns": "contact_phone", "clear": True}).status_code == 403

    _grant(api, code, ["contact_phone"], NOW - timedelta(days=1), NOW + timedelta(days=1))
    rows = _rows(api, headers, columns="enterprise_key,legal_representative,contact_phone", limit=5000)["rows"]
    # legal_representative is masked here by the service (the view reads curated/): it must equal shared/
    shared_files = api.service.published.get().datasets["dim_enterprise"].shared_files
    listed = ", ".join(f"'{f}'" for f in shared_files)
    con = duckdb.connect()
    shared = dict(con.execute(f"select enterprise_key, legal_representative from read_parquet([{listed}])").fetchall())
    con.close()
    assert rows and all(r["legal_representative"] == shared[r["enterprise_key"]] for r in rows)
    phones = dict(_curated(api, "select enterprise_key, contact_phone from {t}"))
    assert all(r["contact_phone"] == phones[r["enterprise_key"]] for r in rows)


@pytest.mark.parametrize("name", ["read_csv", "file path as a table", "attach", "copy out", "install",
                                  "two statements", "comment hiding a second statement", "pragma", "set"])
def test_escape_attempts_through_the_api_are_refused_and_audited(api: Api, name: str) -> None:
    code, headers = api.department("escape")
    sql, reason = ESCAPES[name]
    response = api.client.post("/query", headers=headers, json={"sql": sql})
    assert response.status_code == 403 and reason.lower() in response.json()["detail"].lower()
    [row] = [r for r in api.audit(code) if r["action"] == "query"]
    assert row["outcome"] == "refused" and row["query"] == sql and reason.lower() in row["reason"].lower()


def test_sql_runs_over_own_views_with_row_and_time_limits(api: Api) -> None:
    code, headers = api.department("analyst")
    ok = api.client.post("/query", headers=headers, json={
        "sql": "select district_name, count(*) as n from dim_enterprise group by 1 order by n desc"}).json()
    assert ok["row_count"] >= 10 and ok["rows"][0]["n"] >= ok["rows"][-1]["n"]
    capped = api.client.post("/query", headers=headers, json={"sql": "select * from fct_monitoring_hourly"}).json()
    assert capped["row_count"] == 500 and capped["truncated"]  # the service's limit in these tests
    masked = api.client.post("/query", headers=headers, json={"sql": "select * from dim_enterprise"}).json()
    assert all(r["contact_phone"] is None or "****" in r["contact_phone"] for r in masked["rows"])

    api.service.engine.limits = type(api.service.engine.limits)(max_rows=500, timeout_s=0.05)
    slow = api.client.post("/query", headers=headers, json={
        "sql": "select count(*) from fct_monitoring_hourly a, fct_monitoring_hourly b where a.avg_value < b.avg_value"})
    assert slow.status_code == 422 and "stopped after" in slow.json()["detail"]
    outcomes = [r["outcome"] for r in api.audit(code)]
    assert outcomes.count("failed") == 1 and outcomes.count("granted") == 3


def test_requests_that_are_wrong_get_400_or_404(api: Api) -> None:
    _, headers = api.department()
    assert api.client.get("/datasets/nothing_here/rows", headers=headers).status_code == 404
    for params in ({"columns": "no_such_column"}, {"filter": "enterprise_key"}, {"order_by": "-nope"},
                   {"filter": "permit_count>=many"}):
        response = api.client.get("/datasets/dim_enterprise/rows", headers=headers, params=params)
        assert response.status_code == 400, (params, response.text)
    response = api.client.post("/query", headers=headers, json={"sql": "select no_such_column from dim_enterprise"})
    assert response.status_code == 400 and "no_such_column" in response.json()["detail"]
