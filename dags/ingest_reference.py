"""Reference data: Hangzhou district codes and HJ 212 pollutant codes, from file drops.

Owners: 杭州市数据资源局 (districts) and 杭州市生态环境监测中心 (pollutant codes).
The files come from ``ENVLAKE_SIM_DIR/filedrops`` unless connections say otherwise.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from connectors.airflow_tasks import asset_uri, default_args, land, schedule_for


@dag(
    dag_id="ingest_reference",
    schedule=schedule_for("district", "pollutant_code") or "@monthly",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(retries=1, retry_delay=timedelta(minutes=5)),
    tags=["envlake", "ingest", "参考数据"],
)
def ingest_reference():
    @task(outlets=[Asset(name="raw.district", uri=asset_uri("district"))])
    def land_district() -> dict:
        return land("district", "envlake_district_file")

    @task(outlets=[Asset(name="raw.pollutant_code", uri=asset_uri("pollutant_code"))])
    def land_pollutant_code() -> dict:
        return land("pollutant_code", "envlake_pollutant_code_file")

    land_district()
    land_pollutant_code()


ingest_reference()
