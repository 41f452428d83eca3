"""Ambient stations feed (环境质量自动监测): air stations and water sections from the monitoring centre's API.

Owner: 浙江省生态环境监测中心. Source URL: Airflow connection ``envlake_station_api`` or
``ENVLAKE_STATION_API_URL``. Schedule: the contracts' update cycle (每小时 for air).
"""

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.tasks import asset_uri, default_args, land, schedule_for

DATASETS = ("air_station_hourly", "water_section_reading")


@dag(
    dag_id="ingest_stations",
    schedule=schedule_for(*DATASETS),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "ingest", "环境质量"],
)
def ingest_stations():
    @task(outlets=[Asset(name="raw.air_station_hourly", uri=asset_uri("air_station_hourly"))])
    def land_air_station_hourly() -> dict:
        return land("air_station_hourly", "envlake_station_api")

    @task(outlets=[Asset(name="raw.water_section_reading", uri=asset_uri("water_section_reading"))])
    def land_water_section_reading() -> dict:
        return land("water_section_reading", "envlake_station_api")

    land_air_station_hourly()
    land_water_section_reading()


ingest_stations()
