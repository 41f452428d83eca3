"""The access service's settings, from the environment, with embedded defaults for the demo.

- ``ENVLAKE_ACCESS_DB``: SQLAlchemy URL of the grants database (default: SQLite in the lake's ``_meta/access/``;
  ``postgresql+psycopg2://…`` in production).
- ``ENVLAKE_ACCESS_HOST`` / ``ENVLAKE_ACCESS_PORT``: where ``envlake serve`` listens (127.0.0.1:8780).
- ``ENVLAKE_ACCESS_MAX_ROWS`` (10000), ``ENVLAKE_ACCESS_TIMEOUT`` (20 s): a request's row limit, and its time
  limit (the whole request: checks, filters, the query, writing the answer).
- ``ENVLAKE_ACCESS_MAX_RESPONSE_BYTES`` (32 MiB): the largest answer sent; a larger one is refused (400).
- ``ENVLAKE_ACCESS_MAX_QUERY_BYTES`` (65536): the largest request body, and query on the command line.
- ``ENVLAKE_ACCESS_MAX_SQL_DEPTH`` (32): how deeply a query may nest brackets and CASE.
- ``ENVLAKE_AUDIT_FLUSH_SECONDS`` (1): how long audit rows may wait in memory before they are written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from envlake.access.audit import AuditLog
from envlake.access.limits import MAX_RESPONSE_BYTES, Limits
from envlake.access.service import AccessService
from envlake.access.sqlguard import MAX_DEPTH, MAX_QUERY_BYTES
from envlake.access.store import AccessStore, default_url
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings, _local_base


@dataclass(frozen=True)
class AccessSettings:
    db_url: str
    host: str
    port: int
    limits: Limits
    audit_flush_seconds: float

    @classmethod
    def from_env(cls, settings: Settings) -> AccessSettings:
        env = os.environ
        return cls(
            db_url=env.get("ENVLAKE_ACCESS_DB", default_url(_local_base(settings.lake))),
            host=env.get("ENVLAKE_ACCESS_HOST", "127.0.0.1"),
            port=int(env.get("ENVLAKE_ACCESS_PORT", "8780")),
            limits=Limits(max_rows=int(env.get("ENVLAKE_ACCESS_MAX_ROWS", "10000")),
                          timeout_s=float(env.get("ENVLAKE_ACCESS_TIMEOUT", "20")),
                          threads=int(env.get("ENVLAKE_ACCESS_THREADS", "2")),
                          max_query_bytes=int(env.get("ENVLAKE_ACCESS_MAX_QUERY_BYTES", str(MAX_QUERY_BYTES))),
                          max_sql_depth=int(env.get("ENVLAKE_ACCESS_MAX_SQL_DEPTH", str(MAX_DEPTH))),
                          max_response_bytes=int(env.get("ENVLAKE_ACCESS_MAX_RESPONSE_BYTES",
                                                         str(MAX_RESPONSE_BYTES)))),
            audit_flush_seconds=float(env.get("ENVLAKE_AUDIT_FLUSH_SECONDS", "1")),
        )


def build_service(settings: Settings | None = None, channel: str = "api",
                  access: AccessSettings | None = None) -> AccessService:
    """The service for the API (buffered audit) or the command line (``channel='cli'``: each row written at once)."""
    settings = settings or Settings.from_env()
    access = access or AccessSettings.from_env(settings)
    flush = 0.0 if channel == "cli" else access.audit_flush_seconds
    return AccessService(settings, AccessStore(access.db_url), AuditLog(Lake(settings.lake), flush), access.limits,
                         channel)
