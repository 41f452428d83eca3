"""The same DAGs under Airflow's CeleryExecutor: PostgreSQL metadata, a Redis broker, two named workers.

The cluster is started the way `make cluster` starts it (``envlake.orchestration.cluster``), on a scratch PostgreSQL
database and Redis database. Its ingestion DAGs land the same rows as `airflow dags test` on a second lake;
the modelling DAG builds and publishes on the worker serving the warehouse queue.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import duckdb
import pytest
import redis

from connectors.hj212.landing import landing_folder
from connectors.hj212.receiver import ReceiverThread
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.runner import parse_manifest
from envlake.orchestration.cluster.client import AirflowClient
from envlake.orchestration.cluster.processes import ClusterConfig
from envlake.orchestration.cluster.supervisor import Supervisor
from envlake.orchestration.modelling import WAREHOUSE_QUEUE
from envlake.orchestration.runner import airflow_env, migrate, run_dags
from envlake.publishing.reader import current
from envlake.simulators.demo_sources import DemoSources
from tests.conftest import PG_ADMIN, _scratch_database, free_port
from tests.dags.test_dags import EXPECTED

pytestmark = [pytest.mark.integration, pytest.mark.airflow]
BROKER_DB = 12
OUTLETS = 40


def _scratch_env(root, **extra: str) -> dict[str, str]:
    return {"ENVLAKE_LAKE": str(root / "lake"), "ENVLAKE_SIM_DIR": str(root / "sim"),
            "ENVLAKE_CREDIT_DB_URL": f"sqlite:///{root / 'sim' / 'credit.sqlite'}",
            "ENVLAKE_PERMIT_API_URL": f"http://127.0.0.1:{free_port()}",
            "ENVLAKE_STATION_API_URL": f"http://127.0.0.1:{free_port()}",
            "ENVLAKE_ENFORCEMENT_API_URL": f"http://127.0.0.1:{free_port()}", **extra}


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    old = dict(os.environ)
    os.environ.update(values)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(old)


def _land(settings: Settings, run: callable) -> None:
    """Run the ingestion DAGs with the simulated departments up and the day's HJ 212 packets received."""
    with DemoSources(settings, day=0) as sources:
        port = free_port()
        with ReceiverThread(landing_folder(settings), "127.0.0.1", port):
            assert sources.send_monitoring("127.0.0.1", port, outlets=OUTLETS) > OUTLETS * 24
        run()


def _landed_rows(settings: Settings) -> dict[str, set[str]]:
    lake = Lake(settings.lake)
    return {ds: {r[0] for r in duckdb.sql("select _record_hash from read_parquet($f, union_by_name=true)",
                                          params={"f": lake.files("raw", ds)}).fetchall()}
            for datasets in EXPECTED.values() for ds in datasets}


def _land_with_the_local_executor(root) -> dict[str, set[str]]:
    with _environment(_scratch_env(root, AIRFLOW_HOME=str(root / "airflow"))):
        local = Settings.from_env()
        env = airflow_env(local)
        migrate(env)
        _land(local, lambda: run_dags(list(EXPECTED), env))  # one Airflow process, as the demo runs them
        return _landed_rows(local)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Settings, Supervisor]]:
    root = tmp_path_factory.mktemp("celery")
    broker = redis.Redis(host="127.0.0.1", port=6379, db=BROKER_DB)
    broker.flushdb()
    with contextlib.ExitStack() as stack:
        url = stack.enter_context(contextlib.contextmanager(_scratch_database)(
            PG_ADMIN, 'CREATE DATABASE "{name}"', 'DROP DATABASE "{name}" WITH (FORCE)',
            "postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"))
        stack.enter_context(_environment(_scratch_env(
            root, ENVLAKE_CLUSTER_HOME=str(root / ".cluster"), ENVLAKE_CLUSTER_DB=url,
            ENVLAKE_CLUSTER_BROKER=f"redis://127.0.0.1:6379/{BROKER_DB}",
            ENVLAKE_CLUSTER_API_PORT=str(free_port()))))
        settings = Settings.from_env()
        parse_manifest(settings)
        supervisor = Supervisor(settings, ClusterConfig.from_env())
        try:
            supervisor.start(timeout_s=240)
            yield settings, supervisor
        finally:
            supervisor.stop(timeout_s=10)
            broker.flushdb()


@pytest.mark.timeout(2400)
def test_dags_run_on_both_workers_and_land_what_the_local_executor_lands(cluster, tmp_path) -> None:
    settings, supervisor = cluster
    config = supervisor.config
    with AirflowClient(config.api_url, password=config.admin_password) as client:
        client.wait_for_dags([*EXPECTED, "model_marts"])  # the modelling DAG loads on the workers either way
        tasks = []

        def run_ingestion() -> None:
            runs = {dag_id: client.start_run(dag_id) for dag_id in EXPECTED}
            for dag_id, run_id in runs.items():
                assert client.wait_for_run(dag_id, run_id, timeout_s=300) == "success", dag_id
                tasks.extend((dag_id, run_id, ti) for ti in client.task_instances(dag_id, run_id))

        _land(settings, run_ingestion)
        hosts = {ti["hostname"] for _, _, ti in tasks}
        assert hosts == set(config.workers), f"ingestion tasks ran on {hosts}"
        for worker in config.workers:  # each worker's task log is read through the API
            dag_id, run_id, ti = next(t for t in tasks if t[2]["hostname"] == worker)
            log = client.task_log(dag_id, run_id, ti["task_id"], ti["try_number"])
            assert "landed" in log and "Done. Returned value" in log, log[-500:]

        celery_rows = _landed_rows(settings)
        # the modelling run goes on on the cluster while the same feeds land here without it
        model_run = client.start_run("model_marts")
        local_rows = _land_with_the_local_executor(tmp_path / "local")
        assert client.wait_for_run("model_marts", model_run, timeout_s=1800) == "success"
        model_tasks = client.task_instances("model_marts", model_run)
        assert {ti["queue"] for ti in model_tasks} == {WAREHOUSE_QUEUE}
        # the producer's one dbt build and every node's sensor; Cosmos's empty gate task runs on no worker
        ran = [ti for ti in model_tasks if ti["operator"] != "EmptyOperator"]
        assert {ti["hostname"] for ti in ran} == {config.workers[0]}
        assert any(ti["task_id"].endswith("dbt_producer_watcher") for ti in ran) and len(ran) > 60
        published = current(Lake(settings.lake))
        assert published is not None and published["models"]["mart_district_scorecard"] == 13

    assert all(local_rows.values())
    for dataset, rows in local_rows.items():
        assert celery_rows[dataset] == rows, f"{dataset}: {len(celery_rows[dataset])} vs {len(rows)} rows"
