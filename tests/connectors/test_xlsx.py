"""An XLSX is checked before openpyxl opens it, and its rows are counted while it is read."""

import io
import tracemalloc
import zipfile

import pytest

from connectors.sources import SourceError
from connectors.xlsx import XlsxLimits, _inflate_counting, read_first_sheet
from tests.connectors.xlsx_craft import (
    MB,
    SHEET,
    Part,
    bomb,
    deflated,
    row_xml,
    sheet_xml_part,
    workbook,
    xlsx_with_sheet,
    zip_of,
)

HEADER = ["联单编号", "废物代码"]
ROW = ["20263301000000", "772-002-18"]
SMALL = XlsxLimits(max_unzipped_bytes=4 * MB, max_rows=1_000)


def refused(blob: bytes, limits: XlsxLimits = SMALL) -> str:
    with pytest.raises(SourceError) as caught:
        read_first_sheet(blob, limits)
    return str(caught.value)


def test_a_good_workbook_reads_as_text() -> None:
    header, columns = read_first_sheet(workbook([HEADER, ROW, ["20263301000001", None]]), SMALL)
    assert header == HEADER
    assert columns == [["20263301000000", "20263301000001"], ["772-002-18", None]]


@pytest.mark.parametrize("blob", [
    b"",
    "联单编号,废物代码\n20263301000000,772-002-18\n".encode("gb18030"),  # a CSV saved as .xlsx
    b"%PDF-1.7\n" + b"\x00" * 100,
    workbook([HEADER, ROW])[:-200],  # truncated: no central directory at the end
    workbook([HEADER, ROW])[: len(workbook([HEADER, ROW])) // 2],
], ids=["empty", "csv", "pdf", "truncated-tail", "truncated-half"])
def test_not_a_zip_is_refused_before_opening(blob: bytes) -> None:
    assert "not a zip archive" in refused(blob)


def test_a_zip_that_is_not_a_workbook() -> None:
    assert "not a readable XLSX workbook" in refused(zip_of([deflated("notes.txt", b"hello")]))


def test_a_damaged_deflate_stream() -> None:
    sheet = sheet_xml_part(HEADER, row_xml(ROW) * 50)
    sheet.data = sheet.data[:10] + bytes(b ^ 0xFF for b in sheet.data[10:40]) + sheet.data[40:]
    assert "damaged zip archive" in refused(xlsx_with_sheet(HEADER, sheet))


def test_declared_size_above_the_limit_is_refused_unopened(monkeypatch) -> None:
    blob = bomb(HEADER, ROW, megabytes=8)
    opened = []
    monkeypatch.setattr(zipfile.ZipFile, "open", lambda *a, **k: opened.append(a) or pytest.fail("inflated"))
    message = refused(blob, SMALL)
    assert "declares 8.0 MB unzipped, above the limit of 4.0 MB" in message and "ENVLAKE_XLSX_MAX_BYTES" in message
    assert opened == []


@pytest.mark.parametrize("declared", [1_000, 60 * MB, 20 * MB])
def test_a_directory_that_lies_about_sizes_is_caught_inflating(declared: int) -> None:
    """Declared small (the real sheet is 80 MB) or large (it is 1 MB): either is found while inflating,
    with never more than a chunk or two in memory."""
    megabytes = 80 if declared < 80 * MB else 1
    limits = XlsxLimits(max_unzipped_bytes=64 * MB, max_rows=1_000_000)
    tracemalloc.start()
    try:
        message = refused(bomb(HEADER, ROW, megabytes=megabytes, declared=declared), limits)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert "damaged" in message or "declares" in message
    assert peak < 8 * MB


def test_the_stream_is_capped_even_when_sizes_are_believed() -> None:
    """The running count stops inflation at the limit, whatever the directory said."""
    blob = bomb(HEADER, ROW, megabytes=8)
    with zipfile.ZipFile(io.BytesIO(blob)) as archive, pytest.raises(SourceError, match="expands past the limit"):
        _inflate_counting(archive, archive.infolist(), XlsxLimits(max_unzipped_bytes=2 * MB))


def test_compression_other_than_deflate_and_encryption_are_refused() -> None:
    bz2 = Part(SHEET, b"BZh9", 0, 10, method=zipfile.ZIP_BZIP2)
    assert "method 12" in refused(xlsx_with_sheet(HEADER, bz2))
    encrypted = deflated(SHEET, b"<worksheet/>")
    blob = bytearray(zip_of([encrypted]))
    directory = blob.index(b"PK\x01\x02")
    blob[directory + 8] |= 0x1  # the directory's "encrypted" flag
    assert "encrypted" in refused(bytes(blob))


def test_too_many_parts() -> None:
    parts = [deflated(f"xl/media/{i}.bin", b"x") for i in range(30)]
    assert "30 parts" in refused(zip_of(parts), XlsxLimits(max_parts=20))


def test_rows_are_counted_against_the_limit() -> None:
    blob = workbook([HEADER, *[ROW] * 30])
    assert "declares 30 rows, above the limit of 20" in refused(blob, XlsxLimits(max_rows=20))
    assert len(read_first_sheet(blob, XlsxLimits(max_rows=30))[1][0]) == 30


def test_a_sheet_without_a_dimension_is_counted_while_read() -> None:
    sheet = sheet_xml_part(HEADER, row_xml(ROW) * 50)
    raw = zipfile.ZipFile(io.BytesIO(xlsx_with_sheet(HEADER, sheet))).read(SHEET)
    assert b'<dimension ref="A1:B1" />' in raw  # the header's workbook: it understates the rows
    raw = raw.replace(b'<dimension ref="A1:B1" />', b"")
    assert "more than 20 rows" in refused(xlsx_with_sheet(HEADER, deflated(SHEET, raw)), XlsxLimits(max_rows=20))


def test_a_row_far_below_is_not_millions_of_empty_rows() -> None:
    """<row r="900000000"> makes openpyxl hand out the missing rows as empty ones: they are counted."""
    sheet = sheet_xml_part(HEADER, b'<row r="900000000"><c t="inlineStr"><is><t>x</t></is></c></row>')
    tracemalloc.start()
    try:
        assert "more than 1000 rows" in refused(xlsx_with_sheet(HEADER, sheet))
        assert tracemalloc.get_traced_memory()[1] < 8 * MB
    finally:
        tracemalloc.stop()


def test_a_dimension_that_understates_the_rows_loses_none() -> None:
    """openpyxl stops at the declared last row; the reader ignores the declaration and reads them all."""
    sheet = sheet_xml_part(HEADER, row_xml(ROW) * 25)
    header, columns = read_first_sheet(xlsx_with_sheet(HEADER, sheet), SMALL)
    assert header == HEADER and len(columns[0]) == 25


def test_empty_rows_are_skipped_and_values_beyond_the_header_refused() -> None:
    columns = read_first_sheet(workbook([HEADER, ROW, [None, None], ROW]), SMALL)[1]
    assert len(columns[0]) == 2
    assert "row 3 has values beyond the header's 2 columns" in refused(workbook([HEADER, ROW, [*ROW, "extra"]]))


def test_entity_expansion_in_the_sheet_is_refused() -> None:
    """A billion-laughs sheet: expat's amplification limit stops it; it is a bad file, not a crash."""
    entities = '<!ENTITY a "aaaaaaaaaa">' + "".join(
        f'<!ENTITY {chr(98 + i)} "{("&" + chr(97 + i) + ";") * 10}">' for i in range(8))
    xml = (f'<?xml version="1.0"?><!DOCTYPE worksheet [{entities}]>'
           '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
           '<row><c t="inlineStr"><is><t>&i;</t></is></c></row></sheetData></worksheet>').encode()
    message = refused(xlsx_with_sheet(HEADER, deflated(SHEET, xml)))
    assert "not a readable XLSX workbook" in message


def test_an_empty_sheet_has_no_header() -> None:
    assert "no header row" in refused(workbook([]))
