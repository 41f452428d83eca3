"""The district enforcement system (生态环境综合行政执法): it receives problems as cases and reports back.

``POST /api/v1/cases`` takes a problem (``problem_id``, ``district_code``, ``source``, ``severity``,
``found_at``, ``due_date``, ``evidence``) and answers ``{"code": 0, "data": {"case_id", "received_at",
"duplicate"}}``: a problem already received gets its case back (``duplicate: true``), never a second one.
``GET /api/v1/case-updates`` (``updated_since`` inclusive, ``page``, ``page_size``) lists each case's steps
as of the end of the simulated day: 已接收 → 已受理 → 已现场检查 → 已责令整改 → 已整改 → 已核查 → 已办结,
with about 8% reopened after verification and about 15% stalling before rectification (they go overdue),
and some complaints closed after an inspection that found nothing (查无实据). Each case's timeline is drawn
from its problem id, so it is the same however often it is asked for. Cases live in the department's own
SQLite database. ``POST /_control`` sets the day and failures: ``{"fail": "http_503" | "drop_ack",
"times": 2}`` (``drop_ack`` stores the case, then answers 500: the sender cannot know it arrived).
"""

from __future__ import annotations

import hashlib
import json
import threading
from datetime import date, datetime, time, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import numpy as np
import sqlalchemy as sa

from envlake.simulators.permit_api import MAX_PAGE_SIZE, Control

STEPS = {"received": "已接收", "accepted": "已受理", "inspected": "已现场检查", "rectification_ordered": "已责令整改",
         "rectified": "已整改", "verified": "已核查", "closed": "已办结", "reopened": "重新打开"}
HOURS = {"received": (0.5, 4), "accepted": (1, 8), "inspected": (12, 72), "rectification_ordered": (6, 48),
         "rectified": (24, 200), "verified": (12, 72), "closed": (1, 24)}
INSPECTORS = [f"ZF{n:04d}" for n in range(1, 61)]


def timeline(problem_id: str, source: str, found_at: datetime) -> list[tuple[str, datetime, str]]:
    """(status, when, note) for every step the case will ever take."""
    rng = np.random.default_rng(int(hashlib.sha256(problem_id.encode()).hexdigest()[:12], 16))
    at = found_at
    steps: list[tuple[str, datetime, str]] = []

    def step(status: str, note: str = "") -> None:
        nonlocal at
        low, high = HOURS[status]
        at = at + timedelta(hours=float(rng.uniform(low, high)))
        steps.append((status, at, note))

    step("received")
    step("accepted")
    step("inspected", "现场检查已完成")
    if source == "complaint" and rng.random() < 0.3:
        step("closed", "经现场核查，查无实据")
        return steps
    if rng.random() < 0.15:
        step("rectification_ordered", "已下达责令改正违法行为决定书，企业未按期整改")
        return steps
    step("rectification_ordered", "已下达责令改正违法行为决定书")
    step("rectified", "企业提交整改报告及佐证照片")
    step("verified", "复查确认整改到位")
    if rng.random() < 0.08:
        at += timedelta(hours=float(rng.uniform(24, 96)))
        steps.append(("reopened", at, "群众再次反映，问题反弹"))
        step("rectified", "企业再次整改并提交佐证")
        step("verified", "复查确认整改到位")
    step("closed", "案件办结")
    return steps


