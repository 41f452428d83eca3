"""The order of the system calls behind "durable": recorded with strace on real processes.

A file's data survives a power cut once the file is fsynced; its name (a new file, a rename, a new folder)
once its folder is fsynced too (Pillai et al., OSDI '14). These tests check, on the receiver, the lake
writer and the publish, that no step that depends on a name is reported before that name is durable.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from envlake.simulators.loggers import hourly_packet, run_logger
from tests.conftest import free_port
from tests.connectors.syscalls import (
    Event,
    created,
    parse,
    renames,
    strace_command,
    synced_between,
    syncs_of,
    traced_pid,
    written_text,
)

REPO = Path(__file__).resolve().parents[2]
FIELD = re.compile(r"(QN|MN)=([^;]*);")


def _key(text: str) -> tuple[str, str] | None:
    values = dict(FIELD.findall(text))
    return (values["QN"], values["MN"]) if {"QN", "MN"} <= values.keys() else None


def _next_start(events: list[Event], after: int, predicate: object, default: int) -> int:
    return min((e.start for e in events if e.start > after and predicate(e)), default=default)


def _dir(path: str) -> str:
    return path.rsplit("/", 1)[0]


def receiver_violations(events: list[Event], landing: str) -> tuple[list[str], dict[str, int]]:
    """Every answer (CN 9014) must follow, for its packet: the write of the packet, an fsync of its file after
    that write, and an fsync of the landing folder after the file was created. Every rename in the folder
    must be followed by a folder fsync before the next answer or the next file is opened."""
    end = max((e.end for e in events), default=0) + 1
    opened = {e.paths[0]: e for e in events if created(e) and e.paths[0].endswith(".open")
              and _dir(e.paths[0]) == landing}
    packet_writes = [e for e in events if e.name == "write" and e.ok and e.paths[0] in opened]
    answers = [e for e in events if e.name in ("sendto", "write") and e.ok and "CN=9014" in written_text(e)]
    problems = []
    for answer in answers:
        key = _key(written_text(answer))
        write = max((w for w in packet_writes if w.end < answer.start and key in
                     {_key(p) for p in written_text(w).split("\r\n") if p}), key=lambda w: w.end, default=None)
        if write is None:
            problems.append(f"{answer}: answered, but no write of packet {key} came before")
            continue
        path = write.paths[0]
        if not synced_between(events, path, write.end, answer.start):
            problems.append(f"{answer}: packet {key} answered before {path} was fsynced after its write")
        if not synced_between(events, landing, opened[path].end, answer.start):
            problems.append(f"{answer}: packet {key} answered before the folder was fsynced after {path} "
                            "was created")
    moved = [r for r in renames(events) if _dir(r.paths[1]) == landing]
    steps = sorted([e.start for e in answers] + [e.start for e in opened.values()])
    for rename in moved:
        deadline = next((start for start in steps if start > rename.end), end)
        if not synced_between(events, landing, rename.end, deadline):
            problems.append(f"{rename}: the folder was not fsynced before the next answer or file")
    return problems, {"answers": len(answers), "files": len(opened), "renames": len(moved)}


def _wait_for_port(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    raise AssertionError(f"receiver did not start: {proc.stderr.read().decode()[-2000:]}")


def _send(port: int, hours: range, loggers: int = 8) -> int:
    async def main() -> int:
        results = await asyncio.gather(*[
            run_logger("127.0.0.1", port, f"3301090000{i:011d}A",
                       [hourly_packet(f"3301090000{i:011d}A", h, {"w01018": 20.0 + h}) for h in hours], deadline_s=60)
            for i in range(loggers)])
        return sum(len(r.acknowledged) for r in results)

    return asyncio.run(main())


# What `envlake hj212-receiver --rotate-seconds 1` runs (envlake/cli/receiver_cmd.py), without the CLI's imports.
RECEIVER = """
import asyncio, contextlib, signal, sys
from pathlib import Path
from connectors.hj212.receiver import Receiver

