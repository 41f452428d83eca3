"""XLSX files built byte by byte for the tests: a real workbook's parts, a sheet of repeated rows
deflated without ever being held whole, and zip directories whose declared sizes can lie."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from dataclasses import dataclass
from xml.sax.saxutils import escape

import openpyxl

SHEET = "xl/worksheets/sheet1.xml"
MB = 2**20


@dataclass
class Part:
    name: str
    data: bytes  # as stored in the archive: raw deflate or the bytes themselves
    crc: int
    size: int  # what it holds unzipped
    declared: int | None = None  # what the directory says, when it lies
    method: int = zipfile.ZIP_DEFLATED


def _segment(raw: bytes, final: bool) -> bytes:
    """Raw deflate of ``raw``, ending in a full flush (state reset, byte-aligned) so that segments can be
    repeated and concatenated into one valid stream; the last one ends it."""
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(raw) + deflate.flush(zlib.Z_FINISH if final else zlib.Z_FULL_FLUSH)


def deflated(name: str, raw: bytes) -> Part:
    return Part(name, _segment(raw, final=True), zlib.crc32(raw), len(raw))


def workbook(rows: list[list[object]]) -> bytes:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def workbook_parts(rows: list[list[object]]) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(workbook(rows))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def row_xml(values: list[object]) -> bytes:
    cells = "".join(f'<c t="inlineStr"><is><t>{escape(str(v))}</t></is></c>' for v in values)
    return f"<row>{cells}</row>".encode()


def repeated_sheet(header: list[object], row: list[object], megabytes: int) -> Part:
    """A sheet whose XML is the header and then ``row`` repeated to about ``megabytes`` MB, deflated
    from one compressed megabyte repeated: a few hundred KB in the archive."""
    sheet = workbook_parts([header])[SHEET]
    head, tail = sheet.split(b"</sheetData>")
    unit = row_xml(row)
    chunk = unit * (MB // len(unit))
    data = _segment(head, False) + _segment(chunk, False) * megabytes + _segment(b"</sheetData>" + tail, True)
    crc = zlib.crc32(head)
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    crc = zlib.crc32(b"</sheetData>" + tail, crc)
    return Part(SHEET, data, crc, len(head) + len(chunk) * megabytes + len(tail) + len(b"</sheetData>"))


def zip_of(parts: list[Part]) -> bytes:
    """A zip archive written by hand, so that its local headers and directory say what the test wants."""
    out = io.BytesIO()
    directory = []
    for part in parts:
        offset = out.tell()
        size = part.size if part.declared is None else part.declared
        name = part.name.encode()
        out.write(struct.pack("<4s5H3I2H", b"PK\x03\x04", 20, 0, part.method, 0, 0x21, part.crc, len(part.data),
                              size, len(name), 0) + name + part.data)
        directory.append(struct.pack("<4s6H3I5H2I", b"PK\x01\x02", 20, 20, 0, part.method, 0, 0x21, part.crc,
                                     len(part.data), size, len(name), 0, 0, 0, 0, 0, offset) + name)
    start = out.tell()
    central = b"".join(directory)
    out.write(central + struct.pack("<4s4H2IH", b"PK\x05\x06", 0, 0, len(parts), len(parts), len(central), start, 0))
    return out.getvalue()


def xlsx_with_sheet(header: list[object], sheet: Part) -> bytes:
    """A real workbook's parts around a crafted first sheet."""
    parts = [deflated(name, raw) for name, raw in workbook_parts([header]).items() if name != SHEET]
    return zip_of([*parts, sheet])


def bomb(header: list[object], row: list[object], megabytes: int = 300, declared: int | None = None) -> bytes:
    """An XLSX of a few hundred KB whose sheet unzips to ``megabytes`` MB; its directory may lie."""
    sheet = repeated_sheet(header, row, megabytes)
    sheet.declared = declared
    return xlsx_with_sheet(header, sheet)


def sheet_xml_part(header: list[object], body: bytes) -> Part:
    """A sheet with the header row and then ``body`` (raw row XML) as its data."""
    head, tail = workbook_parts([header])[SHEET].split(b"</sheetData>")
    return deflated(SHEET, head + body + b"</sheetData>" + tail)