class Cases:
    """The enforcement system's own database of received cases."""

    def __init__(self, url: str) -> None:
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        self.lock = threading.Lock()  # one writer at a time: case numbers are counted
        with self.engine.begin() as conn:
            conn.execute(sa.text("create table if not exists cases (case_id varchar primary key, "
                                 "problem_id varchar unique not null, source varchar, district_code varchar, "
                                 "found_at varchar, received_at varchar, payload text)"))

    def receive(self, problem: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The case for this problem, created once; (case, whether it existed already)."""
        with self.lock, self.engine.begin() as conn:
            row = conn.execute(sa.text("select case_id, received_at from cases where problem_id = :p"),
                               {"p": problem["problem_id"]}).first()
            if row:
                return {"case_id": row.case_id, "received_at": row.received_at}, True
            count = conn.execute(sa.text("select count(*) from cases")).scalar_one()
            found = datetime.fromisoformat(problem["found_at"])
            case_id = f"ZF{found:%Y%m%d}{count + 1:06d}"
            received = timeline(problem["problem_id"], problem.get("source", ""), found)[0][1]
            conn.execute(sa.text("insert into cases values (:c, :p, :s, :d, :f, :r, :j)"), {
                "c": case_id, "p": problem["problem_id"], "s": problem.get("source"),
                "d": problem.get("district_code"), "f": problem["found_at"], "r": received.isoformat(),
                "j": json.dumps(problem, ensure_ascii=False)})
        return {"case_id": case_id, "received_at": received.isoformat()}, False

    def count(self) -> int:
        with self.engine.connect() as conn:
            return conn.execute(sa.text("select count(*) from cases")).scalar_one()

    def updates(self, now: datetime) -> list[dict[str, Any]]:
        """Every step taken by ``now``, oldest first."""
        with self.engine.connect() as conn:
            cases = conn.execute(sa.text("select case_id, problem_id, source, found_at from cases")).all()
        out = []
        for case in cases:
            rng = np.random.default_rng(int(hashlib.sha256(case.case_id.encode()).hexdigest()[:8], 16))
            inspector = INSPECTORS[int(rng.integers(0, len(INSPECTORS)))]
            for seq, (status, at, note) in enumerate(
                    timeline(case.problem_id, case.source or "", datetime.fromisoformat(case.found_at))):
                if at > now:
                    break
                out.append({"update_id": f"{case.case_id}-{seq:02d}", "case_id": case.case_id,
                            "problem_id": case.problem_id, "status": status, "status_zh": STEPS[status],
                            "updated_at": at.replace(microsecond=0).isoformat(), "note": note,
                            "inspector_id": inspector})
        return sorted(out, key=lambda u: (u["updated_at"], u["update_id"]))


class EnforcementHandler(BaseHTTPRequestHandler):
    cases: ClassVar[Cases]
    control: ClassVar[Control]
    start: ClassVar[date]
    server_version = "EnforcementSystem/1.4"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _json(self, status: int, payload: Any) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _body(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        except json.JSONDecodeError:
            return None

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path in ("/health", "/_control"):
            return self._json(200, {**self.control.as_dict(), "cases": self.cases.count()})
        if url.path != "/api/v1/case-updates":
            return self._json(404, {"code": 404, "message": f"no such endpoint {url.path}"})
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        try:
            page, size = int(query.get("page", "1")), min(int(query.get("page_size", "500")), MAX_PAGE_SIZE)
        except ValueError:
            return self._json(400, {"code": 400, "message": "page and page_size must be integers"})
        now = datetime.combine(self.start + timedelta(days=self.control.day + 1), time(0))
        rows = self.cases.updates(now)
        since = query.get("updated_since")
        if since:
            rows = [r for r in rows if r["updated_at"] >= since]
        items = rows[(page - 1) * size: page * size]
        return self._json(200, {"code": 0, "message": "ok", "data": {
            "items": items, "page": page, "page_size": size, "total": len(rows), "has_more": page * size < len(rows)}})

    def do_POST(self) -> None:
        path = urlparse(self.path).path
        body = self._body()
        if body is None:
            return self._json(400, {"code": 400, "message": "body must be JSON"})
        if path == "/_control":
            self.control.configure(body)
            return self._json(200, self.control.as_dict())
        if path != "/api/v1/cases":
            return self._json(404, {"code": 404, "message": "not found"})
        missing = [k for k in ("problem_id", "found_at", "district_code") if not body.get(k)]
        if missing:
            return self._json(400, {"code": 400, "message": f"missing {', '.join(missing)}"})
        failure = self.control.failure_now()
        if failure == "http_503":
            return self._json(503, {"code": 503, "message": "系统繁忙，请稍后重试"})
        case, duplicate = self.cases.receive(body)
        if failure == "drop_ack":
            return self._json(500, {"code": 500, "message": "网关超时"})
        return self._json(200 if duplicate else 201, {"code": 0, "data": {**case, "duplicate": duplicate}})


def serve(host: str, port: int, db_url: str, start: str, day: int) -> ThreadingHTTPServer:
    """Start the enforcement system in a background thread (``shutdown()`` stops it)."""
    handler = type("Handler", (EnforcementHandler,), {"cases": Cases(db_url), "control": Control(day=day),
                                                      "start": date.fromisoformat(start)})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"enforcement-{port}", daemon=True).start()
    return server
