"""An ingest killed with SIGKILL at any moment leaves no row readable that the load log does not record.

A child process lands 600,000 monitoring rows (three runs of eight batches, the second in one transaction with
a credit-rating run) and is killed with SIGKILL: after a random time, or on entering a chosen call of the
commit (the commit record's rename, the first load-log row's, a file's move, the record's deletion, an fsync),
drawn with a fixed seed from the calls of an uninterrupted run. After each kill every row that readers can
see, through ``Lake.files`` and through DuckDB's glob as dbt's sources read the zones, belongs to a run the
load log records as a success; after the recovery (or the next land) no staging and no temporary is left,
and every committed run's rows are all there, once.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import random
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from bench.monitoring import monitoring_batch
from connectors.writer import LakeWriter
from envlake.kernel import load_log
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import TMP_SUFFIX, Lake
from envlake.kernel.transactions import TXN_ROOT, recover
from tests.connectors.factories import ratings

DATASETS = ("monitoring_hourly", "credit_rating")
RUNS, BATCHES, BATCH_ROWS = 3, 8, 25_000  # 600,000 monitoring rows
HOOKED = ("replace", "unlink", "fsync")  # the writer's renames (os.replace), deletions (rmtree), fsyncs


def batches(run: int) -> Iterator[pa.Table]:
    for b in range(BATCHES):
        table = monitoring_batch(BATCH_ROWS, days=2, seed=run * 1000 + b, first_hour=24 * ((run * 7 + b) % 20))
        bad = pa.array(np.arange(BATCH_ROWS) % 499 == run)  # a command code the contract does not allow
        yield table.set_column(2, "cn", pc.if_else(bad, "2062", table["cn"]))


def _hook(kill: tuple[str, int] | None, calls: list[tuple[str, str]]) -> None:
    """Wrap the os functions the writer commits with: count each call, SIGKILL this process on entering the
    chosen one (as a power cut or an OOM kill would stop it there), record the calls for the plans."""
    lock, counts = threading.Lock(), dict.fromkeys(HOOKED, 0)
    for name in HOOKED:
        def hooked(*args: object, _name: str = name, _real: object = getattr(os, name), **kwargs: object) -> object:
            with lock:
                counts[_name] += 1
                calls.append((_name, str(args[-1]) if _name != "fsync" else ""))
                if kill == (_name, counts[_name]):
                    os.kill(os.getpid(), signal.SIGKILL)
            return _real(*args, **kwargs)
        setattr(os, name, hooked)


def _land(root: str, kill: tuple[str, int] | None, record: str | None) -> None:
    """The landing process: a run, a transaction of two datasets, a run."""
    calls: list[tuple[str, str]] = []
    if kill or record:
        _hook(kill, calls)
    writer = LakeWriter(Lake(root))
    hourly = load_contract("monitoring_hourly")
    Path(root + ".started").touch()
    writer.land(hourly, batches(0), source="crash:0")
    with writer.transaction() as txn:
        writer.land(load_contract("credit_rating"), ratings(3000), source="crash:1", transaction=txn)
        writer.land(hourly, batches(1), source="crash:1", transaction=txn)
    writer.land(hourly, batches(2), source="crash:2")
    if record:
        Path(record).write_text(json.dumps(calls))


@dataclass
class Kill:
    how: str  # "time" (seconds after start) or the os function the process is killed on entering
    at: float  # seconds, or which call of that function (1 = the first)
    what: str  # what that moment is


def land(root: Path, kill: Kill | None = None, record: Path | None = None) -> tuple[int, float]:
    """Land in a child process (forked from a server that imported everything once); returns its exit code and
    its duration from the start of the landing."""
    context = multiprocessing.get_context("forkserver")
    context.set_forkserver_preload([__name__])
    hooked = (kill.how, int(kill.at)) if kill is not None and kill.how != "time" else None
    child = context.Process(target=_land, args=(str(root), hooked, str(record) if record else None))
    child.start()
    started = Path(f"{root}.started")
    while not started.exists() and child.is_alive():
        time.sleep(0.01)
    begun = time.monotonic()
    child.join(kill.at if kill is not None and kill.how == "time" else 300)
    if child.is_alive():
        os.kill(child.pid, signal.SIGKILL)
        child.join(60)
    started.unlink(missing_ok=True)
    return child.exitcode, time.monotonic() - begun


def glob_run_ids(root: Path, zone: str, dataset: str) -> set[str]:
    """Run ids of the rows dbt's source view would read: every Parquet file its glob finds."""
    pattern = f"{root}/{zone}/{dataset}/**/*.parquet"
    con = duckdb.connect()
    if not con.execute(f"select count(*) from glob('{pattern}')").fetchone()[0]:
        return set()
    return {r[0] for r in con.execute(f"select distinct _run_id from read_parquet('{pattern}', "
                                      "hive_partitioning = true, union_by_name = true)").fetchall()}


def visible_run_ids(lake: Lake, root: Path) -> set[str]:
    seen: set[str] = set()
    for zone in ("raw", "quarantine"):
        for dataset in DATASETS:
            files = lake.files(zone, dataset)
            if files:
                seen |= set(lake.read_files(files, ["_run_id"]).column("_run_id").to_pylist())
            seen |= glob_run_ids(root, zone, dataset)
    return seen


