"""A read-only window on the lake for DuckDB: an fsspec filesystem under its own protocol, ``lakero://``.

DuckDB's ``allowed_directories`` and ``allowed_paths`` say which files a locked session may open, not how:
with external access off, ``COPY (…) TO`` a path inside them still overwrites it (DuckDB 2.0.1). So the
connections Superset opens read the lake through this filesystem only, and DuckDB's own local filesystem is
disabled (``disabled_filesystems``). This filesystem opens files below the readable folders for reading and
refuses everything else: other paths, any write mode, folders, renames, deletes, copies.

It also reads safely under DuckDB's parallel reads. DuckDB reads one handle of a Python filesystem from
several threads at once, each as ``seek`` then ``read``; a plain fsspec file interleaves them and returns
wrong bytes (a sum over 2 M rows came back different on each run). A handle here keeps a position per
thread and reads at that position in one step (``os.pread`` locally, a lock around seek-and-read otherwise).

Superset's configuration loads this file by path (it runs in its own virtual environment): nothing here
imports envlake.
"""

from __future__ import annotations

import os
import posixpath
import threading
from collections.abc import Callable, Iterable
from typing import Any

from fsspec import AbstractFileSystem
from fsspec.implementations.local import LocalFileSystem

PROTOCOL = "lakero"


def uri(path: str) -> str:
    """A lake path (a local absolute path, or ``bucket/key`` on object storage) as this filesystem names it."""
    return f"{PROTOCOL}://{path}"


class ReadOnlyRefused(PermissionError):
    """Something other than reading an allowed file was asked of the lake."""


