"""The lake writer: every connector lands its batches here.

One call lands one run of a dataset, given as one Arrow table or a stream of them: each batch is
validated against the contract, given lineage columns, stripped of rows the lake already holds
(by record hash), and written for ``raw/`` (valid rows) and ``quarantine/`` (the rest, with the
rule and message). Writing a batch overlaps checking the next. Rows in = rows landed + rows
quarantined, where rows landed counts rows the lake already held from an earlier landing of the same data.

A run is atomic for readers, not only each file: its files are staged where no reader looks and
appear only together with the run's load-log row, through a transaction (``envlake.kernel.transactions``).
Several runs, of several datasets, can share one transaction and land all or none::

    writer = LakeWriter(lake)
    with writer.transaction() as txn:
        writer.land(manifests, manifest_table, source=identity, transaction=txn)
        writer.land(items, item_table, source=identity, transaction=txn)

A clean exit from the block commits both runs (each gets its ``success`` row, then its files appear). An
exception in the block (a ``land`` that failed, or the caller's own) rolls both back: no file of either
appears, each gets a ``failed`` row (the one that failed with its cause, the other saying it was rolled back
with it), and the exception propagates. A dataset that failed before reaching ``land`` (its file did not
parse) is recorded with ``txn.fail(dataset, source, error)``: the transaction then rolls back the same way.
``land`` without a transaction is a transaction of its own. Before each run the writer finishes or removes
what killed runs left (``envlake.kernel.transactions.recover``).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.validation import ValidationResult, validate
from envlake.kernel.contracts import Contract
from envlake.kernel.lake import Lake
from envlake.kernel.load_log import LoadRecord, new_run_id
from envlake.kernel.transactions import Transaction, recover

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
MAX_PENDING_WRITES = 8


def record_hash(table: pa.Table, columns: list[str]) -> pa.Array:
    """A stable 64-bit hash of each row's values in ``columns`` (DuckDB's hash, vectorised)."""
    if table.num_rows == 0:
        return pa.array([], pa.uint64())
    con = duckdb.connect()
    try:
        con.execute("SET threads TO 2")
        cols = ", ".join(f'"{c}"' for c in columns)
        con.register("batch_view", table.select(columns))
        return con.sql(f"SELECT hash({cols}) AS h FROM batch_view").to_arrow_table().column("h").combine_chunks()
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


def not_in(hashes: np.ndarray, existing_sorted: np.ndarray) -> np.ndarray:
    if len(existing_sorted) == 0 or len(hashes) == 0:
        return np.ones(len(hashes), dtype=bool)
    pos = np.clip(np.searchsorted(existing_sorted, hashes), 0, len(existing_sorted) - 1)
    return existing_sorted[pos] != hashes


def _dictionary_columns(table: pa.Table) -> list[str]:
    """Dictionary-encode text and codes, not measurements or hashes (it only costs time there)."""
    return [f.name for f in table.schema if not (pa.types.is_floating(f.type) or f.name == "_record_hash")]


@dataclass
class _ZoneState:
    """What one zone of one dataset holds, per partition, loaded on first touch and kept for the run. The hashes
    are the transaction's: a second run of the dataset in it knows the rows the first one staged."""

    zone: str
    hashes: dict[str, list[np.ndarray]] = field(default_factory=dict)
    written: int = 0
    files: list[str] = field(default_factory=list)
    part_counter: dict[str, int] = field(default_factory=dict)


def _dedup_scope(part: str) -> str:
    """Where a partition's rows could already be: the partition itself for event-date partitioning,
    the whole dataset ("*") for ingest-date partitioning (a re-pull lands on another ingest date)."""
    return part if part.startswith("event_date=") else "*"


