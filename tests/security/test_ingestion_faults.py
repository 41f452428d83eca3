"""Issue 17: the ingestion faults a tester found, end to end through `envlake ingest`.

Each failed batch leaves a `failed` load-log row per dataset whose message names the dataset, the
file or table and the cause; the CLI prints exactly that message; raw/ and quarantine/ hold nothing of
the batch, for every dataset of a file group. A value of the wrong type in a credit table quarantines
its row and the rest land: rows in = landed + quarantined.
"""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import tracemalloc
import zipfile
from datetime import date
from pathlib import Path

import openpyxl
import pyarrow.compute as pc
import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from connectors.waste_drops import drop_folder, ingest_drops
from envlake.cli.main import app
from envlake.kernel import load_log
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from envlake.simulators import credit_db
from envlake.simulators.departments import departments
from envlake.simulators.waste import export_rows, headers
from tests.conftest import SEED, START
from tests.connectors.xlsx_craft import MB, bomb, deflated, sheet_xml_part, workbook, xlsx_with_sheet, zip_of

GROUP = ["waste_manifest", "waste_manifest_item"]
ZH = headers()
EN = {f.name_zh: f.name for d in GROUP for f in load_contract(d).fields}


@pytest.fixture(scope="module")
def export() -> list[list[object]]:
    """A day's waste export, twelve rows, as the header's values in order."""
    rows = export_rows(departments(SEED, START).permits, SEED, date.fromisoformat(START), 0)[:12]
    return [[r.get(h) for h in ZH] for r in rows]


def envlake(*args: str):
    return CliRunner().invoke(app, list(args))


def rows_of(lake: Lake, status: str) -> list[dict]:
    log = load_log.read(lake)
    return log.filter(pc.equal(log["status"], status)).to_pylist()


def assert_failed_whole(result, lake: Lake, datasets: list[str], *named: str) -> list[dict]:
    """One failed row per dataset, naming it, the file or table and the cause; the CLI said the same;
    no file of any of them in raw/ or quarantine/; nothing landed."""
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.stderr
    failed = rows_of(lake, "failed")
    assert sorted(r["dataset"] for r in failed) == sorted(datasets)
    assert rows_of(lake, "success") == []
    for row in failed:
        message = row["message"]
        assert message.startswith(f"{row['dataset']}: ") and "\n" not in message
        assert all(part in message for part in named), (message, named)
        assert message in result.stderr  # what the user reads is what the load log holds
        assert row["rows_in"] == row["rows_landed"] == row["rows_quarantined"] == 0
    assert "recorded as failed in the load log" in result.stderr
    for zone in ("raw", "quarantine"):
        assert lake.files(zone) == [] and lake.files(zone, suffix=".inflight") == []
    return failed


def write_csv(path: Path, header: list[str], rows: list[list[object]], encoding: str = "gb18030") -> Path:
    with path.open("w", newline="", encoding=encoding) as fh:
        out = csv.writer(fh)
        out.writerow(header)
        out.writerows(["" if v is None else v for v in row] for row in rows)
    return path


# --- a manifest file with a duplicated header --------------------------------------------------------------

def with_column_again(rows: list[list[object]], header: list[str], name: str) -> tuple[list[str], list[list]]:
    i = header.index(name)
    return [*header, name], [[*row, row[i]] for row in rows]


DUPLICATES = {
    # name: (header names, repeated column, how it is written)
    "zh-manifest-column-gb18030": (ZH, "联单编号", "gb18030"),
    "zh-item-column-gb18030": (ZH, "废物代码", "gb18030"),
    "en-item-column-utf8": ([EN[h] for h in ZH], "waste_code", "utf-8"),
    "en-manifest-column-utf8-bom": ([EN[h] for h in ZH], "manifest_no", "utf-8-sig"),
    "zh-xlsx": (ZH, "移出量", "xlsx"),
    "en-xlsx": ([EN[h] for h in ZH], "status", "xlsx"),
}


