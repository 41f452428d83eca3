"""docs/scaling.md quotes the figures `make bench` wrote to bench/results.json, not figures typed by hand:
a benchmark run that changes a figure must change the document with it."""

from __future__ import annotations

import json
import re

import pytest

from envlake.kernel.settings import REPO_ROOT

RESULTS = json.loads((REPO_ROOT / "bench" / "results.json").read_text(encoding="utf-8"))["scaling"]
DOC = (REPO_ROOT / "docs" / "scaling.md").read_text(encoding="utf-8")
NUMBER = re.compile(r"[+-]?\d[\d,]*(?:\.(\d+))?")


def table_rows(starting: str) -> list[list[str]]:
    """The cells of every Markdown table row whose first cell starts with ``starting``."""
    rows = [[c.strip() for c in line.strip().strip("|").split("|")] for line in DOC.splitlines()
            if line.startswith("|")]
    return [r for r in rows if r[0].startswith(starting)]


def quotes(cell: str, value: float) -> bool:
    """The cell's first number is ``value`` rounded to the digits it shows (either way at a half)."""
    found = NUMBER.search(cell)
    assert found, f"no number in {cell!r}"
    shown = float(found.group(0).replace(",", ""))
    return abs(shown - value) <= 0.5 * 10 ** -len(found.group(1) or "") + 1e-9


@pytest.mark.parametrize("point", RESULTS["modelling"]["points"], ids=lambda p: f"{p['days']}d")
def test_each_modelling_point_is_quoted_as_measured(point: dict) -> None:
    label = f"{point['days']} day" + ("s" if point["days"] > 1 else "")
    [row] = [r for r in table_rows(label) if r[0] == label]
    measured = [point["hourly_readings"], point["build_s"], point["dbt_s"], point["spark_build_s"],
                point["spark_to_duckdb_dbt"], point["spark_differences"], point["lake_mib"]]
    for cell, value in zip(row[1:], measured, strict=True):
        assert quotes(cell, value), (cell, value)


def test_the_executors_are_quoted_as_measured() -> None:
    seconds = RESULTS["cluster"]["seconds"]
    for executor, first_cell in (("LocalExecutor", "LocalExecutor, in"), ("CeleryExecutor", "CeleryExecutor")):
        [row] = table_rows(first_cell)
        assert quotes(row[1], seconds[executor]["ingestion_s"]), row
        assert quotes(row[2], seconds[executor]["modelling_s"]), row


def test_the_object_store_figures_are_quoted_as_measured() -> None:
    measured = RESULTS["object_store"]
    for key, first_cell in (("daily_mean_scan", "daily mean"), ("one_logger_week", "one logger"),
                            ("whole_table_to_arrow", "whole table"), ("write_s", "writing")):
        [row] = table_rows(first_cell)
        assert quotes(row[1], measured["seconds"]["local"][key]), row
        assert quotes(row[2], measured["seconds"]["object_store"][key]), row
        assert quotes(row[3], measured["ratio_object_store_to_local"][key]), row


def test_the_fitted_slope_is_the_benchmarks() -> None:
    slope = re.search(r"\*\*([\d.]+) s per million readings\*\*", DOC)
    assert slope and quotes(slope.group(1), RESULTS["modelling"]["seconds_per_million_readings"])
