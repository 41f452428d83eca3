"""envlake quality: run the quality DAG's checks by hand (landed batch suites, dynamic-update rules)."""

from __future__ import annotations

from typing import Annotated

import typer

from envlake.cli.output import console, print_json, print_table
from envlake.kernel.settings import Settings

app = typer.Typer(help="Quality checks: GX suites of landed batches, freshness and completeness, alerts.",
                  no_args_is_help=True)


@app.command("check")
def check(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Validate landed batches not checked yet, assess every dataset's freshness, raise alerts."""
    from quality.dynamic_update import check as dynamic_update
    from quality.landed import validate_landed

    settings = Settings.from_env()
    with console.status("validating landed batches (Great Expectations)"):
        batches = validate_landed(settings)
    outcome = dynamic_update(settings)
    if as_json:
        print_json({"landed_batches": batches, **outcome})
        return
    if batches:
        print_table("入湖批次质量校验", ["dataset", "batches", "failed expectations"],
                    [[d, v["batches"], ", ".join(v["failed"]) or "—"] for d, v in sorted(batches.items())])
    stale = {d: s for d, s in outcome["states"].items() if s != "fresh"}
    console.print(f"reference time {outcome['reference_time'][:16]}: {len(outcome['states']) - len(stale)} fresh, "
                  + (", ".join(f"{d} {s}" for d, s in sorted(stale.items())) or "none late or stale"),
                  highlight=False)
    for alert in outcome["alerts"]:
        console.print(f"[red]alert[/] {alert['dataset']}: {alert['message']}", highlight=False)
