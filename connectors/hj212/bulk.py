"""Parse many HJ 212-2017 packets at once into reading rows, and set aside the bad ones with a reason.

The frame check (header, length, ASCII, CRC) runs compiled over the whole buffer of lines; field
extraction runs in Polars over columns. One packet becomes one row per pollutant: device (MN),
system (ST), command (CN), QN, data time, pollutant code (2005 codes mapped to 2017), Rtd, Min,
Avg, Max, Cou and the data flag. Split packets (PNUM/PNO) are reassembled from their parts.
A packet is rejected whole, with the first reason that applies:

  bad_header, bad_length, bad_crc, unparseable_value, missing_field, unknown_pollutant,
  future_data_time, incomplete_split
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

import numba
import numpy as np
import polars as pl
import pyarrow as pa

from connectors.hj212.codes import CODE_2017
from connectors.hj212.crc import SHIFT_TABLE
from connectors.hj212.scan import FLAGS, KEYS, code_key, scan

REASONS = {1: "bad_header", 2: "bad_length", 3: "bad_crc", 4: "unparseable_value", 5: "missing_field",
           6: "unknown_pollutant", 7: "future_data_time", 8: "incomplete_split"}
MESSAGES = {
    "bad_header": "the packet does not start with ## and a 4-digit length",
    "bad_length": "the declared data length does not match the packet",
    "bad_crc": "the CRC does not match the data segment",
    "unparseable_value": "a field or value cannot be read",
    "missing_field": "a required field (ST, CN, MN, CP or DataTime) is missing",
    "unknown_pollutant": "a pollutant code is neither an HJ 212-2017 nor a 2005 code",
    "future_data_time": "the data time lies in the future",
    "incomplete_split": "a part of a split packet (PNUM/PNO) is missing",
}
FUTURE_TOLERANCE = timedelta(minutes=10)
REQUIRED = ("ST", "CN", "MN")
OUTPUT_KEYS = ("MN", "ST", "CN", "QN", "Flag", "PNUM", "PNO")


@dataclass
class ParsedPackets:
    readings: pa.Table
    rejected: pa.Table  # the packet as text, _rule_id, _reason, _failed_rules
    packets: int


@numba.njit(cache=True, nogil=True)
def _declared_length(data, s):  # pragma: no cover - compiled
    """The 4-digit data length after ##, or -1."""
    length = 0
    for j in range(s + 2, s + 6):
        d = data[j] - 48
        if d < 0 or d > 9:
            return -1
        length = length * 10 + d
    return length


@numba.njit(cache=True, nogil=True)
def _given_crc(data, e):  # pragma: no cover - compiled
    """The 4 hex digits before the line end (either case), or -1."""
    given = 0
    for j in range(e - 4, e):
        b = data[j]
        if 48 <= b <= 57:
            v = b - 48
        elif 65 <= b <= 70:
            v = b - 55
        elif 97 <= b <= 102:
            v = b - 87
        else:
            return -1
        given = given * 16 + v
    return given


@numba.njit(cache=True, nogil=True)
def _segment_crc(data, start, length, table):  # pragma: no cover - compiled
    """The CRC of the data segment (-1 when it holds a byte that is not ASCII) and its count of ';'
    (the scan's bound on the segment's readings), in the same pass."""
    crc, semicolons = 0xFFFF, 0
    for j in range(start, start + length):
        b = data[j]
        if b >= 128:
            return -1, 0
        semicolons += b == 59
        c = (crc >> 8) ^ b
        crc = (c >> 8) ^ table[c & 0xFF]
    return crc, semicolons


@numba.njit(cache=True, nogil=True, parallel=True)
def _check_frames(data, starts, ends, table):  # pragma: no cover - compiled
    """Status per line (0 good, else a REASONS key), the data segment's length and its count of ';'."""
    n = len(starts)
    status = np.zeros(n, dtype=np.int8)
    seg_len = np.zeros(n, dtype=np.int64)
    semicolons = np.zeros(n, dtype=np.int64)
    for i in numba.prange(n):
        s, e = starts[i], ends[i]
        if e - s < 10 or data[s] != 35 or data[s + 1] != 35:
            status[i] = 1
            continue
        length = _declared_length(data, s)
        if length < 0 or e - s != 10 + length:
            status[i] = 2
            continue
        given = _given_crc(data, e)
        crc, count = _segment_crc(data, s + 6, length, table)
        if crc < 0:
            status[i] = 4
        elif crc != given:
            status[i] = 3
        seg_len[i] = length
        semicolons[i] = count
    return status, seg_len, semicolons


