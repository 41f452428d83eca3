"""Reference data from file drops: district codes, HJ 212 pollutant codes, the hazardous-waste list
(both editions) and the disposal licences.

Owners: 杭州市数据资源局 (districts), 杭州市生态环境监测中心 (pollutant codes), 杭州市固体废物管理中心
(waste list), 杭州市生态环境局 (licences).
The files come from ``ENVLAKE_SIM_DIR/filedrops`` unless connections say otherwise.
"""

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.tasks import asset_uri, default_args, land, schedule_for


@dag(
    dag_id="ingest_reference",
    schedule=schedule_for("district", "pollutant_code", "hw_code", "disposal_licence"),
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

    @task(outlets=[Asset(name="raw.hw_code", uri=asset_uri("hw_code"))])
    def land_hw_code() -> dict:
        return land("hw_code", "envlake_hw_code_file")

    @task(outlets=[Asset(name="raw.disposal_licence", uri=asset_uri("disposal_licence"))])
    def land_disposal_licence() -> dict:
        return land("disposal_licence", "envlake_disposal_licence_file")

    land_district()
    land_pollutant_code()
    land_hw_code()
    land_disposal_licence()


ingest_reference()
