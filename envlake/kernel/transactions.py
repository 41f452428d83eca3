"""Runs that readers see whole: a transaction stages its files, commits with one record, then applies it.

Each transaction has a folder that no reader lists, ``_meta/transactions/<id>/`` (``<id>`` names the owner:
``<UTC stamp>-<host>-<boot>-<pid>-<start>-<random>``, see ``envlake.kernel.owner``):

- ``lease``: an empty file, touched every ``LEASE_RENEW_S`` while the transaction is open; its age tells a
  recovery on another host whether the owner still runs.
- ``_staged/<zone>/<dataset>/<partition>/part-….parquet``: the files of the transaction's runs, each at the path
  it will have in the lake, below the staging folder. Readers never see them: ``Lake.files`` skips ``_meta``'s
  hidden ``_staged`` and reads zones only, and dbt's sources glob ``<zone>/<dataset>/**``.
- ``commit.json``: the commit record, written last and durably (one atomic file): the load-log rows of every
  run of the transaction and the files to move. Once it is on disk the transaction is committed.

Applying a commit record writes the load-log rows (each a file whose name is fixed by its record), then moves
the staged files to their place (a rename locally, with each target folder fsynced; a copy and a delete on
object storage), then deletes the record and the folder. Every step may be done again: a row already written is
skipped, a file already moved is skipped. Readers thus see a run's rows only once its load-log row says success:
before the commit nothing of it is visible, after it the rows appear while the row is already there.

A transaction that fails (an exception in its block, a member that failed) is rolled back: its folder is removed
and each run gets a ``failed`` load-log row naming why. ``recover`` cleans up after killed owners: it applies a
committed record again and removes a folder without one, but never touches the folder of an owner that still
runs (on this host: its pid with the same start time; on another host: a lease touched less than
``STALE_AFTER_S`` ago).
"""

from __future__ import annotations

import json
import logging
import threading
import uuid
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType

import pyarrow.fs as pafs

from envlake.kernel import load_log
from envlake.kernel.lake import STALE_AFTER_S, Lake
from envlake.kernel.load_log import LoadRecord, new_run_id
from envlake.kernel.owner import Owner, me

log = logging.getLogger(__name__)

TXN_ROOT = ("_meta", "transactions")
STAGED, COMMIT, LEASE = "_staged", "commit.json", "lease"
LEASE_RENEW_S = 60


class TransactionFailed(RuntimeError):
    """A transaction was rolled back because one of its runs failed (the caller caught that failure)."""


@dataclass
class Member:
    """One run of a transaction: its load-log record and the lake paths of its staged files."""

    record: LoadRecord
    files: list[str] = field(default_factory=list)
    error: str | None = None


def _relative(lake: Lake, path: str) -> str:
    return path[len(lake.base) + 1:]


def _owner_of(txn_id: str) -> Owner | None:
    parts = txn_id.split("-")
    return Owner.parse("-".join(parts[1:5])) if len(parts) == 6 else None


