"""Bounded requests and answers through the API: oversized and deeply nested SQL get a short 400 that does not
echo them, answers have a byte cap, the time limit holds for the whole request, CSV cells cannot run as
formulas, and an invalid or failing request is audited and answered in one line."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json

import pyarrow as pa
import pytest

from tests.security.conftest import QueryApi, sha256

pytestmark = pytest.mark.integration


def _audit_row(api: QueryApi, code: str, digest: str) -> dict:
    rows = [r for r in api.rows(code) if r["query_sha256"] == digest]
    assert len(rows) == 1, f"expected one audit row with hash {digest[:12]}, found {len(rows)}"
    return rows[0]


@pytest.mark.parametrize("size", [65_537, 1_000_000])
def test_an_oversized_body_gets_a_short_400_without_its_text(query_api: QueryApi, size: int) -> None:
    code, headers = query_api.department("big")
    marker = "ZZ-OVERSIZED-MARKER"
    sql = f"select '{marker}' as m /* " + "p" * size + " */"
    response = query_api.client.post("/query", headers=headers, json={"sql": sql})
    assert response.status_code == 400 and len(response.content) < 300 and marker not in response.text
    assert "ENVLAKE_ACCESS_MAX_QUERY_BYTES" in response.json()["detail"]
    row = _audit_row(query_api, code, sha256(sql))
    assert row["outcome"] == "refused" and "above the limit" in row["reason"] and row["query_chars"] == len(sql)
    assert row["query"].startswith(f"select '{marker}'") and len(row["query"]) == 1000


def test_a_body_that_is_not_json_and_oversized_is_audited_by_the_hash_of_its_bytes(query_api: QueryApi) -> None:
    code, headers = query_api.department("big")
    body = b"\xff" * 70_000
    response = query_api.client.post("/query", headers={**headers, "Content-Type": "application/json"},
                                     content=body)
    assert response.status_code == 400 and len(response.content) < 300
    assert _audit_row(query_api, code, hashlib.sha256(body).hexdigest())["outcome"] == "refused"


@pytest.mark.parametrize("shape", ["brackets", "subqueries", "case", "not"])
def test_sql_nested_thousands_deep_gets_a_short_400_and_is_audited(query_api: QueryApi, shape: str) -> None:
    code, headers = query_api.department("deep")
    depth = {"brackets": 3000, "subqueries": 2000, "case": 2000, "not": 3000}[shape]  # each under the 64 KB body
    sql = {"brackets": "select " + "(" * depth + "1" + ")" * depth,
           "subqueries": "select * from " + "(select * from " * depth + "dim_enterprise" + ") as t" * depth,
           "case": "select " + "case when true then " * depth + "1" + " end" * depth,
           "not": "select " + "not " * depth + "true"}[shape]
    response = query_api.client.post("/query", headers=headers, json={"sql": sql})
    assert response.status_code == 400, response.text[:300]
    assert "ENVLAKE_ACCESS_MAX_SQL_DEPTH" in response.json()["detail"] and len(response.content) < 300
    row = _audit_row(query_api, code, sha256(sql))
    assert row["outcome"] == "refused" and "nested" in row["reason"]


@pytest.mark.parametrize("fmt", ["json", "csv", "arrow"])
def test_an_answer_above_the_byte_cap_is_refused_naming_the_setting(query_api: QueryApi, fmt: str) -> None:
    code, headers = query_api.department("cap")
    limits = query_api.service.engine.limits
    query_api.service.engine.limits = dataclasses.replace(limits, max_response_bytes=20_000)
    sql = "select * from dim_enterprise"
    response = query_api.client.post("/query", headers=headers, json={"sql": sql, "format": fmt})
    assert response.status_code == 400 and "ENVLAKE_ACCESS_MAX_RESPONSE_BYTES" in response.json()["detail"]
    fetched = query_api.client.get("/datasets/dim_enterprise/rows", headers=headers,
                                   params={"limit": 5000, "format": fmt})
    assert fetched.status_code == 400 and "ENVLAKE_ACCESS_MAX_RESPONSE_BYTES" in fetched.json()["detail"]
    small = query_api.client.post("/query", headers=headers, json={"sql": sql + " limit 3", "format": fmt})
    assert small.status_code == 200 and len(small.content) <= 20_000
    assert _audit_row(query_api, code, sha256(sql))["outcome"] == "refused"


def test_arrow_and_csv_stream_record_batches_that_read_back_whole(query_api: QueryApi) -> None:
    _, headers = query_api.department("stream")
    sql = "select * from fct_monitoring_hourly limit 450"
    arrow = query_api.client.post("/query", headers=headers, json={"sql": sql, "format": "arrow"})
    table = pa.ipc.open_stream(io.BytesIO(arrow.content)).read_all()
    assert table.num_rows == 450 and arrow.headers["x-envlake-rows"] == "450"
    text = query_api.client.post("/query", headers=headers, json={"sql": sql, "format": "csv"}).text
    assert len(list(csv.reader(io.StringIO(text)))) == 451


def test_the_time_limit_holds_for_the_whole_request_with_2000_filters(query_api: QueryApi) -> None:
    code, headers = query_api.department("slow")
    limits = query_api.service.engine.limits
    query_api.service.engine.limits = dataclasses.replace(limits, timeout_s=0.01)
    filters = [("filter", f"mn!={i}") for i in range(2000)] + [("filter", "reading_id~x")]
    response = query_api.client.get("/datasets/fct_monitoring_hourly/rows", headers=headers,
                                    params=[*filters, ("limit", "10")])
    assert response.status_code == 422 and "ENVLAKE_ACCESS_TIMEOUT" in response.json()["detail"]
    [row] = [r for r in query_api.rows(code) if r["action"] == "fetch"]
    assert row["outcome"] == "failed" and "stopped after" in row["reason"] and row["query_sha256"]


def test_csv_cells_that_would_run_as_formulas_are_neutralised(query_api: QueryApi) -> None:
    _, headers = query_api.department("csv")
    sql = ("select '=HYPERLINK(\"http://x\")' as a, '+1+1' as b, '-2+3' as c, '@SUM(A1)' as d, "
           "chr(9) || '=1' as e, chr(13) || '=1' as f, 'plain' as g, 'a=b' as h, -5 as n, null as z")
    rows = list(csv.reader(io.StringIO(query_api.client.post(
        "/query", headers=headers, json={"sql": sql, "format": "csv"}).text)))
    assert rows[1][:8] == ["'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\t=1", "'\r=1", "plain",
                           "a=b"]
    assert rows[1][8] == "-5"  # a number is not text: as it is
    as_json = query_api.client.post("/query", headers=headers, json={"sql": sql}).json()["rows"][0]
    assert as_json["a"].startswith("=") and as_json["c"] == "-2+3"  # JSON keeps the value


def test_an_invalid_request_is_audited_and_not_echoed(query_api: QueryApi) -> None:
    code, headers = query_api.department("invalid")
    marker = "ZZ-INVALID-MARKER"
    for body in ({"sql": 5, "note": marker}, {"sql": f"select '{marker}'", "limit": 0},
                 {"sql": f"select '{marker}'", "format": "xml"}):
        response = query_api.client.post("/query", headers=headers, json=body)
        assert response.status_code == 422 and marker not in response.text, response.text
        assert response.json()["detail"].startswith("invalid request")
    deep = "[" * 5000 + "]" * 5000
    response = query_api.client.post("/query", headers={**headers, "Content-Type": "application/json"},
                                     content=json.dumps({"sql": "select 1"})[:-1] + ', "x": ' + deep + "}")
    assert response.status_code in (400, 422) and len(response.content) < 400
    rows = [r for r in query_api.rows(code) if r["action"] == "query"]
    assert len(rows) == 4 and all(r["outcome"] == "refused" and r["reason"] for r in rows)
    assert sum(r["query_sha256"] == sha256(f"select '{marker}'") for r in rows) == 2


def test_a_failing_request_answers_one_line_and_is_audited(query_api: QueryApi,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    code, headers = query_api.department("boom")

    def explode(*args: object, **kwargs: object) -> None:
        raise RuntimeError("secret internals /lake/curated/ traceback")

    monkeypatch.setattr(query_api.service.engine, "run", explode)
    sql = "select count(*) from dim_enterprise"
    response = query_api.client.post("/query", headers=headers, json={"sql": sql})
    assert response.status_code == 500 and "secret" not in response.text and "\n" not in response.text
    assert "the audit records it" in response.json()["detail"]
    row = _audit_row(query_api, code, sha256(sql))
    assert row["outcome"] == "failed" and row["reason"] == "internal error: RuntimeError"
    assert row["request_id"] in response.json()["detail"]

    monkeypatch.setattr("envlake.access.api._respond", explode)  # outside the service: the middleware's wall
    response = query_api.client.get("/datasets/dim_enterprise/rows", headers=headers)
    assert response.status_code == 500 and "secret" not in response.text
    fetches = [r for r in query_api.rows(code) if r["action"] == "fetch"]
    assert fetches[-1]["outcome"] == "failed" and fetches[-1]["reason"] == "internal error: RuntimeError"
