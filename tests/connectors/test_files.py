"""File drops: headers checked once per file, a file group parsed once, and every failure recorded."""

from pathlib import Path

import openpyxl
import pyarrow.compute as pc
import pytest

from connectors import files
from connectors.files import check_group_header, read_file
from connectors.ingest import BatchFailed, ingest, ingest_group
from connectors.sources import SourceError, failure_message
from envlake.kernel import load_log
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from tests.connectors.xlsx_craft import workbook

ZH = ["联单编号", "联单状态", "明细序号", "废物代码"]
ROW = ["20263301000000", "运输中", "1", "772-002-18"]


def csv_bytes(header: list[str], rows: list[list[str]], encoding: str = "utf-8") -> bytes:
    return "\n".join(",".join(r) for r in [header, *rows]).encode(encoding) + b"\n"


@pytest.mark.parametrize(("header", "expected"), [
    (["联单编号", "联单状态", "联单编号"], "duplicated header '联单编号' (columns 1 and 3)"),
    (["manifest_no", "status", "waste_code", "waste_code"], "duplicated header 'waste_code' (columns 3 and 4)"),
    ([" 联单编号", "联单编号 "], "duplicated header '联单编号' (columns 1 and 2)"),
])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_a_header_given_twice_fails_the_csv(header: list[str], expected: str, encoding: str) -> None:
    blob = csv_bytes(header, [["1"] * len(header)], encoding)
    with pytest.raises(SourceError) as caught:
        read_file(blob, "/drops/export.csv")
    assert str(caught.value) == f"cannot read /drops/export.csv: {expected}"


def test_a_header_given_twice_fails_the_xlsx() -> None:
    with pytest.raises(SourceError, match=r"duplicated header '废物代码' \(columns 4 and 5\)"):
        read_file(workbook([[*ZH, "废物代码"], [*ROW, "772-002-18"]]), "/drops/export.xlsx")


def test_chinese_and_english_names_of_one_field_are_a_duplicate_in_the_group() -> None:
    group = files.group_of(load_contract("waste_manifest"))
    with pytest.raises(SourceError, match=r"columns '联单编号' and 'manifest_no' are both waste_manifest\.manifest_no"):
        check_group_header(["联单编号", "联单状态", "manifest_no"], group, "/drops/export.csv")
    check_group_header(ZH, group, "/drops/export.csv")


def test_columns_without_a_header() -> None:
    table = read_file(csv_bytes([*ZH, ""], [[*ROW, ""]]), "x.csv")  # a trailing comma: nothing there
    assert table.column_names == ZH
    with pytest.raises(SourceError, match="column 5 has values but no header"):
        read_file(csv_bytes([*ZH, ""], [[*ROW, "surprise"]]), "x.csv")
    table = read_file(workbook([[*ZH, None, None], ROW]), "x.xlsx")  # formatted but empty cells
    assert table.column_names == ZH


@pytest.mark.parametrize(("blob", "expected"), [
    (b"", "the file is empty"),
    (b"\xff\xfe\x00\xd8\x00", "neither UTF-8 nor GB18030"),
    (csv_bytes(ZH, [ROW, ROW[:2]]), "Expected 4 columns, got 2"),
])
def test_unreadable_csv(blob: bytes, expected: str) -> None:
    with pytest.raises(SourceError, match=expected):
        read_file(blob, "x.csv")


def test_codes_keep_their_leading_zeros_and_gb18030_is_read() -> None:
    table = read_file(csv_bytes(["行政区划代码", "名称"], [["033010", "西湖区"]], "gb18030"), "x.csv")
    assert table.to_pylist() == [{"行政区划代码": "033010", "名称": "西湖区"}]


def test_a_quoted_value_over_two_lines_is_one_value() -> None:
    blob = '地址,"备注\n（内部）",NA\n"西湖区\n文三路 1 号",,033\n'.encode("gb18030")
    expected = {"地址": "西湖区\n文三路 1 号", "备注\n（内部）": None, "NA": "033"}
    assert read_file(blob, "x.csv").to_pylist() == [expected]


def test_a_file_group_is_parsed_once(env, tmp_path: Path, monkeypatch) -> None:
    opened = []
    real = openpyxl.load_workbook
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(1) or real(*a, **k))
    parsed = []
    real_read = files.read_file
    monkeypatch.setattr(files, "read_file", lambda *a, **k: parsed.append(1) or real_read(*a, **k))
    path = tmp_path / "export.xlsx"
    path.write_bytes(workbook([ZH, ROW]))
    records = ingest_group("waste_manifest", str(path))
    assert [r.dataset for r in records] == ["waste_manifest", "waste_manifest_item"]
    assert [r.status for r in records] == ["success", "success"]
    assert opened == [1] and parsed == [1]


def failed_rows(lake: Lake) -> list[dict]:
    log = load_log.read(lake)
    return log.filter(pc.equal(log["status"], "failed")).to_pylist()


def test_an_unexpected_exception_in_a_source_is_recorded(env, lake: Lake, tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "district.csv"
    path.write_text("district_code,name_zh\n330106,西湖区\n", encoding="utf-8")

    def broken(self, contracts, watermarks):
        raise ZeroDivisionError("a bug in a parser")

    monkeypatch.setattr(files.FileSource, "read_group", broken)
    with pytest.raises(BatchFailed) as caught:
        ingest("district", str(path))
    [row] = failed_rows(lake)
    assert row["message"] == str(caught.value) == f"district: cannot read {path}: ZeroDivisionError: a bug in a parser"
    assert row["source"].startswith(f"{path}#sha256:") and lake.files("raw") == []


@pytest.mark.parametrize(("url", "expected"), [
    ("ftp://example.org/district.csv", "cannot read 'ftp://example.org/district.csv': use an http(s)://"),
    ("/nowhere/district.csv", "cannot read /nowhere/district.csv: no such file"),
    ("{tmp}", "cannot read {tmp}: it is a folder, not a file"),
])
def test_an_unreadable_source_is_recorded(env, lake: Lake, tmp_path: Path, url: str, expected: str) -> None:
    url, expected = url.format(tmp=tmp_path), expected.format(tmp=tmp_path)
    with pytest.raises(BatchFailed) as caught:
        ingest("district", url)
    [row] = failed_rows(lake)
    assert row["dataset"] == "district" and row["message"] == str(caught.value)
    assert row["message"].startswith(f"district: {expected}")


def test_failure_messages_name_dataset_place_and_cause() -> None:
    assert failure_message("credit_rating", "sqlite:///x.db#env_credit_rating", TypeError("boom")) == \
        "credit_rating: cannot read sqlite:///x.db#env_credit_rating: TypeError: boom"
    assert failure_message("permit", "http://h/api/v1/permits",
                           SourceError("http://h/api/v1/permits failed after 3 attempts")) == \
        "permit: http://h/api/v1/permits failed after 3 attempts"
    long = failure_message("x", "f.csv#sha256:ab", SourceError("cannot read f.csv: " + "row\n" * 1000))
    assert "\n" not in long and len(long) < 600 and long.endswith("…")


def test_the_extension_is_read_whatever_its_case() -> None:
    with pytest.raises(SourceError, match=r"EXPORT\.XLSX: not an XLSX workbook: the file is not a zip archive"):
        read_file(csv_bytes(ZH, [ROW]), "/drops/EXPORT.XLSX")