@pytest.mark.parametrize("variant", DUPLICATES)
@pytest.mark.parametrize("named", GROUP)
def test_a_duplicated_header_fails_the_whole_file_group(env, lake: Lake, tmp_path: Path, export, variant: str,
                                                       named: str) -> None:
    """Named by either dataset of the group, the file fails both before either lands."""
    names, repeated, kind = DUPLICATES[variant]
    header, rows = with_column_again(export, names, repeated)
    if kind == "xlsx":
        path = tmp_path / "manifests_20260101.xlsx"
        path.write_bytes(workbook([header, *rows]))
    else:
        path = write_csv(tmp_path / "manifests_20260101.csv", header, rows, kind)
    result = envlake("ingest", named, "--from", str(path))
    position = names.index(repeated) + 1
    assert_failed_whole(result, lake, GROUP, str(path),
                        f"duplicated header '{repeated}' (columns {position} and {len(header)})")


def test_chinese_and_english_names_of_one_field_fail_the_group(env, lake: Lake, tmp_path: Path, export) -> None:
    header = [*ZH, "manifest_no"]
    rows = [[*row, row[0]] for row in export]
    path = write_csv(tmp_path / "manifests.csv", header, rows)
    result = envlake("ingest", "waste_manifest", "--from", str(path))
    assert_failed_whole(result, lake, GROUP, str(path), "columns '联单编号' and 'manifest_no' are both")


def test_a_bad_drop_does_not_hold_back_the_next(env, lake: Lake, export) -> None:
    folder = drop_folder(env)
    folder.mkdir(parents=True)
    header, rows = with_column_again(export, ZH, "联单编号")
    bad = write_csv(folder / "manifests_20260101.csv", header, rows)
    good = write_csv(folder / "manifests_20260102.csv", ZH, export)
    with pytest.raises(Exception, match="duplicated header") as caught:
        ingest_drops(settings=env)
    assert sorted(r.dataset for r in caught.value.records) == GROUP
    assert bad.exists() and not good.exists() and (folder / "archive" / good.name).exists()
    assert sorted(r["dataset"] for r in rows_of(lake, "success")) == GROUP
    assert all(str(bad) in r["message"] for r in rows_of(lake, "failed"))


# --- an .xlsx that is not a readable zip -----------------------------------------------------------------