@dataclass
class LakeWriter:
    lake: Lake
    threads: int = 2
    # Each file is fsynced before its rename; extra writer threads overlap that disk wait.
    write_threads: int = 4

    def _partitions(self, zone: str, contract: Contract, table: pa.Table,
                    ingest_date: str) -> list[tuple[str, pa.Table]]:
        # Quarantined rows are text and may lack a readable event time: they go by the day they came in.
        if contract.partitioning != "event_date" or zone != "raw" or table.num_rows == 0:
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

    def _known_hashes(self, state: _ZoneState, contract: Contract, scope: str) -> np.ndarray:
        """The sorted hashes held in a dedup scope: read from the lake on first use, then kept for the
        run, with this run's batches appended and merged on the next use."""
        if scope not in state.hashes:
            files = self.lake.files(state.zone, contract.id, *(() if scope == "*" else (scope,)))
            table = self.lake.read_files(files, columns=["_record_hash"]) if files else None
            held = table.column("_record_hash").to_numpy() if table is not None and table.num_columns else []
            state.hashes[scope] = [np.asarray(held, dtype=np.uint64), np.array([], dtype=np.uint64)]
        merged = np.sort(np.concatenate(state.hashes[scope]))
        state.hashes[scope] = [merged]
        return merged

    def _prepare(self, contract: Contract, batch: pa.Table, run_id: str, source: str,
                 started: datetime) -> tuple[ValidationResult, list[pa.Table]]:
        """Everything about a batch that needs no other batch: checks, lineage, record hashes.
        Runs on worker threads, ahead of the batch being planned and written."""
        result = validate(contract, batch)
        return result, [self._hashed(table, run_id, source, started) for table in (result.valid, result.quarantine)]

    def _hashed(self, table: pa.Table, run_id: str, source: str, started: datetime) -> pa.Table:
        """Lineage columns and the record hash of the content (the columns before lineage)."""
        content = table.column_names
        table = self._lineage(table, run_id, source, started)
        return table.append_column("_record_hash", record_hash(table, content))

    def _plan_zone(self, state: _ZoneState, contract: Contract, table: pa.Table, run_id: str,
                   ingest_date: str) -> list[tuple[str, pa.Table]]:
        """The files to write for this batch in this zone: new rows only, one file per partition."""
        if table.num_rows == 0:
            return []
        hashes = table.column("_record_hash").to_numpy()
        keep = first_occurrences(hashes)
        unique = table if keep.all() else table.filter(pa.array(keep))
        jobs = []
        for part, piece in self._partitions(state.zone, contract, unique, ingest_date):
            piece_hashes = piece.column("_record_hash").to_numpy()
            scope = _dedup_scope(part)
            fresh = not_in(piece_hashes, self._known_hashes(state, contract, scope))
            if not fresh.all():
                piece, piece_hashes = piece.filter(pa.array(fresh)), piece_hashes[fresh]
            if piece.num_rows == 0:
                continue
            state.hashes[scope].append(piece_hashes)
            n = state.part_counter[part] = state.part_counter.get(part, 0) + 1
            jobs.append((self.lake.path(state.zone, contract.id, part, f"part-{run_id}-{n:04d}.parquet"), piece))
        return jobs

    def _write(self, path: str, table: pa.Table) -> None:
        self.lake.write_unlisted_parquet(table, path, use_dictionary=_dictionary_columns(table))

    def _lineage(self, table: pa.Table, run_id: str, source: str, ingested_at: datetime) -> pa.Table:
        n = table.num_rows
        stamp = np.full(n, np.datetime64(ingested_at.replace(tzinfo=None), "us"))
        table = table.append_column("_run_id", _constant(run_id, n))
        table = table.append_column("_ingested_at", pa.array(stamp, pa.timestamp("us", "UTC")))
        return table.append_column("_source", _constant(source, n))

    @staticmethod
    def _count(record: LoadRecord, result: ValidationResult) -> None:
        record.rows_in += result.rows_in
        record.rows_landed += result.valid.num_rows
        record.rows_quarantined += result.quarantine.num_rows
        for item in pc.value_counts(result.quarantine.column("_rule_id")).to_pylist():
            record.quarantine_reasons[item["values"]] = record.quarantine_reasons.get(item["values"], 0) \
                + item["counts"]
        record.new_fields += [f for f in result.new_fields if f not in record.new_fields]
        record.missing_fields += [f for f in result.missing_fields if f not in record.missing_fields]

    def _run(self, record: LoadRecord, contract: Contract, batches: pa.Table | Iterable[pa.Table],
             rejected: pa.Table | None, raw: _ZoneState, quarantine: _ZoneState, ingest_date: str,
             txn: Transaction) -> None:
        """Check batches ahead on worker threads, plan them in order, write (staged) on writer threads."""
        run_id, source, started = record.run_id, record.source, record.started_at
        pending: list[Future] = []
        stream = iter([batches] if isinstance(batches, pa.Table) else batches)
        with ThreadPoolExecutor(self.threads) as checkers, ThreadPoolExecutor(self.write_threads) as writers:

            def submit(state: _ZoneState, table: pa.Table) -> None:
                for path, piece in self._plan_zone(state, contract, table, run_id, ingest_date):
                    state.written += piece.num_rows
                    state.files.append(path)
                    pending.append(writers.submit(self._write, txn.staged_path(path), piece))
                while len(pending) > MAX_PENDING_WRITES:
                    pending.pop(0).result()

            if rejected is not None and rejected.num_rows:
                self._count(record, ValidationResult(pa.table({}), rejected, rejected.num_rows))
                submit(quarantine, self._hashed(rejected, run_id, source, started))
            ahead: deque[Future] = deque()
            while True:
                while len(ahead) < self.threads and (batch := next(stream, None)) is not None:
                    ahead.append(checkers.submit(self._prepare, contract, batch, run_id, source, started))
                if not ahead:
                    break
                result, hashed = ahead.popleft().result()
                self._count(record, result)
                submit(raw, hashed[0])
                submit(quarantine, hashed[1])
            for future in pending:
                future.result()

    def transaction(self) -> Transaction:
        """Runs that land together or not at all: ``with writer.transaction() as txn: writer.land(...,
        transaction=txn)`` (see the module's docstring)."""
        return Transaction(self.lake)

    def land(self, contract: Contract, batches: pa.Table | Iterable[pa.Table], *, source: str,
             run_id: str | None = None, watermark_before: str | None = None,
             watermark_after: str | None = None, rejected: pa.Table | None = None,
             note: str = "", transaction: Transaction | None = None) -> LoadRecord:
        """Land one run and record it in the load log. Raises only on a storage failure, after logging it.

        ``rejected`` holds source records that failed before they became rows (an HJ 212 packet with a
        bad CRC, say), with ``_rule_id``, ``_reason`` and ``_failed_rules``: they count as rows in and
        go to quarantine. ``note`` is the source's own remark, kept in the load log's message.

        With ``transaction`` the run lands when the transaction commits (the returned record says
        ``success`` until then, ``failed`` once rolled back); without, it is a transaction of its own."""
        if transaction is None:
            with self.transaction() as txn:
                return self.land(contract, batches, source=source, run_id=run_id,
                                 watermark_before=watermark_before, watermark_after=watermark_after,
                                 rejected=rejected, note=note, transaction=txn)
        run_id = run_id or new_run_id(contract.id)
        started = datetime.now(UTC)
        ingest_date = started.astimezone(LOCAL_TZ).date().isoformat()
        record = LoadRecord(run_id=run_id, dataset=contract.id, source=source, status="running",
                            watermark_before=watermark_before, watermark_after=watermark_after, started_at=started)
        member = transaction.add(record)
        hashes = transaction.writer_state.setdefault(contract.id, {"raw": {}, "quarantine": {}})
        raw, quarantine = _ZoneState("raw", hashes["raw"]), _ZoneState("quarantine", hashes["quarantine"])
        try:
            recover(self.lake, [contract.id])
            self._run(record, contract, batches, rejected, raw, quarantine, ingest_date, transaction)
            record.rows_written = raw.written
            record.rows_already_landed = record.rows_landed - raw.written
            record.files = member.files = raw.files + quarantine.files
            drift = ([f"new fields kept: {', '.join(record.new_fields)}"] if record.new_fields else []) + (
                [f"missing fields: {', '.join(record.missing_fields)}"] if record.missing_fields else [])
            record.message = "; ".join(filter(None, ["schema drift: " + "; ".join(drift) if drift else "", note]))
            if record.rows_in != record.rows_landed + record.rows_quarantined:
                raise AssertionError(f"row accounting broken for {run_id}: {record.summary()}")
            record.status = "success"
        except Exception as exc:
            record.status = "failed"
            where = source.split("#sha256:", 1)[0]
            record.message = member.error = f"{contract.id}: landing from {where} failed: {type(exc).__name__}: {exc}"
            record.finished_at = datetime.now(UTC)
            raise
        record.finished_at = datetime.now(UTC)
        return record
