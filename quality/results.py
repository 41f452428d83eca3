"""Quality results in the lake: ``_meta/quality/results/``, one row per batch and expectation."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from envlake.kernel.lake import Lake
from envlake.kernel.records import RESULT_SCHEMA
from quality.expectations import Outcome


def results_path(lake: Lake) -> str:
    return lake.path("_meta", "quality", "results")


def write(lake: Lake, kind: str, dataset: str, run: str, batch: str, outcomes: list[Outcome]) -> str:
    now = datetime.now(UTC)
    table = pa.Table.from_pylist([
        {"kind": kind, "dataset": dataset, "run": run, "batch": batch, "expectation": o.expectation,
         "column": o.column, "success": o.success, "observed_value": o.observed_value,
         "unexpected_count": o.unexpected_count, "element_count": o.element_count, "checked_at": now}
        for o in outcomes], schema=RESULT_SCHEMA)
    path = lake.path("_meta", "quality", "results", f"kind={kind}", f"dataset={dataset}",
                     f"{now:%Y%m%dT%H%M%S%f}-{run[-12:].replace('/', '_')}.parquet")
    lake.write_parquet(table, path)
    return path
