"""Online monitoring feed (污染源自动监控): HJ 212-2017 packets from the receiver's landing files.

Owner: 杭州市生态环境局. The receiver (`envlake hj212-receiver`) lands packets in hourly files
under ``ENVLAKE_LANDING/hj212``; each closed file is parsed once per dataset (the load log says
which). Schedule: the contracts' update cycle (每小时).
"""

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.tasks import asset_uri, default_args, land_landing_files, schedule_for

DATASETS = ("monitoring_hourly", "monitoring_daily")


@dag(
    dag_id="ingest_monitoring",
    schedule=schedule_for(*DATASETS),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "ingest", "在线监测"],
)
def ingest_monitoring():
    @task(outlets=[Asset(name="raw.monitoring_hourly", uri=asset_uri("monitoring_hourly"))])
    def land_monitoring_hourly() -> dict:
        return land_landing_files("monitoring_hourly")

    @task(outlets=[Asset(name="raw.monitoring_daily", uri=asset_uri("monitoring_daily"))])
    def land_monitoring_daily() -> dict:
        return land_landing_files("monitoring_daily")

    land_monitoring_hourly()
    land_monitoring_daily()


ingest_monitoring()
