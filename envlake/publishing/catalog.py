"""The readers' catalog: a DuckDB file of views over exactly the published files, swapped in whole, with the
lake's own records (``_meta``) as ``lake_meta`` views; and bringing another host's copy up to date."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from envlake.kernel.lake import Lake, make_dirs, replace_durably
from envlake.kernel.records import ANCHORED, META_VIEWS, SCHEMAS
from envlake.kernel.settings import Settings
from envlake.publishing import superset_catalogs
from envlake.publishing.reader import PUBLISH_ZONES, catalog_version, current


def write_catalog(settings: Settings, version: str, published_at: str, marts: dict[str, Any],
                   descriptions: dict[str, str]) -> Path:
    """A new catalog file of views over exactly ``marts``' files, swapped in with ``os.replace``."""
    target = settings.catalog
    make_dirs(target.parent)
    tmp = target.with_name(f".{target.name}.{version}.{os.getpid()}.inflight")
    lake = Lake(settings.lake)
    con = lake.register(duckdb.connect(str(tmp)))
    try:
        for zone in PUBLISH_ZONES:
            con.execute(f"create schema {zone}")
            for name, mart in marts.items():
                files = ", ".join(f"'{lake.uri(p)}'" for p in mart["files"][zone])
                con.execute(f"create view {zone}.{name} as "
                            f"select * from read_parquet([{files}], hive_partitioning = false, union_by_name = true)")
                if descriptions.get(name):
                    text = descriptions[name].replace("'", "")
                    con.execute(f"comment on view {zone}.{name} is '{text}'")
        con.execute("create schema lake_meta")
        con.execute("create table lake_meta.publish as select ? as version, ? as published_at, ? as models",
                    [version, published_at,
                     json.dumps({k: v["rows"] for k, v in marts.items()}, ensure_ascii=False)])
        meta_views(con, lake)
        con.execute("checkpoint")
    finally:
        con.close()  # DuckDB fdatasyncs the file at its checkpoint
    replace_durably(tmp, target)
    return target


def sync_catalog(settings: Settings) -> tuple[str, bool] | None:
    """Bring this host's catalog file (``ENVLAKE_CATALOG``) to the version ``current.json`` names, for a
    reader (Superset, a department's DuckDB) on a host other than the publisher's. Returns the version and
    whether a file was rewritten (not when it already shows that version); None when nothing is published.
    Superset's catalogs (envlake/publishing/superset_catalogs.py) come along."""
    state = current(Lake(settings.lake))
    if state is None:
        return None
    readers = catalog_version(settings.catalog) == state["version"]
    superset = superset_catalogs.written_version(settings.catalog) == state["version"]
    if not readers:
        write_catalog(settings, state["version"], state["published_at"], state["marts"], state.get("descriptions", {}))
    if not superset:
        superset_catalogs.write(settings, state["version"], state["published_at"], state["marts"], meta_views)
    return state["version"], not (readers and superset)


def _empty_view_sql(schema: pa.Schema) -> str:
    """A typed view with no rows, for a record type nothing has been written of yet."""
    types = {pa.string(): "varchar", pa.int64(): "bigint", pa.bool_(): "boolean", pa.float64(): "double"}
    columns = [f"cast(null as {types.get(f.type, 'timestamptz' if pa.types.is_timestamp(f.type) else 'varchar')})"
               f' as "{f.name}"' for f in schema]
    return f"select {', '.join(columns)} where false"


def meta_views(con: duckdb.DuckDBPyConnection, lake: Lake, uri: Callable[[str], str] | None = None) -> None:
    """The lake's records as views; a record type with no file yet gets an empty view of its schema, when
    known (it fills from the next publish on). ``uri`` names the files (``lake.uri`` by default)."""
    known = SCHEMAS
    for view, parts in META_VIEWS.items():
        if view in ANCHORED and not lake.files("_meta", *parts):
            lake.write_parquet(known[view].empty_table(), lake.path("_meta", *parts, ANCHORED[view], "empty.parquet"))
        if lake.files("_meta", *parts):
            glob = (uri or lake.uri)(lake.path("_meta", *parts)) + "/**/*.parquet"
            con.execute(f"create view lake_meta.{view} as select * from read_parquet('{glob}', "
                        "hive_partitioning = true, union_by_name = true)")
        elif view in known:
            con.execute(f"create view lake_meta.{view} as {_empty_view_sql(known[view])}")
