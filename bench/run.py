"""Benchmarks (`make bench`): figures go to bench/results.json, quoted as ratios in notes.

writer: rows per second landing 10 M contract-validated, monitoring-shaped rows (Arrow batches of
1 M) through the lake writer into day-partitioned Parquet, against a bare pyarrow write of the same
table, day-partitioned the same way on the same threads, and against dlt's Arrow path.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
from rich.console import Console

from bench.monitoring import monitoring_batch
from connectors.writer import LakeWriter
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake

ROWS = int(os.environ.get("ENVLAKE_BENCH_ROWS", "10000000"))
BATCH_ROWS = 1_000_000
DAYS = 30
REPEATS = int(os.environ.get("ENVLAKE_BENCH_REPEATS", "3"))
HERE = Path(__file__).resolve().parent
console = Console()


def timed(fn: Callable[[Path], object], repeats: int) -> list[float]:
    times = []
    for _ in range(repeats):
        folder = Path(tempfile.mkdtemp(prefix="envlake-bench-"))
        try:
            start = time.perf_counter()
            fn(folder)
            times.append(time.perf_counter() - start)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
    return times


def measure(name: str, fn: Callable[[Path], object], repeats: int, count: int, unit: str) -> dict:
    """Median wall time of ``repeats`` runs, each in a fresh folder, and ``count`` ÷ it per second."""
    console.print(f"running {name} ×{repeats}")
    times = timed(fn, repeats)
    median = statistics.median(times)
    console.print(f"  {name}: {count / median / 1e3:,.0f} k {unit}/s (median of {repeats})")
    return {"seconds_median": round(median, 3), "seconds_all": [round(t, 3) for t in times],
            f"{unit}_per_second": round(count / median)}


def bare_pyarrow(table: pa.Table) -> Callable[[Path], None]:
    def run(folder: Path) -> None:
        days = pc.cast(table.column("data_time"), pa.date32()).combine_chunks().cast(pa.int32()).to_numpy()
        bounds = np.flatnonzero(np.diff(days)) + 1
        starts, ends = np.concatenate([[0], bounds]), np.concatenate([bounds, [len(days)]])

        def write(i: int) -> None:
            part = folder / f"event_date={np.datetime64('1970-01-01') + int(days[starts[i]])}"
            part.mkdir(parents=True, exist_ok=True)
            pq.write_table(table.slice(starts[i], ends[i] - starts[i]), part / "part-0.parquet", compression="zstd")

        with ThreadPoolExecutor(2) as pool:
            list(pool.map(write, range(len(starts))))
    return run


def envlake_writer(batches: list[pa.Table]) -> Callable[[Path], None]:
    contract = load_contract("monitoring_hourly")

    def run(folder: Path) -> None:
        writer = LakeWriter(Lake(str(folder)))
        for batch in batches:
            record = writer.land(contract, batch, source="bench")
            assert record.rows_in == record.rows_landed + record.rows_quarantined
    return run


def dlt_arrow(batches: list[pa.Table]) -> Callable[[Path], None]:
    import dlt

    def run(folder: Path) -> None:
        os.environ["DLT_DATA_DIR"] = str(folder / "dlt-data")
        pipeline = dlt.pipeline(pipeline_name="bench", pipelines_dir=str(folder / "pipelines"),
                                destination=dlt.destinations.filesystem(bucket_url=str(folder / "out")),
                                dataset_name="monitoring")
        pipeline.run((b for b in batches), table_name="monitoring_hourly", loader_file_format="parquet")
    return run


def hj212_figures(repeats: int) -> dict:
    """Packets parsed per second (frame, CRC, fields, readings) against a bare Polars split of the same
    lines into key=value fields without CRC; both start from the same bytes."""
    import io

    import polars as pl

    from bench.hj212_packets import hourly_packets
    from connectors.hj212.bulk import parse_packets

    packets = int(os.environ.get("ENVLAKE_BENCH_PACKETS", "1000000"))
    console.print(f"generating {packets:,} HJ 212 hourly packets")
    blob = hourly_packets(packets, seed=7)
    parse_packets(blob[:100_000])  # compile (numba caches to disk) outside the timing

    def ours(_: Path) -> None:
        parsed = parse_packets(blob)
        assert parsed.packets == packets and parsed.rejected.num_rows == 0

    def polars_split(_: Path) -> None:
        lines = pl.read_csv(io.BytesIO(blob), has_header=False, separator="\x01", new_columns=["line"],
                            quote_char=None, schema_overrides={"line": pl.String})
        fields = (lines.select(pl.col("line").str.split(";")).explode("line")
                  .select(pl.col("line").str.split_exact("=", 1)).unnest("line"))
        assert fields.height > packets

    figures = {name: measure(name, fn, repeats, packets, "packets")
               for name, fn in (("envlake_parser", ours), ("polars_split_no_crc", polars_split))}
    return {"packets": packets, "bytes_per_packet": round(len(blob) / packets), **figures,
            "ratio_parser_to_polars_split": round(figures["envlake_parser"]["packets_per_second"]
                                                  / figures["polars_split_no_crc"]["packets_per_second"], 3),
            "targets": {"packets_per_second": ">= 500000", "ratio_parser_to_polars_split": ">= 0.6"}}


def receiver_figures() -> dict:
    """Packets acknowledged per second by the receiver with 200 concurrent loggers on loopback,
    and how many acknowledged packets are missing from the landing files afterwards."""
    import asyncio
    import socket

    from connectors.hj212.bulk import parse_packets
    from connectors.hj212.receiver import ReceiverThread
    from envlake.simulators.loggers import hourly_packet, send_all
    from envlake.simulators.monitoring import LoggerDay

    loggers, per_logger = 200, int(os.environ.get("ENVLAKE_BENCH_PACKETS_PER_LOGGER", "250"))
    days = [LoggerDay(f"3301090000{i:011d}A", [hourly_packet(f"3301090000{i:011d}A", h, {"w01018": 20.0 + h % 9})
                                                for h in range(per_logger)]) for i in range(loggers)]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    folder = Path(tempfile.mkdtemp(prefix="envlake-bench-landing-"))
    console.print(f"running receiver: {loggers} loggers × {per_logger} packets")
    try:
        with ReceiverThread(folder, "127.0.0.1", port):
            start = time.perf_counter()
            results = asyncio.run(send_all("127.0.0.1", port, days, concurrency=loggers))
            seconds = time.perf_counter() - start
        acknowledged = {(r.mn, qn) for r in results for qn in r.acknowledged}
        landed = parse_packets(b"".join(p.read_bytes() for p in folder.glob("*.hj212"))).readings
        on_disk = set(zip(landed["mn"].to_pylist(), landed["qn"].to_pylist(), strict=True))
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    console.print(f"  receiver: {len(acknowledged) / seconds / 1e3:.1f} k packets/s acknowledged")
    return {"loggers": loggers, "packets_per_logger": per_logger, "seconds": round(seconds, 3),
            "packets_acknowledged": len(acknowledged),
            "acknowledged_per_second": round(len(acknowledged) / seconds),
            "acknowledged_but_not_landed": len(acknowledged - on_disk),
            "note": "each logger waits for the answer to a packet before sending the next, as loggers do"}


def main() -> None:
    os.environ.setdefault("RUNTIME__LOG_LEVEL", "WARNING")
    os.environ.setdefault("DLT_TELEMETRY_DISABLED", "1")
    os.environ.setdefault("RUNTIME__DLTHUB_TELEMETRY", "false")
    console.print(f"generating {ROWS:,} monitoring-shaped rows over {DAYS} days")
    table = monitoring_batch(ROWS, days=DAYS, seed=42)
    batches = [table.slice(i, BATCH_ROWS) for i in range(0, ROWS, BATCH_ROWS)]
    figures: dict[str, dict] = {}
    for name, fn in [("bare_pyarrow", bare_pyarrow(table)), ("envlake_writer", envlake_writer(batches)),
                     ("dlt_arrow", dlt_arrow(batches))]:
        figures[name] = measure(name, fn, REPEATS, ROWS, "rows")
    writer = figures["envlake_writer"]["rows_per_second"]
    result = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "pyarrow": pa.__version__},
        "writer": {
            "rows": ROWS, "batch_rows": BATCH_ROWS, "days": DAYS, "partitioning": "event_date",
            "validation": "contract monitoring_hourly: regex, allowed values, ranges, not-null; record hash; dedup",
            **figures,
            "ratio_writer_to_bare_pyarrow": round(writer / figures["bare_pyarrow"]["rows_per_second"], 3),
            "ratio_writer_to_dlt": round(writer / figures["dlt_arrow"]["rows_per_second"], 3),
            "targets": {"ratio_writer_to_bare_pyarrow": ">= 0.5", "ratio_writer_to_dlt": ">= 2.0"},
        },
        "hj212_parse": hj212_figures(REPEATS),
        "hj212_receiver": receiver_figures(),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "arrow_peak_mib": round(pa.default_memory_pool().max_memory() / 2**20),
    }
    out = HERE / "results.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous.update(result)
    out.write_text(json.dumps(previous, ensure_ascii=False, indent=2) + "\n")
    console.print(f"writer/bare pyarrow = {result['writer']['ratio_writer_to_bare_pyarrow']}, "
                  f"writer/dlt = {result['writer']['ratio_writer_to_dlt']}; written to {out}")


if __name__ == "__main__":
    main()
