"""What the modelling DAG needs from us: the Cosmos configuration, its trigger Assets and the publish task."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from envlake.kernel.contracts import load_contracts
from envlake.kernel.settings import Settings
from envlake.modelling.layout import DBT_PROJECT_DIR
from envlake.modelling.runner import dbt_env, dbt_target, manifest_path
from envlake.orchestration.tasks import asset_uri

# Every task that writes the DuckDB build area runs in this pool of one slot: DuckDB allows one writer.
WAREHOUSE_POOL = "duckdb_warehouse"
# ... and on this Celery queue, which one worker serves: the build area is a file on that worker's disk.
WAREHOUSE_QUEUE = "warehouse"
WAREHOUSE_TASK = {"pool": WAREHOUSE_POOL, "queue": WAREHOUSE_QUEUE}
# Feeds that answer what a publish sent out (the enforcement system's case updates): the dispatch DAG lands
# them and rebuilds the ledger itself, so they do not trigger the whole modelling DAG (that would loop).
LOOP_DATASETS = ("enforcement_case_update",)
LEDGER_SELECTION = ["stg_enforcement__case_update+"]


def ingestion_assets(include_loop: bool = False) -> Any:
    """Any landed raw dataset triggers the models (data-aware scheduling on the ingestion DAGs' outlets); the
    loop's feeds only when ``include_loop`` (the quality checks)."""
    from airflow.sdk import Asset, AssetAny

    return AssetAny(*(Asset(name=f"raw.{ds}", uri=asset_uri(ds)) for ds in sorted(load_contracts())
                      if include_loop or ds not in LOOP_DATASETS))


def cosmos_group_args() -> dict[str, Any]:
    """Arguments of the Cosmos ``DbtTaskGroup``: rendered from the manifest, one ``dbt build`` of the whole
    project (Cosmos's watcher mode: a producer task runs it in-process, one sensor task per node reports that
    node's outcome), in the warehouse pool. One build instead of a dbt invocation per node: about 3.5 s a
    node less (../shared/STACK.md), and dbt's own threads."""
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
    from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior, TestIndirectSelection

    path = manifest_path()
    if not path.exists():
        raise FileNotFoundError(f"no dbt manifest at {path}: run `envlake models parse` before loading the DAGs")
    return {
        "project_config": ProjectConfig(dbt_project_path=DBT_PROJECT_DIR, manifest_path=path,
                                        project_name="envlake", partial_parse=True),
        "profile_config": ProfileConfig(profile_name="envlake", target_name=dbt_target(Settings.from_env()),
                                        profiles_yml_filepath=DBT_PROJECT_DIR / "profiles.yml"),
        # A test with several parents (relationships) is reported by its own sensor once all of them are built.
        "execution_config": ExecutionConfig(execution_mode=ExecutionMode.WATCHER,
                                            invocation_mode=InvocationMode.DBT_RUNNER,
                                            test_indirect_selection=TestIndirectSelection.CAUTIOUS),
        "render_config": RenderConfig(load_method=LoadMode.DBT_MANIFEST, test_behavior=TestBehavior.AFTER_EACH,
                                      should_detach_multiple_parents_tests=True),
        # emit_datasets off: Cosmos would compute OpenLineage inlets and outlets for every node (about 1.5 s a
        # task); the DAG announces what it publishes with its own Asset.
        "operator_args": {"env": dbt_env(Settings.from_env()), "install_deps": False, "emit_datasets": False},
    }


def route_watcher_tasks(group: Any) -> Any:
    """The producer (the one task that writes the build area) in the one-slot pool, and every node's sensor
    after it: `airflow dags test` runs one task at a time and must never wait on a sensor whose producer has
    not run; on Celery the sensors then find their node's outcome at the first look, without deferring.

    Every task stays on the warehouse queue, as a sensor cleared by hand runs its node itself (Cosmos's
    fallback) and the build area is on that worker's disk. Sensors are outside the pool, so that they report
    side by side; such a hand-cleared sensor meeting a running build fails on DuckDB's lock, and is cleared
    again."""
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    tasks = list(group.iter_tasks())
    producer = next(t for t in tasks if t.task_id.rsplit(".", 1)[-1] == PRODUCER_WATCHER_TASK_ID)
    producer.pool = WAREHOUSE_POOL
    ids = {t.task_id for t in tasks}
    for task in tasks:
        task.queue = WAREHOUSE_QUEUE
        if task is producer:
            continue
        # The sensors defer; when the trigger fires at once, the task is running again before the scheduler
        # reads the executor's "success" for the deferral, and Airflow 3.3 then fails it ("state attribute is
        # running"; apache/airflow#71579, open). One quick retry, whatever ENVLAKE_TASK_RETRIES says, reruns it.
        task.retries = max(task.retries, 1)
        task.retry_delay = timedelta(seconds=10)
        if not task.upstream_task_ids & ids:
            producer >> task
    return group


def publish_marts() -> dict:
    """Publish what the build area holds: every upstream dbt task (models and their tests) has succeeded."""
    from envlake.publishing.publish import publish

    result = publish(Settings.from_env())
    return {"version": result.version, "rows": result.rows, "catalog": str(result.catalog)}


def refresh_ledger() -> dict:
    """Rebuild the problem ledger with the case updates just landed (a selective build) and publish it."""
    from envlake.publishing.build import build_and_publish

    cycle = build_and_publish(Settings.from_env(), select=LEDGER_SELECTION, quiet=True)
    return {"version": cycle.published.version if cycle.published else None,
            "rewritten": cycle.published.rewritten if cycle.published else {}}
