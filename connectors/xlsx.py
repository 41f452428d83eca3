"""Read the first sheet of a department's XLSX export, checking the archive before it is opened.

An XLSX is a zip of XML parts, and deflate expands up to a thousandfold: a 1 MB file can hold a 1 GB
sheet, which openpyxl would parse for minutes. So before openpyxl sees the file: it must be a zip
whose parts are stored or deflated and not encrypted; the sizes its directory declares must be within
the limit; and, because a directory can lie, every part is inflated as a stream with a running count,
refused the moment the count passes the limit or when a part does not hold what it declares. While
the sheet is parsed, its rows are counted against the row limit.
"""

from __future__ import annotations

import io
import zipfile
import zlib
from dataclasses import dataclass

from connectors.sources import SourceError
from envlake.kernel.settings import XLSX_MAX_BYTES, XLSX_MAX_ROWS

INFLATE_CHUNK = 1 << 20
ACCEPTED_COMPRESSION = (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED)


@dataclass(frozen=True)
class XlsxLimits:
    max_unzipped_bytes: int = XLSX_MAX_BYTES  # ENVLAKE_XLSX_MAX_BYTES: all parts together
    max_rows: int = XLSX_MAX_ROWS  # ENVLAKE_XLSX_MAX_ROWS: data rows below the header
    max_parts: int = 1_000  # a workbook has tens of parts; a zip of thousands is not an export


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def check_archive(blob: bytes, limits: XlsxLimits) -> None:
    """Refuse (SourceError) a file that is not a zip, or whose parts would expand past the limit."""
    if not zipfile.is_zipfile(io.BytesIO(blob)):
        raise SourceError("not an XLSX workbook: the file is not a zip archive (renamed from another format, "
                          "or truncated)")
    try:
        with zipfile.ZipFile(io.BytesIO(blob)) as archive:
            parts = archive.infolist()
            if len(parts) > limits.max_parts:
                raise SourceError(f"not an XLSX export: the archive holds {len(parts)} parts (limit "
                                  f"{limits.max_parts})")
            for part in parts:
                if part.compress_type not in ACCEPTED_COMPRESSION or part.flag_bits & 0x1:
                    raise SourceError(f"not an XLSX export: part {part.filename} is encrypted or compressed with "
                                      f"method {part.compress_type} (an XLSX is stored or deflated)")
            declared = sum(part.file_size for part in parts)
            if declared > limits.max_unzipped_bytes:
                raise SourceError(f"XLSX refused unopened: it declares {_mb(declared)} unzipped, above the limit of "
                                  f"{_mb(limits.max_unzipped_bytes)} (ENVLAKE_XLSX_MAX_BYTES)")
            _inflate_counting(archive, parts, limits)
    except SourceError:
        raise
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError, RuntimeError, ValueError) as exc:
        raise SourceError(f"not a readable XLSX workbook: damaged zip archive ({exc})") from exc


def _inflate_counting(archive: zipfile.ZipFile, parts: list[zipfile.ZipInfo], limits: XlsxLimits) -> None:
    """Inflate every part in chunks, counting, and drop the bytes: the CRC and the sizes are checked
    without ever holding more than a chunk."""
    total = 0
    for part in parts:
        held = 0
        with archive.open(part) as stream:
            while chunk := stream.read(INFLATE_CHUNK):
                held += len(chunk)
                total += len(chunk)
                if total > limits.max_unzipped_bytes:
                    raise SourceError(f"XLSX refused: it expands past the limit of "
                                      f"{_mb(limits.max_unzipped_bytes)} (ENVLAKE_XLSX_MAX_BYTES)")
        if held != part.file_size:
            raise SourceError(f"not a readable XLSX workbook: part {part.filename} declares {part.file_size} bytes "
                              f"but holds {held} (a damaged or crafted archive)")


def _cell_text(value: object) -> str | None:
    if value is None:
        return None
    return value.strftime("%Y-%m-%d %H:%M:%S") if hasattr(value, "strftime") else str(value)


def read_first_sheet(blob: bytes, limits: XlsxLimits) -> tuple[list[object], list[list[str | None]]]:
    """The first sheet's header cells and its columns as text, after ``check_archive``."""
    check_archive(blob, limits)
    import openpyxl

    try:
        book = openpyxl.load_workbook(io.BytesIO(blob), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many kinds on a damaged workbook; every one is a bad file
        raise SourceError(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    try:
        return _read_rows(book.worksheets[0], limits)
    except SourceError:
        raise
    except Exception as exc:
        raise SourceError(f"not a readable XLSX workbook ({type(exc).__name__}: {exc})") from exc
    finally:
        book.close()


def _read_rows(sheet, limits: XlsxLimits) -> tuple[list[object], list[list[str | None]]]:
    declared = sheet.max_row  # from the sheet's <dimension>, which may be absent or lie: rows are counted too
    if declared is not None and declared - 1 > limits.max_rows:
        raise SourceError(f"XLSX refused: its sheet declares {declared - 1} rows, above the limit of "
                          f"{limits.max_rows} (ENVLAKE_XLSX_MAX_ROWS)")
    sheet.reset_dimensions()  # else openpyxl stops at the declared last row and silently drops the rest
    rows = sheet.iter_rows(values_only=True)
    header = list(next(rows, None) or [])
    while header and header[-1] is None:
        header.pop()
    if not header:
        raise SourceError("the first sheet is empty: no header row")
    width = len(header)
    columns: list[list[str | None]] = [[] for _ in header]
    # Rows a sheet skips (<row r="1000000">) come back as empty rows: they count, so a tiny sheet cannot
    # make openpyxl hand out millions of them, but they hold nothing and are not records.
    for number, row in enumerate(rows, start=1):
        if number > limits.max_rows:
            raise SourceError(f"XLSX refused: its sheet has more than {limits.max_rows} rows "
                              f"(ENVLAKE_XLSX_MAX_ROWS)")
        if all(v is None for v in row):
            continue
        if any(v is not None for v in row[width:]):
            raise SourceError(f"row {number + 1} has values beyond the header's {width} columns")
        for i, column in enumerate(columns):
            column.append(_cell_text(row[i]) if i < len(row) else None)
    return header, columns
