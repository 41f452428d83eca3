"""Run DAGs with the real Airflow command line (``airflow dags test``), for the demo and tests."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from envlake.kernel.settings import REPO_ROOT, Settings


class AirflowRunError(RuntimeError):
    pass


# what `airflow dags test` writes when a task or the run failed, whatever its exit status says
FAILED_MARKERS = ("state=failed", "DagRunState.FAILED")


def dags_test_args(dag_id: str, dags_folder: Path) -> list[str]:
    """``dags test <dag_id>``, parsing only the DAG's own file (``<dag_id>.py``) when there is one: without it
    every run parses the whole folder, the Cosmos DAG included, several seconds each time."""
    dag_file = dags_folder / f"{dag_id}.py"
    return ["dags", "test", dag_id, *(["-f", str(dag_file)] if dag_file.exists() else [])]


def airflow_home() -> Path:
    return Path(os.environ.get("AIRFLOW_HOME", str(Path.cwd() / ".airflow")))


def airflow_env(settings: Settings) -> dict[str, str]:
    # Cosmos runs dbt in a temporary copy of the project with its own target folder; a target path set for
    # this process (tests give each worker one) would make it keep partial-parse state of deleted copies.
    env = {k: v for k, v in os.environ.items() if k not in ("DBT_TARGET_PATH", "DBT_LOG_PATH")}
    home = airflow_home()
    env.update({
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "4",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "ENVLAKE_TASK_RETRIES": env.get("ENVLAKE_TASK_RETRIES", "0"),
        "ENVLAKE_LAKE": settings.lake,
        "ENVLAKE_SIM_DIR": str(settings.sim_dir),
        "ENVLAKE_LANDING": str(settings.landing_dir),
        "ENVLAKE_PERMIT_API_URL": settings.permit_api_url,
        "ENVLAKE_STATION_API_URL": settings.station_api_url,
        "ENVLAKE_ENFORCEMENT_API_URL": settings.enforcement_api_url,
        "ENVLAKE_CREDIT_DB_URL": settings.credit_db_url,
        "ENVLAKE_SCHEMAS": str(settings.schemas_dir),
        "ENVLAKE_WAREHOUSE": str(settings.warehouse),
        "ENVLAKE_SIM_DAY": str(settings.sim_day),
        # the demo's and tests' feeds run on the simulators' clock: judge freshness by it
        "ENVLAKE_CLOCK": env.get("ENVLAKE_CLOCK", "simulated"),
        "ENVLAKE_CATALOG": str(settings.catalog),
        "AIRFLOW__COSMOS__CACHE_DIR": str(home / "cosmos-cache"),
        "AIRFLOW__COSMOS__ENABLE_CACHE": "True",
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        # The watcher's producer would otherwise rewrite one Airflow Variable holding every XCom it has pushed
        # at each push (hundreds a build): kept in memory, and written once if the build fails.
        "AIRFLOW__COSMOS__ENABLE_WATCHER_RELIABLE_RETRY": "False",
        "DO_NOT_TRACK": "1",
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT), env.get("PYTHONPATH")])),
    })
    return env


def _airflow(args: list[str], env: dict[str, str], log_name: str) -> None:
    logs = Path(env["AIRFLOW_HOME"]) / "demo-logs"
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{log_name}.log"
    airflow = str(Path(sys.executable).parent / "airflow")
    with log_path.open("w") as out:
        result = subprocess.run([airflow, *args], env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    text = log_path.read_text(errors="replace")
    if result.returncode != 0 or any(marker in text for marker in FAILED_MARKERS):
        raise AirflowRunError(f"`airflow {' '.join(args)}` failed (exit {result.returncode}); log: {log_path}")


def migrate(env: dict[str, str]) -> None:
    """Metadata database up to date, and the one-slot pool every DuckDB-writing task runs in."""
    from envlake.orchestration.modelling import WAREHOUSE_POOL

    Path(env["AIRFLOW_HOME"]).mkdir(parents=True, exist_ok=True)
    _airflow(["db", "migrate"], env, "db-migrate")
    _airflow(["pools", "set", WAREHOUSE_POOL, "1", "DuckDB build area: one writer at a time"], env, "pools")


def run_dag(dag_id: str, env: dict[str, str]) -> None:
    _airflow(dags_test_args(dag_id, Path(env["AIRFLOW__CORE__DAGS_FOLDER"])), env, dag_id)


def run_dags(dag_ids: list[str], env: dict[str, str], on_start: Callable[[str], None] | None = None) -> None:
    """``airflow dags test`` for each DAG in turn, all in one process (``envlake.orchestration.batch``), each
    with its own log; stops at the first that fails."""
    logs = Path(env["AIRFLOW_HOME"]) / "demo-logs"
    command = [sys.executable, "-m", "envlake.orchestration.batch", str(logs), *dag_ids]
    failed = None
    with subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as batch:
        assert batch.stdout is not None
        for line in batch.stdout:
            event, _, dag_id = line.strip().partition(" ")
            if event == "start" and on_start:
                on_start(dag_id)
            elif event == "failed":
                failed = dag_id
    if batch.returncode != 0 or failed:
        name = failed or dag_ids[0]
        raise AirflowRunError(f"`airflow dags test {name}` failed (exit {batch.returncode}); log: {logs / name}.log")
