"""Dispatch (问题推送): each new problem of the published ledger goes to the district enforcement system once.

The ledger is read from ``curated/fct_problem`` of the published version. A problem counts as sent only
when the enforcement system acknowledged it (answered with its case number); acknowledgements are kept in
``_meta/dispatch/acks/``. A problem not acknowledged (a 5xx, a timeout, a lost answer) is sent again, with
backoff, up to ``attempts`` times in a run, and again in the next run. The enforcement system takes the
problem id as an idempotency key, so a problem that arrived but whose answer was lost is not opened twice.
Every attempt is recorded in ``_meta/dispatch/attempts/``.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.compute as pc

from envlake.kernel.alerts import raise_alerts
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.publishing.reader import current

log = logging.getLogger("envlake.dispatch")
ACK_SCHEMA = pa.schema([("problem_id", pa.string()), ("case_id", pa.string()), ("acknowledged_at",
                        pa.timestamp("us", "UTC")), ("received_at", pa.string()), ("duplicate", pa.bool_()),
                        ("attempts", pa.int64())])
ATTEMPT_SCHEMA = pa.schema([("problem_id", pa.string()), ("attempt", pa.int64()), ("at", pa.timestamp("us", "UTC")),
                            ("status_code", pa.int64()), ("outcome", pa.string()), ("message", pa.string())])
SENT_FIELDS = ("problem_id", "source", "source_zh", "enterprise_key", "enterprise_name", "district_code",
               "severity", "responsible_department", "evidence")


@dataclass
class DispatchSummary:
    pending: int = 0
    acknowledged: int = 0
    duplicates: int = 0
    failed: list[str] = field(default_factory=list)
    attempts: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"pending": self.pending, "acknowledged": self.acknowledged, "duplicates": self.duplicates,
                "failed": len(self.failed), "attempts": self.attempts}


def acknowledged(lake: Lake) -> set[str]:
    table = lake.read_table("_meta", "dispatch", "acks", columns=["problem_id"])
    return set(table.column("problem_id").to_pylist()) if table is not None else set()


def published_problems(lake: Lake) -> pa.Table | None:
    state = current(lake)
    if not state or "fct_problem" not in state.get("marts", {}):
        return None
    return lake.read_files(state["marts"]["fct_problem"]["files"]["curated"])


def _payload(row: dict[str, Any]) -> dict[str, Any]:
    body = {k: row.get(k) for k in SENT_FIELDS}
    body["found_at"] = row["found_at"].isoformat() if row.get("found_at") else None
    body["due_date"] = row["due_date"].isoformat() if row.get("due_date") else None
    return body


def _send(client: httpx.Client, url: str, body: dict[str, Any], attempts: int, backoff_s: float,
          trail: list[dict[str, Any]]) -> dict[str, Any] | None:
    """POST until acknowledged; the case (with ``attempts``) or None."""
    def note(attempt: int, status: int, outcome: str, message: str) -> None:
        trail.append({"problem_id": body["problem_id"], "attempt": attempt, "at": datetime.now(UTC),
                      "status_code": status, "outcome": outcome, "message": message})

    for attempt in range(1, attempts + 1):
        status, message = 0, ""
        try:
            response = client.post(url, content=json.dumps(body, ensure_ascii=False).encode("utf-8"),
                                   headers={"content-type": "application/json",
                                            "idempotency-key": body["problem_id"]})
            status = response.status_code
            if status in (200, 201):
                case = response.json()["data"]
                note(attempt, status, "acknowledged", case["case_id"])
                return {**case, "attempts": attempt}
            message = response.text[:200]
            if 400 <= status < 500:  # the system refuses the problem itself: sending it again will not help
                note(attempt, status, "refused", message)
                return None
        except (httpx.HTTPError, ValueError, KeyError) as exc:
            message = f"{type(exc).__name__}: {exc}"[:200]
        note(attempt, status, "retry", message)
        time.sleep(min(backoff_s * 2 ** (attempt - 1), 5.0))
    return None


def dispatch(settings: Settings | None = None, attempts: int = 5, backoff_s: float = 0.2,
             timeout_s: float = 10.0) -> DispatchSummary:
    """Send every published problem not yet acknowledged; returns what happened."""
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    problems = published_problems(lake)
    summary = DispatchSummary()
    if problems is None or problems.num_rows == 0:
        return summary
    done = acknowledged(lake)
    pending = problems.filter(pc.invert(pc.is_in(problems.column("problem_id"), pa.array(sorted(done), pa.string()))))
    summary.pending = pending.num_rows
    acks: list[dict[str, Any]] = []
    trail: list[dict[str, Any]] = []
    url = settings.enforcement_api_url.rstrip("/") + "/api/v1/cases"
    with httpx.Client(timeout=timeout_s) as client:
        for row in pending.to_pylist():
            case = _send(client, url, _payload(row), attempts, backoff_s, trail)
            if case is None:
                summary.failed.append(row["problem_id"])
                continue
            acks.append({"problem_id": row["problem_id"], "case_id": case["case_id"],
                         "acknowledged_at": datetime.now(UTC), "received_at": case.get("received_at"),
                         "duplicate": bool(case.get("duplicate")), "attempts": case["attempts"]})
    stamp = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"
    if acks:
        lake.write_parquet(pa.Table.from_pylist(acks, schema=ACK_SCHEMA),
                           lake.path("_meta", "dispatch", "acks", f"{stamp}.parquet"))
    if trail:
        lake.write_parquet(pa.Table.from_pylist(trail, schema=ATTEMPT_SCHEMA),
                           lake.path("_meta", "dispatch", "attempts", f"{stamp}.parquet"))
    summary.acknowledged = len(acks)
    summary.duplicates = sum(1 for a in acks if a["duplicate"])
    summary.attempts = len(trail)
    if summary.failed:
        log.warning("%d problems not acknowledged, sent again next run: %s", len(summary.failed),
                    ", ".join(summary.failed[:10]))
    return summary


def overdue_alerts(settings: Settings | None = None) -> list[dict[str, Any]]:
    """An alert for each open problem past its due date in the published ledger (envlake.kernel.alerts), once per
    problem."""
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    problems = published_problems(lake)
    if problems is None:
        return []
    alerted = lake.read_table("_meta", "alerts", columns=["rule", "message"])
    seen = {m.split(" ", 1)[0] for rule, m in zip(alerted.column("rule").to_pylist(),
                                                   alerted.column("message").to_pylist(), strict=True)
            if rule == "problem_overdue"} if alerted is not None else set()
    overdue = [r for r in problems.to_pylist()
               if r["is_overdue"] and not r["is_closed"] and r["problem_id"] not in seen]
    alerts = [{"dataset": "fct_problem", "rule": "problem_overdue", "state": "overdue",
               "message": f"{r['problem_id']} {r['source_zh']} {r['district_name'] or r['district_code']} "
                          f"{r['enterprise_name'] or ''} 应于 {r['due_date']} 办结，当前 {r['current_status_zh']}"}
              for r in overdue]
    return raise_alerts(lake, alerts)
