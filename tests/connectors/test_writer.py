import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds

from connectors.sources import records_to_table
from connectors.writer import LakeWriter
from envlake.kernel import load_log
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from tests.connectors.factories import rating, ratings


def lake_snapshot(lake: Lake) -> dict[str, list]:
    out = {}
    for zone in ("raw", "quarantine"):
        table = lake.read_table(zone, "credit_rating")
        out[zone] = [] if table is None else sorted(
            tuple(sorted((k, str(v)) for k, v in r.items() if k not in ("_run_id", "_ingested_at")))
            for r in table.to_pylist())
    return out


def mixed_batch() -> pa.Table:
    rows = [rating(i) for i in range(1, 51)]
    rows[3]["credit_code"] = "91330100799655058C"
    rows[7]["grade"] = "紫色"
    rows[9]["credit_code"] = None
    return records_to_table(rows, [])


def test_rows_in_equals_landed_plus_quarantined(lake: Lake) -> None:
    record = LakeWriter(lake).land(load_contract("credit_rating"), mixed_batch(), source="test")
    assert (record.rows_in, record.rows_landed, record.rows_quarantined) == (50, 47, 3)
    assert lake.read_table("raw", "credit_rating").num_rows == 47
    quarantine = lake.read_table("quarantine", "credit_rating")
    assert quarantine.num_rows == 3
    assert set(quarantine.column("_rule_id").to_pylist()) == {
        "credit_rating.credit_code.checksum", "credit_rating.grade.allowed_values",
        "credit_rating.credit_code.not_null"}
    assert {"_run_id", "_ingested_at", "_source", "_record_hash"} <= set(lake.read_table("raw", "credit_rating")
                                                                         .column_names)
    logged = load_log.read(lake, "credit_rating").to_pylist()[-1]
    assert logged["rows_in"] == logged["rows_landed"] + logged["rows_quarantined"] == 50


def test_same_batch_twice_gives_the_same_lake(lake: Lake) -> None:
    writer, contract = LakeWriter(lake), load_contract("credit_rating")
    writer.land(contract, mixed_batch(), source="test")
    first = lake_snapshot(lake)
    again = writer.land(contract, mixed_batch(), source="test")
    assert again.rows_written == 0 and again.rows_already_landed == 47 and again.rows_quarantined == 3
    assert lake_snapshot(lake) == first


def test_overlapping_interval_adds_only_new_rows(lake: Lake) -> None:
    writer, contract = LakeWriter(lake), load_contract("credit_rating")
    writer.land(contract, ratings(10), source="test")
    overlap = records_to_table([rating(i) for i in range(6, 16)] + [rating(6)], [])
    record = writer.land(contract, overlap, source="test")
    assert record.rows_written == 5
    assert lake.read_table("raw", "credit_rating").num_rows == 15


def test_event_date_partitioning(tmp_path: Path) -> None:
    lake = Lake(str(tmp_path / "lake"))
    contract = load_contract("monitoring_hourly")
    from bench.monitoring import monitoring_batch

    batch = monitoring_batch(20_000, days=3, seed=1)
    record = LakeWriter(lake).land(contract, batch, source="test")
    assert record.rows_landed + record.rows_quarantined == 20_000
    assert record.rows_quarantined == 0 and record.missing_fields == []
    parts = sorted({Path(p).parent.name for p in lake.files("raw", "monitoring_hourly")})
    assert parts == ["event_date=2026-01-01", "event_date=2026-01-02", "event_date=2026-01-03"]


WRITE_FOREVER = """
import sys, pyarrow as pa, numpy as np
from envlake.kernel.lake import Lake
lake = Lake(sys.argv[1])
n = 30_000_000
table = pa.table({"a": np.arange(n), "b": np.random.default_rng(1).random(n)})
print("writing", flush=True)
lake.write_parquet(table, lake.path("raw", "big", "ingest_date=2026-01-01", "part-x.parquet"))
"""


def test_write_killed_half_way_leaves_no_visible_file(tmp_path: Path) -> None:
    root = tmp_path / "lake"
    proc = subprocess.Popen([sys.executable, "-c", WRITE_FOREVER, str(root)], stdout=subprocess.PIPE,
                            cwd=Path(__file__).resolve().parents[2])
    assert proc.stdout.readline().strip() == b"writing"
    folder = root / "raw" / "big" / "ingest_date=2026-01-01"
    deadline = time.time() + 60
    while time.time() < deadline and not any(p.stat().st_size > 0 for p in folder.glob(".*.inflight")
                                             if p.exists()):
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    leftovers = list(folder.glob(".*.inflight"))
    assert leftovers, "the kill came after the write finished; the test proves nothing"
    lake = Lake(str(root))
    assert lake.files("raw", "big") == []
    assert not list(folder.glob("*.parquet"))
    assert ds.dataset(str(root / "raw" / "big"), format="parquet").files == []
    assert duckdb.sql(f"SELECT count(*) FROM glob('{root}/raw/**/*.parquet')").fetchall()[0][0] == 0
    assert lake.remove_stale_temporaries("raw", "big") == len(leftovers)
