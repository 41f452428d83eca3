"""The same dbt models on two engines: DuckDB and Spark (dbt-spark, session method, from its own venv) build
the modelled lake, and every mart agrees: its row count and, per column, the count of values and a figure by
type (a sum, the trues, the distinct texts, the earliest and latest times)."""

from __future__ import annotations

from pathlib import Path

import pytest

from envlake.kernel.settings import Settings
from envlake.modelling import spark
from envlake.modelling.runner import run_dbt
from tests.modelling.conftest import ModelledLake


@pytest.mark.integration
@pytest.mark.timeout(1500)
def test_duckdb_and_spark_build_the_same_marts(modelled_lake: ModelledLake, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVLAKE_WAREHOUSE", str(tmp_path / "duckdb" / "envlake.duckdb"))
    monkeypatch.setenv("ENVLAKE_SPARK_HOME", str(tmp_path / "spark"))
    settings = Settings.from_env()
    duckdb_run = run_dbt(["build", "--exclude", *spark.SPARK_EXCLUDE], settings, quiet=True)
    assert duckdb_run.success and not duckdb_run.failed, duckdb_run.failure_summary()

    built = spark.build(settings)
    assert not built.failed, [(r.name, (r.message or "")[:300]) for r in built.failed]
    models = {r.name for r in built.results if r.resource_type == "model"}
    assert {"dim_enterprise", "fct_monitoring_hourly", "fct_exceedance_event", "mart_district_scorecard",
            "mart_problem_loop"} <= models

    comparison = spark.compare(settings.warehouse, built.warehouse)
    assert not comparison.differences, [(d.mart, d.figure, d.duckdb, d.spark) for d in comparison.differences[:20]]
    assert len(comparison.rows) >= 15
    # not a vacuous agreement: the marts hold rows
    assert all(comparison.rows[m] > 0 for m in ("dim_enterprise", "fct_monitoring_hourly", "fct_exceedance_event",
                                                 "mart_district_scorecard", "mart_problem_loop")), comparison.rows
