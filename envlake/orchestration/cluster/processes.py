"""What an envlake Airflow cluster runs: each process's command line and environment.

One list feeds ``make cluster`` (native processes on this machine) and is checked against the production
``docker/compose.yaml``: the same commands, ports and variables, so the two cannot drift apart.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field

from envlake.kernel.settings import Settings
from envlake.orchestration.modelling import WAREHOUSE_QUEUE
from envlake.orchestration.runner import airflow_env

# Tasks that write the DuckDB build area (one writer, one local file) go to the warehouse queue; the first
# worker serves it, the others only the default queue.
DEFAULT_QUEUE = "default"


def hostname() -> str:
    """Airflow's ``hostname_callable``: a task's host is the worker's own name when several share a machine.
    Airflow records ``getfqdn()`` otherwise, whatever ``--celery-hostname`` says."""
    return os.environ.get("ENVLAKE_NODE_NAME") or socket.getfqdn()


@dataclass(frozen=True)
class ClusterConfig:
    metadata_url: str
    broker_url: str
    api_port: int
    workers: tuple[str, ...]
    worker_concurrency: int
    home: str
    admin_password: str
    bind: str
    executor: str = "CeleryExecutor"

    @classmethod
    def from_env(cls) -> ClusterConfig:
        env = os.environ
        return cls(
            metadata_url=env.get("ENVLAKE_CLUSTER_DB", "postgresql+psycopg2://postgres@127.0.0.1:5432/envlake_airflow"),
            broker_url=env.get("ENVLAKE_CLUSTER_BROKER", "redis://127.0.0.1:6379/5"),
            api_port=int(env.get("ENVLAKE_CLUSTER_API_PORT", "8790")),
            workers=tuple(env.get("ENVLAKE_CLUSTER_WORKERS", "worker-1,worker-2").split(",")),
            worker_concurrency=int(env.get("ENVLAKE_CLUSTER_WORKER_CONCURRENCY", "2")),
            home=env.get("ENVLAKE_CLUSTER_HOME", os.path.join(os.getcwd(), ".cluster")),
            admin_password=env.get("ENVLAKE_CLUSTER_ADMIN_PASSWORD", "admin"),
            bind=env.get("ENVLAKE_CLUSTER_BIND", "127.0.0.1"),
            executor=env.get("ENVLAKE_CLUSTER_EXECUTOR", "CeleryExecutor"),
        )

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    @property
    def result_backend(self) -> str:
        return "db+" + self.metadata_url.replace("+psycopg2", "").replace("+asyncpg", "")


@dataclass(frozen=True)
class Process:
    name: str
    args: tuple[str, ...]
    env: dict[str, str] = field(default_factory=dict)
    port: int | None = None


def cluster_env(settings: Settings, config: ClusterConfig) -> dict[str, str]:
    """The environment every process of the cluster shares: the envlake settings plus the executor's."""
    env = airflow_env(settings)
    env.update({
        "AIRFLOW_HOME": os.path.join(config.home, "airflow"),
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": os.path.join(config.home, "airflow", "logs"),
        "AIRFLOW__COSMOS__CACHE_DIR": os.path.join(config.home, "airflow", "cosmos-cache"),
        "AIRFLOW__CORE__EXECUTOR": config.executor,
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": config.metadata_url,
        "AIRFLOW__CELERY__BROKER_URL": config.broker_url,
        "AIRFLOW__CELERY__RESULT_BACKEND": config.result_backend,
        "AIRFLOW__CELERY__WORKER_CONCURRENCY": str(config.worker_concurrency),
        "AIRFLOW__CORE__HOSTNAME_CALLABLE": "envlake.orchestration.cluster.processes.hostname",
        "AIRFLOW__API__BASE_URL": config.api_url,
        "AIRFLOW__API__PORT": str(config.api_port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{config.api_url}/execution/",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": "admin:admin",
        "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE": os.path.join(config.home, "airflow", "passwords.json"),
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "True",
        # DAG files change with a deploy, not by the minute: re-parse each every 5 min, not every 30 s (the
        # modelling DAG's Cosmos render costs a few CPU seconds each time)
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "300",
        "ENVLAKE_WAREHOUSE_QUEUE": WAREHOUSE_QUEUE,
    })
    return env


def cluster_processes(config: ClusterConfig) -> list[Process]:
    """api-server, scheduler, dag-processor, triggerer and the named workers. The first worker also serves
    the warehouse queue. Workers serve no logs of their own: on one machine they share the log folder,
    across machines the logs go to remote storage."""
    processes = [
        Process("api-server", ("airflow", "api-server", "--port", str(config.api_port), "--host", config.bind),
                port=config.api_port),
        Process("scheduler", ("airflow", "scheduler", "--skip-serve-logs")),
        Process("dag-processor", ("airflow", "dag-processor")),
        Process("triggerer", ("airflow", "triggerer", "--skip-serve-logs")),
    ]
    if config.executor != "CeleryExecutor":  # the scheduler runs the tasks itself (LocalExecutor)
        return processes
    for i, name in enumerate(config.workers):
        queues = f"{DEFAULT_QUEUE},{WAREHOUSE_QUEUE}" if i == 0 else DEFAULT_QUEUE
        processes.append(Process(
            name,
            ("airflow", "celery", "worker", "--celery-hostname", f"{name}@%h", "--queues", queues,
             "--concurrency", str(config.worker_concurrency), "--skip-serve-logs"),
            env={"ENVLAKE_NODE_NAME": name},
        ))
    return processes
