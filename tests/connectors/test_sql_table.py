import json
import subprocess
import sys

import pytest
import sqlalchemy as sa

from connectors.ingest import ingest
from connectors.sources import SourceError
from envlake.kernel.lake import Lake
from envlake.simulators import credit_db
from envlake.simulators.departments import departments
from tests.conftest import SEED, START


def check_incremental(url: str, lake: Lake) -> None:
    credit_db.sync(url, 0, SEED, START)
    first = ingest("credit_rating", url)
    total = len(departments(SEED, START).credit.records(0))
    assert first.rows_in == total
    assert first.rows_landed + first.rows_quarantined == total
    assert {"credit_rating.credit_code.checksum", "credit_rating.credit_code.not_null"} == set(
        first.quarantine_reasons)
    credit_db.sync(url, 40, SEED, START)
    second = ingest("credit_rating", url)
    assert second.watermark_before == first.watermark_after
    assert 0 < second.rows_in < total / 10  # only rows at or after the watermark are read
    assert second.rows_written > 0
    raw = lake.read_table("raw", "credit_rating")
    assert raw.num_rows == first.rows_landed + second.rows_written


def test_sqlite_incremental(env, lake: Lake, tmp_path) -> None:
    check_incremental(f"sqlite:///{tmp_path / 'credit.sqlite'}", lake)


@pytest.mark.integration
def test_postgresql_incremental(env, lake: Lake, postgres_url: str) -> None:
    check_incremental(postgres_url, lake)


@pytest.mark.integration
def test_mariadb_incremental(env, lake: Lake, mariadb_url: str) -> None:
    check_incremental(mariadb_url, lake)


def test_missing_table_is_a_clear_error(env, lake: Lake, tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.sqlite'}"
    sa.create_engine(url).connect().close()
    with pytest.raises(SourceError, match="table 'env_credit_rating' does not exist"):
        ingest("credit_rating", url)
    assert lake.read_table("raw", "credit_rating") is None


@pytest.mark.integration
def test_cli_lands_a_postgresql_table_it_has_never_seen(env, lake: Lake, postgres_url: str) -> None:
    """Acceptance: `envlake ingest credit_rating --from postgresql://…` on a table created by hand."""
    engine = sa.create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(sa.text("""
            CREATE TABLE env_credit_rating (
              rating_id varchar(16) PRIMARY KEY, credit_code varchar(18), enterprise_name text NOT NULL,
              district_code varchar(6), rating_year int, grade text, score numeric(5,1), rating_date date,
              evaluating_authority text, valid_from date, valid_to date, repair_status text,
              updated_at timestamp, remark text)"""))
        conn.execute(sa.text("""
            INSERT INTO env_credit_rating VALUES
            ('CR2026000001','91330100799655058B','杭州甲印染有限公司','330109',2025,'蓝色',84.5,'2026-06-28',
             '杭州市生态环境局','2026-06-29','2027-06-30','无需修复','2026-06-28 10:00:00','首次评价'),
            ('CR2026000002','91330000733796106P','杭州乙化工有限公司','330114',2025,'黄色',70.0,'2026-06-28',
             '杭州市生态环境局','2026-06-29','2027-06-30','修复申请中','2026-07-02 15:30:00',NULL),
            ('CR2026000003','91330100799655058C','杭州丙纸业有限公司','330111',2025,'绿色',95.0,'2026-06-28',
             '杭州市生态环境局','2026-06-29','2027-06-30','无需修复','2026-06-28 10:00:00',NULL)"""))
    engine.dispose()
    out = subprocess.run([sys.executable, "-m", "envlake.cli.main", "ingest", "credit_rating", "--from", postgres_url,
                          "--json"], capture_output=True, text=True, check=True)
    summary = json.loads(out.stdout)
    assert (summary["rows_in"], summary["rows_landed"], summary["rows_quarantined"]) == (3, 2, 1)
    assert summary["quarantine_reasons"] == {"credit_rating.credit_code.checksum": 1}
    assert summary["new_fields"] == ["remark"]
    raw = lake.read_table("raw", "credit_rating").sort_by("rating_id").to_pylist()
    assert [r["rating_id"] for r in raw] == ["CR2026000001", "CR2026000002"]
    assert raw[0]["score"] == 84.5 and raw[0]["remark"] == "首次评价"
