"""Compiled scan of HJ 212 data segments: where each header field is, and every reading's values.

One pass per segment, no Python object per field. Header fields may come in any order. In CP,
each ``;``-separated group holds one pollutant's ``code-Field=value`` items; DataTime is its own
item. Values are parsed here (decimal numbers, one-letter flags, the 14-digit data time).
"""

from __future__ import annotations

import numba
import numpy as np

# Header keys, in the column order of the ``fields`` output
KEYS = ("QN", "ST", "CN", "PW", "MN", "Flag", "PNUM", "PNO")
VALUES = ("Rtd", "Min", "Avg", "Max", "Cou")
FLAGS = b"NFMSDCTB"
POW10 = np.array([10.0 ** k for k in range(19)])


def code_key(code: str) -> int:
    """Up to 8 ASCII characters packed into one integer (pollutant codes are 2 to 6 characters)."""
    key = 0
    for ch in code.encode("ascii")[:8]:
        key = key * 256 + ch
    return key
OK, UNPARSEABLE, MISSING = 0, 4, 5


@numba.njit(cache=True, nogil=True)
def _key_index(data, s, e):  # pragma: no cover - compiled
    n = e - s
    a = data[s]
    b = data[s + 1] if n > 1 else 0
    if n == 2:
        if a == 81 and b == 78:
            return 0  # QN
        if a == 83 and b == 84:
            return 1  # ST
        if a == 67 and b == 78:
            return 2  # CN
        if a == 80 and b == 87:
            return 3  # PW
        if a == 77 and b == 78:
            return 4  # MN
    if n == 4 and a == 70 and b == 108 and data[s + 2] == 97 and data[s + 3] == 103:
        return 5  # Flag
    if n == 4 and a == 80 and b == 78 and data[s + 2] == 85 and data[s + 3] == 77:
        return 6  # PNUM
    if n == 3 and a == 80 and b == 78 and data[s + 2] == 79:
        return 7  # PNO
    return -1


@numba.njit(cache=True, nogil=True)
def _value_index(data, s, e):  # pragma: no cover - compiled
    """Rtd 0, Min 1, Avg 2, Max 3, Cou 4, Flag 5, anything else -1."""
    n = e - s
    if n == 3:
        a, b, c = data[s], data[s + 1], data[s + 2]
        if a == 82 and b == 116 and c == 100:
            return 0
        if a == 77 and b == 105 and c == 110:
            return 1
        if a == 65 and b == 118 and c == 103:
            return 2
        if a == 77 and b == 97 and c == 120:
            return 3
        if a == 67 and b == 111 and c == 117:
            return 4
    if n == 4 and data[s] == 70 and data[s + 1] == 108 and data[s + 2] == 97 and data[s + 3] == 103:
        return 5
    return -1


@numba.njit(cache=True, nogil=True)
def _number(data, s, e):  # pragma: no cover - compiled
    """A decimal number (optional sign, digits, point, digits); NaN when it is not one.

    The digits are read as an exact integer and divided once by an exact power of ten, which IEEE
    division rounds correctly (up to 15 significant digits, far beyond HJ 212's N5.2-style fields)."""
    if s >= e:
        return np.nan
    negative, i = data[s] == 45, s
    if data[i] == 45 or data[i] == 43:
        i += 1
    mantissa, digits, decimals, seen_point = 0, 0, 0, False
    while i < e:
        c = data[i]
        if 48 <= c <= 57:
            mantissa = mantissa * 10 + (c - 48)
            digits += 1
            if seen_point:
                decimals += 1
        elif c == 46 and not seen_point:
            seen_point = True
        else:
            return np.nan
        i += 1
    if digits == 0 or digits > 18:
        return np.nan
    value = mantissa / POW10[decimals]
    return -value if negative else value


@numba.njit(cache=True, nogil=True)
def _digits(data, s, n):  # pragma: no cover - compiled
    value = 0
    for j in range(s, s + n):
        value = value * 10 + (data[j] - 48)
    return value


@numba.njit(cache=True, nogil=True)
def _data_time(data, s, e):  # pragma: no cover - compiled
    """YYYYMMDDhhmmss as microseconds since 1970 (local time), or -1."""
    if e - s != 14:
        return -1
    for j in range(s, e):
        if data[j] < 48 or data[j] > 57:
            return -1
    y = _digits(data, s, 4)
    mo, dd = _digits(data, s + 4, 2), _digits(data, s + 6, 2)
    hh, mi, ss = _digits(data, s + 8, 2), _digits(data, s + 10, 2), _digits(data, s + 12, 2)
    leap = (y % 4 == 0 and y % 100 != 0) or y % 400 == 0
    month_days = 29 if mo == 2 and leap else (28 if mo == 2 else (30 if mo in (4, 6, 9, 11) else 31))
    if mo < 1 or mo > 12 or dd < 1 or dd > month_days or hh > 23 or mi > 59 or ss > 59:
        return -1
    yy = y - 1 if mo <= 2 else y  # days from civil (Howard Hinnant)
    era = yy // 400
    yoe = yy - era * 400
    doy = (153 * (mo + (-3 if mo > 2 else 9)) + 2) // 5 + dd - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    days = era * 146097 + doe - 719468
    return ((days * 24 + hh) * 60 + mi) * 60_000_000 + ss * 1_000_000


@numba.njit(cache=True, nogil=True)
def _find(data, s, e, byte):  # pragma: no cover - compiled
    while s < e and data[s] != byte:
        s += 1
    return s


