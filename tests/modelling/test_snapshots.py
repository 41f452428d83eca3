"""History: snapshots keep every change of a permit's status and of a credit grade between modelling runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import datetime, timedelta

import duckdb
import pytest

from envlake.access.config import AccessSettings
from envlake.access.store import AccessStore
from envlake.orchestration.tasks import land
from envlake.publishing.build import build_and_publish
from envlake.publishing.iceberg import history
from envlake.simulators.demo_sources import DemoSources
from tests.modelling.conftest import DAY, ModelledLake

pytestmark = pytest.mark.integration
LATER = DAY + 45  # permits renewed, expired or cancelled in the meantime


@pytest.fixture(scope="module")
def republished(modelled_lake: ModelledLake) -> ModelledLake:
    """The session lake, with permits and credit grades landed again 45 days on and published again."""
    settings = modelled_lake.settings
    with DemoSources(settings, LATER):
        for dataset in ("permit", "credit_rating"):
            land(dataset)
    build_and_publish(settings)
    return modelled_lake


def test_snapshots_keep_status_changes_with_validity(republished: ModelledLake) -> None:
    settings = republished.settings
    con = duckdb.connect(str(settings.catalog), read_only=True)
    changed = con.execute("""
        select count(*) from shared.snap_permit_status as closed
        join shared.snap_permit_status as now
          on now.permit_no = closed.permit_no and now.dbt_valid_from = closed.dbt_valid_to
        where closed.dbt_valid_to is not null""").fetchone()[0]
    assert changed > 0, "some permit changed between the two runs"
    overlapping = con.execute("""
        select count(*) from shared.snap_permit_status as a join shared.snap_permit_status as b
          on a.permit_no = b.permit_no and a.dbt_scd_id <> b.dbt_scd_id
         and a.dbt_valid_from < coalesce(b.dbt_valid_to, timestamp '9999-01-01')
         and b.dbt_valid_from < coalesce(a.dbt_valid_to, timestamp '9999-01-01')""").fetchone()[0]
    assert overlapping == 0
    for snapshot, key in (("snap_permit_status", "permit_no"), ("snap_credit_grade", "enterprise_key")):
        current = con.execute(f"select count(*), count(distinct {key}) from shared.{snapshot} "
                              "where dbt_valid_to is null").fetchone()
        assert current[0] == current[1] > 0, f"{snapshot}: one current row per key"


def test_a_department_reads_a_shared_table_as_it_was_before_the_last_publish(republished: ModelledLake) -> None:
    """`envlake query --as-of`: the Iceberg snapshot of the first publish, although a later one replaced it."""
    settings = republished.settings
    snapshots = history(settings, "shared", "snap_permit_status")
    assert len(snapshots) >= 2 and snapshots[0]["rows"] < snapshots[-1]["rows"]
    first_rows = republished.cycle.published.rows["snap_permit_status"]
    AccessStore(AccessSettings.from_env(settings).db_url).add_department("asof_reader", "回溯查询", actor="test")
    sql = "select count(*) as n from snap_permit_status"

    def count(*extra: str) -> int:
        out = subprocess.run([sys.executable, "-m", "envlake.cli.main", "query", "--as", "asof_reader", sql,
                              "--json", *extra], capture_output=True, text=True, env=os.environ, check=False)
        assert out.returncode == 0, out.stderr
        return json.loads(out.stdout)["rows"][0]["n"]

    between = datetime.fromisoformat(snapshots[0]["at"]) + timedelta(milliseconds=1)
    assert between < datetime.fromisoformat(snapshots[-1]["at"])
    assert count("--as-of", between.isoformat()) == first_rows == snapshots[0]["rows"]
    assert count() == snapshots[-1]["rows"] > first_rows
    before_anything = datetime.fromisoformat(snapshots[0]["at"]) - timedelta(days=1)
    out = subprocess.run([sys.executable, "-m", "envlake.cli.main", "query", "--as", "asof_reader", sql,
                          "--as-of", before_anything.isoformat()], capture_output=True, text=True, check=False)
    assert out.returncode == 1 and "nothing was published at" in out.stderr
