"""Permits feed (排污许可): permits and outlet limits from the permit platform's HTTP API.

Owner: 杭州市生态环境局. Source URL: Airflow connection ``envlake_permit_api`` or
``ENVLAKE_PERMIT_API_URL``. Schedule: the contracts' update cycle (每日).
"""

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.tasks import asset_uri, default_args, land, schedule_for

DATASETS = ("permit", "permit_outlet_limit")


@dag(
    dag_id="ingest_permits",
    schedule=schedule_for(*DATASETS),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "ingest", "排污许可"],
)
def ingest_permits():
    @task(outlets=[Asset(name="raw.permit", uri=asset_uri("permit"))])
    def land_permit() -> dict:
        return land("permit", "envlake_permit_api")

    @task(outlets=[Asset(name="raw.permit_outlet_limit", uri=asset_uri("permit_outlet_limit"))])
    def land_permit_outlet_limit() -> dict:
        return land("permit_outlet_limit", "envlake_permit_api")

    land_permit()
    land_permit_outlet_limit()


ingest_permits()
