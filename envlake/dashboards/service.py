"""A local Superset: installed in its own virtual environment, initialised once, started and stopped by pid.

Superset 6.1 pins clash with Airflow's, so it lives in ``envlake/dashboards/superset/.venv`` from its own lock
(``envlake/dashboards/superset/uv.lock``). Its home (metadata SQLite, secret key, pid and log) is ``.superset/``
unless ``SUPERSET_HOME`` says otherwise. It reads the lake only through its own read-only catalogs
(envlake/publishing/superset_catalogs.py), every DuckDB connection locked down (see superset_config.py).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.publishing import superset_catalogs as catalogs

HERE = Path(__file__).resolve().parent
PROJECT = HERE / "superset"
VENV = PROJECT / ".venv"
CONFIG = HERE / "superset_config.py"
# The lake folders Superset's city catalog may read: the shared zone, and the records the health dashboard
# shows (never curated/: no dashboard reads it). A district's catalog reads no folder at all
# (envlake/publishing/superset_catalogs.py).
READABLE = (("shared",), ("_meta", "quality", "results"), ("_meta", "freshness"),
            ("_meta", "publish_log"), ("_meta", "load_log"), ("_meta", "alerts"), ("_meta", "audit"))


def serve_args(bind: str) -> list[str]:
    """gunicorn's arguments for Superset: here and in the production image (``docker/compose.yaml``)."""
    return ["-w", "2", "-k", "gthread", "--threads", "4", "--timeout", "120", "-b", bind,
            "superset.app:create_app()"]


class SupersetError(RuntimeError):
    """Superset could not be installed, initialised or started."""


@dataclass
class Superset:
    home: Path
    port: int = 8088
    admin_user: str = "admin"
    admin_password: str = "admin"

    @classmethod
    def from_env(cls) -> Superset:
        return cls(Path(os.environ.get("SUPERSET_HOME", Path.cwd() / ".superset")).resolve(),
                   int(os.environ.get("SUPERSET_PORT", "8088")),
                   os.environ.get("SUPERSET_ADMIN_USER", "admin"), os.environ.get("SUPERSET_ADMIN_PASSWORD", "admin"))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid_file(self) -> Path:
        return self.home / "superset.pid"

    def env(self, settings: Settings | None = None) -> dict[str, str]:
        settings = settings or Settings.from_env()
        lake = Lake(settings.lake)
        allowed = json.dumps([lake.uri(lake.path(*parts)) for parts in READABLE])
        return {**os.environ, "SUPERSET_HOME": str(self.home), "SUPERSET_CONFIG_PATH": str(CONFIG),
                "ENVLAKE_SUPERSET_ALLOWED_DIRS": allowed, "FLASK_APP": "superset.app:create_app()",
                "ENVLAKE_SUPERSET_CATALOGS": str(catalogs.folder(settings.catalog).resolve()),
                "PYTHONWARNINGS": "ignore"}

    def executable(self, name: str) -> str:
        return str(VENV / "bin" / name)

    def _run(self, args: list[str], what: str) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        log = self.home / "setup.log"
        with log.open("a") as out:
            done = subprocess.run(args, env=self.env(), stdout=out, stderr=subprocess.STDOUT, cwd=self.home)
        if done.returncode != 0:
            raise SupersetError(f"{what} failed (exit {done.returncode}): see {log}")

    def install(self) -> None:
        """Create or update Superset's own virtual environment from its lock."""
        uv = shutil.which("uv")
        command = [uv] if uv else [sys.executable, "-m", "uv"]
        self._run([*command, "sync", "--locked", "--quiet", "--project", str(PROJECT)], "installing Superset")

    def initialise(self) -> None:
        """Metadata tables, the admin user, roles and permissions (once; upgrades are idempotent)."""
        marker = self.home / "initialised"
        self._run([self.executable("superset"), "db", "upgrade"], "superset db upgrade")
        if not marker.exists():
            self._run([self.executable("superset"), "fab", "create-admin", "--username", self.admin_user,
                       "--firstname", "envlake", "--lastname", "admin", "--email", "admin@envlake.local",
                       "--password", self.admin_password], "creating the admin user")
            self._run([self.executable("superset"), "init"], "superset init")
            marker.write_text("ok\n")

    def running(self) -> bool:
        try:
            return httpx.get(f"{self.url}/health", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def start(self, timeout_s: float = 120) -> None:
        if self.running():
            return
        self.home.mkdir(parents=True, exist_ok=True)
        log = (self.home / "superset.log").open("a")
        process = subprocess.Popen(
            [self.executable("gunicorn"), *serve_args(f"127.0.0.1:{self.port}"), "--pid", str(self.pid_file)],
            env=self.env(), stdout=log, stderr=subprocess.STDOUT, cwd=self.home, start_new_session=True)
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise SupersetError(f"Superset exited at start (code {process.returncode}): see "
                                    f"{self.home / 'superset.log'}")
            if self.running():
                return
            time.sleep(1)
        raise SupersetError(f"Superset did not answer {self.url}/health within {timeout_s:.0f} s")

    def stop(self) -> bool:
        if not self.pid_file.exists():
            return False
        pid = int(self.pid_file.read_text().strip() or 0)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(os.getpgid(pid), sig)
            except ProcessLookupError:
                break
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.2)
            else:
                continue
            break
        self.pid_file.unlink(missing_ok=True)
        return True

    def up(self) -> None:
        if self.running() and (self.home / "initialised").exists():
            return
        self.install()
        self.initialise()
        self.start()
