"""Where a department's reads run: an in-memory DuckDB database holding only that department's views,
locked down before anything else happens.

- ``allowed_directories`` is the published zones (curated/, shared/) and ``enable_external_access`` is off,
  then the configuration is locked: no other file, no ATTACH, no INSTALL, no way to switch it back.
- It holds views only, over Parquet files: there is nothing in it to change, and it is thrown away.
- A query is interrupted past its time limit and returns at most its row limit.

Databases are kept per published version and set of views (most departments share the one without
grants); each request takes its own cursor, so requests run side by side.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from access.masking import quote
from access.policy import View
from access.sqlguard import SqlRefused
from connectors.lakefs import s3_filesystem


class QueryTimeout(RuntimeError):
    """The query ran past its time limit and was stopped."""


class QueryFailed(ValueError):
    """DuckDB refused the query (a wrong column, a bad value): the message says what."""


@dataclass(frozen=True)
class Limits:
    max_rows: int = 10_000
    timeout_s: float = 20.0
    threads: int = 2
    memory_limit: str = "2GB"


def _locked_database(allowed_dirs: tuple[str, ...], views: dict[str, View],
                     limits: Limits) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    if any(d.startswith("s3://") for d in allowed_dirs):  # the lake on object storage, read through fsspec
        con.register_filesystem(s3_filesystem())
    listed = ", ".join("'" + d.replace("'", "''").rstrip("/") + "/'" for d in allowed_dirs)
    con.execute(f"set allowed_directories = [{listed}]")
    con.execute("set enable_external_access = false")
    con.execute("set autoinstall_known_extensions = false")
    con.execute("set autoload_known_extensions = false")
    con.execute(f"set threads = {int(limits.threads)}")
    con.execute(f"set memory_limit = '{limits.memory_limit}'")
    con.execute("set lock_configuration = true")
    for name, view in sorted(views.items()):
        con.execute(f"create view {quote(name)} as {view.select_sql()}")
    return con


class Engine:
    """Runs reads for departments; databases cached by (version, views)."""

    def __init__(self, limits: Limits | None = None, keep: int = 16) -> None:
        self.limits = limits or Limits()
        self.keep = keep
        self._databases: OrderedDict[tuple[str, ...], duckdb.DuckDBPyConnection] = OrderedDict()
        self._lock = threading.Lock()

    def _database(self, version: str, allowed_dirs: tuple[str, ...],
                  views: dict[str, View]) -> duckdb.DuckDBPyConnection:
        key = (version, *sorted(f"{n}:{','.join(sorted(v.clear))}" for n, v in views.items()))
        with self._lock:
            con = self._databases.get(key)
            if con is not None:
                self._databases.move_to_end(key)
                return con
            con = _locked_database(allowed_dirs, views, self.limits)
            self._databases[key] = con
            while len(self._databases) > self.keep:
                _, old = self._databases.popitem(last=False)
                old.close()
            return con

    def run(self, version: str, allowed_dirs: tuple[str, ...], views: dict[str, View], sql: str,
            params: list[object] | None = None, max_rows: int | None = None) -> tuple[pa.Table, bool]:
        """Run checked SQL (it already carries a limit of max_rows + 1); returns (rows, truncated)."""
        max_rows = self.limits.max_rows if max_rows is None else max_rows
        cursor = self._database(version, allowed_dirs, views).cursor()
        timer = threading.Timer(self.limits.timeout_s, cursor.interrupt)
        timer.start()
        try:
            table = cursor.sql(sql, params=params or None).to_arrow_table()
        except duckdb.InterruptException:
            raise QueryTimeout(f"stopped after {self.limits.timeout_s:g} s: filter more, or ask for fewer rows") \
                from None
        except duckdb.PermissionException as exc:
            raise SqlRefused(f"the locked session refused it: {str(exc).splitlines()[0]}") from None
        except duckdb.Error as exc:
            raise QueryFailed(str(exc).splitlines()[0]) from None
        finally:
            timer.cancel()
            cursor.close()
        truncated = table.num_rows > max_rows
        return (table.slice(0, max_rows) if truncated else table), truncated

    def close(self) -> None:
        with self._lock:
            for con in self._databases.values():
                con.close()
            self._databases.clear()
