"""Hazardous-waste feed (危险废物转移联单): the solid-waste centre's daily export files.

Owner: 杭州市固体废物管理中心. Files (CSV in GB18030 or XLSX, Chinese headers) are dropped into
``ENVLAKE_LANDING/waste``; each is landed once into the manifests and their items, then archived.
"""

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.tasks import asset_uri, default_args, land_waste_drops, schedule_for


@dag(
    dag_id="ingest_waste",
    schedule=schedule_for("waste_manifest", "waste_manifest_item"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "ingest", "危险废物"],
)
def ingest_waste():
    @task(outlets=[Asset(name="raw.waste_manifest", uri=asset_uri("waste_manifest")),
                   Asset(name="raw.waste_manifest_item", uri=asset_uri("waste_manifest_item"))])
    def land_manifest_exports() -> dict:
        return land_waste_drops()

    land_manifest_exports()


ingest_waste()
