"""What every source connector shares: the error it raises and how it names a source."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from connectors.contracts import Contract


class SourceError(RuntimeError):
    """The source could not be read; nothing was landed."""


@dataclass
class Extract:
    table: pa.Table
    watermark_after: str | None
    pages: int = 0
    rejected: pa.Table | None = None  # records that failed before they became rows, with their reasons
    note: str = ""


class Source(Protocol):
    identity: str

    def read(self, contract: Contract, watermark: str | None) -> Extract: ...


def redact(url: str) -> str:
    """A source URL fit for logs and lineage: any password is hidden."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        try:
            return sa.engine.make_url(url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            return url
    return url


def column_of(values: list) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, OverflowError):
        # Mixed types in one column (a drifting source): keep every value as text and let the
        # writer decide row by row what can be read as the contract's type.
        return pa.array([None if v is None else (json.dumps(v, ensure_ascii=False) if isinstance(v, dict | list)
                                                 else str(v)) for v in values], pa.string())


def records_to_table(items: list[dict], fallback_columns: list[str]) -> pa.Table:
    """Arrow table from JSON-like records; every key seen in any record becomes a column."""
    if not items:
        return pa.table({c: pa.array([], pa.string()) for c in fallback_columns})
    names = list(dict.fromkeys(k for item in items for k in item))
    return pa.table({name: column_of([item.get(name) for item in items]) for name in names})


def max_watermark(table: pa.Table, column: str | None, previous: str | None) -> str | None:
    """The newest watermark value seen, as text comparable in ISO order."""
    if not column or column not in table.column_names or table.num_rows == 0:
        return previous
    newest = pc.max(table.column(column)).as_py()
    if newest is None:
        return previous
    text = newest.isoformat(sep="T") if hasattr(newest, "isoformat") else str(newest)
    return text if previous is None or text > previous else previous
