"""Shared fixtures: a lake in a temporary folder, the simulated departments, real databases."""

from __future__ import annotations

import json
import os
import resource
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, ExitStack
from pathlib import Path
from typing import TypeVar

import httpx
import pytest
import sqlalchemy as sa

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.simulators import permit_api
from envlake.simulators.demo_sources import free_port

SEED, START = 20260101, "2026-01-01"
T = TypeVar("T")
TESTS = Path(__file__).resolve().parent


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist each worker gets its own dbt target and log folders: dbt writes its manifest and
    partial-parse state there, and two workers must not write the same files."""
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if worker:
        project = TESTS.parent / "dbt_project"
        os.environ["DBT_TARGET_PATH"] = str(project / f"target-{worker}")
        os.environ["DBT_LOG_PATH"] = str(project / f"logs-{worker}")
        os.environ["ENVLAKE_DBT_MANIFEST"] = str(project / f"target-{worker}" / "manifest.json")


# The order pytest-xdist hands files out in (--dist loadfile --no-loadscope-reorder: the Makefile). It gives
# each worker one file, then at once a second one queued behind it, then more as workers free up. So: the
# three longest files first, one per worker (the demo twice with Superset, the demo on object storage, the
# Celery cluster); then three quick files to wait behind them; then the longer of the rest.
LONGEST_FIRST = ("tests/e2e/test_demo.py", "tests/e2e/test_demo_s3.py", "tests/orchestration/test_celery.py",
                 "tests/docker/", "tests/kernel/test_credit_code.py", "tests/kernel/test_contracts.py",
                 "tests/dashboards/", "tests/security/test_superset.py", "tests/modelling/test_spark.py", "tests/dags/",
                 "tests/modelling/", "tests/publishing/")
# Folders whose files share a session fixture's lake (modelled_lake, catalogued) go to one worker as one unit,
# so that the lake is built once, not once on every worker that runs one of them (four builds in CI).
SHARED_LAKE_FOLDERS = {"tests/modelling/": "modelled_lake", "tests/publishing/": "modelled_lake",
                       "tests/dashboards/": "modelled_lake",
                       "tests/security/test_superset.py": "modelled_lake", "tests/access/": "catalogued",
                       "tests/security/test_query_": "catalogued"}


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    def rank(item: pytest.Item) -> int:
        path = item.nodeid.split("::", 1)[0]
        return next((i for i, prefix in enumerate(LONGEST_FIRST) if path.startswith(prefix)), len(LONGEST_FIRST))

    items.sort(key=rank)  # stable: the order within a file stays


def pytest_xdist_make_scheduler(config: pytest.Config, log: object) -> object | None:
    """--dist loadfile, with the shared-lake folders as one unit each (xdist's own loadgroup marks no longer
    group anything under pytest 9: it renames ``_nodeid``, which pytest 9 no longer reads)."""
    if config.getvalue("dist") != "loadfile":
        return None
    from xdist.scheduler import LoadScopeScheduling

    class SharedLakeScheduling(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return next((unit for folder, unit in SHARED_LAKE_FOLDERS.items() if path.startswith(folder)), path)

    return SharedLakeScheduling(config, log)


# CI is CPU-bound on two cores: with ENVLAKE_TEST_CPU_DIR set, each xdist worker writes the CPU seconds each
# test took (its own and its waited-for subprocesses'), to find what to cut. Off by default.
CPU_DIR = os.environ.get("ENVLAKE_TEST_CPU_DIR")


def _cpu_seconds() -> float:
    return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                 resource.getrusage(resource.RUSAGE_CHILDREN)))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    before = _cpu_seconds() if CPU_DIR else 0.0
    yield
    if CPU_DIR:
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        with (Path(CPU_DIR) / f"{worker}.jsonl").open("a") as out:
            out.write(json.dumps({"test": item.nodeid, "cpu_s": round(_cpu_seconds() - before, 2)}) + "\n")


_ONCE: dict[str, object] = {}


def once_per_process(request: pytest.FixtureRequest, key: str, make: Callable[[], AbstractContextManager[T]]) -> T:
    """A session fixture's value, made once per process. A fixture imported into another folder's conftest or
    module is a second fixture to pytest, with a session value of its own: the modelled lake was built once
    per folder that imports it, even on one worker. Torn down when the session ends."""
    if key not in _ONCE:
        stack = ExitStack()
        _ONCE[key] = stack.enter_context(make())
        request.config.add_cleanup(stack.close)
        request.config.add_cleanup(lambda: _ONCE.pop(key, None))
    return _ONCE[key]  # type: ignore[return-value]


PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
MARIADB_ADMIN = "mysql+pymysql://root@127.0.0.1:3306/"


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Point every setting at a temporary lake and simulator folder."""
    monkeypatch.setenv("ENVLAKE_LAKE", str(tmp_path / "lake"))
    monkeypatch.setenv("ENVLAKE_SIM_DIR", str(tmp_path / "sim"))
    monkeypatch.setenv("ENVLAKE_STATION_API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ENVLAKE_ENFORCEMENT_API_URL", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("ENVLAKE_CREDIT_DB_URL", f"sqlite:///{tmp_path / 'sim' / 'credit.sqlite'}")
    monkeypatch.setenv("ENVLAKE_HTTP_RETRIES", "2")
    monkeypatch.setenv("ENVLAKE_HTTP_TIMEOUT", "2")
    monkeypatch.setenv("ENVLAKE_SIM_SEED", str(SEED))
    monkeypatch.setenv("ENVLAKE_SIM_START", START)
    return Settings.from_env()


@pytest.fixture
def lake(env: Settings) -> Lake:
    return Lake(env.lake)


class PermitApi:
    def __init__(self, url: str):
        self.url = url

    def control(self, **body: object) -> dict:
        return httpx.post(f"{self.url}/_control", content=json.dumps(body)).json()


@pytest.fixture
def permit_api_server(env: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[PermitApi]:
    port = free_port()
    server = permit_api.serve("127.0.0.1", port, SEED, START, 0)
    url = f"http://127.0.0.1:{port}"
    monkeypatch.setenv("ENVLAKE_PERMIT_API_URL", url)
    try:
        yield PermitApi(url)
    finally:
        server.shutdown()
        server.server_close()


def _scratch_database(admin_url: str, create: str, drop: str, url_for: str) -> Iterator[str]:
    name = f"envlake_test_{uuid.uuid4().hex[:10]}"
    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(create.format(name=name)))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"database server not reachable at {admin_url}: {exc.orig}")
    try:
        yield url_for.format(name=name)
    finally:
        with engine.connect() as conn:
            conn.execute(sa.text(drop.format(name=name)))
        engine.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    yield from _scratch_database(PG_ADMIN, 'CREATE DATABASE "{name}"', 'DROP DATABASE "{name}" WITH (FORCE)',
                                 "postgresql://postgres@127.0.0.1:5432/{name}")


@pytest.fixture
def mariadb_url() -> Iterator[str]:
    yield from _scratch_database(MARIADB_ADMIN, "CREATE DATABASE `{name}` CHARACTER SET utf8mb4",
                                 "DROP DATABASE `{name}`", "mysql+pymysql://root@127.0.0.1:3306/{name}?charset=utf8mb4")
