"""envlake query --as <department>: a department's own SELECT, through the same checks and audit as the API."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta
from typing import Annotated
from zoneinfo import ZoneInfo

import typer

from envlake.access.config import build_service
from envlake.access.engine import QueryFailed, QueryTimeout, SessionUnsafe
from envlake.access.published_datasets import NothingPublished
from envlake.access.service import BadRequest, InternalError, Refused, Unauthorized
from envlake.cli.output import console, fail, print_json, print_table


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        fail(f"--as-of {text!r} is not a date or time", "give it as 2026-11-28 or 2026-11-28T09:30")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=ZoneInfo("Asia/Shanghai"))
    if len(text) == 10:  # a day means its end: what the table said that day
        moment += timedelta(days=1, microseconds=-1)
    return moment


def query(sql: Annotated[str, typer.Argument(help="One SELECT over the department's datasets")],
          department: Annotated[str, typer.Option("--as", help="The department's code")],
          clear: Annotated[bool, typer.Option("--clear", help="Refuse rather than mask ungranted columns")] = False,
          limit: Annotated[int | None, typer.Option(help="At most this many rows")] = None,
          as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
          as_csv: Annotated[bool, typer.Option("--csv", help="Print as CSV.")] = False,
          as_of: Annotated[str | None, typer.Option(
              "--as-of", help="What the shared tables said then: 2026-11-28 or 2026-11-28T09:30 (Beijing time "
                              "unless an offset is given)")] = None) -> None:
    """Run SQL as a department: its views only, conditional columns masked unless granted, audited."""
    when = _moment(as_of) if as_of else None
    service = build_service(channel="cli")
    try:
        result = service.query(service.department(department), sql, clear, limit, when, fmt="csv" if as_csv else None)
    except (Unauthorized, Refused, BadRequest, NothingPublished, QueryFailed, QueryTimeout, SessionUnsafe,
            InternalError) as exc:
        fail(f"refused: {exc}" if isinstance(exc, (Refused, BadRequest)) else str(exc))
    if as_csv and result.rendered is not None:  # formula-like cells neutralised, as the API's CSV
        for chunk in result.rendered:
            sys.stdout.buffer.write(chunk)
        sys.stdout.buffer.flush()
        return
    rows = result.table.to_pylist()
    if as_json:
        print_json({"department": department, "as_of": when.isoformat() if when else None,
                    "columns": result.columns, "clear_columns": result.clear,
                    "truncated": result.truncated, "rows": rows})
        return
    print_table(f"{department}: {len(rows)} rows" + (" (truncated)" if result.truncated else ""),
                result.table.column_names, [list(r.values()) for r in rows[:200]])
    if len(rows) > 200:
        console.print(f"… {len(rows) - 200} more rows: use --csv or --json for all", highlight=False)
