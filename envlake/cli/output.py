"""Output for people (rich tables, one-line errors) and for machines (--json)."""

from __future__ import annotations

import json
import sys
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

console = Console(width=None if Console().is_terminal else 140)
err_console = Console(stderr=True, soft_wrap=True)


def fail(message: str, hint: str = "") -> NoReturn:
    """One line on stderr, the message as it is (a file named ``export[1].csv`` is not markup), exit 1."""
    text = escape(message) + (f" — {escape(hint)}" if hint else "")
    err_console.print(f"[bold red]error:[/] {text}", highlight=False)
    raise typer.Exit(code=1)


def print_json(payload: Any) -> None:
    sys.stdout.write(json.dumps(payload, ensure_ascii=False, indent=2, default=str) + "\n")


def print_table(title: str, columns: list[str], rows: list[list[Any]]) -> None:
    table = Table(title=title, show_lines=False)
    for i, column in enumerate(columns):
        table.add_column(column, justify="left" if i == 0 else "right")
    for row in rows:
        table.add_row(*["" if v is None else str(v) for v in row])
    console.print(table)