@numba.njit(cache=True, nogil=True)
def _header(data, s, e, fields, i):  # pragma: no cover - compiled
    """Record header fields; return where CP's content starts and ends, or a negative status."""
    while s < e:
        if e - s >= 5 and data[s] == 67 and data[s + 1] == 80 and data[s + 2] == 61 and data[s + 3] == 38 \
                and data[s + 4] == 38:
            if e - s < 7 or data[e - 1] != 38 or data[e - 2] != 38:
                return -MISSING, 0
            return s + 5, e - 2
        end = _find(data, s, e, 59)
        eq = _find(data, s, end, 61)
        if eq == end:
            return -UNPARSEABLE, 0
        k = _key_index(data, s, eq)
        if k >= 0:
            fields[i, k, 0] = eq + 1
            fields[i, k, 1] = end - eq - 1
        s = end + 1
    return -MISSING, 0


@numba.njit(cache=True, nogil=True)
def _code_index(data, s, e, keys):  # pragma: no cover - compiled
    """Index of the code in ``keys`` (sorted packed codes), or -1."""
    if e - s > 8:
        return -1
    key = 0
    for j in range(s, e):
        key = key * 256 + data[j]
    at = np.searchsorted(keys, key)
    return at if at < len(keys) and keys[at] == key else -1


@numba.njit(cache=True, nogil=True)
def _is_flag(c):  # pragma: no cover - compiled
    """N F M S D C T B (HJ 212-2017 data flags)."""
    return c == 78 or c == 70 or c == 77 or c == 83 or c == 68 or c == 67 or c == 84 or c == 66


@numba.njit(cache=True, nogil=True)
def _item(data, s, e, r, codes, values, flags, first, keys):  # pragma: no cover - compiled
    """One ``code-Field=value`` item of reading r; returns a status."""
    dash = _find(data, s, e, 45)
    eq = _find(data, s, e, 61)
    if dash >= eq or eq == e:
        return UNPARSEABLE
    if first:
        codes[r] = _code_index(data, s, dash, keys)
    v = _value_index(data, dash + 1, eq)
    if 0 <= v < 5:
        x = _number(data, eq + 1, e)
        if np.isnan(x):
            return UNPARSEABLE
        values[v, r] = x
    elif v == 5:
        if e - eq - 1 != 1:
            return UNPARSEABLE
        if not _is_flag(data[eq + 1]):
            return UNPARSEABLE
        flags[r] = data[eq + 1]
    return OK




@numba.njit(cache=True, nogil=True)
def _group(data, s, e, r, codes, values, flags, keys):  # pragma: no cover - compiled
    """One pollutant's ``,``-separated items into reading r; returns a status."""
    for q in range(5):  # a plain loop: slice assignment costs an array view per group here
        values[q, r] = np.nan
    flags[r] = 0
    first = True
    while s < e:
        end = _find(data, s, e, 44)
        result = _item(data, s, end, r, codes, values, flags, first, keys)
        if result != OK:
            return result
        first = False
        s = end + 1
    return OK


@numba.njit(cache=True, nogil=True)
def _packet(data, s, e, i, fields, data_time, packet, codes, values, flags, m, keys):  # pragma: no cover - compiled
    """Scan one segment, writing its readings from row m on; returns (status, readings written)."""
    cp_s, cp_e = _header(data, s, e, fields, i)
    if cp_s < 0:
        return -cp_s, 0
    first = m
    s = cp_s
    while s < cp_e:
        end = _find(data, s, cp_e, 59)
        if end - s >= 9 and data[s] == 68 and data[s + 1] == 97 and data[s + 4] == 84 and data[s + 8] == 61:
            data_time[i] = _data_time(data, s + 9, end)  # DataTime=
            if data_time[i] < 0:
                return UNPARSEABLE, 0
        elif end > s:
            packet[m] = i
            result = _group(data, s, end, m, codes, values, flags, keys)
            if result != OK:
                return result, 0
            m += 1
        s = end + 1
    if data_time[i] < 0:
        return MISSING, 0
    return OK, m - first


@numba.njit(cache=True, nogil=True)
def scan(data, starts, lengths, keys, bounds):  # pragma: no cover - compiled
    """Returns (status, fields[n, 8, 2], data_time_us, reading_packet, code_index[m], values[5, m], flags).

    ``keys`` are the known pollutant codes packed by ``code_key`` and sorted; a reading's code index
    points into them (-1: unknown).

    ``bounds`` holds an upper bound on each segment's readings (its ';' count + 1, counted by the frame
    check); each segment is scanned into its own slice of the reading arrays, and a last pass packs the
    slices together."""
    n = len(starts)
    status = np.zeros(n, dtype=np.int8)
    fields = np.full((n, 8, 2), -1, dtype=np.int64)
    data_time = np.full(n, -1, dtype=np.int64)
    offsets = np.zeros(n + 1, dtype=np.int64)
    offsets[1:] = np.cumsum(bounds)
    total = offsets[-1]
    packet = np.empty(total, dtype=np.int64)
    codes = np.full(total, -1, dtype=np.int32)
    values = np.empty((5, total))  # one contiguous row per value kind: the output columns
    flags = np.zeros(total, dtype=np.uint8)
    used = np.zeros(n, dtype=np.int64)
    for i in range(n):
        result, count = _packet(data, starts[i], starts[i] + lengths[i], i, fields, data_time, packet, codes,
                                values, flags, offsets[i], keys)
        status[i] = result
        used[i] = count
    m = 0
    for i in range(n):
        for k in range(used[i]):
            src = offsets[i] + k
            packet[m] = packet[src]
            codes[m] = codes[src]
            for q in range(5):
                values[q, m] = values[q, src]
            flags[m] = flags[src]
            m += 1
    return status, fields, data_time, packet[:m], codes[:m], values[:, :m], flags[:m]
