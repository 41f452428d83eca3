"""The audit says what was read: the views and columns resolved through them, masked or in the clear by grant,
the query's SHA-256, and its first and last 1,000 characters when longer; older audit files stay readable."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from envlake.access.audit import AUDIT_SCHEMA, read_audit
from envlake.kernel.lake import Lake
from tests.security.conftest import QueryApi, sha256

pytestmark = pytest.mark.integration


def _row(api: QueryApi, code: str, sql: str) -> dict:
    [row] = [r for r in api.rows(code) if r["query_sha256"] == sha256(sql)]
    return row


def test_a_query_records_the_views_and_columns_it_read_masked_or_clear(query_api: QueryApi) -> None:
    code, headers = query_api.department("audit")
    sql = ("with e as (select enterprise_key, legal_representative from dim_enterprise) "
           "select count(*) from e join fct_exceedance_event f using (enterprise_key) "
           "where e.legal_representative like '张%'")
    assert query_api.client.post("/query", headers=headers, json={"sql": sql}).status_code == 200
    row = _row(query_api, code, sql)
    assert row["outcome"] == "granted" and row["dataset"] == "dim_enterprise,fct_exceedance_event"
    assert row["columns_read"] == ("dim_enterprise.enterprise_key,dim_enterprise.legal_representative,"
                                   "fct_exceedance_event.enterprise_key")
    assert row["masked_columns"] == "dim_enterprise.legal_representative" and row["clear_columns"] == ""
    assert row["query"] == sql and row["query_tail"] == "" and row["query_chars"] == len(sql)
    assert row["response_bytes"] > 0

    now = datetime.now(UTC)
    grant = query_api.service.store.apply(code, "dim_enterprise", ["contact_phone"], "核查",
                                          now - timedelta(days=1), now + timedelta(days=1), "test")
    query_api.service.store.approve(grant.id, "数据办")
    star = "select * from dim_enterprise limit 3"
    assert query_api.client.post("/query", headers=headers, json={"sql": star}).status_code == 200
    row = _row(query_api, code, star)
    assert row["clear_columns"] == "dim_enterprise.contact_phone"
    assert row["masked_columns"] == "dim_enterprise.legal_representative"
    assert "dim_enterprise.district_name" in row["columns_read"]


def test_a_long_leading_comment_cannot_push_the_query_out_of_the_audit(query_api: QueryApi) -> None:
    code, headers = query_api.department("audit")
    real = "select contact_phone from dim_enterprise limit 1"
    sql = "/* " + "padding " * 1500 + "*/ " + real
    query_api.client.post("/query", headers=headers, json={"sql": sql})
    row = _row(query_api, code, sql)
    assert row["query_chars"] == len(sql) and len(row["query"]) == 1000 and row["query"].startswith("/* padding")
    assert row["query_tail"].endswith(real) and len(row["query_tail"]) == 1000
    assert row["columns_read"] == "dim_enterprise.contact_phone"


def test_fetches_record_the_columns_they_read_filters_and_order_included(query_api: QueryApi) -> None:
    code, headers = query_api.department("audit")
    response = query_api.client.get("/datasets/dim_enterprise/rows", headers=headers,
                                     params={"columns": "enterprise_name", "filter": "contact_phone~138",
                                             "order_by": "-legal_representative", "limit": 2})
    assert response.status_code == 200
    [row] = [r for r in query_api.rows(code) if r["action"] == "fetch"]
    assert row["columns_read"] == ("dim_enterprise.contact_phone,dim_enterprise.enterprise_name,"
                                   "dim_enterprise.legal_representative")
    assert row["masked_columns"] == "dim_enterprise.contact_phone,dim_enterprise.legal_representative"
    assert row["query_sha256"] == sha256(row["query"])


def test_audit_files_written_before_the_new_columns_stay_readable(query_api: QueryApi, tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    old = pa.schema([f for f in AUDIT_SCHEMA if f.name not in ("query_sha256", "query_chars", "query_tail",
                                                                 "columns_read", "masked_columns",
                                                                 "response_bytes")])
    folder = tmp_path / "lake" / "_meta" / "audit" / "date=2026-11-01"
    folder.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([{"request_id": "old", "requested_at": datetime(2026, 11, 1, tzinfo=UTC),
                                          "department": "d", "channel": "api", "action": "query", "dataset": "",
                                          "query": "select 1", "outcome": "granted", "reason": "", "rows": 1,
                                          "clear_columns": "", "duration_ms": 1.0}], schema=old),
                   folder / "old.parquet")
    table = read_audit(lake)
    assert table.schema == AUDIT_SCHEMA and table.num_rows == 1 and table.column("query_sha256")[0].as_py() is None
