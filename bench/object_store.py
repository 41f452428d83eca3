"""Reading a shared table from object storage against the local folder (`make bench`, ``scaling.object_store``).

A 10-million-row monitoring mart in 30 day files is written to a local folder and to an S3-compatible
server on loopback (moto_server; MinIO or a cloud store in production: their latency is higher). Three reads
of each, median of three: a full scan aggregate (daily mean per pollutant), one logger over one week (the
typical department fetch: row groups pruned by statistics), and the whole table into Arrow. DuckDB reads S3
through fsspec's s3fs (httpfs cannot be installed here); pyarrow's own S3 filesystem for the Arrow read.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import boto3
import duckdb
import httpx
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
from rich.console import Console

from bench.monitoring import monitoring_batch
from bench.results import record_scaling
from envlake.kernel.lake import Lake
from envlake.simulators.demo_sources import free_port

ROWS = int(os.environ.get("ENVLAKE_BENCH_OBJECT_ROWS", "10000000"))
DAYS = 30
HERE = Path(__file__).resolve().parent
console = Console()
QUERIES = {
    "daily_mean_scan": "select data_date, pollutant_code, avg(avg_value) from t group by all",
    "one_logger_week": "select * from t where mn = '{mn}' and data_date between date '2026-01-08' and "
                       "date '2026-01-14'",
}


def _median(run, times: int = 3) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        run()
        samples.append(time.perf_counter() - started)
    return round(statistics.median(samples), 3)


def _write(lake: Lake, table: pa.Table) -> list[str]:
    files = []
    for day in pc.unique(table.column("data_date")).to_pylist():
        part = table.filter(pc.equal(table.column("data_date"), day)).sort_by([("mn", "ascending")])
        path = lake.path("shared", "fct_monitoring_hourly", f"data_date={day}", "part-bench.parquet")
        lake.write_parquet(part, path, row_group_size=100_000)
        files.append(path)
    return files


def measure(lake: Lake, files: list[str], mn: str) -> dict[str, float]:
    con = lake.register(duckdb.connect())
    listed = ", ".join(f"'{lake.uri(p)}'" for p in files)
    con.execute(f"create view t as select * from read_parquet([{listed}], hive_partitioning = false)")
    out = {name: _median(lambda sql=sql: con.execute(sql.format(mn=mn)).fetchall()) for name, sql in QUERIES.items()}
    out["whole_table_to_arrow"] = _median(lambda: pads.dataset(files, filesystem=lake.fs).to_table())
    return out


def main() -> None:
    table = monitoring_batch(ROWS, DAYS, seed=7).drop_columns(["qn", "cn", "packet_flag", "rtd", "code_sent"])
    table = table.append_column("data_date", pc.cast(table.column("data_time"), pa.date32()))
    mn = table.column("mn")[0].as_py()
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        os.environ.update({"ENVLAKE_S3_ENDPOINT": endpoint, "AWS_ACCESS_KEY_ID": "bench",
                           "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"})
        boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory() as tmp:
            results = {}
            for name, lake in (("local", Lake(str(Path(tmp) / "lake"))), ("object_store", Lake("s3://bench/lake"))):
                console.print(f"writing {table.num_rows:,} rows to the {name} lake")
                started = time.perf_counter()
                files = _write(lake, table)
                write_s = round(time.perf_counter() - started, 2)
                console.print(f"reading from the {name} lake")
                results[name] = {"write_s": write_s, **measure(lake, files, mn)}
    finally:
        server.terminate()
    ratios = {k: round(results["object_store"][k] / results["local"][k], 2) for k in results["local"]}
    figures = {"rows": table.num_rows, "files": DAYS, "server": "moto_server on loopback", "seconds": results,
               "ratio_object_store_to_local": ratios}
    console.print_json(json.dumps(figures))
    record_scaling("object_store", figures)


if __name__ == "__main__":
    main()
