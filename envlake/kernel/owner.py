"""Who owns a temporary file or a staged transaction, and whether that owner still runs.

An owner is a process: its host, the host's boot, its pid and its start time (so a pid reused after a crash or
a reboot is not taken for the owner). On the owner's own host liveness is exact (``/proc``); a process on
another host (an object-store lake shared by workers) is judged by how recently it renewed its lease.
"""

from __future__ import annotations

import hashlib
import os
import socket
from dataclasses import dataclass
from functools import cache
from pathlib import Path


def _digest(text: str) -> str:
    return hashlib.sha1(text.encode()).hexdigest()[:8]


def _start_ticks(pid: int) -> int | None:
    """The process's start time in clock ticks since boot (field 22 of /proc/<pid>/stat); None when it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return int(stat.rsplit(")", 1)[1].split()[19])


@cache
def _boot_id() -> str:
    try:
        return _digest(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    except OSError:
        return "0"


@dataclass(frozen=True)
class Owner:
    host: str
    boot: str
    pid: int
    start: int

    @property
    def token(self) -> str:
        """The owner in a file or folder name: no dots, no slashes."""
        return f"{self.host}-{self.boot}-{self.pid}-{self.start}"

    @classmethod
    def parse(cls, token: str) -> Owner | None:
        parts = token.split("-")
        if len(parts) != 4 or not (parts[2].isdigit() and parts[3].isdigit()):
            return None
        return cls(parts[0], parts[1], int(parts[2]), int(parts[3]))

    def on_this_host(self) -> bool:
        return self.host == _host()

    def alive(self) -> bool | None:
        """True or False when this host can tell (the owner ran here), None when it cannot (another host)."""
        if not self.on_this_host():
            return None
        if self.boot != _boot_id():
            return False  # the host rebooted since: every process of that boot is gone
        if Path("/proc/self/stat").exists():
            return _start_ticks(self.pid) == self.start
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True


@cache
def _host() -> str:
    return _digest(socket.gethostname())


def me() -> Owner:
    """This process (looked up by pid: a forked child is another owner)."""
    return _owner(os.getpid())


@cache
def _owner(pid: int) -> Owner:
    return Owner(_host(), _boot_id(), pid, _start_ticks(pid) or 0)
