"""The modelling build at 1, 7 and 30 days of every outlet's hourly monitoring (`make bench`,
``scaling.modelling``): a full build (dbt build, the gates, the Parquet export, the catalog, the Iceberg
commit) into an empty build area, and its peak memory, for the growth fit in docs/scaling.md.

Then the same models on Spark (dbt-spark, session method, local[2]) over the same lake: seeds and models
without their data tests, Spark's start included, and whether every mart matches DuckDB's build.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import tempfile
from pathlib import Path

from rich.console import Console

from bench.dbt_build import land_monitoring, timed_build
from bench.results import record_scaling
from envlake.modelling import spark
from envlake.simulators.demo_sources import land_every_feed, scratch_environment
from envlake.simulators.departments import departments

HERE = Path(__file__).resolve().parent
SIZES = tuple(int(d) for d in os.environ.get("ENVLAKE_BENCH_SCALE_DAYS", "1,7,30").split(","))
console = Console()


def build_at(days: int) -> dict:
    root = Path(tempfile.mkdtemp(prefix=f"envlake-bench-scale-{days}-"))
    try:
        with scratch_environment(root) as settings:
            depts = departments(settings.sim_seed, settings.sim_start_date)
            land_every_feed(settings, days, monitoring=False)
            rows = land_monitoring(settings, depts, 0, days)
            console.print(f"{days} days: {rows:,} hourly readings; full build")
            cycle, seconds = timed_build(settings)
            console.print(f"{days} days: the same models on Spark")
            on_spark = spark.build(settings)
            comparison = spark.compare(settings.warehouse, on_spark.warehouse)
            return {"days": days, "spark_build_s": round(on_spark.seconds, 2),
                    "spark_failed_nodes": len(on_spark.failed), "spark_differences": len(comparison.differences),
                    "spark_to_duckdb_dbt": round(on_spark.seconds / cycle.dbt_seconds, 2),
                    "hourly_readings": rows, "build_s": round(seconds, 2),
                    "dbt_s": round(cycle.dbt_seconds, 2),
                    "fct_monitoring_hourly_rows": cycle.published.rows["fct_monitoring_hourly"]
                    if cycle.published else None,
                    "lake_mib": round(sum(p.stat().st_size for p in (root / "lake").rglob("*") if p.is_file())
                                      / 2**20, 1)}
    finally:
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    points = [build_at(days) for days in SIZES]
    peak_mib = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)
    first, last = points[0], points[-1]
    per_million = (last["build_s"] - first["build_s"]) / ((last["hourly_readings"] - first["hourly_readings"]) / 1e6)
    figures = {"engine": "duckdb", "points": points, "peak_rss_mib": peak_mib,
               "seconds_per_million_readings": round(per_million, 2),
               "fixed_seconds": round(first["build_s"] - per_million * first["hourly_readings"] / 1e6, 2),
               "ratio_30_to_1_day": round(last["build_s"] / first["build_s"], 2),
               "spark_ratio_30_to_1_day": round(last["spark_build_s"] / first["spark_build_s"], 2)}
    record_scaling("modelling", figures)
    console.print_json(json.dumps(figures))


if __name__ == "__main__":
    main()
