"""One modelling cycle: check the generated YAML, ``dbt build`` (seeds, models, snapshots, tests), publish."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from envlake.kernel.settings import Settings
from envlake.modelling import codegen
from envlake.modelling.runner import DbtRun, DbtRunError, run_dbt
from envlake.publishing.publish import PublishResult, publish


@dataclass
class CycleResult:
    run: DbtRun
    published: PublishResult | None
    dbt_seconds: float = 0.0  # the dbt build alone, without the gates and the export


def check_generated() -> None:
    stale = codegen.check()
    if stale:
        names = ", ".join(p.name for p in stale[:3]) + (" …" if len(stale) > 3 else "")
        raise DbtRunError(f"dbt YAML is out of date with the contracts ({names}): run `envlake models generate`")


def build_and_publish(settings: Settings | None = None, select: list[str] | None = None,
                      variables: dict[str, Any] | None = None, publish_after: bool = True,
                      quiet: bool = False) -> CycleResult:
    """Build into the build area; publish only when every node and test passed (else PublishBlocked)."""
    settings = settings or Settings.from_env()
    check_generated()
    args = ["build"] + (["--select", *select] if select else [])
    started = time.perf_counter()
    run = run_dbt(args, settings, variables, quiet=quiet)
    dbt_seconds = time.perf_counter() - started
    if not publish_after:
        return CycleResult(run, None, dbt_seconds)
    built = {r.name for r in run.results if r.resource_type in ("model", "snapshot")} if select else None
    return CycleResult(run, publish(settings, run, only=built), dbt_seconds)
