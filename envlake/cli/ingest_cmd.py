"""envlake ingest: land one batch by hand, for backfills and debugging."""

from __future__ import annotations

from typing import Annotated

import typer

from connectors.ingest import BatchFailed, ingest_group
from connectors.sources import SourceError
from envlake.cli.output import fail, print_json, print_table
from envlake.kernel.contracts import ContractError


def ingest(
    dataset: Annotated[str, typer.Argument(help="Dataset id, as in schemas/<dataset>.yaml (e.g. credit_rating).")],
    source: Annotated[str | None, typer.Option("--from", help="Source: http(s) URL, database URL or file path. "
                                               "Default: the environment's setting for the dataset.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the load record as JSON.")] = False,
) -> None:
    """Land one batch of DATASET from a source and print rows in, landed and quarantined.

    A file that feeds several datasets (a file group, like the waste-manifest export) lands all of them."""
    try:
        records = ingest_group(dataset, source)
    except ContractError as exc:
        fail(str(exc), "fix the contract or name a dataset that has one")
    except BatchFailed as exc:  # its message is the load log's, row for row
        if as_json:
            print_json([r.summary() for r in exc.records])
        fail(str(exc), f"recorded as failed in the load log (`envlake lake log {exc.records[0].dataset}`)")
    except SourceError as exc:  # before any batch: no source configured for the dataset
        fail(f"{dataset}: {exc}", "pass --from")
    except Exception as exc:  # raised by the lake writer, which recorded the failed batch itself
        fail(f"{dataset}: landing failed: {type(exc).__name__}: {exc}", "see `envlake lake log` and the lake's storage")
    if as_json:
        summaries = [r.summary() for r in records]
        print_json(summaries[0] if len(summaries) == 1 else summaries)
        return
    for record in records:
        print_table(f"{record.dataset} ← {record.source}",
                    ["rows in", "landed", "new in lake", "already in lake", "quarantined"],
                    [[record.rows_in, record.rows_landed, record.rows_written, record.rows_already_landed,
                      record.rows_quarantined]])
        for rule, count in sorted(record.quarantine_reasons.items(), key=lambda kv: -kv[1]):
            typer.echo(f"  quarantined {count:>6} × {rule}")
        if record.message:
            typer.echo(f"  {record.message}")
