"""Runs that land together or not at all, and the recovery of what a killed run left."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pyarrow as pa
import pytest

from bench.monitoring import monitoring_batch
from connectors.writer import LakeWriter
from envlake.kernel import load_log, transactions
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from envlake.kernel.owner import Owner, me
from envlake.kernel.transactions import TXN_ROOT, TransactionFailed, pending_runs, recover
from tests.connectors.factories import ratings


def rows(lake: Lake, zone: str, dataset: str) -> int:
    table = lake.read_table(zone, dataset)
    return 0 if table is None else table.num_rows


def statuses(lake: Lake) -> dict[str, tuple[str, str]]:
    return {r["dataset"]: (r["status"], r["message"]) for r in load_log.read(lake).to_pylist()}


def txn_folders(lake: Lake) -> list[Path]:
    folder = Path(lake.path(*TXN_ROOT))
    return sorted(folder.iterdir()) if folder.exists() else []


def test_a_transaction_lands_both_datasets(lake: Lake) -> None:
    writer = LakeWriter(lake)
    with writer.transaction() as txn:
        first = writer.land(load_contract("credit_rating"), ratings(20), source="file#sha256:1", transaction=txn)
        second = writer.land(load_contract("monitoring_hourly"), monitoring_batch(500, days=1), source="file#sha256:1",
                             transaction=txn)
        assert rows(lake, "raw", "credit_rating") == 0  # nothing visible before the commit
        assert load_log.read(lake).num_rows == 0
    assert first.status == second.status == "success"
    assert rows(lake, "raw", "credit_rating") == 20 and rows(lake, "raw", "monitoring_hourly") == 500
    assert statuses(lake) == {"credit_rating": ("success", ""), "monitoring_hourly": ("success", "")}
    assert all(lake.exists(p) for p in first.files + second.files) and not txn_folders(lake)


def test_an_exception_in_the_block_lands_neither(lake: Lake) -> None:
    writer = LakeWriter(lake)
    with pytest.raises(ValueError, match="items did not parse"), writer.transaction() as txn:
        record = writer.land(load_contract("credit_rating"), ratings(20), source="f.csv", transaction=txn)
        raise ValueError("items did not parse")
    assert record.status == "failed" and record.files == [] and record.rows_written == 0
    assert rows(lake, "raw", "credit_rating") == 0 and not txn_folders(lake)
    status, message = statuses(lake)["credit_rating"]
    assert status == "failed" and "rolled back" in message and "items did not parse" in message


def test_a_failed_member_fails_the_others_and_names_itself(lake: Lake) -> None:
    writer = LakeWriter(lake)
    with pytest.raises(TransactionFailed, match="waste_manifest_item"), writer.transaction() as txn:
        writer.land(load_contract("credit_rating"), ratings(20), source="export.csv", transaction=txn)
        txn.fail("waste_manifest_item", "export.csv", KeyError("duplicated header 联单编号"))
        # the caller swallowed nothing here: the block ends cleanly, the exit rolls back and says why
    logged = statuses(lake)
    assert logged["waste_manifest_item"] == ("failed", "KeyError: 'duplicated header 联单编号'")
    assert logged["credit_rating"][0] == "failed"
    assert "waste_manifest_item (export.csv) failed: KeyError" in logged["credit_rating"][1]
    assert rows(lake, "raw", "credit_rating") == 0


def test_a_storage_failure_in_land_leaves_a_failed_row_and_no_file(lake: Lake, monkeypatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Lake, "write_unlisted_parquet", refuse)
    with pytest.raises(OSError, match="disk full"):
        LakeWriter(lake).land(load_contract("credit_rating"), ratings(20), source="t")
    status, message = statuses(lake)["credit_rating"]
    assert status == "failed" and message.startswith("credit_rating: landing from ") \
        and message.endswith("failed: OSError: disk full")
    assert rows(lake, "raw", "credit_rating") == 0 and not txn_folders(lake)


def test_two_runs_of_a_dataset_in_one_transaction_deduplicate(lake: Lake) -> None:
    writer, contract = LakeWriter(lake), load_contract("credit_rating")
    with writer.transaction() as txn:
        writer.land(contract, ratings(20), source="a", transaction=txn)
        again = writer.land(contract, ratings(25), source="b", transaction=txn)
    assert again.rows_written == 5 and again.rows_already_landed == 20
    assert rows(lake, "raw", "credit_rating") == 25


def _as_dead(folder: Path) -> Path:
    """The same transaction folder, named as if its owner had been killed (a pid that is not running)."""
    owner = me()
    dead = Owner(owner.host, owner.boot, owner.pid, owner.start + 1)
    target = folder.with_name(folder.name.replace(owner.token, dead.token))
    folder.rename(target)
    return target


def test_recovery_applies_a_committed_run_of_a_killed_owner(lake: Lake, monkeypatch) -> None:
    def killed(*args: object) -> None:
        raise SystemExit("killed after the commit record")

    monkeypatch.setattr(transactions, "apply", killed)
    with pytest.raises(SystemExit):
        LakeWriter(lake).land(load_contract("credit_rating"), ratings(20), source="t")
    monkeypatch.undo()
    (folder,) = txn_folders(lake)
    assert (folder / "commit.json").exists() and rows(lake, "raw", "credit_rating") == 0
    run_id = next(iter(pending_runs(lake)))
    assert recover(lake).applied == []  # its owner (this process) still runs: left alone
    _as_dead(folder)
    done = recover(lake)
    assert len(done.applied) == 1 and not txn_folders(lake) and pending_runs(lake) == set()
    assert rows(lake, "raw", "credit_rating") == 20
    assert load_log.read(lake).to_pylist()[-1]["run_id"] == run_id
    assert recover(lake).applied == []  # applied once: nothing is left to apply


def test_recovery_removes_staging_of_killed_owners_only(lake: Lake, tmp_path: Path) -> None:
    writer = LakeWriter(lake)
    with writer.transaction() as live:
        writer.land(load_contract("credit_rating"), ratings(5), source="t", transaction=live)
        killed = LakeWriter(lake).transaction().__enter__()
        writer.land(load_contract("credit_rating"), ratings(9), source="t2", transaction=killed)
        killed._stop_heartbeat()
        dead = _as_dead(Path(killed.folder))
        assert recover(lake).removed == [dead.name]
        assert [f.name for f in txn_folders(lake)] == [Path(live.folder).name]
    assert rows(lake, "raw", "credit_rating") == 5 and not txn_folders(lake)


def test_another_hosts_transaction_is_removed_once_its_lease_is_stale(lake: Lake) -> None:
    stamp = "20260101T000000000000"
    folder = Path(lake.path(*TXN_ROOT, f"{stamp}-0000beef-0000beef-42-42-abcdef"))
    (folder / "_staged").mkdir(parents=True)
    (folder / "lease").touch()
    assert recover(lake).removed == []  # renewed a moment ago: its owner may be running
    old = time.time() - transactions.STALE_AFTER_S - 60
    os.utime(folder / "lease", (old, old))
    assert recover(lake).removed == [folder.name]


def test_killed_writers_temporaries_go_a_live_writers_stay(lake: Lake) -> None:
    folder = Path(lake.path("raw", "credit_rating", "ingest_date=2026-01-01"))
    folder.mkdir(parents=True)
    owner = me()
    gone = Owner(owner.host, owner.boot, owner.pid, owner.start + 1)
    live = folder / f".part-a.parquet.{owner.token}.1234abcd.inflight"
    dead = folder / f".part-b.parquet.{gone.token}.1234abcd.inflight"
    for path in (live, dead):
        pa.OSFile(str(path), "wb").close()
    assert recover(lake, ["credit_rating"]).temporaries == 1
    assert live.exists() and not dead.exists()
