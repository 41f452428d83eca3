"""The load log in ``_meta/load_log/``: one small Parquet file per batch, written atomically.

It records what each batch brought (rows in, landed, quarantined), the source's watermark
before and after, and the status, and it is where a connector finds its next watermark.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime

import pyarrow as pa
import pyarrow.compute as pc

from envlake.kernel.lake import Lake

LOAD_LOG_SCHEMA = pa.schema([
    ("run_id", pa.string()),
    ("dataset", pa.string()),
    ("source", pa.string()),
    ("status", pa.string()),
    ("watermark_before", pa.string()),
    ("watermark_after", pa.string()),
    ("rows_in", pa.int64()),
    ("rows_landed", pa.int64()),
    ("rows_written", pa.int64()),
    ("rows_already_landed", pa.int64()),
    ("rows_quarantined", pa.int64()),
    ("quarantine_reasons", pa.string()),
    ("new_fields", pa.string()),
    ("missing_fields", pa.string()),
    ("files", pa.string()),
    ("message", pa.string()),
    ("started_at", pa.timestamp("us", "UTC")),
    ("finished_at", pa.timestamp("us", "UTC")),
])


def new_run_id(dataset: str) -> str:
    """A batch's run id: the dataset, the UTC second it started, and six random hex digits."""
    return f"{dataset}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


@dataclass
class LoadRecord:
    run_id: str
    dataset: str
    source: str
    status: str
    watermark_before: str | None = None
    watermark_after: str | None = None
    rows_in: int = 0
    rows_landed: int = 0
    rows_written: int = 0
    rows_already_landed: int = 0
    rows_quarantined: int = 0
    quarantine_reasons: dict[str, int] = field(default_factory=dict)
    new_fields: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    message: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    finished_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def to_row(self) -> dict:
        row = asdict(self)
        for key in ("quarantine_reasons", "new_fields", "missing_fields", "files"):
            row[key] = json.dumps(row[key], ensure_ascii=False)
        return row

    def summary(self) -> dict:
        row = asdict(self)
        row["started_at"] = self.started_at.isoformat()
        row["finished_at"] = self.finished_at.isoformat()
        return row

    @classmethod
    def from_summary(cls, summary: dict) -> LoadRecord:
        """The record back from ``summary()`` (a transaction's commit record holds it so)."""
        return cls(**{**summary, "started_at": datetime.fromisoformat(summary["started_at"]),
                      "finished_at": datetime.fromisoformat(summary["finished_at"])})


def path_for(lake: Lake, record: LoadRecord) -> str:
    """Where a record's row goes: one file per record, its name fixed by the record (so writing it again, when a
    commit is applied twice, writes the same file)."""
    stamp = record.finished_at.strftime("%Y%m%dT%H%M%S%fZ")
    return lake.path("_meta", "load_log", f"dataset={record.dataset}", f"{stamp}-{record.run_id}.parquet")


def append(lake: Lake, record: LoadRecord) -> str:
    path = path_for(lake, record)
    lake.write_parquet(pa.Table.from_pylist([record.to_row()], schema=LOAD_LOG_SCHEMA), path)
    return path


def read(lake: Lake, dataset: str | None = None) -> pa.Table:
    parts = ("_meta", "load_log") + ((f"dataset={dataset}",) if dataset else ())
    table = lake.read_table(*parts)
    if table is None:
        return LOAD_LOG_SCHEMA.empty_table()
    return table.sort_by([("finished_at", "ascending")])


def last_watermark(lake: Lake, dataset: str, source: str) -> str | None:
    """The watermark after the newest successful batch of this dataset from this source."""
    log = read(lake, dataset)
    done = log.filter(pc.and_(pc.equal(log["status"], "success"), pc.equal(log["source"], source)))
    done = done.filter(pc.is_valid(done["watermark_after"]))
    if done.num_rows == 0:
        return None
    return done["watermark_after"][-1].as_py()
