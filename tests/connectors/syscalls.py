"""Record a process's file-system system calls with strace and read them back in order, fds mapped to paths.

Each call is an ``Event`` with the trace line where it began and the one where it returned (a call another
thread interrupted is printed as ``<unfinished ...>`` and ``<... resumed>``): "A before B" is
``a.end < b.start``, which for calls of different threads is the order the kernel saw.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest

STRACE = shutil.which("strace")
TRACED = ("openat,open,creat,close,fsync,fdatasync,write,sendto,rename,renameat,renameat2,"
          "mkdir,mkdirat,unlink,unlinkat,rmdir")
STRING = re.compile(r'"((?:[^"\\]|\\.)*)"')
LINE = re.compile(r"^(\d+)\s+(.*)$")
CALL = re.compile(r"^(\w+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)(?:\s.*)?$")


def require_strace() -> str:
    if STRACE is None:
        pytest.skip("strace is not installed")
    probe = subprocess.run([STRACE, "-f", "-e", "trace=none", "true"], capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"strace cannot trace here: {probe.stderr.strip()[:200]}")
    return STRACE


def strace_command(trace_file: Path, argv: list[str], strings: int = 512) -> list[str]:
    """``argv`` under strace, following threads, file calls only (seccomp-bpf keeps the others fast)."""
    return [require_strace(), "-f", "--seccomp-bpf", "-qq", "-s", str(strings), "-o", str(trace_file),
            "-e", f"trace={TRACED}", *argv]


def traced_pid(trace_file: Path, timeout: float = 30) -> int:
    """The pid of the traced program (the first pid in the trace)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        if trace_file.exists():
            first = trace_file.read_text(errors="replace").split("\n", 1)[0]
            if match := LINE.match(first):
                return int(match.group(1))
        time.sleep(0.05)
    raise AssertionError("strace wrote no line")


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "r": "\r", "t": "\t"}.get(m.group(1), m.group(1)), text)


@dataclass
class Event:
    start: int
    end: int
    tid: int
    name: str
    args: str
    ret: int | None
    paths: list[str] = field(default_factory=list)  # resolved: the fd's path, or the path arguments
    fd: int | None = None

    @property
    def ok(self) -> bool:
        return self.ret is not None and self.ret >= 0

    def __str__(self) -> str:
        return f"#{self.start}-{self.end} {self.name}({', '.join(self.paths) or self.args[:80]}) = {self.ret}"


def _parse_lines(lines: list[str]) -> list[Event]:
    events: list[Event] = []
    pending: dict[int, tuple[int, str, str]] = {}
    for i, line in enumerate(lines):
        match = LINE.match(line)
        if not match:
            continue
        tid, rest = int(match.group(1)), match.group(2)
        if rest.startswith(("---", "+++")):
            continue
        if resumed := RESUMED.match(rest):
            if tid not in pending:
                continue
            start, name, head = pending.pop(tid)
            body = head + resumed.group(2)
        elif call := CALL.match(rest):
            name, body, start = call.group(1), call.group(2), i
            if body.endswith("<unfinished ...>"):
                pending[tid] = (i, name, body.removesuffix("<unfinished ...>"))
                continue
        else:
            continue
        result = RESULT.search(body)
        ret = None if result is None or result.group(1) == "?" else int(result.group(1))
        events.append(Event(start, i, tid, name, body[:result.start()] if result else body, ret))
    return sorted(events, key=lambda e: e.end)


def _join(base: str | None, name: str) -> str:
    if name.startswith("/"):
        return os.path.normpath(name)
    return os.path.normpath(os.path.join(base or "/?", name))


def parse(trace_file: Path, cwd: Path) -> list[Event]:
    """The trace's events, in the order they returned, each with the paths it touched resolved. An fd is bound
    when its open returns and released when its close begins (as the kernel does: another thread may get the
    same number while the close is still running); a call's fd is read when the call begins."""
    events = _parse_lines(trace_file.read_text(errors="replace").splitlines())
    fds: dict[int, str] = {}

    def at(dirfd: str, name: str) -> str:
        base = str(cwd) if dirfd.strip() == "AT_FDCWD" else fds.get(int(dirfd))
        return _join(base, _unescape(name))

    steps = sorted([(e.start, 0, n) for n, e in enumerate(events)] +
                   [(e.end, 1, n) for n, e in enumerate(events) if e.name in ("openat", "open", "creat")])
    for _, returned, n in steps:
        event = events[n]
        if returned:
            if event.ok:
                fds[event.ret] = event.paths[0]
                event.fd = event.ret
            continue
        args = event.args
        strings = STRING.findall(args)
        head = args.split(",")
        if event.name in ("openat", "mkdirat", "unlinkat") and strings:
            event.paths = [at(head[0], strings[0])]
        elif event.name in ("open", "creat", "mkdir", "unlink", "rmdir", "rename") and strings:
            event.paths = [_join(str(cwd), _unescape(s)) for s in strings[:2]]
        elif event.name in ("renameat", "renameat2") and len(strings) >= 2:
            second_dirfd = args.split(f'"{strings[0]}"', 1)[1].split(",")[1]
            event.paths = [at(head[0], strings[0]), at(second_dirfd, strings[1])]
        elif event.name in ("close", "fsync", "fdatasync", "write", "sendto"):
            event.fd = int(head[0])
            event.paths = [fds.get(event.fd, f"fd:{event.fd}")]
            if event.name == "close":
                fds.pop(event.fd, None)
    return events


def created(event: Event) -> bool:
    """An open that may have created its file (O_CREAT), or a creat."""
    return event.ok and (event.name == "creat" or (event.name in ("openat", "open") and "O_CREAT" in event.args))


def is_dir_open(event: Event) -> bool:
    return event.ok and event.name in ("openat", "open") and "O_DIRECTORY" in event.args


def renames(events: list[Event]) -> list[Event]:
    return [e for e in events if e.ok and e.name in ("rename", "renameat", "renameat2")]


def syncs_of(events: list[Event], path: str) -> list[Event]:
    """Successful fsyncs or fdatasyncs of ``path`` (a file or a folder)."""
    return [e for e in events if e.ok and e.name in ("fsync", "fdatasync") and e.paths == [path]]


def synced_between(events: list[Event], path: str, after: int, before: int) -> bool:
    """Whether ``path`` was fsynced by a call that began after line ``after`` and returned before ``before``."""
    return any(after < e.start and e.end < before for e in syncs_of(events, path))


def written_text(event: Event) -> str:
    strings = STRING.findall(event.args)
    return _unescape(strings[0]) if strings else ""
