"""Modelling (dbt on DuckDB): staging, enterprise resolution and marts, tested, then published.

Rendered by Cosmos from the dbt manifest (`envlake models parse`) in watcher mode: one task runs `dbt build`
of the whole project, in the one-slot `duckdb_warehouse` pool (DuckDB allows one writer), and a sensor task
per node (model, its tests) reports that node's outcome. Publishing runs only when every one succeeded, so a
failing test leaves the last published version in place. Triggered by any landed raw dataset.
"""

import pendulum
from airflow.sdk import Asset, dag, task
from cosmos import DbtTaskGroup

from envlake.orchestration.modelling import (
    WAREHOUSE_TASK,
    cosmos_group_args,
    ingestion_assets,
    publish_marts,
    route_watcher_tasks,
)
from envlake.orchestration.tasks import default_args


@dag(
    dag_id="model_marts",
    schedule=ingestion_assets(),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "models", "dbt"],
)
def model_marts():
    models = route_watcher_tasks(DbtTaskGroup(group_id="dbt", **cosmos_group_args()))

    @task(**WAREHOUSE_TASK, outlets=[Asset(name="shared.marts", uri="envlake://shared/marts")])
    def publish() -> dict:
        return publish_marts()

    models >> publish()


model_marts()
