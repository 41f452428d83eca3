"""The closed loop on simulated day 9: every problem in the ledger once, no personal data published, each
problem dispatched once even when the enforcement system drops answers, its closure and its lateness back."""

from __future__ import annotations

from pathlib import Path

import duckdb
import httpx
import pyarrow.parquet as pq
import pytest

from connectors.ingest import ingest
from envlake.kernel.lake import Lake
from envlake.loop.dispatch import dispatch, overdue_alerts
from envlake.orchestration.modelling import refresh_ledger
from envlake.simulators.demo_sources import DemoSources
from envlake.simulators.departments import departments
from tests.conftest import SEED, START
from tests.loop.conftest import PLANTED_PHONE, LoopLake
from tests.modelling.conftest import DAY

pytestmark = pytest.mark.integration


def _shared(loop_lake: LoopLake, sql: str) -> list[tuple]:
    con = duckdb.connect(str(loop_lake.settings.catalog), read_only=True)
    try:
        return con.execute(sql).fetchall()
    finally:
        con.close()


def test_every_problem_found_appears_once_in_the_ledger(loop_lake: LoopLake) -> None:
    rows = _shared(loop_lake, "select source, source_key, problem_id from shared.fct_problem")
    assert len({r[2] for r in rows}) == len(rows)
    keys = {(s, k) for s, k, _ in rows}
    events = {r[0] for r in _shared(loop_lake, "select event_id from shared.fct_exceedance_event")}
    anomalies = {r[0] for r in _shared(loop_lake, "select manifest_anomaly_id from shared.fct_manifest_anomaly")}
    complaints = {r["complaint_id"] for r in departments(SEED, START).complaints.records(DAY)}
    complaints.add(loop_lake.planted["complaint_id"])
    assert events and anomalies and complaints
    assert {k for s, k in keys if s == "exceedance"} == events
    assert {k for s, k in keys if s == "manifest_anomaly"} == anomalies
    assert {k for s, k in keys if s == "complaint"} == complaints
    assert all(r[0] for r in _shared(loop_lake, "select due_date from shared.fct_problem"))


def test_no_personal_data_of_a_complainant_reaches_a_published_file(loop_lake: LoopLake) -> None:
    lake = Lake(loop_lake.settings.lake)
    planted = loop_lake.planted
    raw = pq.read_table(lake.path("raw", "complaint")).to_pylist()
    secrets = {r["complainant_phone"] for r in raw} | {planted["_id_number"], PLANTED_PHONE}
    assert any(PLANTED_PHONE in r["description"] for r in raw)  # raw keeps what the source sent
    published = [p for zone in ("shared", "curated") for p in lake.files(zone)]
    assert published
    for path in published:
        table = pq.read_table(path)
        text = "\n".join(str(v) for column in table.columns for v in column.to_pylist() if isinstance(v, str))
        found = [s for s in secrets if s in text]
        assert not found, f"{Path(path).relative_to(lake.base)} holds {found[:3]}"
    texts = dict(_shared(loop_lake, "select complaint_id, description_redacted from shared.fct_complaint"))
    for r in raw:  # the complainant's own name is taken out of the text
        assert r["complainant_name"] not in texts[r["complaint_id"]], r["complaint_id"]
    [row] = _shared(loop_lake, "select category, district_code, description_redacted from shared.fct_complaint "
                               f"where complaint_id = '{planted['complaint_id']}'")
    assert row[:2] == ("异味", "330106") and "[手机号已隐去]" in row[2] and "[身份证号已隐去]" in row[2]


def test_each_problem_is_dispatched_once_even_when_answers_are_lost(loop_lake: LoopLake) -> None:
    with DemoSources(loop_lake.settings, DAY):
        url = loop_lake.settings.enforcement_api_url
        httpx.post(f"{url}/_control", json={"fail": "drop_ack", "times": 3})
        first = dispatch(loop_lake.settings, backoff_s=0.01)
        problems = _shared(loop_lake, "select count(*) from shared.fct_problem")[0][0]
        assert first.pending == first.acknowledged == problems and not first.failed
        assert first.duplicates == 1 and first.attempts == problems + 3
        again = dispatch(loop_lake.settings, backoff_s=0.01)
        assert again.pending == 0
        assert httpx.get(f"{url}/health").json()["cases"] == problems


def test_a_case_closed_upstream_closes_in_the_ledger_and_an_overdue_one_alerts(loop_lake: LoopLake) -> None:
    settings = loop_lake.settings
    with DemoSources(settings, DAY):
        dispatch(settings, backoff_s=0.01)  # nothing left when the test above ran
        httpx.post(f"{settings.enforcement_api_url}/_control", json={"day": DAY + 40})
        record = ingest("enforcement_case_update")
        assert record.rows_landed > 0 and record.rows_quarantined == 0
        updates = httpx.get(f"{settings.enforcement_api_url}/api/v1/case-updates",
                            params={"page_size": 1000, "page": 1}).json()["data"]["total"]
    assert refresh_ledger()["version"]
    ledger = {r[0]: r[1:] for r in _shared(loop_lake, "select problem_id, current_status, is_closed, is_overdue "
                                                       "from shared.fct_problem")}
    history = _shared(loop_lake, "select problem_id, status from shared.fct_problem_status_history "
                                 "order by problem_id, step_no")
    assert len(history) == updates
    last = {}
    for problem_id, status in history:
        last[problem_id] = status
    closed = [p for p, s in last.items() if s == "closed"]
    stalled = [p for p, s in last.items() if s == "rectification_ordered"]
    assert closed and stalled
    assert all(ledger[p][1] for p in closed) and not any(ledger[p][1] for p in stalled)
    assert all(ledger[p][2] for p in stalled)  # 40 days on, every stalled case is past its due date
    alerts = overdue_alerts(settings)
    assert {a["message"].split(" ", 1)[0] for a in alerts} == {p for p, v in ledger.items() if v[2] and not v[1]}
    assert overdue_alerts(settings) == []  # each overdue problem alerts once
    loop = _shared(loop_lake, "select count(*), sum(problems_closed), sum(overdue_open) from shared.mart_problem_loop")
    assert loop[0][0] >= 13 and loop[0][1] == len(closed) and loop[0][2] == len(stalled)
