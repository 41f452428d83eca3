"""A request's limits, in one place: rows, time, the size and nesting of its SQL, and the size of its answer.

Set from the environment by ``envlake.access.config`` (``ENVLAKE_ACCESS_*``); every refusal for a limit names the
setting that holds it.
"""

from __future__ import annotations

from dataclasses import dataclass

from envlake.access.sqlguard import MAX_DEPTH, MAX_QUERY_BYTES, SqlLimits

MAX_RESPONSE_BYTES = 32 * 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_rows: int = 10_000
    timeout_s: float = 20.0  # the whole request: checks, filters, the query and writing the answer
    threads: int = 2
    memory_limit: str = "2GB"
    max_query_bytes: int = MAX_QUERY_BYTES  # a request body, or a query sent on the command line
    max_sql_depth: int = MAX_DEPTH
    max_response_bytes: int = MAX_RESPONSE_BYTES

    @property
    def sql(self) -> SqlLimits:
        return SqlLimits(self.max_query_bytes, self.max_sql_depth)
