"""envlake lake: what the lake holds, per dataset and zone, from the Parquet files and load log."""

from __future__ import annotations

from typing import Annotated

import pyarrow.parquet as pq
import typer

from envlake.cli.output import print_json, print_table
from envlake.kernel import load_log
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings

app = typer.Typer(help="Inspect the lake: rows per dataset and zone, and the load log.", no_args_is_help=True)


def zone_rows(lake: Lake, zone: str, dataset: str) -> int:
    return sum(pq.ParquetFile(lake.fs.open_input_file(p)).metadata.num_rows for p in lake.files(zone, dataset))


def lake_counts(lake: Lake) -> list[dict]:
    datasets = sorted(set(lake.datasets("raw")) | set(lake.datasets("quarantine")))
    return [{"dataset": d, "raw_rows": zone_rows(lake, "raw", d), "quarantine_rows": zone_rows(lake, "quarantine", d),
             "raw_files": len(lake.files("raw", d))} for d in datasets]


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Rows in raw/ and quarantine/ per dataset."""
    lake = Lake(Settings.from_env().lake)
    rows = lake_counts(lake)
    if as_json:
        print_json(rows)
        return
    print_table(f"lake {lake.base}", ["dataset", "raw rows", "quarantined rows", "raw files"],
                [[r["dataset"], r["raw_rows"], r["quarantine_rows"], r["raw_files"]] for r in rows])


@app.command("log")
def show_log(
    dataset: Annotated[str | None, typer.Argument(help="Only this dataset.")] = None,
    last: Annotated[int, typer.Option(help="How many batches, newest last.")] = 20,
    as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False,
) -> None:
    """The load log: one line per batch with rows in, landed, quarantined and status."""
    table = load_log.read(Lake(Settings.from_env().lake), dataset)
    rows = table.slice(max(0, table.num_rows - last)).to_pylist()
    if as_json:
        print_json(rows)
        return
    print_table("load log", ["finished", "dataset", "status", "in", "landed", "new", "quarantined", "watermark"],
                [[str(r["finished_at"])[:19], r["dataset"], r["status"], r["rows_in"], r["rows_landed"],
                  r["rows_written"], r["rows_quarantined"], r["watermark_after"]] for r in rows])


@app.command("recover")
def recover_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Finish what killed ingests left: apply their committed transactions, remove their staged files and
    temporaries. A transaction whose owner still runs is left alone. Every land does this for its dataset."""
    from dataclasses import asdict

    from envlake.kernel.transactions import recover

    done = recover(Lake(Settings.from_env().lake))
    if as_json:
        print_json(asdict(done))
        return
    print_table("recovery", ["applied (committed)", "removed (uncommitted)", "temporaries removed"],
                [[len(done.applied), len(done.removed), done.temporaries]])
