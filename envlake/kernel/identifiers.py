"""Unified social credit code (GB 32100-2015) checks, one at a time and vectorised.

The vectorised form works on the bytes of an Arrow string array, so a batch of millions
of codes is checked without a Python object per row.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = [pow(3, i, 31) for i in range(17)]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]
USCC_REGEX = r"^[0-9A-HJ-NPQRTUWXY]{2}[0-9]{6}[0-9A-HJ-NPQRTUWXY]{10}$"

_USCC_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}


def _org_value(ch: str) -> int:
    return int(ch) if ch.isdigit() else ord(ch) - ord("A") + 10


def uscc_check_char(first17: str) -> str:
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    c = 31 - total % 31
    return ALPHABET[0 if c == 31 else c]


def org_code_check_char(first8: str) -> str:
    total = sum(_org_value(ch) * w for ch, w in zip(first8, ORG_WEIGHTS, strict=True))
    c = 11 - total % 11
    return {10: "X", 11: "0"}.get(c, str(c))


def is_valid_uscc(code: str | None) -> bool:
    """Both check characters of an 18-character code: the organisation code's and the code's own."""
    if not code or len(code) != 18 or any(ch not in _USCC_VALUE for ch in code):
        return False
    if not code[2:8].isdigit():
        return False
    org = code[8:17]
    if any(not (ch.isdigit() or "A" <= ch <= "Z") for ch in org[:8]):
        return False
    return org_code_check_char(org[:8]) == org[8] and uscc_check_char(code[:17]) == code[17]


def _lookup(table: dict[str, int]) -> np.ndarray:
    lut = np.full(256, -1, dtype=np.int64)
    for ch, v in table.items():
        lut[ord(ch)] = v
    return lut


_USCC_LUT = _lookup(_USCC_VALUE)
_ORG_LUT = _lookup({ch: _org_value(ch) for ch in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
_ORG_CHECK_LUT = _lookup({str(d): d for d in range(10)} | {"X": 10})


def uscc_valid_mask(codes: pa.Array | pa.ChunkedArray) -> pa.Array:
    """True where a code passes both checks; null where the code is null."""
    if isinstance(codes, pa.ChunkedArray):
        codes = codes.combine_chunks()
    n = len(codes)
    valid = np.zeros(n, dtype=bool)
    fits = pc.fill_null(pc.match_substring_regex(codes, USCC_REGEX), False)
    idx = np.flatnonzero(fits.to_numpy(zero_copy_only=False))
    if len(idx):
        chosen = codes.take(pa.array(idx)).cast(pa.large_binary())
        offsets = np.frombuffer(chosen.buffers()[1], dtype=np.int64)[chosen.offset : chosen.offset + len(idx) + 1]
        data = np.frombuffer(chosen.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        chars = data.reshape(len(idx), 18)
        values = _USCC_LUT[chars[:, :17]]
        total = values @ np.array(USCC_WEIGHTS, dtype=np.int64)
        check = 31 - total % 31
        check[check == 31] = 0
        own_ok = check == _USCC_LUT[chars[:, 17]]
        org_total = _ORG_LUT[chars[:, 8:16]] @ np.array(ORG_WEIGHTS, dtype=np.int64)
        org_check = 11 - org_total % 11
        org_check[org_check == 11] = 0
        org_ok = (org_check == _ORG_CHECK_LUT[chars[:, 16]]) & (_ORG_LUT[chars[:, 8:16]] >= 0).all(axis=1)
        valid[idx] = own_ok & org_ok
    return pa.array(valid, mask=codes.is_null().to_numpy(zero_copy_only=False))
