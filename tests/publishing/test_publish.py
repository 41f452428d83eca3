"""Write-audit-publish: marts reach shared/ only through a passing build; readers use the catalog."""

from __future__ import annotations

import json
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.publishing import superset_catalogs as superset_catalogs
from envlake.publishing.build import build_and_publish
from envlake.publishing.publish import PublishBlocked, catalog_version, current, sync_catalog
from tests.catalog_reader import CatalogReader
from tests.modelling.conftest import ModelledLake, apply_env

pytestmark = pytest.mark.integration

MARTS = {"dim_enterprise", "fct_monitoring_hourly", "fct_exceedance", "fct_exceedance_event", "fct_air_quality_daily",
         "fct_water_section_class", "fct_waste_transfer", "fct_manifest_anomaly", "mart_enterprise_risk",
         "mart_inspection_plan", "mart_district_scorecard", "snap_permit_status", "snap_credit_grade",
         "fct_complaint", "fct_problem", "fct_problem_status_history", "mart_problem_loop"}



def test_every_mart_is_published_to_curated_and_shared(modelled_lake: ModelledLake) -> None:
    assert modelled_lake.cycle.run.success and not modelled_lake.cycle.run.failed
    state = current(Lake(modelled_lake.settings.lake))
    assert state is not None and set(state["models"]) == MARTS
    con = duckdb.connect(str(modelled_lake.settings.catalog), read_only=True)
    for zone in ("curated", "shared"):
        views = {r[0] for r in con.execute(
            "select view_name from duckdb_views() where schema_name = ? and not internal", [zone]).fetchall()}
        assert views == MARTS
    for mart, rows in state["models"].items():
        assert con.execute(f"select count(*) from shared.{mart}").fetchone()[0] == rows
    assert con.execute("select count(*) from shared.mart_district_scorecard").fetchone()[0] == 13
    assert state["models"]["fct_monitoring_hourly"] > 0 and state["models"]["fct_exceedance_event"] > 0


def test_the_catalog_refuses_writes(modelled_lake: ModelledLake) -> None:
    con = duckdb.connect(str(modelled_lake.settings.catalog), read_only=True)
    with pytest.raises(duckdb.Error):
        con.execute("create table shared.x as select 1")


def test_a_second_process_reads_the_catalog_while_models_build(modelled_lake: ModelledLake) -> None:
    before = current(Lake(modelled_lake.settings.lake))["version"]
    reader = CatalogReader(modelled_lake.settings.catalog)
    time.sleep(1)
    cycle = build_and_publish(modelled_lake.settings)
    out = reader.stop()
    assert out["error_count"] == 0, out["errors"]
    assert out["queries"] > 10
    assert cycle.published is not None and cycle.published.version != before


def test_an_incremental_build_adds_nothing_when_nothing_landed(modelled_lake: ModelledLake) -> None:
    lake = Lake(modelled_lake.settings.lake)
    rows = current(lake)["models"]["fct_monitoring_hourly"]
    again = build_and_publish(modelled_lake.settings, select=["fct_monitoring_hourly+"])
    assert again.published is not None and again.published.rows["fct_monitoring_hourly"] == rows
    # nothing new: no day of the partitioned mart is rewritten, and marts outside the selection keep their files
    assert again.published.rewritten["fct_monitoring_hourly"] == "partitions: 0"
    assert again.published.rewritten["dim_enterprise"] == "kept"
    state = current(lake)
    assert all(Path(p).exists() for mart in state["marts"].values() for files in mart["files"].values() for p in files)


def test_a_failing_audit_blocks_publishing_and_names_the_test(modelled_lake: ModelledLake) -> None:
    lake = Lake(modelled_lake.settings.lake)
    before = current(lake)
    # A district file that repeats a code: the key test on the district reference must fail.
    bad = pa.table({"district_code": ["330106"], "district_name": ["西湖区（重复）"], "is_current": [True],
                    "successor_code": pa.array([None], pa.string()), "valid_until": pa.array([None], pa.date32()),
                    "_run_id": ["bad"], "_source": ["test"], "_record_hash": pa.array([1], pa.uint64())})
    path = lake.path("raw", "district", "ingest_date=2099-01-01", "part-bad.parquet")
    lake.write_parquet(bad, path)
    try:
        with pytest.raises(PublishBlocked, match="unique_stg_reference__district_district_code"):
            build_and_publish(modelled_lake.settings)
        assert current(lake) == before, "the last published version must stay"
        con = duckdb.connect(str(modelled_lake.settings.catalog), read_only=True)
        assert con.execute("select count(*) from shared.mart_district_scorecard").fetchone()[0] == 13
        log = lake.read_table("_meta", "publish_log").to_pylist()
        blocked = [r for r in log if r["status"] == "blocked"]
        assert blocked and "unique_stg_reference__district_district_code" in blocked[-1]["message"]
    finally:
        lake.fs.delete_file(path)


def test_a_reader_hosts_catalog_is_brought_to_the_published_version(modelled_lake: ModelledLake, tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Superset on a host other than the publisher's has no catalog file: `envlake models sync-catalog`
    writes one from current.json, the same views with their comments, and leaves it alone when current."""
    from typer.testing import CliRunner

    from envlake.cli.models_cmd import app

    apply_env(monkeypatch, modelled_lake.env | {"ENVLAKE_CATALOG": str(tmp_path / "reader" / "envlake.duckdb")})
    reader_catalog = tmp_path / "reader" / "envlake.duckdb"
    state = current(Lake(modelled_lake.settings.lake))
    runner = CliRunner()

    synced = runner.invoke(app, ["sync-catalog", "--json"])
    assert synced.exit_code == 0, synced.output
    assert json.loads(synced.output) == {"version": state["version"], "rewritten": True,
                                         "catalog": str(reader_catalog)}
    assert catalog_version(reader_catalog) == state["version"]
    # Superset's catalogs come along (envlake/publishing/superset_catalogs.py), the same files as the publisher's
    assert superset_catalogs.written_version(reader_catalog) == state["version"]
    assert sorted(p.name for p in superset_catalogs.folder(reader_catalog).iterdir()) == \
        sorted(p.name for p in superset_catalogs.folder(modelled_lake.settings.catalog).iterdir())

    def described_views(path: Path) -> set[tuple]:
        con = duckdb.connect(str(path), read_only=True)
        try:
            return set(con.execute("select schema_name, view_name, comment from duckdb_views() "
                                   "where not internal").fetchall())
        finally:
            con.close()

    assert described_views(reader_catalog) == described_views(modelled_lake.settings.catalog)
    con = duckdb.connect(str(reader_catalog), read_only=True)
    for mart, rows in state["models"].items():
        assert con.execute(f"select count(*) from shared.{mart}").fetchone()[0] == rows
    con.close()

    again = runner.invoke(app, ["sync-catalog", "--json"])
    assert again.exit_code == 0 and json.loads(again.output)["rewritten"] is False
    (superset_catalogs.folder(reader_catalog) / "district-330106.duckdb").unlink()  # one missing: written again
    assert sync_catalog(Settings.from_env()) == (state["version"], True)
    assert superset_catalogs.written_version(reader_catalog) == state["version"]

    stale = duckdb.connect(str(reader_catalog))  # a catalog of an older version is replaced
    stale.execute("update lake_meta.publish set version = 'older'")
    stale.close()
    assert sync_catalog(Settings.from_env()) == (state["version"], True)
    assert catalog_version(reader_catalog) == state["version"]