async def main():
    task = asyncio.create_task(Receiver(Path(sys.argv[1]), 1).serve("127.0.0.1", int(sys.argv[2])))
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task

asyncio.run(main())
"""


def test_receiver_answers_a_packet_only_once_it_and_its_file_name_are_durable(tmp_path: Path) -> None:
    landing = (tmp_path / "landing").resolve()
    landing.mkdir()
    # a file a crashed receiver left open: closed (renamed) at start, before anything is answered
    (landing / "20260101000000-0badf00d.open").write_bytes(hourly_packet("33010900000000000099A", 0, {"w01018": 1}))
    trace, port = tmp_path / "receiver.trace", free_port()
    proc = subprocess.Popen(strace_command(trace, [sys.executable, "-c", RECEIVER, str(landing), str(port)],
                                           strings=1_000_000), cwd=REPO, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        _wait_for_port(port, proc)
        sent = _send(port, range(0, 15))
        time.sleep(1.1)  # the "hour" (a second here) turns: the file is renamed and a new one opened
        sent += _send(port, range(15, 30))
    finally:
        os.kill(traced_pid(trace), signal.SIGTERM)
        proc.wait(60)
    problems, seen = receiver_violations(parse(trace, REPO), str(landing))
    assert sent == 8 * 30 and seen["answers"] == sent, seen
    assert seen["files"] >= 2 and seen["renames"] >= 3, f"no hour turned while packets came: {seen}"
    assert not problems, "\n".join(problems[:20])


def test_the_checker_sees_a_missing_folder_fsync(tmp_path: Path) -> None:
    """The receiver's check on a hand-written trace: without the folder's fsync the answer is flagged."""
    packet = "##0100QN=20260101000000000;ST=32;CN=2061;PW=1;MN=M1;Flag=5;CP=&&&&1234\\r\\n"
    answer = "##0050QN=20260101000000000;ST=91;CN=9014;PW=1;MN=M1;Flag=4;CP=&&&&1234\\r\\n"
    lines = ['10 openat(AT_FDCWD, "/l/a.open", O_WRONLY|O_CREAT|O_APPEND|O_CLOEXEC, 0666) = 7',
             f'11 write(7, "{packet}", 80) = 80',
             "11 fsync(7 <unfinished ...>",
             '10 openat(AT_FDCWD, "/elsewhere", O_RDONLY|O_DIRECTORY) = 8',
             "11 <... fsync resumed>) = 0",
             "10 fsync(8) = 0",
             f'10 sendto(9, "{answer}", 60, 0, NULL, 0) = 60']
    (tmp_path / "t").write_text("\n".join(lines) + "\n")
    problems, seen = receiver_violations(parse(tmp_path / "t", tmp_path), "/l")
    assert seen["answers"] == 1 and len(problems) == 1 and "folder was fsynced" in problems[0]
    lines[3] = '10 openat(AT_FDCWD, "/l", O_RDONLY|O_DIRECTORY) = 8'
    (tmp_path / "t").write_text("\n".join(lines) + "\n")
    assert receiver_violations(parse(tmp_path / "t", tmp_path), "/l")[0] == []
    lines[4] = "11 <... fsync resumed>) = -1 EIO (Input/output error)"
    (tmp_path / "t").write_text("\n".join(lines) + "\n")
    assert "fsynced after its write" in receiver_violations(parse(tmp_path / "t", tmp_path), "/l")[0][0]


def renames_unsynced(events: list[Event], inside: str, deadline: int, after: int = -1) -> list[str]:
    """Renames into folders below ``inside`` (after line ``after``) whose folder was not fsynced after them,
    before line ``deadline``."""
    return [f"{r}: its folder was not fsynced before line {deadline}" for r in renames(events)
            if r.paths[1].startswith(inside + "/") and after < r.start < deadline
            and not synced_between(events, _dir(r.paths[1]), r.end, deadline)]


def folders_unsynced(events: list[Event], inside: str, deadline: int, after: int = -1) -> list[str]:
    """Folders made below ``inside`` (after line ``after``) whose parent was not fsynced after them, before
    line ``deadline``."""
    return [f"{m}: its parent was not fsynced before line {deadline}" for m in events
            if m.ok and m.name in ("mkdir", "mkdirat") and m.paths[0].startswith(inside + "/")
            and after < m.start < deadline and not synced_between(events, _dir(m.paths[0]), m.end, deadline)]


# One traced process for both: the lake writer's runs (one alone, two datasets in one transaction), then a
# publish's exports, catalog swap and manifest (envlake/publishing/publish.py's own helpers).
LAND_AND_PUBLISH = """
import sys
from datetime import UTC, datetime
import duckdb
from bench.monitoring import monitoring_batch
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from envlake.publishing.catalog import write_catalog as _write_catalog
from envlake.publishing.export import _export
from envlake.publishing.versions import write_json as _write_json
from envlake.kernel.settings import Settings
from connectors.writer import LakeWriter
from tests.connectors.factories import ratings

