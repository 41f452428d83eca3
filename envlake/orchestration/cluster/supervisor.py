"""Start and stop a cluster's processes on this machine: one process group each, tracked by pid file."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

from envlake.kernel.settings import Settings
from envlake.orchestration.cluster.processes import ClusterConfig, Process, cluster_env, cluster_processes
from envlake.orchestration.modelling import WAREHOUSE_POOL


class ClusterError(RuntimeError):
    pass


class Supervisor:
    def __init__(self, settings: Settings, config: ClusterConfig):
        self.settings = settings
        self.config = config
        self.run_dir = Path(config.home) / "run"
        self.env = cluster_env(settings, config)
        self.processes = cluster_processes(config)

    def pid_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.pid"

    def log_file(self, name: str) -> Path:
        return self.run_dir / f"{name}.log"

    def _airflow(self, args: list[str], what: str) -> None:
        binary = str(Path(sys.executable).parent / "airflow")
        with self.log_file(what).open("w") as out:
            code = subprocess.run([binary, *args], env=self.env, stdout=out, stderr=subprocess.STDOUT).returncode
        if code != 0:
            raise ClusterError(f"`airflow {' '.join(args)}` failed (exit {code}): see {self.log_file(what)}")

    def ensure_database(self) -> None:
        """The metadata database on PostgreSQL: created when missing (trust auth here, a role in production)."""
        url = sa.engine.make_url(self.config.metadata_url)
        if not url.drivername.startswith("postgresql"):
            return
        admin = sa.create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as conn:
                exists = conn.execute(sa.text("select 1 from pg_database where datname = :n"),
                                      {"n": url.database}).first()
                if not exists:
                    conn.execute(sa.text(f'CREATE DATABASE "{url.database}"'))
        except sa.exc.OperationalError as exc:
            raise ClusterError(f"PostgreSQL not reachable for the cluster's metadata ({url.render_as_string()}): "
                               f"{exc.orig}") from exc
        finally:
            admin.dispose()

    def migrate(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.ensure_database()
        passwords = Path(self.env["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE"])
        passwords.parent.mkdir(parents=True, exist_ok=True)
        passwords.write_text(json.dumps({"admin": self.config.admin_password}))
        self._airflow(["db", "migrate"], "db-migrate")
        self._airflow(["pools", "set", WAREHOUSE_POOL, "1", "DuckDB build area: one writer at a time"], "pools")

    def running(self) -> dict[str, int]:
        alive = {}
        for process in self.processes:
            pid = self._pid(process.name)
            if pid and _alive(pid):
                alive[process.name] = pid
        return alive

    def _pid(self, name: str) -> int | None:
        path = self.pid_file(name)
        return int(path.read_text().strip()) if path.exists() and path.read_text().strip() else None

    def start(self, timeout_s: float = 180, progress: Callable[[str], None] = lambda _: None) -> None:
        self.migrate()
        alive = self.running()
        binary_dir = Path(sys.executable).parent
        for process in self.processes:
            if process.name in alive:
                continue
            progress(f"starting {process.name}")
            self._spawn(process, binary_dir)
        self.wait_ready(timeout_s, progress)

    def _spawn(self, process: Process, binary_dir: Path) -> None:
        args = [str(binary_dir / process.args[0]), *process.args[1:]]
        with self.log_file(process.name).open("a") as log:
            child = subprocess.Popen(args, env={**self.env, **process.env}, stdout=log, stderr=subprocess.STDOUT,
                                     cwd=self.run_dir, start_new_session=True)
        self.pid_file(process.name).write_text(str(child.pid))

    def wait_ready(self, timeout_s: float, progress: Callable[[str], None]) -> None:
        """Healthy when the api-server answers, the scheduler and dag-processor report in, and every worker
        answers a Celery ping."""
        deadline = time.monotonic() + timeout_s
        progress("waiting for the api-server, the scheduler and the workers")
        while time.monotonic() < deadline:
            dead = [p.name for p in self.processes if p.name not in self.running()]
            if dead:
                raise ClusterError(f"{', '.join(dead)} exited at start: see {self.run_dir}/<name>.log")
            workers = self.config.workers if self.config.executor == "CeleryExecutor" else ()
            if self._healthy() and set(self.workers_answering() if workers else ()) >= set(workers):
                return
            time.sleep(2)
        raise ClusterError(f"the cluster was not healthy within {timeout_s:.0f} s: see the logs in {self.run_dir}")

    def _healthy(self) -> bool:
        try:
            health = httpx.get(f"{self.config.api_url}/api/v2/monitor/health", timeout=3).json()
        except (httpx.HTTPError, ValueError):
            return False
        return all(health.get(part, {}).get("status") == "healthy"
                   for part in ("metadatabase", "scheduler", "dag_processor"))

    def workers_answering(self) -> list[str]:
        """Worker names that answer a Celery ping on the broker."""
        code = ("from airflow.providers.celery.executors.celery_executor import app; import json; "
                "print(json.dumps([next(iter(r)) for r in app.control.ping(timeout=1.5)]))")
        out = subprocess.run([sys.executable, "-c", code], env=self.env, capture_output=True, text=True)
        if out.returncode != 0:
            return []
        try:
            return [name.split("@", 1)[0] for name in json.loads(out.stdout.strip().splitlines()[-1])]
        except (ValueError, IndexError):
            return []

    def stop(self, timeout_s: float = 30) -> list[str]:
        """Stop every process by its pid file: SIGTERM to every group at once (workers first), SIGKILL to those
        still alive after ``timeout_s``. All at once: one after another, six processes took up to six
        timeouts."""
        running = {}
        for process in reversed(self.processes):
            pid = self._pid(process.name)
            if pid and _alive(pid):
                running[process.name] = pid
            self.pid_file(process.name).unlink(missing_ok=True)
        _terminate(list(running.values()), timeout_s)
        return list(running)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of this process counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True


def _terminate(pids: list[int], timeout_s: float) -> None:
    for sig, wait in ((signal.SIGTERM, timeout_s), (signal.SIGKILL, 5)):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            pids = [pid for pid in pids if _alive(pid)]
            if not pids:
                return
            time.sleep(0.3)