def not_zip_variants(export: list[list[object]]) -> dict[str, tuple[bytes, str]]:
    good = workbook([ZH, *export])
    lying = sheet_xml_part(ZH, b"")
    lying.declared = lying.size * 3  # the directory says more than the sheet holds
    damaged = sheet_xml_part(ZH, b"<row/>" * 2000)
    damaged.data = damaged.data[:20] + bytes(b ^ 0x5A for b in damaged.data[20:60]) + damaged.data[60:]
    text = io.StringIO()
    csv.writer(text).writerows([ZH, *export])
    return {
        "csv-renamed": (text.getvalue().encode("gb18030"), "not a zip archive"),
        "empty": (b"", "not a zip archive"),
        "html-error-page": ("<html><body>会话已过期</body></html>".encode(), "not a zip archive"),
        "truncated-half": (good[: len(good) // 2], "not a zip archive"),
        "truncated-tail": (good[:-1], "not a zip archive"),
        "declared-size-lies": (xlsx_with_sheet(ZH, lying), "declares"),
        "damaged-deflate": (xlsx_with_sheet(ZH, damaged), "damaged zip archive"),
        "zip-without-workbook": (zip_of([deflated("readme.txt", "这不是工作簿".encode())]),
                                 "not a readable XLSX workbook"),
    }


@pytest.mark.parametrize("variant", ["csv-renamed", "empty", "html-error-page", "truncated-half", "truncated-tail",
                                     "declared-size-lies", "damaged-deflate", "zip-without-workbook"])
def test_an_xlsx_that_is_not_a_workbook_fails_the_group(env, lake: Lake, tmp_path: Path, export,
                                                         variant: str) -> None:
    blob, cause = not_zip_variants(export)[variant]
    path = tmp_path / "manifests_20260101.xlsx"
    path.write_bytes(blob)
    result = envlake("ingest", "waste_manifest", "--from", str(path))
    assert "BadZipFile" not in result.stderr or "damaged zip archive" in result.stderr
    assert_failed_whole(result, lake, GROUP, str(path), cause)


# --- an XLSX that expands a thousandfold -----------------------------------------------------------------

@pytest.mark.parametrize(("declared", "cause"), [
    (None, "MB unzipped, above the limit of 256.0 MB"),  # the directory tells the truth
    (4_096, "damaged zip archive"),  # the directory lies: inflation stops at what it declared
    (200 * MB, "damaged zip archive"),  # a lie within the limit: inflated, counted, dropped, refused
])
def test_a_zip_bomb_is_refused_without_being_inflated(env, lake: Lake, tmp_path: Path, export, monkeypatch,
                                                      declared: int | None, cause: str) -> None:
    """A 1 MB XLSX whose sheet unzips to 300 MB, with the default limits: refused before openpyxl opens it,
    inflating at most what the directory declares, in bounded memory (chunks of the sheet, never all of it)."""
    blob = bomb(ZH, export[0], megabytes=300, declared=declared)
    assert len(blob) < 2 * MB
    path = tmp_path / "manifests_20260101.xlsx"
    path.write_bytes(blob)
    opened = []
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(a) or pytest.fail("parsed"))
    inflated = []
    read = zipfile.ZipExtFile.read
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda self, n=-1: inflated.append(len(chunk := read(self, n)))
                        or chunk)
    traced = declared == 4_096  # tracemalloc slows a run fourfold: the memory bound of a long inflation is
    # tests/connectors/test_xlsx.py's, around the check alone
    if traced:
        tracemalloc.start()
    try:
        result = envlake("ingest", "waste_manifest", "--from", str(path))
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
    finally:
        tracemalloc.stop()
    assert_failed_whole(result, lake, GROUP, str(path), cause)
    assert opened == []
    assert sum(inflated) <= (declared or 0) + 64 * 1024  # the workbook's other parts are a few KB
    assert peak < 32 * MB, f"{peak / MB:.0f} MB held to refuse a 300 MB sheet"


def test_rows_beyond_the_limit_are_refused(env, lake: Lake, tmp_path: Path, export, monkeypatch) -> None:
    monkeypatch.setenv("ENVLAKE_XLSX_MAX_ROWS", "10")
    path = tmp_path / "manifests.xlsx"
    path.write_bytes(workbook([ZH, *export]))
    result = envlake("ingest", "waste_manifest", "--from", str(path))
    assert_failed_whole(result, lake, GROUP, str(path), "12 rows, above the limit of 10", "ENVLAKE_XLSX_MAX_ROWS")


def test_a_sheet_that_skips_to_row_a_billion_is_refused(env, lake: Lake, tmp_path: Path) -> None:
    sheet = sheet_xml_part(ZH, b'<row r="1000000000"><c t="inlineStr"><is><t>x</t></is></c></row>')
    path = tmp_path / "manifests.xlsx"
    path.write_bytes(xlsx_with_sheet(ZH, sheet))
    result = envlake("ingest", "waste_manifest", "--from", str(path))
    assert_failed_whole(result, lake, GROUP, str(path), "more than 500000 rows")


def test_an_xlsx_under_the_limits_is_parsed_once_for_its_group(env, lake: Lake, tmp_path: Path, export,
                                                               monkeypatch) -> None:
    opened = []
    real = openpyxl.load_workbook
    monkeypatch.setattr(openpyxl, "load_workbook", lambda *a, **k: opened.append(1) or real(*a, **k))
    path = tmp_path / "manifests.xlsx"
    path.write_bytes(workbook([ZH, *export]))
    result = envlake("ingest", "waste_manifest", "--from", str(path), "--json")
    assert result.exit_code == 0, result.stderr
    assert opened == [1]
    assert sorted(r["dataset"] for r in rows_of(lake, "success")) == GROUP


# --- a credit table whose column types are wrong ---------------------------------------------------------

