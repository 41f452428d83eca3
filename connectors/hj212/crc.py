"""The HJ 212-2017 CRC over a packet's data segment (DOMAIN.md §1).

Not CRC-16/MODBUS: each byte is folded in as ``crc = (crc >> 8) ^ byte`` before the eight
reflected-polynomial (0xA001) shifts, starting at 0xFFFF with no final XOR. The bulk form runs
compiled (numba) over a whole buffer of segments; the one-at-a-time form is the readable reference.
"""

from __future__ import annotations

import numba
import numpy as np

POLY = 0xA001


def crc16(segment: bytes) -> int:
    crc = 0xFFFF
    for byte in segment:
        crc = (crc >> 8) ^ byte
        for _ in range(8):
            lsb = crc & 1
            crc >>= 1
            if lsb:
                crc ^= POLY
    return crc


def crc_hex(segment: bytes) -> str:
    return f"{crc16(segment):04X}"


def _shift_table() -> np.ndarray:
    """The eight shift rounds of one byte step, as a table: R⁸(v) = (v >> 8) ^ T[v & 0xFF]
    (the rounds are linear, and the high byte only shifts down through them)."""
    table = np.zeros(256, dtype=np.uint16)
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ (POLY if c & 1 else 0)
        table[i] = c
    return table


SHIFT_TABLE = _shift_table()


def crc16_many(segments: list[bytes]) -> np.ndarray:
    """CRC of each segment, computed for all of them together (uint16 array)."""
    n = len(segments)
    if n == 0:
        return np.zeros(0, dtype=np.uint16)
    lengths = np.fromiter((len(s) for s in segments), dtype=np.int64, count=n)
    return crc16_packed(np.frombuffer(b"".join(segments), dtype=np.uint8), lengths)


@numba.njit(cache=True, nogil=True)
def _crc16_compiled(data: np.ndarray, starts: np.ndarray, lengths: np.ndarray, table: np.ndarray) -> np.ndarray:
    out = np.empty(len(starts), dtype=np.uint16)
    for i in range(len(starts)):
        crc = 0xFFFF
        for j in range(starts[i], starts[i] + lengths[i]):
            c = (crc >> 8) ^ data[j]
            crc = (c >> 8) ^ table[c & 0xFF]
        out[i] = crc
    return out


def crc16_packed(data: np.ndarray, lengths: np.ndarray, starts: np.ndarray | None = None) -> np.ndarray:
    """CRC of segments in one byte buffer: ``lengths`` long, at ``starts`` (default: back to back).

    Compiled with numba, with the eight shift rounds of each byte folded into one table lookup."""
    lengths = np.asarray(lengths, dtype=np.int64)
    if starts is None:
        starts = np.cumsum(lengths) - lengths
    return _crc16_compiled(np.asarray(data, dtype=np.uint8), np.asarray(starts, dtype=np.int64), lengths,
                           SHIFT_TABLE)
