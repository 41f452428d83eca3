"""envlake status: each dataset's freshness against its declared update cycle (动态更新)."""

from __future__ import annotations

from typing import Annotated

import typer

from envlake.cli.output import console, print_json, print_table
from envlake.kernel.settings import Settings
from quality.freshness import assess, reference_time

STYLE = {"fresh": "green", "late": "yellow", "stale": "red", "never": "red"}


def status(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Freshness of every dataset: last load and newest event against its update cycle plus grace."""
    print_status(Settings.from_env(), as_json=as_json)


def print_status(settings: Settings, clock: str | None = None, as_json: bool = False) -> None:
    now = reference_time(settings, clock)
    rows = assess(settings, now)
    if as_json:
        print_json({"reference_time": now.isoformat(), "datasets": [r.as_dict() for r in rows]})
        return
    print_table(f"数据更新状态 — reference time {now:%Y-%m-%d %H:%M} UTC",
                ["dataset", "名称", "更新周期", "last load (h ago)", "newest event (h ago)", "state"],
                [[r.dataset, r.name_zh, f"{r.update_cycle_zh}+{r.grace_hours}h", r.load_lag_hours,
                  r.event_lag_hours, f"[{STYLE[r.state]}]{r.state_zh} {r.state}[/]"] for r in rows])
    stale = [r.dataset for r in rows if r.state in ("stale", "never")]
    if stale:
        console.print(f"{len(stale)} datasets need attention: {', '.join(stale)}", highlight=False)
