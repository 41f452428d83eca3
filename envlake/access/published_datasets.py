"""What is published now, as the access service needs it: each shared dataset's files in ``curated/`` and
``shared/``, and each column's type and class as the publish gate saw it (``_meta/quality/gates/<version>``).

Read from the lake (``_meta/publish/current.json``), never from the build area, so that the service runs
anywhere the lake is reachable. Reloaded when the published version changes.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import duckdb

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.publishing.reader import current


class NothingPublished(RuntimeError):
    """No version is published yet."""


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # DuckDB type
    security_level: str
    sharing_class: str
    pii: bool
    masked: bool  # shared/ holds it masked
    mask: str | None

    @property
    def grantable(self) -> bool:
        """A conditional column a department may be granted in the clear."""
        return self.masked and self.sharing_class == "conditional"

    @property
    def never_shared(self) -> bool:
        return self.sharing_class == "none" or self.security_level == "L4"


@dataclass(frozen=True)
class Dataset:
    name: str
    name_zh: str
    description: str
    rows: int
    curated_files: tuple[str, ...]
    shared_files: tuple[str, ...]
    columns: tuple[Column, ...]
    entry: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    def column(self, name: str) -> Column | None:
        return next((c for c in self.columns if c.name == name), None)

    @property
    def grantable(self) -> list[str]:
        return [c.name for c in self.columns if c.grantable]


@dataclass(frozen=True)
class Published:
    version: str
    published_at: str
    datasets: dict[str, Dataset]


def _describe(con: duckdb.DuckDBPyConnection, files: tuple[str, ...]) -> list[tuple[str, str]]:
    listed = ", ".join("'" + f.replace("'", "''") + "'" for f in files)
    return [(r[0], r[1]) for r in con.execute(
        f"describe select * from read_parquet([{listed}], hive_partitioning = false, union_by_name = true)").fetchall()]


def load(settings: Settings, state: dict[str, Any] | None = None) -> Published:
    """The published state now (``current.json``), or ``state`` (one of ``as_of``'s)."""
    lake = Lake(settings.lake)
    state = state or current(lake)
    if not state:
        raise NothingPublished("nothing is published yet: run `make demo` or `envlake models build`")
    report = lake.read_bytes(lake.path("_meta", "quality", "gates", f"{state['version']}.json"))
    classes = json.loads(report.decode("utf-8")).get("classes", {}) if report else {}
    catalogue_bytes = lake.read_bytes(lake.path("_meta", "catalogue", "catalogue.json"))
    entries = {e["id"]: e for e in json.loads(catalogue_bytes.decode("utf-8")).get("shared", [])} \
        if catalogue_bytes else {}
    datasets: dict[str, Dataset] = {}
    con = lake.register(duckdb.connect())
    try:
        for name, mart in sorted(state["marts"].items()):
            curated = tuple(lake.uri(p) for p in mart["files"]["curated"])
            shared = tuple(lake.uri(p) for p in mart["files"]["shared"])
            declared = {c["column"]: c for c in classes.get(name, [])}
            shared_types = dict(_describe(con, shared))
            columns = []
            for column, duckdb_type in _describe(con, curated):
                if column not in shared_types:
                    continue  # withheld from shared/ (meta shared: false): never reachable
                cls = declared.get(column, {})
                columns.append(Column(column, duckdb_type, cls.get("security_level", "L1"),
                                      cls.get("sharing_class", "unconditional"), bool(cls.get("pii")),
                                      cls.get("shared") == "masked", cls.get("mask")))
            entry = entries.get(name, {})
            datasets[name] = Dataset(name, entry.get("name_zh", name), entry.get("description", ""),
                                     int(mart.get("rows", 0)), curated, shared, tuple(columns), entry)
    finally:
        con.close()
    return Published(state["version"], state.get("published_at", ""), datasets)


def as_of(settings: Settings, when: datetime) -> Published:
    """What was published at ``when``: the Iceberg snapshots of the shared tables then."""
    from envlake.publishing.iceberg import state_as_of

    state = state_as_of(settings, when)
    if not state:
        raise NothingPublished(f"nothing was published at {when.isoformat()} (or its snapshots have expired): "
                               "`envlake models history <mart>` lists what is kept")
    return load(settings, state)


class PublishedCache:
    """The published state, reloaded when ``current.json`` names another version (checked at most every
    ``check_seconds``)."""

    def __init__(self, settings: Settings, check_seconds: float = 2.0) -> None:
        self.settings = settings
        self.check_seconds = check_seconds
        self._state: Published | None = None
        self._checked = 0.0
        self._lock = threading.Lock()

    def get(self) -> Published:
        with self._lock:
            now = time.monotonic()
            if self._state is not None and now - self._checked < self.check_seconds:
                return self._state
            self._checked = now
            state = current(Lake(self.settings.lake))
            if state is None:
                raise NothingPublished("nothing is published yet: run `make demo` or `envlake models build`")
            if self._state is None or self._state.version != state["version"]:
                self._state = load(self.settings)
            return self._state
