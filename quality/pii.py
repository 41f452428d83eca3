"""Personal data detectors: mainland resident ID numbers (valid check digit), mobile numbers, e-mail addresses.

DuckDB finds candidate values with a coarse regular expression (RE2: no look-around, so digit boundaries are
written as classes); Python then checks each candidate exactly (boundaries, the ID number's date and its
GB 11643 check digit), so a long code that merely contains eleven digits is not reported.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
ID_CHECK = "10X98765432"
ID_NUMBER = re.compile(r"(?<![0-9])([1-9][0-9]{5}(?:18|19|20)[0-9]{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12][0-9]|3[01])"
                       r"[0-9]{3}[0-9Xx])(?![0-9])")
MOBILE = re.compile(r"(?<![0-9])(1[3-9][0-9]{9})(?![0-9])")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
CANDIDATE_SQL = r"[0-9]{11}|@[A-Za-z0-9-]+\."
KINDS_ZH = {"id_number": "身份证号", "mobile": "手机号", "email": "电子邮箱"}


@dataclass(frozen=True)
class Finding:
    column: str
    kind: str
    example: str  # masked: what was found, never the value itself

    def __str__(self) -> str:
        return f"{KINDS_ZH[self.kind]} in {self.column} (e.g. {self.example})"


def id_check_digit_ok(number: str) -> bool:
    total = sum(int(d) * w for d, w in zip(number[:17], ID_WEIGHTS, strict=True))
    return ID_CHECK[total % 11] == number[17].upper()


def _mask(value: str) -> str:
    return value[:3] + "*" * max(len(value) - 5, 1) + value[-2:]


DIGEST = re.compile(r"[0-9a-f]{16,64}")


def detect(text: str) -> list[tuple[str, str]]:
    """(kind, masked example) for each piece of personal data in one value. A hex digest (a hashed key
    or a masked value) is not text: digits inside it are not a phone number."""
    if DIGEST.fullmatch(text):
        return []
    found = [("id_number", _mask(m)) for m in ID_NUMBER.findall(text) if id_check_digit_ok(m)]
    found += [("mobile", _mask(m)) for m in MOBILE.findall(text)]
    found += [("email", _mask(m)) for m in EMAIL.findall(text)]
    return found


def scan(con: duckdb.DuckDBPyConnection, relation: str, columns: list[str], where: str = "true",
         per_column: int = 50) -> list[Finding]:
    """Findings in ``columns`` (text) of ``relation``: at most one per column and kind."""
    if not columns:
        return []
    parts = [f'(select \'{c}\' as col, cast("{c}" as varchar) as v from {relation} '
             f'where ({where}) and regexp_matches(cast("{c}" as varchar), \'{CANDIDATE_SQL}\') limit {per_column})'
             for c in columns]
    findings: dict[tuple[str, str], Finding] = {}
    for column, value in con.execute(" union all ".join(parts)).fetchall():
        for kind, example in detect(value or ""):
            findings.setdefault((column, kind), Finding(column, kind, example))
    return list(findings.values())