@numba.njit(cache=True, nogil=True)
def _gather(data, starts, lengths):  # pragma: no cover - compiled
    offsets = np.zeros(len(starts) + 1, dtype=np.int64)
    for i in range(len(starts)):
        offsets[i + 1] = offsets[i] + lengths[i]
    out = np.empty(offsets[-1], dtype=np.uint8)
    for i in range(len(starts)):
        out[offsets[i]:offsets[i + 1]] = data[starts[i]:starts[i] + lengths[i]]
    return out, offsets


@numba.njit(cache=True, nogil=True)
def _line_bounds(data):  # pragma: no cover - compiled
    starts = np.empty(len(data) // 2 + 1, dtype=np.int64)
    ends = np.empty(len(data) // 2 + 1, dtype=np.int64)
    n, s = 0, 0
    for j in range(len(data) + 1):
        if j == len(data) or data[j] == 10:
            e = j - 1 if j > s and data[j - 1] == 13 else j
            if e > s:
                starts[n], ends[n] = s, e
                n += 1
            s = j + 1
    return starts[:n], ends[:n]


def split_lines(blob: bytes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The buffer and the start and end (without CR LF) of each non-empty line."""
    data = np.frombuffer(blob, dtype=np.uint8)
    starts, ends = _line_bounds(data)
    return data, starts, ends


def _field_strings(data: np.ndarray, spans: np.ndarray) -> pa.Array:
    """A string column from (start, length) spans into the buffer; a negative start means null."""
    present = spans[:, 0] >= 0
    starts = np.where(present, spans[:, 0], 0).astype(np.int64)
    lengths = np.where(present, spans[:, 1], 0).astype(np.int64)
    buf, offsets = _gather(data, starts, lengths)
    validity = pa.py_buffer(np.packbits(present, bitorder="little"))
    return pa.StringArray.from_buffers(len(spans), pa.py_buffer(offsets.astype(np.int32)), pa.py_buffer(buf),
                                       validity, null_count=int((~present).sum()))


KNOWN_CODES = sorted(CODE_2017, key=code_key)
CODE_KEYS = np.array([code_key(c) for c in KNOWN_CODES], dtype=np.int64)
CODES_SENT = pa.array(KNOWN_CODES, pa.string())
CODES_2017 = pa.array([CODE_2017[c] for c in KNOWN_CODES], pa.string())


def _scan_threads(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, bounds: np.ndarray,
                  threads: int = 2) -> tuple:
    """``scan`` over slices of the packets on threads (it releases the GIL), joined in packet order."""
    if len(starts) < 20_000:
        return scan(data, starts, lengths, CODE_KEYS, bounds)
    cut = np.linspace(0, len(starts), threads + 1).astype(np.int64)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda k: scan(data, starts[cut[k]:cut[k + 1]], lengths[cut[k]:cut[k + 1]],
                                             CODE_KEYS, bounds[cut[k]:cut[k + 1]]), range(threads)))
    joined = [np.concatenate([p[j] for p in parts], axis=1 if j == 5 else 0) for j in range(7)]
    joined[3] = np.concatenate([p[3] + cut[k] for k, p in enumerate(parts)])  # reading -> packet index
    return tuple(joined)


def parse_packets(blob: bytes, now: datetime | None = None) -> ParsedPackets:
    """Parse a buffer of packets, one per line. ``now`` (local time) bounds the data time."""
    now = now or datetime.now()
    data, starts, ends = split_lines(blob)
    n = len(starts)
    status, seg_len, semicolons = _check_frames(data, starts, ends, SHIFT_TABLE)
    good = np.flatnonzero(status == 0)
    scan_status, fields, data_time, r_packet, codes, values, flags = _scan_threads(
        data, starts[good] + 6, seg_len[good], semicolons[good] + 1)
    status[good] = scan_status
    for k in (KEYS.index(key) for key in REQUIRED):
        lacking = (scan_status == 0) & (fields[:, k, 1] <= 0)
        status[good[lacking]] = 5
    limit = np.datetime64(now + FUTURE_TOLERANCE, "us").astype(np.int64)
    status[good[(status[good] == 0) & (data_time > limit)]] = 7

    unknown = np.unique(r_packet[codes < 0])
    status[good[unknown]] = np.where(status[good[unknown]] == 0, 6, status[good[unknown]])

    split = bool((fields[:, KEYS.index("PNUM"), 0] >= 0).any())
    header = {key.lower(): _field_strings(data, fields[:, KEYS.index(key), :]) if split or key not in ("PNUM", "PNO")
              else pa.nulls(len(good), pa.string()) for key in OUTPUT_KEYS}
    _reassemble(status, good, header)

    keep = status[good[r_packet]] == 0
    every = bool(keep.all())
    at = pa.array((r_packet if every else r_packet[keep]).astype(np.int32))
    chosen = values if every else values[:, keep]

    def per_packet(column: pa.Array) -> pa.Array:  # each reading points at its packet's value: no copy
        return pa.DictionaryArray.from_arrays(at, column)

    table = pa.table({
        **{key: per_packet(header[key]) for key in ("mn", "st", "cn", "qn")},
        "data_time": pa.array(data_time[r_packet if every else r_packet[keep]], pa.timestamp("us")),
        "pollutant_code": pa.DictionaryArray.from_arrays(pa.array(codes if every else codes[keep]), CODES_2017),
        "code_sent": pa.DictionaryArray.from_arrays(pa.array(codes if every else codes[keep]), CODES_SENT),
        **{name: pa.array(column, mask=np.isnan(column))
           for name, column in zip(("rtd", "min_value", "avg_value", "max_value", "cou"),
                                   chosen, strict=True)},
        "flag": _flag_letters(flags if every else flags[keep]),
        "packet_flag": per_packet(header["flag"]),
    })
    return ParsedPackets(table, _rejected_table(data, starts, ends, status), n)


def _flag_letters(flags: np.ndarray) -> pa.Array:
    letters = np.full(256, -1, dtype=np.int8)
    for i, c in enumerate(FLAGS):
        letters[c] = i
    index = letters[flags]
    return pa.DictionaryArray.from_arrays(pa.array(index, mask=index < 0),
                                          pa.array([chr(c) for c in FLAGS])).dictionary_decode()


def _reassemble(status: np.ndarray, good: np.ndarray, header: dict[str, pa.Array]) -> None:
    """Split packets count only when every part (PNO 1..PNUM) of the same MN and QN is present."""
    if header["pnum"].null_count == len(header["pnum"]):
        return
    parts = pl.DataFrame({"i": np.arange(len(good)), "ok": status[good] == 0,
                          **{k: pl.from_arrow(header[k]) for k in ("mn", "qn", "pnum", "pno")}})
    split = parts.filter(pl.col("pnum").is_not_null() & pl.col("ok"))
    if split.height == 0:
        return
    have = split.group_by("mn", "qn").agg(pl.col("pno").n_unique().alias("have"),
                                         pl.col("pnum").first().cast(pl.Int64, strict=False).alias("need"))
    incomplete = split.join(have.filter(pl.col("have") != pl.col("need")), on=["mn", "qn"])["i"].to_numpy()
    status[good[incomplete]] = 8


def _rejected_table(data: np.ndarray, starts: np.ndarray, ends: np.ndarray, status: np.ndarray) -> pa.Table:
    bad = np.flatnonzero(status != 0)
    texts = [bytes(data[starts[p]:ends[p]]).decode("ascii", "replace") for p in bad]  # the rare path
    reasons = [REASONS[int(status[p])] for p in bad]
    rule_ids = [f"hj212.{r}" for r in reasons]
    return pa.table({"packet": pa.array(texts, pa.string()), "_rule_id": pa.array(rule_ids, pa.string()),
                     "_reason": pa.array([MESSAGES[r] for r in reasons], pa.string()),
                     "_failed_rules": pa.array(rule_ids, pa.string())})