GOOD = dict(rating_id="CR2026000001", credit_code="91330100799655058B", enterprise_name="杭州甲印染有限公司",
            district_code="330109", rating_year=2025, grade="蓝色", score=84.5, rating_date="2026-06-28",
            evaluating_authority="杭州市生态环境局", valid_from="2026-06-29", valid_to="2027-06-30",
            repair_status="无需修复", updated_at="2026-06-28 10:00:00")
# A value of the wrong type per row, and the rule it must be quarantined under.
WRONG = [("rating_year", "二〇二五"), ("score", "high"), ("rating_date", 20260628), ("valid_to", "明年"),
         ("updated_at", "yesterday")]
EXPECTED_REASONS = {f"credit_rating.{field}.type": 1 for field, _ in WRONG}


def credit_rows() -> list[dict]:
    rows = [dict(GOOD, rating_id=f"CR20260000{i:02d}", updated_at=f"2026-06-28 10:{i:02d}:00") for i in range(1, 5)]
    for i, (field, value) in enumerate(WRONG, start=5):
        rows.append({**GOOD, "rating_id": f"CR20260000{i:02d}", "updated_at": f"2026-06-28 10:{i:02d}:00",
                     field: value})
    return rows


def check_credit_feed_keeps_going(url: str, lake: Lake) -> None:
    result = envlake("ingest", "credit_rating", "--from", url, "--json")
    assert result.exit_code == 0, result.stderr
    log = rows_of(lake, "success")
    assert len(log) == 1 and rows_of(lake, "failed") == []
    record = log[0]
    assert (record["rows_in"], record["rows_landed"], record["rows_quarantined"]) == (9, 4, 5)
    assert record["rows_in"] == record["rows_landed"] + record["rows_quarantined"]
    assert json.loads(record["quarantine_reasons"]) == EXPECTED_REASONS
    quarantined = lake.read_table("quarantine", "credit_rating").sort_by("rating_id").to_pylist()
    assert [r["_rule_id"] for r in quarantined] == [f"credit_rating.{f}.type" for f, _ in WRONG]
    assert all("cannot be read as" in r["_reason"] for r in quarantined)
    assert lake.read_table("raw", "credit_rating").num_rows == 4


def test_sqlite_credit_table_with_values_of_the_wrong_type(env, lake: Lake, tmp_path: Path, monkeypatch) -> None:
    """SQLite keeps any value in any column: an integer in a DATE column made SQLAlchemy raise a
    TypeError that stopped the feed. Batches of two rows: the types differ between batches too."""
    monkeypatch.setenv("ENVLAKE_SQL_BATCH_ROWS", "2")
    path = tmp_path / "credit.sqlite"
    url = f"sqlite:///{path}"
    engine = sa.create_engine(url)
    credit_db.table_definition(sa.MetaData()).create(engine)
    engine.dispose()
    with sqlite3.connect(path) as con:  # below SQLAlchemy's types, as another program writes the table
        rows = credit_rows()
        con.executemany(f"INSERT INTO env_credit_rating ({', '.join(GOOD)}) VALUES ({', '.join('?' * len(GOOD))})",
                        [tuple(r.values()) for r in rows])
        con.execute("UPDATE env_credit_rating SET valid_to = X'FF00' WHERE rating_id = 'CR2026000008'")  # bytes
    check_credit_feed_keeps_going(url, lake)