class Transaction:
    """Runs of one or more datasets that land together or not at all. Use it as a context manager (see
    ``LakeWriter.transaction``): a clean exit commits, an exception rolls back and propagates."""

    def __init__(self, lake: Lake):
        self.lake = lake
        self.id = f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{me().token}-{uuid.uuid4().hex[:6]}"
        self.folder = lake.path(*TXN_ROOT, self.id)
        self.members: list[Member] = []
        self.state = "new"
        # state the lake writer keeps across the runs of one transaction (the record hashes it staged)
        self.writer_state: dict = {}
        self._stop = threading.Event()
        self._heartbeat: threading.Thread | None = None

    # -- lifecycle

    def __enter__(self) -> Transaction:
        self.lake.make_dirs(self.lake.path(*TXN_ROOT))
        self.lake.fs.create_dir(self.folder, recursive=True)
        self._touch_lease()
        self._heartbeat = threading.Thread(target=self._renew, name=f"lease-{self.id[-6:]}", daemon=True)
        self._heartbeat.start()
        self.state = "open"
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        try:
            if exc is not None:
                self.rollback(exc)
                return
            failed = [m for m in self.members if m.error]
            if failed:
                self.rollback(failed[0].error)
                raise TransactionFailed(self._cause(failed[0]))
            self.commit()
        finally:
            self._stop.set()

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_RENEW_S):
            try:
                self._touch_lease()
            except OSError as error:  # the next renewal may work; a lease older than STALE_AFTER_S is lost
                log.warning("could not renew the lease of transaction %s: %s", self.id, error)

    def _stop_heartbeat(self) -> None:
        self._stop.set()
        if self._heartbeat is not None and self._heartbeat is not threading.current_thread():
            self._heartbeat.join()

    def _touch_lease(self) -> None:
        with self.lake.fs.open_output_stream(f"{self.folder}/{LEASE}") as out:
            out.write(b"")

    # -- the writer's side

    def staged_path(self, final: str) -> str:
        """Where a file whose lake path will be ``final`` is written until the commit."""
        return f"{self.folder}/{STAGED}/{_relative(self.lake, final)}"

    def add(self, record: LoadRecord) -> Member:
        self._check_open()
        member = Member(record)
        self.members.append(member)
        return member

    def fail(self, dataset: str, source: str, error: BaseException | str, *, run_id: str | None = None,
             watermark_before: str | None = None) -> LoadRecord:
        """Record a run of ``dataset`` that failed before it reached the writer (a file that did not parse): the
        transaction then rolls back, and this run's ``failed`` row carries ``error``. Returns the record."""

        record = LoadRecord(run_id=run_id or new_run_id(dataset), dataset=dataset, source=source, status="failed",
                            watermark_before=watermark_before, watermark_after=watermark_before)
        self.add(record).error = _message(error)
        record.message = self.members[-1].error
        return record

    # -- commit and rollback

    def commit(self) -> None:
        """Make the staged files' names durable, write the commit record, apply it."""
        self._check_open()
        doc = {"transaction": self.id, "committed_at": datetime.now(UTC).isoformat(),
               "runs": [{"record": m.record.summary(), "files": [_relative(self.lake, f) for f in m.files]}
                        for m in self.members]}
        try:
            staged = [self.staged_path(f) for m in self.members for f in m.files]
            self.lake.sync_dirs(_folders_up_to(self.lake.path(*TXN_ROOT), staged))
            self.lake.write_bytes(json.dumps(doc, ensure_ascii=False).encode(), f"{self.folder}/{COMMIT}")
        except BaseException as error:
            self.rollback(error)
            raise
        self.state = "committed"
        self._stop_heartbeat()  # before the folder goes: a late renewal would bring it back as a lone lease
        apply(self.lake, self.folder, doc)

    def rollback(self, cause: BaseException | str | None) -> None:
        """Remove the staged files; every run gets a ``failed`` load-log row saying why."""
        if self.state in ("committed", "rolled back"):
            return
        self.state = "rolled back"
        self._stop_heartbeat()
        self.lake.delete_tree(self.folder)
        first = next((m for m in self.members if m.error), None)
        reason = self._cause(first) if first else _message(cause)
        for member in self.members:
            record = member.record
            record.status = "failed"
            # nothing of it is in the lake, and its rows are still at the source for the next run
            record.rows_in = record.rows_landed = record.rows_quarantined = 0
            record.rows_written = record.rows_already_landed = 0
            record.quarantine_reasons, record.files = {}, []
            record.message = member.error if member.error else (
                f"{record.dataset}: rolled back with its transaction, nothing of it landed; {reason}")
            record.finished_at = datetime.now(UTC)
            load_log.append(self.lake, record)

    def _cause(self, member: Member) -> str:
        error = member.error or ""
        if error.startswith(f"{member.record.dataset}: "):  # the writer's messages name dataset and source
            return error
        return f"{member.record.dataset} ({member.record.source}) failed: {error}"

    def _check_open(self) -> None:
        if self.state != "open":
            raise RuntimeError(f"transaction {self.id} is {self.state}: use it inside its `with` block")


def _message(error: BaseException | str | None) -> str:
    if error is None:
        return "interrupted"
    return error if isinstance(error, str) else f"{type(error).__name__}: {error}"


def _folders_up_to(top: str, files: Iterable[str]) -> set[str]:
    """Every folder from each file's up to ``top`` (inclusive): what must be fsynced for the files' names to
    survive a power cut, when the folders were made without fsyncing."""
    folders: set[str] = {top}
    for path in files:
        folder = path.rsplit("/", 1)[0]
        while folder.startswith(top + "/") and folder not in folders:
            folders.add(folder)
            folder = folder.rsplit("/", 1)[0]
    return folders