def successes(lake: Lake) -> dict[str, dict]:
    log = load_log.read(lake)
    return {r["run_id"]: r for r in log.filter(pc.equal(log["status"], "success")).to_pylist()}


def leftovers(root: Path) -> list[str]:
    found = [str(p) for p in root.rglob(f"*{TMP_SUFFIX}")]
    transactions = root.joinpath(*TXN_ROOT)
    return found + ([str(p) for p in transactions.iterdir()] if transactions.exists() else [])


def check_recovered(lake: Lake, root: Path) -> dict[str, int]:
    """No staging, no temporary; each successful run's rows all there, no row twice; the counts add up."""
    assert not leftovers(root)
    done = successes(lake)
    log = load_log.read(lake)
    assert all(r["rows_in"] == r["rows_landed"] + r["rows_quarantined"] for r in done.values())
    assert not (visible_run_ids(lake, root) - set(done))
    con = duckdb.connect()
    totals = {}
    for dataset in DATASETS:
        pattern = f"{root}/raw/{dataset}/**/*.parquet"
        if not con.execute(f"select count(*) from glob('{pattern}')").fetchone()[0]:
            continue
        rows = dict(con.execute(f"select _run_id, count(*) from read_parquet('{pattern}', hive_partitioning = true,"
                                " union_by_name = true) group by 1").fetchall())
        for run_id, record in done.items():
            if record["dataset"] == dataset:
                assert rows.get(run_id, 0) == record["rows_written"], (run_id, rows.get(run_id), record)
        assert con.execute(f"select count(*) = count(distinct _record_hash) from read_parquet('{pattern}')"
                           ).fetchone()[0], f"a row landed twice in raw/{dataset}"
        totals[dataset] = sum(rows.values())
    assert all(not r["files"] or r["files"] == "[]" for r in log.filter(pc.equal(log["status"], "failed"))
               .to_pylist())
    return totals


def kill_plans(record: Path, duration: float) -> list[Kill]:
    """Moments to kill at, drawn with a fixed seed from the calls an uninterrupted run made."""
    rng = random.Random(20261203)
    calls = json.loads(record.read_text())

    def ordinals(name: str, test: object) -> list[int]:
        of_name = [path for call, path in calls if call == name]
        return [i + 1 for i, path in enumerate(of_name) if test(path)]

    commits = ordinals("replace", lambda p: p.endswith("/commit.json"))
    rows = ordinals("replace", lambda p: "/_meta/load_log/" in p)
    moves = ordinals("replace", lambda p: "/raw/" in p or "/quarantine/" in p)
    deletions = ordinals("unlink", lambda p: p == "commit.json")
    assert len(commits) == len(deletions) == RUNS and len(rows) == RUNS + 1 and len(moves) > 50
    return [
        Kill("time", rng.uniform(0.1, 0.5) * duration, "while batches are written"),
        Kill("time", rng.uniform(0.5, 0.9) * duration, "while batches are written, later"),
        Kill("replace", rng.choice(commits), "before the commit record is in place"),
        Kill("replace", rng.choice(commits) + 1, "committed, before its first load-log row"),
        Kill("replace", rng.choice(moves), "while the committed files are moved"),
        Kill("unlink", rng.choice(deletions), "all moved, before the commit record is deleted"),
        Kill("fsync", rng.randint(1, len(ordinals("fsync", lambda p: True))), "at an fsync"),
    ]


def test_killed_ingest_leaves_nothing_unrecorded_readable(tmp_path: Path) -> None:
    whole = (tmp_path / "whole").resolve()
    code, duration = land(whole, record=tmp_path / "calls.json")
    assert code == 0
    expected = check_recovered(Lake(str(whole)), whole)
    assert sum(r["rows_in"] for r in successes(Lake(str(whole))).values()
               if r["dataset"] == "monitoring_hourly") == RUNS * BATCHES * BATCH_ROWS
    seen_states: set[str] = set()
    for n, kill in enumerate(kill_plans(tmp_path / "calls.json", duration)):
        root = (tmp_path / f"killed{n}").resolve()
        lake = Lake(str(root))
        code, _ = land(root, kill)
        assert code == -signal.SIGKILL or (kill.how == "time" and code == 0), f"{kill}: not killed ({code})"
        unrecorded = visible_run_ids(lake, root) - set(successes(lake))
        assert not unrecorded, f"killed {kill.what}: rows of {unrecorded} readable, not recorded as landed"
        transactions = root.joinpath(*TXN_ROOT)
        for folder in transactions.iterdir() if transactions.exists() else []:
            seen_states.add("committed" if (folder / "commit.json").exists() else "staged")
        if n % 2:  # the next land recovers, then lands what is missing
            assert land(root)[0] == 0
            assert check_recovered(lake, root) == expected, f"killed {kill.what}: the rerun did not complete it"
        else:
            recover(lake)
            check_recovered(lake, root)
    assert seen_states == {"committed", "staged"}, f"no kill left a {({'committed', 'staged'} - seen_states)} run"
