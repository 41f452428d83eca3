"""The same dbt models on Spark: dbt-spark (session method) from its own virtual environment.

pyspark cannot share the main environment (beside Great Expectations it kills pytest-xdist workers), so
`dbt_project/spark/` holds its own lock and `.venv`, created on first use like Superset's. The build reads
the same lake (every source an external Parquet table) and writes its tables as Parquet under
``<spark home>/warehouse``, which DuckDB reads back to compare the two targets mart by mart.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.layout import DBT_PROJECT_DIR
from envlake.modelling.runner import FAILED_STATUSES, DbtRunError, NodeResult, dbt_env

SPARK_PROJECT = DBT_PROJECT_DIR / "spark"
SPARK_VENV = SPARK_PROJECT / ".venv"
# Snapshots need `merge`, which Spark has only with Delta or Iceberg jars (not fetchable here); unit tests
# pin DuckDB's literal types. Both stay on the DuckDB target.
SPARK_EXCLUDE = ["resource_type:snapshot", "resource_type:unit_test"]


@dataclass
class SparkBuild:
    home: Path
    seconds: float
    results: list[NodeResult]

    @property
    def failed(self) -> list[NodeResult]:
        return [r for r in self.results if r.status in FAILED_STATUSES]

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse"


def spark_home(settings: Settings) -> Path:
    """Spark's warehouse and metastore: beside DuckDB's build area (``ENVLAKE_SPARK_HOME`` to move it)."""
    return Path(os.environ.get("ENVLAKE_SPARK_HOME") or settings.warehouse.parent / "spark").resolve()


def install() -> Path:
    """Create or update the Spark environment from its lock; the path of its ``dbt``."""
    dbt = SPARK_VENV / "bin" / "dbt"
    uv = shutil.which("uv")
    command = [uv] if uv else [sys.executable, "-m", "uv"]
    # its own .venv, whatever UV_PROJECT_ENVIRONMENT says (the platform image points it at the main one)
    env = {**os.environ, "UV_PROJECT_ENVIRONMENT": str(SPARK_VENV)}
    done = subprocess.run([*command, "sync", "--locked", "--quiet", "--project", str(SPARK_PROJECT)],
                          capture_output=True, text=True, env=env)
    if done.returncode != 0 or not dbt.exists():
        raise DbtRunError(f"installing dbt-spark failed: {done.stderr.strip()[-500:]} (check {SPARK_PROJECT})")
    return dbt


def lake_datasets(settings: Settings) -> list[str]:
    """``zone/dataset`` folders of the lake that hold Parquet files (the Spark sources need them to exist)."""
    lake = Lake(settings.lake)
    return [f"{zone}/{name}" for zone in ("raw", "quarantine") if lake.exists(lake.path(zone))
            for name in lake.datasets(zone) if lake.files(zone, name)]


def build(settings: Settings, select: list[str] | None = None, fresh: bool = True,
          with_tests: bool = False) -> SparkBuild:
    """``dbt build --target spark`` over the lake: seeds and models, and their data tests ``with_tests`` (a
    Spark job each: minutes more). ``fresh`` starts from an empty warehouse and metastore."""
    dbt = install()
    home = spark_home(settings)
    if fresh and home.exists():
        shutil.rmtree(home)
    home.mkdir(parents=True, exist_ok=True)
    target = DBT_PROJECT_DIR / "target-spark"
    env = {**os.environ, **dbt_env(settings), "ENVLAKE_DBT_TARGET": "spark", "ENVLAKE_SPARK_HOME": str(home),
           "DBT_TARGET_PATH": str(target), "DBT_LOG_PATH": str(home / "logs"), "PYTHONWARNINGS": "ignore"}
    env.pop("ENVLAKE_DBT_MANIFEST", None)
    variables = {"lake_datasets": lake_datasets(settings)}
    command = [str(dbt), "build", "--target", "spark", "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR),
               "--exclude", *SPARK_EXCLUDE, *([] if with_tests else ["resource_type:test"]),
               "--vars", json.dumps(variables)]
    if select:
        command += ["--select", *select]
    started = time.monotonic()
    with (home / "dbt.log").open("w") as log:
        done = subprocess.run(command, env=env, cwd=home, stdout=log, stderr=subprocess.STDOUT)
    seconds = time.monotonic() - started
    results_file = target / "run_results.json"
    if not results_file.exists() or results_file.stat().st_mtime < time.time() - seconds - 1:
        raise DbtRunError(f"dbt on Spark could not run (exit {done.returncode}): see {home / 'dbt.log'}")
    results = [NodeResult(r["unique_id"], r["unique_id"].split(".", 1)[0], r["unique_id"].rsplit(".", 1)[-1],
                          r["status"], r.get("message"), r.get("failures"), float(r.get("execution_time") or 0))
               for r in json.loads(results_file.read_text(encoding="utf-8"))["results"]]
    return SparkBuild(home, seconds, results)


@dataclass
class Difference:
    mart: str
    figure: str
    duckdb: object
    spark: object


NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
           "FLOAT", "DOUBLE", "DECIMAL")


def figure_sql(columns: dict[str, str]) -> list[tuple[str, str]]:
    """Per mart, the figures both targets must agree on: the row count and, per column, how many values it
    holds and a summary by type (a sum, the trues, the distinct texts, the earliest and latest times)."""
    figures = [("rows", "count(*)")]
    for name, dtype in columns.items():
        q = f'"{name}"'
        figures.append((f"{name}.count", f"count({q})"))
        if dtype.upper().startswith(NUMERIC):
            figures.append((f"{name}.sum", f"round(sum(cast({q} as double)), 4)"))
        elif dtype.upper() == "BOOLEAN":
            figures.append((f"{name}.true", f"count_if({q})"))
        elif dtype.upper() == "VARCHAR":
            figures.append((f"{name}.distinct", f"count(distinct {q})"))
        elif dtype.upper().startswith(("DATE", "TIMESTAMP")):
            figures.append((f"{name}.min", f"cast(min({q}) as varchar)"))
            figures.append((f"{name}.max", f"cast(max({q}) as varchar)"))
    return figures


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) or isinstance(b, float):
        return a is not None and b is not None and abs(float(a) - float(b)) <= 1e-6 * max(1.0, abs(float(a)))
    return a == b


@dataclass
class Comparison:
    rows: dict[str, int]  # each mart compared, with its rows on DuckDB
    differences: list[Difference]


def compare(warehouse: Path, spark_warehouse: Path, schema: str = "marts") -> Comparison:
    """Every table of ``schema`` in DuckDB's build area against the Parquet files Spark wrote for it: the
    marts compared and the figures that differ (none when the targets agree)."""
    import duckdb

    con = duckdb.connect(str(warehouse))  # as publish does: dbt in this process may hold the file open
    try:
        marts = [r[0] for r in con.execute(
            "select table_name from duckdb_tables() where schema_name = ? order by 1", [schema]).fetchall()]
        differences, rows = [], {}
        for mart in marts:
            columns = dict(con.execute(
                "select column_name, data_type from duckdb_columns() where schema_name = ? and table_name = ?"
                " order by column_index", [schema, mart]).fetchall())
            figures = figure_sql(columns)
            select = ", ".join(sql for _, sql in figures)
            ours = con.execute(f'select {select} from {schema}."{mart}"').fetchall()[0]
            rows[mart] = ours[0]
            folder = spark_warehouse / f"{schema}.db" / mart
            files = sorted(folder.rglob("*.parquet")) if folder.exists() else []
            if files:
                theirs = con.execute(f"select {select} from read_parquet(?, hive_partitioning = true)",
                                     [[str(f) for f in files]]).fetchall()[0]
            else:
                theirs = tuple(0 if name == "rows" or name.endswith((".count", ".true", ".distinct")) else None
                               for name, _ in figures)
            differences += [Difference(mart, name, a, b) for (name, _), a, b in zip(figures, ours, theirs, strict=True)
                            if not _same(a, b)]
        return Comparison(rows, differences)
    finally:
        con.close()
