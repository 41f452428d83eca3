"""The HJ 212-2017 CRC over a packet's data segment (DOMAIN.md §1).

Not CRC-16/MODBUS: each byte is folded in as ``crc = (crc >> 8) ^ byte`` before the eight
reflected-polynomial (0xA001) shifts, starting at 0xFFFF with no final XOR. The vectorised form
runs the same steps over many segments at once, byte position by byte position.
"""

from __future__ import annotations

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


def crc16_many(segments: list[bytes]) -> np.ndarray:
    """CRC of each segment, computed for all of them together (uint16 array)."""
    n = len(segments)
    if n == 0:
        return np.zeros(0, dtype=np.uint16)
    lengths = np.fromiter((len(s) for s in segments), dtype=np.int64, count=n)
    width = int(lengths.max())
    data = np.zeros((n, width), dtype=np.uint32)
    flat = np.frombuffer(b"".join(segments), dtype=np.uint8)
    rows = np.repeat(np.arange(n), lengths)
    cols = np.arange(len(flat)) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    data[rows, cols] = flat
    crc = np.full(n, 0xFFFF, dtype=np.uint32)
    order = np.argsort(-lengths, kind="stable")  # longest first: active rows form a prefix
    data, crc_sorted, lengths_sorted = data[order], crc[order], lengths[order]
    active = n
    for j in range(width):
        while active and lengths_sorted[active - 1] <= j:
            active -= 1
        c = (crc_sorted[:active] >> 8) ^ data[:active, j]
        for _ in range(8):
            c = (c >> 1) ^ ((c & 1) * POLY)
        crc_sorted[:active] = c
    crc[order] = crc_sorted
    return crc.astype(np.uint16)
