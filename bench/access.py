"""Benchmark of the departments' query API (`make bench`, figures in bench/results.json under ``access``).

A published lake with one 10-million-row monitoring table (30 day files, sorted by logger within a day, as a
partitioned publish writes them) is served by ``envlake serve`` (uvicorn, one worker) on loopback. A load
client in another process keeps 16 requests in flight for a fixed time: each a typical filtered fetch of
1,000 rows (one data logger, one week) as JSON, then as Arrow. The same SQL is then run directly in DuckDB
over the same files, with 16 threads, for the ratio: what the service adds (HTTP, tokens, grants, the
locked session, serialisation, the audit) to the query itself.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import httpx
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console

from bench.monitoring import monitoring_batch
from envlake.access.store import AccessStore
from envlake.simulators.demo_sources import free_port

ROWS = int(os.environ.get("ENVLAKE_BENCH_ACCESS_ROWS", "10000000"))
DAYS = 30
CLIENTS = 16
SECONDS = float(os.environ.get("ENVLAKE_BENCH_ACCESS_SECONDS", "20"))
DATASET = "fct_monitoring_hourly"
HERE = Path(__file__).resolve().parent
console = Console()


def build_lake(root: Path) -> tuple[list[str], list[str]]:
    """The published lake: day files in curated/ and shared/, the manifest, the gate report. Returns the
    shared files and the loggers' MNs."""
    table = monitoring_batch(ROWS, DAYS, seed=7).drop_columns(["qn", "cn", "packet_flag", "rtd", "code_sent"])
    table = table.append_column("data_date", pc.cast(table.column("data_time"), pa.date32()))
    version = "20261129T000000000000-bench0"
    files: dict[str, list[str]] = {"curated": [], "shared": []}
    days = pc.unique(table.column("data_date")).to_pylist()
    for day in days:
        part = table.filter(pc.equal(table.column("data_date"), day)).sort_by(
            [("mn", "ascending"), ("pollutant_code", "ascending"), ("data_time", "ascending")])
        for zone in files:
            folder = root / "lake" / zone / DATASET / f"data_date={day}"
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"part-{version}.parquet"
            pq.write_table(part, path, compression="zstd", row_group_size=100_000)
            files[zone].append(str(path))
    meta = root / "lake" / "_meta"
    (meta / "publish").mkdir(parents=True)
    (meta / "quality" / "gates").mkdir(parents=True)
    state = {"version": version, "published_at": datetime.now(UTC).isoformat(), "models": {DATASET: table.num_rows},
             "marts": {DATASET: {"rows": table.num_rows, "files": files}}}
    (meta / "publish" / "current.json").write_text(json.dumps(state))
    classes = {DATASET: [{"column": c, "security_level": "L1", "sharing_class": "unconditional", "pii": False,
                          "shared": "clear"} for c in table.column_names]}
    (meta / "quality" / "gates" / f"{version}.json").write_text(json.dumps({"classes": classes}))
    return files["shared"], sorted(set(table.column("mn").to_pylist()))


def typical_requests(mns: list[str], count: int, seed: int = 11) -> list[tuple[str, str, str]]:
    """(mn, first day, last day): one logger over one week."""
    rng = np.random.default_rng(seed)
    first = np.datetime64("2026-01-01")
    out = []
    for _ in range(count):
        start = first + int(rng.integers(0, DAYS - 7))
        out.append((mns[int(rng.integers(0, len(mns)))], str(start), str(start + 6)))
    return out


