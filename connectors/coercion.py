"""Cast a source column to its contract type, row by row in outcome but vectorised in work.

Returns the typed column and a mask of the rows whose value could not be read as that type.
Source systems deliver local (Beijing) time; zoned timestamps are converted to it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

LOCAL_TZ = "Asia/Shanghai"

_PATTERNS = {
    "integer": r"^\s*[+-]?\d+\s*$",
    "number": r"^\s*[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?\s*$",
    "boolean": r"^(?i)(true|false|t|f|1|0|yes|no|y|n|是|否)$",
    "date": r"^\d{4}-\d{2}-\d{2}$",
    "timestamp": r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?$",
    "zoned_timestamp": r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$",
}
_TRUE = ["true", "t", "1", "yes", "y", "是"]


def _mask(arr: pa.Array) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _local_naive(ts: pa.Array) -> pa.Array:
    if ts.type.tz is None:
        return ts.cast(pa.timestamp("us"))
    return pc.local_timestamp(ts.cast(pa.timestamp("us", LOCAL_TZ)))


def _cast_each(arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Slow path for the rare batch where a vectorised cast still fails: find the bad rows."""
    out, bad = [], np.zeros(len(arr), dtype=bool)
    for i, value in enumerate(arr):
        try:
            out.append(pc.cast(pa.array([value.as_py()], arr.type), target)[0].as_py())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            out.append(None)
            bad[i] = True
    return pa.array(out, target), bad


def _from_string(arr: pa.Array, kind: str, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    present = _mask(pc.is_valid(arr))
    trimmed = pc.utf8_trim_whitespace(arr)
    empty = _mask(pc.equal(trimmed, ""))
    present &= ~empty
    if kind == "boolean":
        ok = _mask(pc.match_substring_regex(trimmed, _PATTERNS["boolean"]))
        typed = pc.is_in(pc.utf8_lower(trimmed), value_set=pa.array(_TRUE))
        return pc.if_else(pa.array(ok & present), typed, pa.nulls(len(arr), pa.bool_())), present & ~ok
    if kind == "timestamp":
        zoned = _mask(pc.match_substring_regex(trimmed, _PATTERNS["zoned_timestamp"])) & present
        plain = _mask(pc.match_substring_regex(trimmed, _PATTERNS["timestamp"])) & present
        normalised = pc.replace_substring_regex(trimmed, r"Z$", "+00:00")
        out = pc.if_else(pa.array(plain), normalised, pa.nulls(len(arr), pa.string()))
        typed, bad = _safe_cast(out, target)
        if zoned.any():
            zoned_values = pc.if_else(pa.array(zoned), normalised, pa.nulls(len(arr), pa.string()))
            zoned_typed, zoned_bad = _safe_cast(zoned_values, pa.timestamp("us", "UTC"))
            typed = pc.if_else(pa.array(zoned), _local_naive(zoned_typed), typed)
            bad |= zoned_bad
        return typed, bad | (present & ~plain & ~zoned)
    ok = _mask(pc.match_substring_regex(trimmed, _PATTERNS[kind])) & present
    kept = pc.if_else(pa.array(ok), trimmed, pa.nulls(len(arr), pa.string()))
    typed, bad = _safe_cast(kept, target)
    return typed, bad | (present & ~ok)


def _safe_cast(arr: pa.Array, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    try:
        return pc.cast(arr, target), np.zeros(len(arr), dtype=bool)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return _cast_each(arr, target)


def _is_compatible(kind: str, source: pa.DataType) -> bool:
    numeric = pa.types.is_integer(source) or pa.types.is_floating(source) or pa.types.is_decimal(source)
    return (
        (kind in ("integer", "number") and numeric)
        or (kind == "date" and pa.types.is_date(source))
        or (kind == "boolean" and pa.types.is_boolean(source))
    )


def _from_native(arr: pa.Array, kind: str, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    n = len(arr)
    if kind == "integer" and pa.types.is_floating(arr.type):
        integral = _mask(pc.equal(pc.floor(arr), arr)) | ~_mask(pc.is_valid(arr))
        kept = pc.if_else(pa.array(integral), arr, pa.nulls(n, arr.type))
        return pc.cast(kept, target, safe=False), ~integral
    if kind == "timestamp" and pa.types.is_timestamp(arr.type):
        return _local_naive(arr), np.zeros(n, dtype=bool)
    if kind == "date" and pa.types.is_timestamp(arr.type):
        return _local_naive(arr).cast(pa.date32()), np.zeros(n, dtype=bool)
    if _is_compatible(kind, arr.type):
        return _safe_cast(arr, target)
    # A type the contract cannot take (a changed source type): every present value fails.
    return pa.nulls(n, target), _mask(pc.is_valid(arr))


def coerce(arr: pa.Array | pa.ChunkedArray, kind: str, target: pa.DataType) -> tuple[pa.Array, np.ndarray]:
    """Return (typed column, mask of rows that are present but unreadable as ``kind``)."""
    if isinstance(arr, pa.ChunkedArray):
        arr = arr.chunk(0) if arr.num_chunks == 1 else arr.combine_chunks()  # one chunk: no copy
    if arr.type == target:
        return arr, np.zeros(len(arr), dtype=bool)
    if pa.types.is_null(arr.type):
        return pa.nulls(len(arr), target), np.zeros(len(arr), dtype=bool)
    if pa.types.is_dictionary(arr.type):
        arr = arr.dictionary_decode()
    if pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.string())
    if kind == "string":
        return _safe_cast(arr, target)
    if pa.types.is_string(arr.type):
        return _from_string(arr, kind, target)
    return _from_native(arr, kind, target)
