"""The access audit: every request to the shared data, granted, refused or failed, as Parquet in ``_meta/audit/``.

One row per request: who (department), when, through what (api or cli), what was asked (the dataset, or the
query: its SHA-256, its length, and the text itself, or its first and last 1,000 characters when longer),
what was read (the views, and each ``view.column`` read anywhere in the query, with those read masked and
those given in the clear by a grant), how many rows and bytes went out, and whether it was granted,
refused or failed, and why. Rows are buffered and written in small files
(``_meta/audit/date=<day>/<time>-<id>.parquet``) at most ``flush_seconds`` apart, and on shutdown; with
``flush_seconds=0`` each row is written at once (the command line). The catalog shows them as
``lake_meta.audit``. Columns are only ever added: readers unify files by column name.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from envlake.kernel.lake import Lake
from envlake.kernel.records import AUDIT_SCHEMA

OUTCOMES = ("granted", "refused", "failed", "recorded")  # recorded: a step on departments or grants
KEPT_CHARS = 1_000  # a query longer than twice this keeps its first and its last KEPT_CHARS characters


def query_digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest() if text else ""


@dataclass
class AuditEvent:
    department: str
    channel: str  # api or cli
    action: str  # list, describe, fetch, query, auth, request
    outcome: str
    dataset: str = ""  # the dataset, or the views a query read, comma-separated
    query: str = ""  # the query (or the fetch request) as sent; its first KEPT_CHARS characters when longer
    reason: str = ""
    rows: int = 0
    clear_columns: str = ""  # conditional columns given in the clear, comma-separated
    duration_ms: float = 0.0
    requested_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    request_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    query_sha256: str = ""
    query_chars: int = 0
    query_tail: str = ""  # its last KEPT_CHARS characters, when the text is longer than twice that
    columns_read: str = ""  # view.column of every column read, comma-separated
    masked_columns: str = ""  # of those, the conditional columns read masked
    response_bytes: int = 0

    def with_query(self, text: str, digest: str | None = None) -> AuditEvent:
        """Records ``text`` (its digest given when the text itself is not all there, as for an oversized body)."""
        self.query_sha256 = digest or query_digest(text)
        self.query_chars = len(text)
        if len(text) > 2 * KEPT_CHARS:
            self.query, self.query_tail = text[:KEPT_CHARS], text[-KEPT_CHARS:]
        else:
            self.query, self.query_tail = text, ""
        return self


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
        for name, value in vars(event).items():  # a lone surrogate sent in JSON would fail the whole file
            if isinstance(value, str):
                setattr(event, name, value.encode("utf-8", "backslashreplace").decode("utf-8"))
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
    table = lake.read_files(files)
    for f in AUDIT_SCHEMA:  # files written before a column was added
        if f.name not in table.column_names:
            table = table.append_column(f.name, pa.nulls(table.num_rows, f.type))
    table = table.select(AUDIT_SCHEMA.names).cast(AUDIT_SCHEMA)
    if department:
        import pyarrow.compute as pc
        table = table.filter(pc.equal(table.column("department"), department))
    return table.sort_by([("requested_at", "ascending")])
