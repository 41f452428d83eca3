"""What every source connector shares: the error it raises, how it names a source, how a failed batch is told."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa

from connectors.coercion import coerce
from envlake.kernel.contracts import Contract

MAX_CAUSE_CHARS = 500  # a parser's message may quote a whole row


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


def failure_message(dataset: str, where: str, exc: BaseException) -> str:
    """One line: the dataset, the file or table, the cause."""
    cause = str(exc) if isinstance(exc, SourceError) else f"{type(exc).__name__}: {exc}"
    cause = " ".join(cause.split()) or type(exc).__name__
    if len(cause) > MAX_CAUSE_CHARS:
        cause = cause[:MAX_CAUSE_CHARS] + "…"
    location = where.split("#sha256:", 1)[0]
    named = location.split("#", 1)[0]  # a table's identity is <database>#<table>; its errors name the database
    return f"{dataset}: {cause}" if named in cause else f"{dataset}: cannot read {location}: {cause}"


def redact(url: str) -> str:
    """A source URL fit for logs and lineage: any password is hidden."""
    if "://" in url and "@" in url.split("://", 1)[1]:
        try:
            return sa.engine.make_url(url).render_as_string(hide_password=True)
        except sa.exc.ArgumentError:
            return url
    return url


def as_text(values: list) -> pa.Array:
    """Values of mixed or unknown types as text, for the writer to read row by row as the contract's type."""
    return pa.array([None if v is None else (json.dumps(v, ensure_ascii=False, default=str)
                                             if isinstance(v, dict | list) else str(v)) for v in values], pa.string())


def column_of(values: list) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, TypeError, OverflowError):
        # Mixed types in one column (a drifting source): keep every value as text and let the
        # writer decide row by row what can be read as the contract's type.
        return as_text(values)


def concat_batches(batches: list[pa.Table]) -> pa.Table:
    """Batches of one read as one table. A column whose type differs between batches (a value of
    another type arriving in a later batch) becomes text in every batch, as ``column_of`` does within one."""
    try:
        return pa.concat_tables(batches, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    names = batches[0].column_names
    mixed = [n for n in names if len({b.schema.field(n).type for b in batches} - {pa.null()}) > 1]
    unified = []
    for batch in batches:
        for name in mixed:
            batch = batch.set_column(batch.schema.get_field_index(name), name,
                                     as_text(batch.column(name).to_pylist()))
        unified.append(batch)
    return pa.concat_tables(unified, promote_options="permissive")


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
    values = table.column(column)
    if pa.types.is_string(values.type) or pa.types.is_large_string(values.type):
        # Text the source could not type: only values that read as a time can move the watermark
        # (a stray 'garbage' would otherwise sort after every date and become the next query's bound).
        typed, _ = coerce(values, "timestamp", pa.timestamp("us"))
        values = pc.filter(values, pc.is_valid(typed))
        if len(values) == 0:
            return previous
    newest = pc.max(values).as_py()
    if newest is None:
        return previous
    text = newest.isoformat(sep="T") if hasattr(newest, "isoformat") else str(newest)
    return text if previous is None or text > previous else previous
