"""The publish gate: nothing is published when a dbt node failed or a governance gate (``quality.gates``)
found a problem; the reason is logged in ``_meta/publish_log`` and raised."""

from __future__ import annotations

from typing import Any

import duckdb

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.runner import DbtRun
from envlake.publishing.export import Publishable, changed_rows
from envlake.publishing.versions import log_publish, new_version
from quality.gates import GateTarget, check


class PublishBlocked(RuntimeError):
    """The audit failed: nothing was published."""


def block(settings: Settings, run: DbtRun) -> None:
    """Record a blocked publish and raise, naming what failed."""
    lake = Lake(settings.lake)
    failed = [f"{r.resource_type} {r.name}" for r in run.failed]
    message = run.failure_summary()
    log_publish(lake, new_version(), "blocked", {}, failed, message)
    raise PublishBlocked(f"not published, the last published version stays: {message}")


def run_gates(settings: Settings, lake: Lake, man: dict[str, Any], items: list[Publishable], version: str,
          plan: dict[str, tuple[dict[str, Any] | None, bool]]) -> dict[str, float]:
    """Run the governance gates; raise PublishBlocked naming model, column and rule when one fails."""
    con = Lake(settings.lake).register(duckdb.connect(str(settings.warehouse)))
    try:
        missing = [i.name for i in items if not con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [i.relation.split(".")[0], f"{i.relation.split('.')[1]}__shared"]).fetchone()[0]]
        if missing:
            raise PublishBlocked(f"no shared view for {', '.join(missing)}: rebuild them with `envlake models build`")
        targets = [GateTarget(i.uid, i.name, i.relation, i.shared_relation, changed_rows(con, i, plan[i.name][0]))
                   for i in items if plan[i.name][1]]
    finally:
        con.close()
    report = check(settings, man, targets, {i.uid for i in items}, version)
    if not report.passed:
        failed = sorted({f"{v.model}.{v.column}: {v.rule}" for v in report.violations}
                        | {f"{m}: {o.expectation}" for m, o in report.failed_expectations})
        message = f"governance gates failed: {report.summary()}"
        log_publish(lake, version, "blocked", {}, failed, message)
        raise PublishBlocked(f"not published, the last published version stays: {message}")
    return report.timings
