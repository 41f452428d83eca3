"""Where a department's reads run: an in-memory DuckDB database holding only that department's views, locked
down before anything else happens. This is the first wall; the SQL gate (``envlake.access.sqlguard``) is the second.

- The session may open exactly the Parquet files behind its views and nothing else: ``allowed_paths`` lists
  those files (shared/ of the published version for every dataset, curated/ only for a dataset a grant in
  force shows in the clear), ``allowed_directories`` is empty, spilling to disk is off (DuckDB would
  otherwise allow its temporary directory), then ``enable_external_access`` is switched off. Any other path,
  however it is spelled (a glob, another version folder, ``_meta/``, ``~``, ``..``), is refused by DuckDB.
- Every setting is read back; if one differs, or a probe of a path outside the list is not refused, the
  service refuses to serve (``SessionUnsafe``). Then the configuration is locked: no SET or RESET changes
  it, and no ATTACH of a file or INSTALL/LOAD of an extension passes (an in-memory ATTACH, which reads
  nothing, does: the gate refuses it).
- A file on the list can still be written by ``COPY … TO`` (DuckDB checks the path, not the direction):
  only the gate keeps COPY, EXPORT and every other statement but one SELECT out.
- The time limit is a deadline for the whole request. DuckDB drops an interrupt that arrives while a query
  is being bound (2,000 filters took 20 s past a 0.3 s limit), so past the deadline the query is
  interrupted again every 20 ms until it stops.

Databases are kept per published version and set of views (most departments share the one without
grants); each request takes its own cursor, so requests run side by side.
"""

from __future__ import annotations

import functools
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping

import duckdb
import pyarrow as pa

from envlake.access.limits import Limits
from envlake.access.masking import quote
from envlake.access.policy import View
from envlake.access.sqlguard import SqlRefused
from envlake.kernel.lake import s3_filesystem

TIMEOUT_SETTING = "ENVLAKE_ACCESS_TIMEOUT"
CONNECT_CONFIG = {"autoinstall_known_extensions": False, "autoload_known_extensions": False,
                  "allow_community_extensions": False, "allow_unsigned_extensions": False, "temp_directory": ""}

__all__ = ["Engine", "Limits", "QueryFailed", "QueryTimeout", "SessionUnsafe", "session_files"]


class QueryTimeout(RuntimeError):
    """The request ran past its time limit and was stopped."""


class QueryFailed(ValueError):
    """DuckDB refused the query (a wrong column, a bad value): the message says what."""


class SessionUnsafe(RuntimeError):
    """A session's settings did not read back as set, or its wall let a probe through: nothing is served."""


def session_files(views: Mapping[str, View]) -> tuple[str, ...]:
    """The files a session may open: those its views read, and no other."""
    return tuple(sorted({f for view in views.values() for f in view.files}))


