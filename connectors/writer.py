"""The lake writer: every connector lands its batches here.

One call lands one batch: validate against the contract, add lineage, drop rows the lake
already holds, write the valid rows to ``raw/`` and the rest to ``quarantine/`` (each file
atomically), then record the batch in the load log. Rows in = rows landed + rows quarantined;
rows landed counts rows already in the lake from an earlier landing of the same data.
"""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors import load_log
from connectors.contracts import Contract
from connectors.lakefs import Lake
from connectors.load_log import LoadRecord
from connectors.validation import validate

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
LINEAGE_COLUMNS = ("_run_id", "_ingested_at", "_source", "_record_hash")


def new_run_id(dataset: str) -> str:
    return f"{dataset}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"


def record_hash(table: pa.Table, columns: list[str]) -> pa.Array:
    """A stable 64-bit hash of each row's values in ``columns`` (DuckDB's hash, vectorised)."""
    if table.num_rows == 0:
        return pa.array([], pa.uint64())
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        cols = ", ".join(f'"{c}"' for c in columns)
        view = table.select(columns)
        con.register("batch_view", view)
        result = con.sql(f"SELECT hash({cols}) AS h FROM batch_view").to_arrow_table()
        return result.column("h").combine_chunks()
    finally:
        con.close()


def _constant(value: str, n: int) -> pa.Array:
    return pa.DictionaryArray.from_arrays(pa.array(np.zeros(n, dtype=np.int32)), pa.array([value]))


def first_occurrences(hashes: np.ndarray) -> np.ndarray:
    """Mask of rows whose hash was not seen earlier in the batch (sorting is cheap here)."""
    keep = np.ones(len(hashes), dtype=bool)
    if len(hashes) < 2 or not (np.diff(np.sort(hashes)) == 0).any():
        return keep
    order = np.argsort(hashes, kind="stable")
    sorted_h = hashes[order]
    repeated = np.concatenate([[False], sorted_h[1:] == sorted_h[:-1]])
    keep[order[repeated]] = False
    return keep


def not_in(hashes: np.ndarray, existing: np.ndarray) -> np.ndarray:
    if len(existing) == 0 or len(hashes) == 0:
        return np.ones(len(hashes), dtype=bool)
    existing = np.sort(existing)
    pos = np.clip(np.searchsorted(existing, hashes), 0, len(existing) - 1)
    return existing[pos] != hashes


