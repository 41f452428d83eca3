"""The access audit: every request to the shared data, granted or refused, as Parquet in ``_meta/audit/``.

One row per request: who (department), when, what (dataset or query text), how many rows went out, and
whether it was granted, refused or failed, and why. Rows are buffered and written in small files
(``_meta/audit/date=<day>/<time>-<id>.parquet``) at most ``flush_seconds`` apart, and on shutdown; with
``flush_seconds=0`` each row is written at once (the command line). The catalog shows them as
``lake_meta.audit``.
"""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from connectors.lakefs import Lake

AUDIT_SCHEMA = pa.schema([
    ("request_id", pa.string()), ("requested_at", pa.timestamp("us", "UTC")), ("department", pa.string()),
    ("channel", pa.string()), ("action", pa.string()), ("dataset", pa.string()), ("query", pa.string()),
    ("outcome", pa.string()), ("reason", pa.string()), ("rows", pa.int64()), ("clear_columns", pa.string()),
    ("duration_ms", pa.float64()),
])
OUTCOMES = ("granted", "refused", "failed", "recorded")  # recorded: a step on departments or grants


@dataclass
class AuditEvent:
    department: str
    channel: str  # api or cli
    action: str  # list, describe, fetch, query, auth
    outcome: str
    dataset: str = ""
    query: str = ""
    reason: str = ""
    rows: int = 0
    clear_columns: str = ""  # conditional columns given in the clear, comma-separated
    duration_ms: float = 0.0
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])


class AuditLog:
    """Buffered, thread-safe writer of audit rows to the lake."""

    def __init__(self, lake: Lake, flush_seconds: float = 1.0) -> None:
        self.lake = lake
        self.flush_seconds = flush_seconds
        self._rows: list[AuditEvent] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def record(self, event: AuditEvent) -> None:
        if event.outcome not in OUTCOMES:
            raise ValueError(f"audit outcome {event.outcome!r} is not one of {OUTCOMES}")
        with self._lock:
            self._rows.append(event)
        if self.flush_seconds <= 0:
            self.flush()

    def flush(self) -> int:
        with self._lock:
            rows, self._rows = self._rows, []
        if not rows:
            return 0
        table = pa.Table.from_pylist([asdict(r) for r in rows], schema=AUDIT_SCHEMA)
        now = datetime.now(UTC)
        path = self.lake.path("_meta", "audit", f"date={now:%Y-%m-%d}",
                              f"{now:%H%M%S%f}-{secrets.token_hex(4)}.parquet")
        self.lake.write_parquet(table, path)
        return len(rows)

    def start(self) -> None:
        """Flush every ``flush_seconds`` in a background thread until ``stop``."""
        if self.flush_seconds <= 0 or self._thread is not None:
            return
        self._stop.clear()

        def loop() -> None:
            while not self._stop.wait(self.flush_seconds):
                self.flush()

        self._thread = threading.Thread(target=loop, name="envlake-audit", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        self.flush()


def step_recorder(audit: AuditLog) -> Callable[[str, str, str, int | None, dict[str, Any]], None]:
    """Sends each step on departments and grants (``AccessStore.on_step``) to the audit as well."""
    def record(actor: str, action: str, department: str, grant_id: int | None, detail: dict[str, Any]) -> None:
        columns = ",".join(detail.get("columns", []))
        what = f"grant {grant_id}: {columns}" if grant_id else ""
        audit.record(AuditEvent(department, "cli", action, "recorded", dataset=detail.get("dataset", ""),
                                query=what, reason=f"by {actor}" + (f": {detail['purpose']}" if detail.get("purpose")
                                                                     else f": {detail['note']}" if detail.get("note")
                                                                     else "")))
    return record


def read_audit(lake: Lake, department: str | None = None) -> pa.Table:
    """Every audit row so far, oldest first (empty with the audit schema when there is none)."""
    files = lake.files("_meta", "audit")
    if not files:
        return AUDIT_SCHEMA.empty_table()
    table = lake.read_files(files).select(AUDIT_SCHEMA.names).cast(AUDIT_SCHEMA)
    if department:
        import pyarrow.compute as pc
        table = table.filter(pc.equal(table.column("department"), department))
    return table.sort_by([("requested_at", "ascending")])