def _literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _listed(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(_literal(v) for v in values) + "]"


@functools.lru_cache(maxsize=8)
def _memory_limit_as_shown(memory_limit: str) -> str:
    """How DuckDB shows a memory limit once set ('2GB' reads back as '1.8 GiB')."""
    con = duckdb.connect(":memory:")
    try:
        con.execute(f"set memory_limit = '{memory_limit}'")
        return str(con.execute("select current_setting('memory_limit')").fetchall()[0][0])
    finally:
        con.close()


def _expected(files: tuple[str, ...], limits: Limits) -> dict[str, object]:
    return {**CONNECT_CONFIG, "allowed_directories": [], "allowed_paths": sorted(files),
            "enable_external_access": False, "allowed_configs": [], "threads": int(limits.threads),
            "memory_limit": _memory_limit_as_shown(limits.memory_limit)}


def _verify(con: duckdb.DuckDBPyConnection, expected: dict[str, object]) -> None:
    for name, value in expected.items():
        shown = con.execute("select current_setting(?)", [name]).fetchall()[0][0]
        if isinstance(shown, list):
            shown = sorted(shown)
        if shown != value:
            raise SessionUnsafe(f"DuckDB setting {name} reads back as {shown!r}, not {value!r}: the query service "
                                "will not serve from this session")


def _probe(con: duckdb.DuckDBPyConnection, files: tuple[str, ...]) -> None:
    """A path next to the allowed files, and a Python object DuckDB could scan, must both be refused."""
    outside = (files[0] if files else "/") + ".envlake-wall-probe"
    envlake_wall_probe = pa.table({"probe": [1]})  # noqa: F841 -- what a Python replacement scan would find
    cursor = con.cursor()
    try:
        for sql, refusal in ((f"select * from read_text({_literal(outside)})", duckdb.PermissionException),
                             ("select * from envlake_wall_probe", duckdb.CatalogException)):
            try:
                cursor.execute(sql).fetchall()
            except refusal:
                continue
            except duckdb.Error as exc:
                raise SessionUnsafe(f"the session's wall answered {sql!r} with {type(exc).__name__}, not a "
                                    "refusal: the query service will not serve from it") from None
            raise SessionUnsafe(f"the session's wall let {sql!r} through: the query service will not serve from it")
    finally:
        cursor.close()


def _locked_database(views: Mapping[str, View], limits: Limits) -> duckdb.DuckDBPyConnection:
    files = session_files(views)
    con = duckdb.connect(":memory:", config=dict(CONNECT_CONFIG))
    try:
        if any(f.startswith("s3://") for f in files):  # the lake on object storage, read through fsspec
            con.register_filesystem(s3_filesystem())
        con.execute("set allowed_directories = []")
        con.execute(f"set allowed_paths = {_listed(files)}")
        con.execute("set enable_external_access = false")
        con.execute(f"set threads = {int(limits.threads)}")
        con.execute(f"set memory_limit = '{limits.memory_limit}'")
        expected = _expected(files, limits)
        _verify(con, expected)
        con.execute("set lock_configuration = true")
        _verify(con, {**expected, "lock_configuration": True})
        _probe(con, files)
        for name, view in sorted(views.items()):
            con.execute(f"create view {quote(name)} as {view.select_sql()}")
    except BaseException:
        con.close()
        raise
    return con


class _Watchdog:
    """Interrupts a cursor at the deadline, then every 20 ms until the query has stopped."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, seconds: float) -> None:
        self.cursor = cursor
        self.done = threading.Event()
        self.fired = False
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(seconds, 0.0), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def _fire(self) -> None:
        while True:
            with self._lock:
                if self.done.is_set():
                    return
                self.fired = True
                self.cursor.interrupt()
            if self.done.wait(0.02):
                return

    def stop(self) -> None:
        with self._lock:
            self.done.set()
        self._timer.cancel()


class Engine:
    """Runs reads for departments; databases cached by (version, views)."""

    def __init__(self, limits: Limits | None = None, keep: int = 16) -> None:
        self.limits = limits or Limits()
        self.keep = keep
        self._databases: OrderedDict[tuple[str, ...], duckdb.DuckDBPyConnection] = OrderedDict()
        self._lock = threading.Lock()

    def deadline(self) -> float:
        """The monotonic time by which a request starting now must be answered."""
        return time.monotonic() + self.limits.timeout_s

    def timed_out(self) -> QueryTimeout:
        return QueryTimeout(f"stopped after {self.limits.timeout_s:g} s ({TIMEOUT_SETTING}): filter more, or ask "
                            "for fewer rows")

    def check_deadline(self, deadline: float | None) -> None:
        if deadline is not None and time.monotonic() > deadline:
            raise self.timed_out()

    def _database(self, version: str, views: Mapping[str, View]) -> duckdb.DuckDBPyConnection:
        key = (version, *sorted(f"{n}:{','.join(sorted(v.clear))}" for n, v in views.items()))
        with self._lock:
            con = self._databases.get(key)
            if con is not None:
                self._databases.move_to_end(key)
                return con
            con = _locked_database(views, self.limits)
            self._databases[key] = con
            while len(self._databases) > self.keep:
                _, old = self._databases.popitem(last=False)
                old.close()
            return con

    def run(self, version: str, views: Mapping[str, View], sql: str, params: list[object] | None = None,
            max_rows: int | None = None, deadline: float | None = None) -> tuple[pa.Table, bool]:
        """Run checked SQL (it already carries a limit of max_rows + 1) before ``deadline`` (monotonic; default:
        the time limit from now); returns (rows, truncated)."""
        max_rows = self.limits.max_rows if max_rows is None else max_rows
        deadline = self.deadline() if deadline is None else deadline
        self.check_deadline(deadline)
        cursor = self._database(version, views).cursor()
        watchdog = _Watchdog(cursor, deadline - time.monotonic())
        try:
            table = cursor.sql(sql, params=params or None).to_arrow_table()
        except duckdb.InterruptException:
            raise self.timed_out() from None
        except duckdb.PermissionException as exc:
            raise SqlRefused(f"the locked session refused it: {str(exc).splitlines()[0]}") from None
        except duckdb.Error as exc:
            if watchdog.fired:
                raise self.timed_out() from None
            raise QueryFailed(str(exc).splitlines()[0]) from None
        finally:
            watchdog.stop()
            cursor.close()
        self.check_deadline(deadline)
        truncated = table.num_rows > max_rows
        return (table.slice(0, max_rows) if truncated else table), truncated

    def close(self) -> None:
        with self._lock:
            for con in self._databases.values():
                con.close()
            self._databases.clear()