class _PositionalFile:
    """A read-only handle whose position is per thread: ``seek`` then ``read`` from one thread is one read at
    that offset, whatever other threads do with the same handle meanwhile."""

    def __init__(self, read_at: Callable[[int, int], bytes], size: int, close: Callable[[], None]) -> None:
        self._read_at, self.size, self._close = read_at, size, close
        self._position = threading.local()
        self.closed = False

    def tell(self) -> int:
        return getattr(self._position, "value", 0)

    def seek(self, offset: int, whence: int = 0) -> int:
        base = {0: 0, 1: self.tell(), 2: self.size}[whence]
        self._position.value = base + offset
        return self._position.value

    def read(self, length: int = -1) -> bytes:
        start = self.tell()
        if length is None or length < 0:
            length = max(self.size - start, 0)
        data = self._read_at(start, length)
        self._position.value = start + len(data)
        return data

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def writable(self) -> bool:
        return False

    def write(self, _data: bytes) -> int:
        raise ReadOnlyRefused("the lake is read-only here")

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._close()

    def __enter__(self) -> _PositionalFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReadOnlyLake(AbstractFileSystem):
    """Files below ``readable`` (folders of ``inner``: local absolute paths, or ``bucket/key`` prefixes of an
    object store), for reading only."""

    protocol = PROTOCOL
    root_marker = ""
    cachable = False  # fsspec would otherwise hand the same instance to another caller

    def __init__(self, inner: AbstractFileSystem, readable: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.inner = inner
        self.local = isinstance(inner, LocalFileSystem)
        self.readable = tuple(os.path.realpath(r) if self.local else posixpath.normpath(r)
                              for r in (self._strip_protocol(r) for r in readable))

    @classmethod
    def _strip_protocol(cls, path: Any) -> str:
        text = str(path)
        if text.startswith(f"{PROTOCOL}://"):
            text = text[len(PROTOCOL) + 3:]
        return text.rstrip("/") or "/"

    def _inside(self, path: str) -> bool:
        return any(path == r or path.startswith(r.rstrip("/") + "/") for r in self.readable)

    def _allowed(self, path: Any) -> str:
        """The path, normalised, when it lies in a readable folder; refused otherwise (``..`` and other
        protocols included)."""
        if not isinstance(path, str) or "://" in self._strip_protocol(path):
            raise ReadOnlyRefused(f"not a lake path: {path!r}")
        normal = posixpath.normpath(self._strip_protocol(path))
        if not self._inside(normal):
            raise ReadOnlyRefused(f"not readable here: {path}")
        return normal

    def _open(self, path: str, mode: str = "rb", **_kwargs: Any) -> _PositionalFile:
        if mode != "rb":
            raise ReadOnlyRefused(f"the lake is read-only here: {path} ({mode})")
        target = self._allowed(path)
        # a file's contents only through a path whose symbolic links, resolved, stay inside (listing a folder
        # resolves none: os.path.realpath on every name was most of a glob's cost)
        if self.local and not self._inside(target := os.path.realpath(target)):
            raise ReadOnlyRefused(f"not readable here: {path}")
        if self.local:
            fd = os.open(target, os.O_RDONLY)
            return _PositionalFile(lambda at, n: os.pread(fd, n, at), os.fstat(fd).st_size, lambda: os.close(fd))
        handle = self.inner.open(target, "rb")
        lock = threading.Lock()

        def read_at(at: int, n: int) -> bytes:
            with lock:
                handle.seek(at)
                return handle.read(n)

        return _PositionalFile(read_at, self.inner.size(target), handle.close)

    def info(self, path: str, **kwargs: Any) -> dict[str, Any]:
        return self.inner.info(self._allowed(path), **kwargs)

    def ls(self, path: str, detail: bool = True, **kwargs: Any) -> list[Any]:
        return self.inner.ls(self._allowed(path), detail=detail, **kwargs)

    def modified(self, path: str) -> Any:
        return self.inner.modified(self._allowed(path))

    def _refuse(self, *_args: Any, **_kwargs: Any) -> Any:
        raise ReadOnlyRefused("the lake is read-only here")

    mkdir = makedirs = rmdir = rm = rm_file = _rm = mv = move = rename = cp_file = copy = _refuse
    put = put_file = get = get_file = download = upload = touch = pipe = pipe_file = _refuse
    write_text = write_bytes = link = symlink = setxattrs = chmod = start_transaction = _refuse


def _listed(value: Any) -> list[str]:
    return sorted(str(v) for v in (value or []))


def lock_down(con: Any, readable: list[str], inner: AbstractFileSystem | None = None) -> None:
    """Lock a DuckDB connection's instance: it reads ``readable`` lake folders through ``lakero://`` and no
    other file, writes none, loads no extension and can change none of this. With ``readable`` empty it
    opens no file besides its own database. Settings belong to the instance, which every connection to the
    same file shares: an instance already locked is only checked."""
    if not con.execute("select current_setting('lock_configuration')").fetchone()[0]:
        if readable:
            con.register_filesystem(ReadOnlyLake(inner or LocalFileSystem(), readable))
        folders = ", ".join("'" + uri(r.rstrip("/")).replace("'", "''") + "/'" for r in readable)
        for statement in (f"set allowed_directories = [{folders}]", "set allowed_paths = []",
                          "set autoinstall_known_extensions = false", "set autoload_known_extensions = false",
                          "set allow_community_extensions = false", "set allow_persistent_secrets = false",
                          "set enable_external_access = false",
                          # after external access: setting that needs the local filesystem
                          "set disabled_filesystems = 'LocalFileSystem'", "set lock_configuration = true"):
            con.execute(statement)
    check_locked(con, readable)


def check_locked(con: Any, readable: list[str]) -> None:
    """Read the lock back; raise when any part of it is not in force. Besides ``readable``, DuckDB allows
    itself its own database file, its WAL files and its temporary folder (all on the disabled local
    filesystem)."""
    row = con.execute("select current_setting('enable_external_access'), current_setting('lock_configuration'), "
                      "current_setting('allowed_paths'), current_setting('allowed_configs'), "
                      "current_setting('allowed_directories'), current_setting('temp_directory'), "
                      "current_setting('autoinstall_known_extensions'), "
                      "(select path from duckdb_databases() where database_name = current_database())").fetchone()
    external, locked, paths, configs, folders, temp, autoinstall, database = row
    own_files = {f"{database}{suffix}" for suffix in ("", ".wal", ".wal.checkpoint", ".wal.recovery")}
    temp_folder = (temp.rstrip("/") + "/") if temp else None
    expected = sorted(uri(r.rstrip("/")) + "/" for r in readable)
    problems = [name for name, bad in (
        ("enable_external_access", external), ("lock_configuration", not locked),
        ("allowed_paths", set(_listed(paths)) - own_files), ("allowed_configs", configs),
        ("autoinstall_known_extensions", autoinstall),
        ("allowed_directories", [f for f in _listed(folders) if f != temp_folder] != expected)) if bad]
    if not problems:  # disabled_filesystems reads back empty on 2.0.1: check what it does instead
        try:
            con.execute("select count(*) from glob('/')").fetchall()
            problems.append("disabled_filesystems")
        except Exception as exc:  # any refusal will do, a result will not
            if "LocalFileSystem" not in str(exc):  # refused, but not by the disabled local filesystem
                problems.append("disabled_filesystems")
    if problems:
        raise ReadOnlyRefused(f"DuckDB connection not locked down: {', '.join(problems)}")