def _summary(latencies: list[float], seconds: float, rows: list[int], errors: int) -> dict:
    ordered = sorted(latencies)
    return {"requests": len(latencies), "errors": errors, "seconds": round(seconds, 2),
            "requests_per_s": round(len(latencies) / seconds, 1),
            "p50_ms": round(ordered[len(ordered) // 2] * 1000, 2) if ordered else None,
            "p95_ms": round(ordered[int(len(ordered) * 0.95)] * 1000, 2) if ordered else None,
            "mean_rows": round(statistics.mean(rows), 1) if rows else 0}


async def _load(url: str, token: str, requests: list[tuple[str, str, str]], fmt: str, seconds: float) -> dict:
    latencies: list[float] = []
    rows: list[int] = []
    errors = 0
    deadline = time.perf_counter() + seconds
    headers = {"Authorization": f"Bearer {token}"}

    async def client(i: int) -> None:
        nonlocal errors
        async with httpx.AsyncClient(base_url=url, headers=headers, timeout=60) as http:
            n = i
            while time.perf_counter() < deadline:
                mn, first, last = requests[n % len(requests)]
                n += CLIENTS
                params = [("filter", f"mn={mn}"), ("filter", f"data_date>={first}"), ("filter", f"data_date<={last}"),
                          ("limit", "1000"), ("format", fmt)]
                started = time.perf_counter()
                response = await http.get(f"/datasets/{DATASET}/rows", params=params)
                if response.status_code != 200:
                    errors += 1
                    continue
                latencies.append(time.perf_counter() - started)
                rows.append(int(response.headers["x-envlake-rows"]))

    started = time.perf_counter()
    await asyncio.gather(*(client(i) for i in range(CLIENTS)))
    return _summary(latencies, time.perf_counter() - started, rows, errors)


def _load_process(url: str, token: str, requests: list, fmt: str, seconds: float, out: multiprocessing.Queue) -> None:
    out.put(asyncio.run(_load(url, token, requests, fmt, seconds)))


def load(url: str, token: str, requests: list, fmt: str, seconds: float) -> dict:
    """The load client in its own process, so that it does not share the server's interpreter."""
    queue: multiprocessing.Queue = multiprocessing.get_context("spawn").Queue()
    process = multiprocessing.get_context("spawn").Process(target=_load_process,
                                                           args=(url, token, requests, fmt, seconds, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def direct(files: list[str], requests: list[tuple[str, str, str]], seconds: float) -> dict:
    """The same SQL straight in DuckDB, 16 threads on cursors of one connection."""
    con = duckdb.connect()
    listed = ", ".join(f"'{f}'" for f in files)
    con.execute(f"create view {DATASET} as select * from read_parquet([{listed}], hive_partitioning = false, "
                "union_by_name = true)")
    sql = (f"select * from {DATASET} where mn = cast(? as varchar) and data_date >= cast(? as date) "
           "and data_date <= cast(? as date) limit 1001")
    latencies: list[float] = []
    rows: list[int] = []
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def worker(i: int) -> None:
        cursor = con.cursor()
        n = i
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            table = cursor.sql(sql, params=list(requests[n % len(requests)])).to_arrow_table()
            with lock:
                latencies.append(time.perf_counter() - started)
                rows.append(min(table.num_rows, 1000))
            n += CLIENTS
        cursor.close()

    started = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result = _summary(latencies, time.perf_counter() - started, rows, 0)
    con.close()
    return result


def serve(root: Path, port: int) -> subprocess.Popen:
    env = {**os.environ, "ENVLAKE_LAKE": str(root / "lake"), "ENVLAKE_ACCESS_DB": f"sqlite:///{root / 'access.sqlite'}",
           "ENVLAKE_ACCESS_MAX_ROWS": "10000"}
    process = subprocess.Popen([sys.executable, "-m", "uvicorn", "envlake.access.asgi:create", "--factory", "--host",
                                "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"],
                               env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    for _ in range(120):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"envlake serve did not start: {process.stderr.read().decode()[-2000:]}")


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="envlake-bench-access-"))
    try:
        console.print(f"access: writing a published lake of {ROWS:,} monitoring rows")
        files, mns = build_lake(root)
        token = AccessStore(f"sqlite:///{root / 'access.sqlite'}").add_department("bench_dept", "压测部门", "bench")
        requests = typical_requests(mns, 4000)
        port = free_port()
        server = serve(root, port)
        url = f"http://127.0.0.1:{port}"
        try:
            load(url, token, requests[:64], "json", 3)  # warm-up: the session's views, the OS page cache
            figures = {}
            for fmt in ("json", "arrow"):
                console.print(f"access: {CLIENTS} clients for {SECONDS:g} s, {fmt}")
                figures[f"service_{fmt}"] = load(url, token, requests, fmt, SECONDS)
                console.print(f"  {figures[f'service_{fmt}']}")
        finally:
            server.terminate()
            server.wait(timeout=30)
        console.print(f"access: the same query directly in DuckDB, {CLIENTS} threads")
        direct(files, requests[:64], 3)
        figures["direct_duckdb"] = direct(files, requests, SECONDS)
        console.print(f"  {figures['direct_duckdb']}")
        base = figures["direct_duckdb"]
        figures["ratios"] = {
            f"{fmt}_requests_per_s_vs_direct": round(figures[f"service_{fmt}"]["requests_per_s"]
                                                     / base["requests_per_s"], 3) for fmt in ("json", "arrow")}
        figures["ratios"].update({
            f"{fmt}_p95_vs_direct": round(figures[f"service_{fmt}"]["p95_ms"] / base["p95_ms"], 2)
            for fmt in ("json", "arrow")})
        figures.update({"rows": ROWS, "clients": CLIENTS, "seconds": SECONDS, "uvicorn_workers": 1,
                        "measured_at": datetime.now(UTC).isoformat(), "cpus": os.cpu_count(),
                        "machine": platform.machine()})
        out = HERE / "results.json"
        previous = json.loads(out.read_text()) if out.exists() else {}
        previous["access"] = figures
        out.write_text(json.dumps(previous, ensure_ascii=False, indent=2) + "\n")
        console.print(f"access: ratios {figures['ratios']} → {out}")
    finally:
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
