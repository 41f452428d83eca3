"""Rows as the client asked for them (JSON, CSV or Arrow IPC stream), within a byte cap.

- CSV and Arrow are written record batch by record batch and sent as a stream of those chunks; the cap
  (``ENVLAKE_ACCESS_MAX_RESPONSE_BYTES``) is checked after each batch, so an answer that would pass it is
  refused, naming the setting, before a byte is sent, and never more than the cap plus one batch is held.
- CSV cannot hold a list, struct, map or interval: those are written as text (JSON for the nested ones).
- CSV text cells that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, a tab
  or a carriage return: OWASP's CSV-injection rule) get a leading single quote. Only this output is
  changed: the lake, JSON and Arrow keep the value as it is.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
CSV_MEDIA_TYPE = "text/csv; charset=utf-8"
JSON_MEDIA_TYPE = "application/json"
RESPONSE_SETTING = "ENVLAKE_ACCESS_MAX_RESPONSE_BYTES"
BATCH_ROWS = 2_000
FORMULA_START = r"^[=+\-@\t\r]"
Format = Literal["json", "csv", "arrow"]


class ResponseTooLarge(ValueError):
    """The answer would be larger than the byte cap; the message names the setting."""


@dataclass
class Rendered:
    media_type: str
    chunks: list[bytes] = field(default_factory=list)

    @property
    def size(self) -> int:
        return sum(len(c) for c in self.chunks)

    def body(self) -> bytes:
        return b"".join(self.chunks)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self.chunks)


class _Collector:
    """A file-like sink for Arrow's writers: keeps what they write, as one chunk per record batch."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.closed = False

    def write(self, data: Any) -> int:
        self.parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        chunk, self.parts = b"".join(self.parts), []
        return chunk


def _too_large(size: int, cap: int) -> ResponseTooLarge:
    return ResponseTooLarge(f"the answer is more than {cap:,} bytes ({RESPONSE_SETTING}; {size:,} so far): ask for "
                            "fewer rows or columns, or page with limit and offset")


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_string_view(kind)


@functools.lru_cache(maxsize=256)
def _csv_writes(kind: pa.DataType) -> bool:
    """Whether Arrow's CSV writer takes this type as it is (it refuses lists, structs, maps and intervals)."""
    try:
        pacsv.write_csv(pa.table({"c": pa.nulls(1, kind)}), pa.BufferOutputStream())
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return False
    return True


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    return json.dumps(value, ensure_ascii=False, default=str) if isinstance(value, (list, dict)) else str(value)


def for_csv(table: pa.Table) -> pa.Table:
    """What CSV can hold: a list, struct or map as its JSON text, and text cells a spreadsheet would read as a
    formula prefixed with a single quote."""
    columns = []
    for column in table.columns:
        kind = column.type
        if not _csv_writes(kind):
            column, kind = pa.chunked_array([pa.array([_as_text(v) for v in column.to_pylist()], pa.string())]), \
                pa.string()
        if pa.types.is_dictionary(kind) and _is_text(kind.value_type):
            column, kind = column.cast(kind.value_type), kind.value_type
        if _is_text(kind):
            risky = pc.match_substring_regex(column, FORMULA_START)
            if pc.any(risky).as_py():
                column = pc.if_else(risky, pc.binary_join_element_wise("'", column, ""), column)
        columns.append(column)
    return pa.Table.from_arrays(columns, names=table.column_names)


def _batches(table: pa.Table, fmt: Format, cap: int, check_time: Callable[[], None]) -> list[bytes]:
    sink = _Collector()
    out: list[bytes] = []
    size = 0
    stream = pa.PythonFile(sink, mode="w")
    if fmt == "csv":
        table = for_csv(table)
        writer: Any = pacsv.CSVWriter(stream, table.schema)
    else:
        writer = pa.ipc.new_stream(stream, table.schema)
    with writer:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS):
            writer.write_batch(batch)
            chunk = sink.take()
            size += len(chunk)
            if size > cap:
                raise _too_large(size, cap)
            out.append(chunk)
            check_time()
    tail = sink.take()
    if tail:
        out.append(tail)
    return out


def _json(body: dict[str, Any]) -> bytes:
    """orjson (several times faster: the JSON answer is where the service spends its time), with dates and times
    written as ``str`` writes them, as the service always has; the standard library for what orjson refuses."""
    try:
        return orjson.dumps(body, default=str, option=orjson.OPT_PASSTHROUGH_DATETIME)
    except (orjson.JSONEncodeError, TypeError):
        return json.dumps(body, ensure_ascii=False, default=str).encode("utf-8")


def render(table: pa.Table, fmt: Format, meta: dict[str, Any], cap: int,
           check_time: Callable[[], None] = lambda: None) -> Rendered:
    """``table`` as ``fmt``; ``meta``: the JSON answer's other fields. Raises ResponseTooLarge."""
    if fmt == "json":
        body = _json({**meta, "rows": table.to_pylist()})
        if len(body) > cap:
            raise _too_large(len(body), cap)
        return Rendered(JSON_MEDIA_TYPE, [body])
    media_type = CSV_MEDIA_TYPE if fmt == "csv" else ARROW_MEDIA_TYPE
    return Rendered(media_type, _batches(table, fmt, cap, check_time))
