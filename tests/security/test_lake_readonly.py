"""The read-only lake filesystem Superset's DuckDB connections read through (envlake/kernel/lake_readonly.py), and
their lock: real DuckDB, a local lake and one on an S3-compatible store (moto_server). No Superset here."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
from fsspec.implementations.local import LocalFileSystem

from envlake.kernel.lake_readonly import ReadOnlyLake, ReadOnlyRefused, check_locked, lock_down, uri
from tests.e2e.test_demo_s3 import BUCKET, object_store  # noqa: F401 - moto_server, shared

ROWS = 2_000_000


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    root = tmp_path / "lake"
    (root / "shared" / "t").mkdir(parents=True)
    (root / "_meta" / "audit" / "date=2026-01-01").mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"copy (select range as i, range % 13 as d from range({ROWS})) to '{root}/shared/t/part-0.parquet'")
    con.execute(f"copy (select 'x' as who) to '{root}/_meta/audit/date=2026-01-01/a.parquet'")
    con.close()
    (root / "secret.txt").write_text("not for readers\n")
    return root


def _catalog(tmp_path: Path, lake: Path) -> Path:
    path = tmp_path / "city.duckdb"
    con = duckdb.connect(str(path))
    con.register_filesystem(ReadOnlyLake(LocalFileSystem(), [str(lake)]))
    con.execute(f"create view t as select * from read_parquet(['{uri(str(lake))}/shared/t/part-0.parquet'])")
    con.execute(f"create view audit as select * from read_parquet('{uri(str(lake))}/_meta/audit/**/*.parquet', "
                "hive_partitioning = true)")
    con.close()
    return path


def _locked(tmp_path: Path, lake: Path) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(str(_catalog(tmp_path, lake)), read_only=True)
    lock_down(con, [str(lake / "shared"), str(lake / "_meta" / "audit")], LocalFileSystem())
    return con


def _files(root: Path) -> dict[str, tuple[int, int]]:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in root.rglob("*") if p.is_file()}


def test_parallel_reads_through_it_are_exact(tmp_path: Path, lake: Path) -> None:
    """DuckDB reads one handle from several threads (seek, then read): each read must get its own bytes."""
    con = _locked(tmp_path, lake)
    expected = ROWS * (ROWS - 1) // 2
    for _ in range(5):
        assert con.execute("select count(*), sum(i) from t").fetchone() == (ROWS, expected)
        assert con.execute("select sum(i) filter (where d = 6) from t").fetchone()[0] == \
            sum(range(6, ROWS, 13))
    assert con.execute("select who, date from audit").fetchall()[0][0] == "x"


def test_a_locked_connection_writes_no_file_and_cannot_be_unlocked(tmp_path: Path, lake: Path) -> None:
    con = _locked(tmp_path, lake)
    target = lake / "shared" / "t" / "part-0.parquet"
    outside = tmp_path / "escape"
    before = _files(tmp_path)
    for sql in (f"copy (select 5) to '{target}' (use_tmp_file false)",
                f"copy (select 5) to '{uri(str(target))}' (use_tmp_file false)",
                f"COPY (SELECT 5) TO '{uri(str(lake))}/shared/new.parquet'", f"copy (select 5) to '{outside}.csv'",
                f"copy t to '{uri(str(lake))}/shared/t/../t/part-1.parquet'",
                f"export database '{outside}'", f"export database '{uri(str(lake))}/shared/exported'",
                f"attach '{outside}.duckdb' as x", f"attach '{uri(str(target))}' as x", "install httpfs",
                "load httpfs", f"load '{outside}.duckdb_extension'", "create table z as select 1",
                "set enable_external_access = true", "set disabled_filesystems = ''", "reset disabled_filesystems",
                "set lock_configuration = false", f"set allowed_directories = ['{tmp_path}/']",
                f"set temp_directory = '{outside}'", f"set profile_output = '{outside}.json'",
                "pragma enable_profiling", "create persistent secret s (type s3, key_id 'a', secret 'b')",
                f"select * from read_csv('{lake}/secret.txt')",
                f"select * from read_csv('{uri(str(lake))}/secret.txt')",
                f"select * from read_csv('{uri(str(lake))}/shared/../secret.txt')",
                "select * from read_csv('/etc/passwd')",
                f"select * from read_parquet('{lake}/shared/t/part-0.parquet')"):
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()
    assert _files(tmp_path) == before
    check_locked(con, [str(lake / "shared"), str(lake / "_meta" / "audit")])


def test_an_unlocked_connection_fails_the_check(tmp_path: Path, lake: Path) -> None:
    con = duckdb.connect(str(_catalog(tmp_path, lake)), read_only=True)
    with pytest.raises(ReadOnlyRefused, match="enable_external_access"):
        check_locked(con, [str(lake / "shared")])
    con.close()
    con = duckdb.connect(str(tmp_path / "city.duckdb"), read_only=True)
    lock_down(con, [str(lake / "shared")])
    with pytest.raises(ReadOnlyRefused, match="allowed_directories"):  # locked, but to other folders
        check_locked(con, [str(lake)])


def test_it_opens_allowed_files_for_reading_only(tmp_path: Path, lake: Path) -> None:
    fs = ReadOnlyLake(LocalFileSystem(), [str(lake / "shared")])
    inside = f"{uri(str(lake))}/shared/t/part-0.parquet"
    with fs.open(inside, "rb") as fh:
        assert fh.read(4) == b"PAR1"
    (lake / "shared" / "link").symlink_to(lake / "secret.txt")
    for path in (f"{uri(str(lake))}/secret.txt", f"{uri(str(lake))}/shared/../secret.txt",
                 f"{uri(str(lake))}/shared/link", "lakero:///etc/passwd", f"{uri(str(lake))}/shared2/x",
                 "file:///etc/passwd"):
        with pytest.raises(ReadOnlyRefused):
            fs.open(path, "rb")
    for mode in ("wb", "ab", "r+b", "xb"):
        with pytest.raises(ReadOnlyRefused):
            fs.open(inside, mode)
    for call in (lambda: fs.rm(inside), lambda: fs.mv(inside, inside + ".x"), lambda: fs.mkdir(inside + "x"),
                 lambda: fs.touch(inside), lambda: fs.pipe(inside, b"x"), lambda: fs.cp_file(inside, inside + ".x"),
                 lambda: fs.put_file(__file__, inside), lambda: fs.get_file(inside, str(tmp_path / "copy"))):
        with pytest.raises(ReadOnlyRefused):
            call()
    assert (lake / "shared" / "t" / "part-0.parquet").stat().st_size > 0 and not (tmp_path / "copy").exists()


@pytest.mark.integration
def test_on_object_storage_reads_work_and_writes_do_not(tmp_path: Path, object_store: dict[str, str],  # noqa: F811
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from envlake.kernel.lake import s3_filesystem

    for key, value in object_store.items():
        monkeypatch.setenv(key, value)
    s3 = s3_filesystem()
    key = f"{BUCKET}/lake/shared/t/part-0.parquet"
    local = tmp_path / "part-0.parquet"
    duckdb.execute(f"copy (select range as i from range(300000)) to '{local}'")
    s3.put_file(str(local), key)
    catalog = tmp_path / "city.duckdb"
    con = duckdb.connect(str(catalog))
    con.register_filesystem(ReadOnlyLake(s3, [f"{BUCKET}/lake"]))
    con.execute(f"create view t as select * from read_parquet('{uri(key)}')")
    con.close()
    con = duckdb.connect(str(catalog), read_only=True)
    lock_down(con, [f"{BUCKET}/lake/shared"], s3)
    for _ in range(3):
        assert con.execute("select count(*), sum(i) from t").fetchone() == (300000, 300000 * 299999 // 2)
    etag = s3.info(key)["ETag"]
    for sql in (f"copy (select 5) to '{uri(key)}'", f"copy (select 5) to 's3://{key}'",
                f"copy (select 5) to '{uri(BUCKET)}/lake/shared/new.parquet'",
                f"select * from read_parquet('s3://{key}')", f"select * from read_parquet('{uri(BUCKET)}/other')"):
        with pytest.raises(duckdb.Error):
            con.execute(sql).fetchall()
    assert s3.info(key)["ETag"] == etag and s3.ls(f"{BUCKET}/lake/shared") == [f"{BUCKET}/lake/shared/t"]