def apply(lake: Lake, folder: str, doc: dict) -> None:
    """Apply a commit record: load-log rows, then the files to their places (folders fsynced), then remove the
    transaction's folder. Safe to run again, and by two processes at once."""
    for run in doc["runs"]:
        record = LoadRecord.from_summary(run["record"])
        if not lake.exists(load_log.path_for(lake, record)):
            load_log.append(lake, record)
    finals = [lake.path(rel) for run in doc["runs"] for rel in run["files"]]
    targets = {path.rsplit("/", 1)[0] for path in finals}
    for target in sorted(targets):
        lake.make_dirs(target)

    def move(final: str) -> None:
        lake.move(f"{folder}/{STAGED}/{_relative(lake, final)}", final)

    if lake.is_local:
        for final in finals:
            move(final)
    else:  # a copy and a delete per object: a few at a time
        with ThreadPoolExecutor(8) as pool:
            list(pool.map(move, finals))
    lake.sync_dirs(targets)
    lake.delete_tree(folder)


@dataclass
class Recovery:
    applied: list[str] = field(default_factory=list)  # committed transactions finished
    removed: list[str] = field(default_factory=list)  # uncommitted transactions of killed owners
    temporaries: int = 0  # half-written files of killed writers


def _transactions(lake: Lake) -> list[pafs.FileInfo]:
    selector = pafs.FileSelector(lake.path(*TXN_ROOT), allow_not_found=True)
    return [i for i in lake.fs.get_file_info(selector) if i.type == pafs.FileType.Directory]


def _owner_gone(lake: Lake, info: pafs.FileInfo) -> bool:
    owner = _owner_of(info.base_name)
    alive = owner.alive() if owner else None
    if alive is not None:
        return not alive
    lease = lake.fs.get_file_info(f"{info.path}/{LEASE}")
    stamp = lease.mtime or info.mtime
    if stamp is None:
        try:
            stamp = datetime.strptime(info.base_name.split("-", 1)[0], "%Y%m%dT%H%M%S%f").replace(tzinfo=UTC)
        except ValueError:
            return False
    return (datetime.now(UTC) - stamp.astimezone(UTC)).total_seconds() > STALE_AFTER_S


def _commit_record(lake: Lake, folder: str) -> dict | None:
    try:
        data = lake.read_bytes(f"{folder}/{COMMIT}")
    except OSError:
        return None  # removed meanwhile by a concurrent recovery
    return None if data is None else json.loads(data)


def recover(lake: Lake, datasets: Iterable[str] | None = None) -> Recovery:
    """Finish or remove what killed runs left: committed transactions are applied, uncommitted ones of owners
    that no longer run are removed, with the temporaries killed writers left in ``raw/``, ``quarantine/`` and
    the load log of ``datasets`` (every dataset when None). The lake writer runs it before each run; the
    modelling DAG and ``envlake lake recover`` may run it too."""
    done = Recovery()
    for info in _transactions(lake):
        if not _owner_gone(lake, info):
            continue
        doc = _commit_record(lake, info.path)
        if doc is not None:
            apply(lake, info.path, doc)
            done.applied.append(info.base_name)
        else:
            lake.delete_tree(info.path)
            done.removed.append(info.base_name)
    names = sorted(set(lake.datasets("raw")) | set(lake.datasets("quarantine"))) if datasets is None \
        else list(datasets)
    for name in names:
        for parts in (("raw", name), ("quarantine", name), ("_meta", "load_log", f"dataset={name}")):
            done.temporaries += lake.remove_stale_temporaries(*parts)
    if done.applied or done.removed:
        log.info("recovered the lake: applied %s, removed %s", done.applied, done.removed)
    return done


def pending_runs(lake: Lake) -> set[str]:
    """Run ids committed but whose files are not all in place yet (their transaction is being applied, or its
    owner was killed and no recovery ran since): a reader of the load log's file lists waits for them."""
    runs: set[str] = set()
    for info in _transactions(lake):
        doc = _commit_record(lake, info.path)
        if doc is not None:
            runs.update(run["record"]["run_id"] for run in doc["runs"])
    return runs