@dataclass
class LakeWriter:
    lake: Lake
    threads: int = 2

    def _partitions(self, contract: Contract, table: pa.Table, ingest_date: str) -> list[tuple[str, pa.Table]]:
        if contract.partitioning != "event_date" or table.num_rows == 0:
            return [(f"ingest_date={ingest_date}", table)]
        days = pc.cast(table.column(contract.event_time), pa.date32())
        day_ints = days.combine_chunks().cast(pa.int32()).to_numpy(zero_copy_only=False)
        if not (np.diff(day_ints) >= 0).all():
            order = np.argsort(day_ints, kind="stable")
            table, day_ints = table.take(pa.array(order)), day_ints[order]
        bounds = np.flatnonzero(np.diff(day_ints)) + 1
        starts = np.concatenate([[0], bounds])
        ends = np.concatenate([bounds, [len(day_ints)]])
        epoch = np.datetime64("1970-01-01", "D")
        return [
            (f"event_date={epoch + int(day_ints[s])}", table.slice(s, e - s))
            for s, e in zip(starts, ends, strict=True)
        ]

    def _existing_hashes(self, zone: str, dataset: str, partitions: list[str]) -> np.ndarray:
        files: list[str] = []
        if partitions and partitions[0].startswith("event_date="):
            for part in partitions:
                files += self.lake.files(zone, dataset, part)
        else:
            files = self.lake.files(zone, dataset)
        if not files:
            return np.array([], dtype=np.uint64)
        table = self.lake.read_files(files, columns=["_record_hash"])
        if "_record_hash" not in table.column_names:
            return np.array([], dtype=np.uint64)
        return table.column("_record_hash").to_numpy().astype(np.uint64)

    def _write_zone(self, zone: str, contract: Contract, table: pa.Table, run_id: str,
                    ingest_date: str, hash_columns: list[str]) -> tuple[int, list[str]]:
        """Write the rows of ``table`` the zone does not already hold. Returns (rows written, files)."""
        if table.num_rows == 0:
            return 0, []
        hashes = record_hash(table, hash_columns).to_numpy()
        table = table.append_column("_record_hash", pa.array(hashes, pa.uint64()))
        keep = first_occurrences(hashes)
        parts = self._partitions(contract, table.filter(pa.array(keep)) if not keep.all() else table, ingest_date)
        existing = self._existing_hashes(zone, contract.id, [p for p, _ in parts])
        jobs = []
        for part, piece in parts:
            fresh = not_in(piece.column("_record_hash").to_numpy(), existing)
            if not fresh.all():
                piece = piece.filter(pa.array(fresh))
            if piece.num_rows:
                jobs.append((self.lake.path(zone, contract.id, part, f"part-{run_id}.parquet"), piece))
        if len(jobs) > 1 and self.threads > 1:
            with ThreadPoolExecutor(self.threads) as pool:
                list(pool.map(lambda job: self.lake.write_parquet(job[1], job[0]), jobs))
        else:
            for path, piece in jobs:
                self.lake.write_parquet(piece, path)
        return sum(piece.num_rows for _, piece in jobs), [path for path, _ in jobs]

    def _lineage(self, table: pa.Table, run_id: str, source: str, ingested_at: datetime) -> pa.Table:
        n = table.num_rows
        stamp = np.full(n, np.datetime64(ingested_at.replace(tzinfo=None), "us"))
        table = table.append_column("_run_id", _constant(run_id, n))
        table = table.append_column("_ingested_at", pa.array(stamp, pa.timestamp("us", "UTC")))
        return table.append_column("_source", _constant(source, n))

    def land(self, contract: Contract, batch: pa.Table, *, source: str, run_id: str | None = None,
             watermark_before: str | None = None, watermark_after: str | None = None) -> LoadRecord:
        """Land one batch and record it. Raises only on a storage failure, after logging it."""
        run_id = run_id or new_run_id(contract.id)
        started = datetime.now(UTC)
        ingest_date = started.astimezone(LOCAL_TZ).date().isoformat()
        record = LoadRecord(run_id=run_id, dataset=contract.id, source=source, status="running",
                            watermark_before=watermark_before, watermark_after=watermark_after,
                            started_at=started)
        try:
            self.lake.remove_stale_temporaries("raw", contract.id)
            result = validate(contract, batch)
            valid = self._lineage(result.valid, run_id, source, started)
            quarantine = self._lineage(result.quarantine, run_id, source, started)
            written, files = self._write_zone("raw", contract, valid, run_id, ingest_date,
                                              result.valid.column_names)
            _, qfiles = self._write_zone("quarantine", contract, quarantine, run_id, ingest_date,
                                         result.quarantine.column_names)
            reasons = {
                item["values"]: item["counts"]
                for item in pc.value_counts(result.quarantine.column("_rule_id")).to_pylist()
            }
            record.rows_in = result.rows_in
            record.rows_landed = result.valid.num_rows
            record.rows_written = written
            record.rows_already_landed = result.valid.num_rows - written
            record.rows_quarantined = result.quarantine.num_rows
            record.quarantine_reasons = reasons
            record.new_fields = result.new_fields
            record.missing_fields = result.missing_fields
            record.files = files + qfiles
            record.status = "success"
            if result.new_fields or result.missing_fields:
                record.message = "schema drift: " + "; ".join(
                    ([f"new fields kept: {', '.join(result.new_fields)}"] if result.new_fields else [])
                    + ([f"missing fields: {', '.join(result.missing_fields)}"] if result.missing_fields else [])
                )
            if record.rows_in != record.rows_landed + record.rows_quarantined:
                raise AssertionError(f"row accounting broken for {run_id}: {record.summary()}")
        except Exception as exc:
            record.status = "failed"
            record.message = f"{type(exc).__name__}: {exc}"
            record.finished_at = datetime.now(UTC)
            load_log.append(self.lake, record)
            raise
        record.finished_at = datetime.now(UTC)
        load_log.append(self.lake, record)
        return record
