"""Run dbt in-process on the build area, with the environment the project's YAML reads."""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from envlake.kernel.settings import Settings
from envlake.modelling.layout import DBT_PROJECT_DIR

# dbt result statuses that mean the node did not pass
FAILED_STATUSES = ("error", "fail", "runtime error")


class DbtRunError(RuntimeError):
    """dbt could not run, or some of its nodes failed."""


@dataclass
class NodeResult:
    unique_id: str
    resource_type: str
    name: str
    status: str
    message: str | None
    failures: int | None = None
    execution_time: float = 0.0


@dataclass
class DbtRun:
    command: list[str]
    success: bool
    results: list[NodeResult] = field(default_factory=list)

    @property
    def failed(self) -> list[NodeResult]:
        return [r for r in self.results if r.status in FAILED_STATUSES]

    def failure_summary(self) -> str:
        parts = [f"{r.resource_type} {r.name}: {(r.message or r.status).splitlines()[0]}" for r in self.failed]
        return "; ".join(parts) or "dbt reported a failure (see its log)"


def dbt_target(settings: Settings) -> str:
    """The profile's target: ``ENVLAKE_DBT_TARGET`` when set, else DuckDB reading a local or an S3 lake."""
    return os.environ.get("ENVLAKE_DBT_TARGET") or ("duckdb_s3" if settings.lake.startswith("s3://") else "duckdb")


def dbt_env(settings: Settings) -> dict[str, str]:
    """What profiles.yml and the sources read: the lake, the build area, where dbt writes its artefacts."""
    lake = settings.lake
    if "://" not in lake or lake.startswith("file://"):
        lake = str(Path(lake.removeprefix("file://")).resolve())
    settings.warehouse.parent.mkdir(parents=True, exist_ok=True)
    return {"ENVLAKE_LAKE": lake, "ENVLAKE_WAREHOUSE": str(settings.warehouse),
            "ENVLAKE_DBT_TARGET": dbt_target(settings),
            "DBT_PROFILES_DIR": str(DBT_PROJECT_DIR), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "DBT_PARTIAL_PARSE": "true"}


@contextmanager
def environment(values: dict[str, str]) -> Iterator[None]:
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_dbt(args: list[str], settings: Settings | None = None, variables: dict[str, Any] | None = None,
            quiet: bool = False) -> DbtRun:
    """``dbt <args>`` in this process; results per node. Raises only when dbt itself cannot start.
    ``quiet`` keeps dbt's log off the terminal (it still goes to dbt's log file)."""
    from dbt.cli.main import dbtRunner

    settings = settings or Settings.from_env()
    command = (["--log-level", "none"] if quiet else []) + [
        *args, "--project-dir", str(DBT_PROJECT_DIR), "--profiles-dir", str(DBT_PROJECT_DIR)]
    if variables:
        command += ["--vars", json.dumps(variables, ensure_ascii=False)]
    with environment(dbt_env(settings)):
        outcome = dbtRunner().invoke(command)
    if outcome.exception is not None:
        raise DbtRunError(f"dbt {' '.join(args)} could not run: {outcome.exception}")
    results = []
    for r in getattr(outcome.result, "results", None) or []:
        node = r.node
        results.append(NodeResult(node.unique_id, str(node.resource_type), node.name, str(r.status), r.message,
                                  getattr(r, "failures", None), float(r.execution_time or 0.0)))
    return DbtRun(command, bool(outcome.success), results)


def parse_manifest(settings: Settings | None = None, quiet: bool = False) -> Path:
    """``dbt parse``: the manifest Cosmos renders the modelling DAG from."""
    run = run_dbt(["parse"], settings, quiet=quiet)
    if not run.success:
        raise DbtRunError("dbt parse failed: fix the project (see dbt's messages above)")
    return manifest_path()


def manifest_path() -> Path:
    """Where `dbt parse` leaves the manifest (``ENVLAKE_DBT_MANIFEST`` when it was put elsewhere)."""
    return Path(os.environ.get("ENVLAKE_DBT_MANIFEST", str(DBT_PROJECT_DIR / "target" / "manifest.json")))


def manifest(path: Path | None = None) -> dict[str, Any]:
    path = path or manifest_path()
    if not path.exists():
        raise DbtRunError(f"no dbt manifest at {path}: run `envlake models parse` first")
    return json.loads(path.read_text(encoding="utf-8"))
