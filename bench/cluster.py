"""The demo's ingestion and modelling on an Airflow cluster: two Celery workers against the LocalExecutor
(`make bench`, ``scaling.cluster``).

Both clusters are started the way `make cluster` starts them (PostgreSQL metadata; Redis broker for Celery)
on scratch databases; the simulated departments serve day 0 and the HJ 212 packets of every outlet are
received first. Timed: every ingestion DAG triggered at once until all have finished, then the modelling
DAG (Cosmos's watcher mode: one dbt build in the one-slot warehouse pool, a sensor task per node) until
it has published.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import redis
import sqlalchemy as sa
from rich.console import Console

from bench.results import record_scaling
from connectors.hj212.landing import landing_folder
from connectors.hj212.receiver import ReceiverThread
from envlake.kernel.settings import Settings
from envlake.modelling.runner import parse_manifest
from envlake.orchestration.cluster.client import AirflowClient
from envlake.orchestration.cluster.processes import ClusterConfig
from envlake.orchestration.cluster.supervisor import Supervisor
from envlake.simulators.demo_sources import DemoSources, free_port

HERE = Path(__file__).resolve().parent
INGESTION = ["ingest_permits", "ingest_credit_rating", "ingest_reference", "ingest_waste", "ingest_monitoring",
             "ingest_stations", "ingest_complaints"]
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
console = Console()


@contextlib.contextmanager
def scratch_database():
    name = f"envlake_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql+psycopg2://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))


def run_on(executor: str, root: Path) -> dict[str, float]:
    saved = dict(os.environ)
    broker_db = 13
    with scratch_database() as url:
        os.environ.update({
            "ENVLAKE_LAKE": str(root / "lake"), "ENVLAKE_SIM_DIR": str(root / "sim"),
            "ENVLAKE_CREDIT_DB_URL": f"sqlite:///{root / 'sim' / 'credit.sqlite'}",
            "ENVLAKE_PERMIT_API_URL": f"http://127.0.0.1:{free_port()}",
            "ENVLAKE_STATION_API_URL": f"http://127.0.0.1:{free_port()}",
            "ENVLAKE_ENFORCEMENT_API_URL": f"http://127.0.0.1:{free_port()}",
            "ENVLAKE_CLUSTER_HOME": str(root / ".cluster"), "ENVLAKE_CLUSTER_DB": url,
            "ENVLAKE_CLUSTER_BROKER": f"redis://127.0.0.1:6379/{broker_db}",
            "ENVLAKE_CLUSTER_API_PORT": str(free_port()), "ENVLAKE_CLUSTER_EXECUTOR": executor})
        redis.Redis(db=broker_db).flushdb()
        settings = Settings.from_env()
        parse_manifest(settings)
        supervisor = Supervisor(settings, ClusterConfig.from_env())
        try:
            supervisor.start(timeout_s=300)
            with DemoSources(settings, day=0) as sources, \
                    AirflowClient(supervisor.config.api_url, password=supervisor.config.admin_password) as client:
                port = free_port()
                with ReceiverThread(landing_folder(settings), "127.0.0.1", port):
                    sources.send_monitoring("127.0.0.1", port)
                client.wait_for_dags([*INGESTION, "model_marts"])
                started = time.perf_counter()
                runs = {dag_id: client.start_run(dag_id, appear_s=5) for dag_id in INGESTION}
                for dag_id, run_id in runs.items():
                    assert client.wait_for_run(dag_id, run_id, 900) == "success", dag_id
                ingestion = time.perf_counter() - started
                started = time.perf_counter()
                run_id = client.start_run("model_marts", appear_s=5)
                state = client.wait_for_run("model_marts", run_id, 1800)
                failed = [(ti["task_id"], ti["state"]) for ti in client.task_instances("model_marts", run_id)
                          if ti["state"] not in ("success", "skipped")]
                assert state == "success", f"model_marts on {executor}: {state}; tasks not done: {failed[:10]}"
                modelling = time.perf_counter() - started
        finally:
            supervisor.stop(timeout_s=10)
            redis.Redis(db=broker_db).flushdb()
            os.environ.clear()
            os.environ.update(saved)
    return {"ingestion_s": round(ingestion, 1), "modelling_s": round(modelling, 1)}


def main() -> None:
    results = {}
    for executor in ("LocalExecutor", "CeleryExecutor"):
        console.print(f"{executor}: starting a cluster and running the demo's DAGs")
        root = Path(tempfile.mkdtemp(prefix=f"envlake-bench-{executor}-"))
        results[executor] = run_on(executor, root)  # on failure the folder stays, Airflow's logs in it
        shutil.rmtree(root, ignore_errors=True)
        console.print(results[executor])
    figures = {"seconds": results, "workers": 2, "worker_concurrency": 2, "parallelism": 4,
               "ratio_celery_to_local": {k: round(results["CeleryExecutor"][k] / results["LocalExecutor"][k], 2)
                                         for k in results["LocalExecutor"]}}
    record_scaling("cluster", figures)
    console.print_json(json.dumps(figures))


if __name__ == "__main__":
    main()
