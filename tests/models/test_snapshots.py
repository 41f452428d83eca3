"""History: snapshots keep every change of a permit's status and of a credit grade between modelling runs."""

from __future__ import annotations

import duckdb
import pytest

from connectors.airflow_tasks import land
from connectors.modelling.build import build_and_publish
from simulators.demo_sources import DemoSources
from tests.models.conftest import DAY, ModelledLake

pytestmark = pytest.mark.integration
LATER = DAY + 45  # permits renewed, expired or cancelled in the meantime


def test_snapshots_keep_status_changes_with_validity(modelled_lake: ModelledLake) -> None:
    settings = modelled_lake.settings
    with DemoSources(settings, LATER):
        for dataset in ("permit", "credit_rating"):
            land(dataset)
    build_and_publish(settings)
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
