"""Public complaints feed (12369环保举报): complaints and their handling status from the bureau's platform.

Owner: 杭州市生态环境局. Source URL: Airflow connection ``envlake_permit_api`` (the bureau's data interface)
or ``ENVLAKE_PERMIT_API_URL``. Schedule: the contract's update cycle (每日). The complainant's name and phone
are L4 不予共享 in the contract: they land in raw/ and never reach shared/.
"""

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.tasks import asset_uri, default_args, land, schedule_for


@dag(
    dag_id="ingest_complaints",
    schedule=schedule_for("complaint"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "ingest", "12369"],
)
def ingest_complaints():
    @task(outlets=[Asset(name="raw.complaint", uri=asset_uri("complaint"))])
    def land_complaint() -> dict:
        return land("complaint", "envlake_permit_api")

    land_complaint()


ingest_complaints()