settings = Settings.from_env()
lake = Lake(settings.lake)
writer = LakeWriter(lake)
batch = monitoring_batch(4000, days=2, seed=3)
writer.land(load_contract("monitoring_hourly"), [batch.slice(0, 2000), batch.slice(2000)], source="trace")
with writer.transaction() as txn:
    writer.land(load_contract("credit_rating"), ratings(30), source="trace", transaction=txn)
    writer.land(load_contract("monitoring_hourly"), monitoring_batch(1000, days=1, seed=4), source="trace",
                transaction=txn)
print("landed", flush=True)

con = duckdb.connect()
con.execute("create table m as select range as id, 'x' || range as name from range(1000)")
files = {zone: [lake.path(zone, "m", "version=v1", "part-0.parquet")] for zone in ("curated", "shared")}
for zone, paths in files.items():
    _export(con, lake, "select * from m", paths[0])
con.close()
marts = {"m": {"rows": 1000, "files": files}}
_write_catalog(settings, "v1", datetime.now(UTC).isoformat(), marts, {})
_write_json(lake, lake.path("_meta", "publish", "current.json"), {"version": "v1", "marts": marts})
print("published", flush=True)
"""


@dataclass
class Traced:
    root: Path
    catalog: Path
    events: list[Event]
    end: int  # the line after the last: the process's exit
    published: int  # the line where the publish began (the first export's folder)


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Traced:
    tmp = tmp_path_factory.mktemp("traced")
    root, trace = (tmp / "lake").resolve(), tmp / "lake.trace"
    catalog = root / "_meta" / "catalog" / "envlake.duckdb"
    env = {**os.environ, "ENVLAKE_LAKE": str(root), "ENVLAKE_CATALOG": str(catalog)}
    done = subprocess.run(strace_command(trace, [sys.executable, "-c", LAND_AND_PUBLISH]), cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.split() == ["landed", "published"], done.stderr[-2000:]
    events = parse(trace, REPO)
    published = min(e.start for e in events if e.ok and e.name in ("mkdir", "mkdirat")
                    and e.paths[0] == str(root / "curated"))
    return Traced(root, catalog, events, max(e.end for e in events) + 1, published)


def test_the_writer_commits_only_durable_files_and_reports_only_durable_renames(traced: Traced) -> None:
    root, events, end = traced.root, traced.events, traced.published
    transactions = str(root / "_meta" / "transactions")
    commits = [r for r in renames(events) if r.paths[1].startswith(transactions + "/")
               and r.paths[1].endswith("/commit.json")]
    assert len(commits) == 2
    problems = []
    for commit in commits:
        folder = _dir(commit.paths[1])
        staged = [e for e in events if created(e) and e.paths[0].startswith(folder + "/_staged/")]
        assert staged, f"{folder}: no staged file"
        for file in staged:  # data and name durable before the commit record
            if not synced_between(events, file.paths[0], file.end, commit.start):
                problems.append(f"{file}: not fsynced before the commit record")
            if not synced_between(events, _dir(file.paths[0]), file.end, commit.start):
                problems.append(f"{file}: its folder was not fsynced before the commit record")
        problems += folders_unsynced(events, folder, commit.start)
        # the commit record durable before it is acted on (the first load-log row)
        first_row = _next_start(events, commit.end, lambda e: created(e) and "/_meta/load_log/" in e.paths[0], end)
        assert first_row < end
        if not synced_between(events, folder, commit.end, first_row):
            problems.append(f"{commit}: the record's folder was not fsynced before the load-log rows")
        # rows durable before the files appear; files' renames durable before the record is deleted
        deleted = _next_start(events, commit.end, lambda e, f=folder: e.name in ("unlink", "unlinkat")
                              and e.paths == [f"{f}/commit.json"], end)
        assert deleted < end, f"{folder}: the commit record was never deleted"
        moves = [r for r in renames(events) if r.paths[0].startswith(folder + "/_staged/")]
        first_move = min(r.start for r in moves)
        assert len(moves) == len(staged) and all(r.end < deleted for r in moves)
        rows = [r for r in renames(events) if commit.end < r.end < first_move and "/_meta/load_log/" in r.paths[1]]
        assert len(rows) == (2 if commit is commits[1] else 1)
        problems += [f"{r}: load-log folder not fsynced before the files moved" for r in rows
                     if not synced_between(events, _dir(r.paths[1]), r.end, first_move)]
        problems += [f"{r}: target folder not fsynced before the commit record was deleted" for r in moves
                     if not synced_between(events, _dir(r.paths[1]), r.end, deleted)]
        for zone in ("raw", "quarantine"):  # target folders made durable before anything is moved into them
            problems += folders_unsynced(events, str(root / zone), first_move, after=commit.end)
    problems += renames_unsynced(events, str(root), end)
    assert not problems, "\n".join(problems[:20])



def test_the_publish_names_only_durable_files_and_reports_only_durable_renames(traced: Traced) -> None:
    root, catalog, events, end = traced.root, traced.catalog, traced.events, traced.end
    swap = next(r for r in renames(events) if r.paths[1] == str(catalog))
    current = next(r for r in renames(events) if r.paths[1].endswith("/_meta/publish/current.json"))
    exported = [e for e in events if created(e) and e.paths[0].endswith("/version=v1/part-0.parquet")]
    assert len(exported) == 2
    problems = []
    if not any(created(e) and e.paths[0] == swap.paths[0] and synced_between(events, swap.paths[0], e.end, swap.start)
               for e in events):
        problems.append(f"{swap}: the new catalog file was not fsynced before it was swapped in")
    for file in exported:  # data and name durable before the catalog names them
        if not syncs_of(events, file.paths[0]) or not synced_between(events, file.paths[0], file.end, swap.start):
            problems.append(f"{file}: not fsynced before the catalog was swapped in")
        if not synced_between(events, _dir(file.paths[0]), file.end, swap.start):
            problems.append(f"{file}: its folder was not fsynced before the catalog was swapped in")
    problems += folders_unsynced(events, str(root / "curated"), swap.start)
    problems += folders_unsynced(events, str(root / "shared"), swap.start)
    manifest_written = _next_start(events, swap.end, lambda e: created(e) and "/_meta/publish/" in e.paths[0], end)
    if not synced_between(events, str(catalog.parent), swap.end, manifest_written):
        problems.append(f"{swap}: the catalog's folder was not fsynced before current.json was written")
    if not synced_between(events, _dir(current.paths[1]), current.end, end):
        problems.append(f"{current}: not made durable")
    problems += renames_unsynced(events, str(root), end, after=traced.published)
    assert not problems, "\n".join(problems[:20])