def create_wrongly_typed_table(url: str, text: str, integer: str) -> None:
    """The rating table as a careless export made it: numbers and times as text, a date as an integer."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(f"""
            CREATE TABLE env_credit_rating (
              rating_id varchar(16) PRIMARY KEY, credit_code varchar(18), enterprise_name {text} NOT NULL,
              district_code varchar(6), rating_year {text}, grade {text}, score {text}, rating_date {text},
              evaluating_authority {text}, valid_from date, valid_to {text}, repair_status {text},
              updated_at {text}, rating_day {integer})"""))
        rows = credit_rows()
        for row in rows:
            row["rating_day"] = 20260628
        conn.execute(sa.text(f"INSERT INTO env_credit_rating ({', '.join(rows[0])}) "
                             f"VALUES ({', '.join(':' + k for k in rows[0])})"),
                     [{k: (None if v is None else (v if k in ('rating_day', 'valid_from') else str(v)))
                       for k, v in r.items()} for r in rows])
    engine.dispose()


@pytest.mark.integration
def test_postgresql_credit_table_with_columns_of_the_wrong_type(env, lake: Lake, postgres_url: str) -> None:
    create_wrongly_typed_table(postgres_url, "text", "integer")
    check_credit_feed_keeps_going(postgres_url, lake)
    # the next run reads from the watermark, compared as text on a text column (a time compared with text
    # is an error in PostgreSQL)
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE env_credit_rating SET updated_at = '2026-07-01 09:00:00', grade = '绿色' "
                             "WHERE rating_id = 'CR2026000001'"))
    engine.dispose()
    again = envlake("ingest", "credit_rating", "--from", postgres_url, "--json")
    assert again.exit_code == 0, again.stderr
    second = rows_of(lake, "success")[-1]
    assert second["rows_written"] == 1 and second["rows_in"] == second["rows_landed"] + second["rows_quarantined"]


@pytest.mark.integration
def test_mariadb_credit_table_with_columns_of_the_wrong_type(env, lake: Lake, mariadb_url: str) -> None:
    create_wrongly_typed_table(mariadb_url, "varchar(100)", "int")
    check_credit_feed_keeps_going(mariadb_url, lake)


# --- a source that cannot be read at all -----------------------------------------------------------------

def test_a_missing_credit_table_is_recorded_and_said(env, lake: Lake, tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    sa.create_engine(url).connect().close()
    result = envlake("ingest", "credit_rating", "--from", url)
    assert_failed_whole(result, lake, ["credit_rating"], "table 'env_credit_rating' does not exist", url)


@pytest.mark.integration
def test_an_unreachable_database_is_recorded_and_said(env, lake: Lake) -> None:
    from tests.conftest import free_port

    port = free_port()
    result = envlake("ingest", "credit_rating", "--from", f"postgresql://postgres@127.0.0.1:{port}/credit")
    assert_failed_whole(result, lake, ["credit_rating"], f"127.0.0.1:{port}/credit#env_credit_rating")


def test_an_unexpected_exception_in_a_source_is_recorded_and_said(env, lake: Lake, tmp_path: Path,
                                                                  monkeypatch) -> None:
    url = f"sqlite:///{tmp_path / 'credit.sqlite'}"
    credit_db.sync(url, 0, SEED, START)

    def broken(self, contract, watermark):
        raise KeyError("updated_at")

    monkeypatch.setattr("connectors.sql_table.SqlTableSource.read", broken)
    result = envlake("ingest", "credit_rating", "--from", url)
    assert_failed_whole(result, lake, ["credit_rating"], f"{url}#env_credit_rating", "KeyError: 'updated_at'")


def test_a_file_that_is_not_there(env, lake: Lake, tmp_path: Path) -> None:
    path = tmp_path / "manifests.xlsx"
    result = envlake("ingest", "waste_manifest", "--from", str(path))
    assert_failed_whole(result, lake, GROUP, str(path), "no such file")


def test_a_storage_failure_in_the_second_dataset_lands_neither(env, lake: Lake, tmp_path: Path, export,
                                                               monkeypatch) -> None:
    """The file parses, the manifests are written, then writing the items fails: one transaction holds both,
    so neither lands and both say so."""
    path = write_csv(tmp_path / "manifests_20260101.csv", ZH, export)
    write = __import__("connectors.writer", fromlist=["LakeWriter"]).LakeWriter._write

    def full_disk_for_items(self, target: str, table) -> None:
        if "/waste_manifest_item/" in target:
            raise OSError(28, "No space left on device")
        write(self, target, table)

    monkeypatch.setattr("connectors.writer.LakeWriter._write", full_disk_for_items)
    result = envlake("ingest", "waste_manifest", "--from", str(path))
    failed = assert_failed_whole(result, lake, GROUP, str(path))
    by_dataset = {r["dataset"]: r["message"] for r in failed}
    assert "No space left on device" in by_dataset["waste_manifest_item"]
    assert "rolled back with its transaction" in by_dataset["waste_manifest"]
