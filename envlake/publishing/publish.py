"""Write-audit-publish: marts built and tested in the build area are published to ``curated/`` and ``shared/``.

A publish exports the marts as Parquet, then swaps in a new read-only catalog file of views over
exactly those files (``os.replace``: readers see the old set or the new one, never a mix), and Superset's
catalogs beside it (``envlake.publishing.superset_catalogs``: one per district branch holding its rows only), and writes
the version's manifest (``_meta/publish/versions/<id>.json``, and ``current.json``), then commits the same
files to the marts' Iceberg tables as one snapshot each (``envlake.publishing.iceberg``). Files are never
changed once written, so a version can reuse files of the one before:

- a mart the build did not touch (a selective build) keeps its files;
- a mart declared partitioned (``meta: {publish_partition: <date column>, publish_watermark: <column>}``,
  e.g. the incremental ``fct_monitoring_hourly``) rewrites only the partitions holding rows newer than
  the watermark of the last publish;
- every other mart is exported whole into ``<zone>/<mart>/version=<id>/``.

Nothing is published when a dbt node failed or a governance gate (``quality.gates``: classification,
personal data, the marts' GX suites) found a problem: the last published version stays in place and what
failed is named (model, column, rule) in ``_meta/publish_log`` and ``_meta/quality/gates/``. ``shared/``
is exported from each mart's shared view (``<mart>__shared``, made by the ``create_shared_view`` macro:
conditional columns masked, withheld columns left out). Files no kept version and no live Iceberg snapshot
refers to are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs

from envlake.kernel.lake import Lake, make_dirs, replace_durably
from envlake.kernel.records import ANCHORED, META_VIEWS, PUBLISH_LOG_SCHEMA, SCHEMAS
from envlake.kernel.settings import Settings
from envlake.modelling.runner import DbtRun, manifest
from envlake.publishing import iceberg, superset_catalogs
from quality.gates import GateTarget, check

PUBLISH_ZONES = ("curated", "shared")


class PublishBlocked(RuntimeError):
    """The audit failed: nothing was published."""


@dataclass
class Publishable:
    uid: str
    name: str
    relation: str
    shared_relation: str
    description: str = ""
    partition: str | None = None
    watermark: str | None = None


@dataclass
class PublishResult:
    version: str
    published_at: datetime
    rows: dict[str, int]
    catalog: Path
    rewritten: dict[str, str] = field(default_factory=dict)  # mart -> "whole", "partitions: n" or "kept"
    gates: dict[str, float] = field(default_factory=dict)  # seconds each gate took


def publishable(man: dict[str, Any]) -> list[Publishable]:
    """Models and snapshots tagged ``publish``, each with its shared view (see macros/shared_view.sql)."""
    out = []
    for uid, node in man["nodes"].items():
        if node["resource_type"] not in ("model", "snapshot") or "publish" not in node.get("tags", []):
            continue
        meta = node.get("config", {}).get("meta", {}) or node.get("meta", {})
        table = node["alias"] or node["name"]
        out.append(Publishable(uid, node["name"], f'{node["schema"]}.{table}', f'{node["schema"]}."{table}__shared"',
                               node.get("description", ""), meta.get("publish_partition"),
                               meta.get("publish_watermark")))
    return sorted(out, key=lambda p: p.name)


def new_version() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"


def _source(item: Publishable, zone: str) -> str:
    return item.relation if zone == "curated" else item.shared_relation


def _export(con: duckdb.DuckDBPyConnection, lake: Lake, select: str, path: str) -> None:
    """One Parquet file from a query. On object storage through the connection's registered filesystem: the
    object appears once its upload completes. Locally made durable (data and name) before any catalog or
    manifest names it: DuckDB's COPY does not fsync."""
    lake.make_dirs(path.rsplit("/", 1)[0])
    con.execute(f"copy ({select}) to '{lake.uri(path)}' (format parquet, compression zstd)")
    lake.make_durable(path)


def _schema_key(con: duckdb.DuckDBPyConnection, item: Publishable) -> str:
    described = con.execute(f"describe {item.relation}").fetchall()
    return hashlib.sha256(json.dumps([(r[0], r[1]) for r in described]).encode()).hexdigest()[:16]


def _partition_files(con: duckdb.DuckDBPyConnection, lake: Lake, item: Publishable, zone: str, version: str,
                     days: list[str]) -> dict[str, str]:
    """One file per partition value in ``days``: {day: path}."""
    files = {}
    for day in days:
        path = lake.path(zone, item.name, f"{item.partition}={day}", f"part-{version}.parquet")
        _export(con, lake, f"select * from {_source(item, zone)} where {item.partition} = date '{day}'", path)
        files[day] = path
    return files


def _changed_rows(con: duckdb.DuckDBPyConnection, item: Publishable, previous: dict[str, Any] | None) -> str:
    """The rows this publish writes: a partitioned mart's rows newer than the last publish, else all."""
    if item.partition and item.watermark and previous and previous.get("watermark") \
            and previous.get("schema") == _schema_key(con, item):
        return f"{item.watermark} > cast('{previous['watermark']}' as timestamp)"
    return "true"


def _export_item(con: duckdb.DuckDBPyConnection, lake: Lake, item: Publishable, version: str,
                 previous: dict[str, Any] | None) -> tuple[dict[str, Any], str]:
    """Export one mart (or the partitions that changed); returns its manifest entry and what was done."""
    schema_key = _schema_key(con, item)
    entry: dict[str, Any] = {"rows": con.execute(f"select count(*) from {item.relation}").fetchone()[0],
                             "schema": schema_key}
    if item.partition and item.watermark:
        watermark = con.execute(f"select cast(max({item.watermark}) as varchar) from {item.relation}").fetchone()[0]
        entry["watermark"] = watermark
        reusable = previous and previous.get("schema") == schema_key and previous.get("watermark")
        if reusable:
            changed = [str(r[0]) for r in con.execute(
                f"select distinct {item.partition} from {item.relation} "
                f"where {item.watermark} > cast(? as timestamp) order by 1", [previous["watermark"]]).fetchall()]
            kept = {z: {d: p for d, p in previous["partitions"][z].items() if d not in changed}
                    for z in PUBLISH_ZONES}
        else:
            changed = [str(r[0]) for r in con.execute(
                f"select distinct {item.partition} from {item.relation} order by 1").fetchall()]
            kept = {z: {} for z in PUBLISH_ZONES}
        entry["partitions"] = {z: {**kept[z], **_partition_files(con, lake, item, z, version, changed)}
                               for z in PUBLISH_ZONES}
        entry["files"] = {z: sorted(entry["partitions"][z].values()) for z in PUBLISH_ZONES}
        return entry, f"partitions: {len(changed)}"
    entry["files"] = {}
    for zone in PUBLISH_ZONES:
        path = lake.path(zone, item.name, f"version={version}", "part-0.parquet")
        _export(con, lake, f"select * from {_source(item, zone)}", path)
        entry["files"][zone] = [path]
    return entry, "whole"


def _write_catalog(settings: Settings, version: str, published_at: str, marts: dict[str, Any],
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
        _meta_views(con, lake)
        con.execute("checkpoint")
    finally:
        con.close()  # DuckDB fdatasyncs the file at its checkpoint
    replace_durably(tmp, target)
    return target


def catalog_version(path: Path) -> str | None:
    """The published version a catalog file holds views of; None when there is no readable catalog."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return None
    try:
        return con.execute("select version from lake_meta.publish").fetchone()[0]
    except duckdb.Error:
        return None
    finally:
        con.close()


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
        _write_catalog(settings, state["version"], state["published_at"], state["marts"], state.get("descriptions", {}))
    if not superset:
        superset_catalogs.write(settings, state["version"], state["published_at"], state["marts"], _meta_views)
    return state["version"], not (readers and superset)


# Views over the lake's own records, read at query time (new results show without a new publish).




def _empty_view_sql(schema: pa.Schema) -> str:
    """A typed view with no rows, for a record type nothing has been written of yet."""
    types = {pa.string(): "varchar", pa.int64(): "bigint", pa.bool_(): "boolean", pa.float64(): "double"}
    columns = [f"cast(null as {types.get(f.type, 'timestamptz' if pa.types.is_timestamp(f.type) else 'varchar')})"
               f' as "{f.name}"' for f in schema]
    return f"select {', '.join(columns)} where false"


def _meta_views(con: duckdb.DuckDBPyConnection, lake: Lake, uri: Callable[[str], str] | None = None) -> None:
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


def _log(lake: Lake, version: str, status: str, models: dict[str, int], failed: list[str], message: str) -> None:
    row = pa.table({"version": [version], "status": [status], "published_at": [datetime.now(UTC)],
                    "models": [json.dumps(models, ensure_ascii=False)],
                    "failed": [json.dumps(failed, ensure_ascii=False)], "message": [message]},
                   schema=PUBLISH_LOG_SCHEMA)
    lake.write_parquet(row, lake.path("_meta", "publish_log", f"{version}.parquet"))


def _write_json(lake: Lake, path: str, doc: dict[str, Any]) -> None:
    lake.write_bytes(json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"), path)


def _read_json(lake: Lake, path: str) -> dict[str, Any] | None:
    data = lake.read_bytes(path)
    return None if data is None else json.loads(data.decode("utf-8"))


def current(lake: Lake) -> dict[str, Any] | None:
    """The published version readers see: ``version``, ``models`` (rows per mart), ``catalog``, ``marts``."""
    return _read_json(lake, lake.path("_meta", "publish", "current.json"))


def _remove_unreferenced(lake: Lake, items: list[Publishable], keep: int, live: set[str]) -> None:
    """Keep the newest ``keep`` versions' manifests; delete every mart file none of them and no live Iceberg
    snapshot (``live``) refers to."""
    folder = lake.path("_meta", "publish", "versions")
    manifests = sorted(i.path for i in lake.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
                       if i.path.endswith(".json"))
    for old in manifests[:-keep]:
        lake.fs.delete_file(old)
    referenced: set[str] = set(live)
    for path in manifests[-keep:]:
        doc = _read_json(lake, path) or {}
        for mart in doc.get("marts", {}).values():
            for files in mart["files"].values():
                referenced.update(files)
    for zone in PUBLISH_ZONES:
        for item in items:
            for path in lake.files(zone, item.name):
                if path not in referenced:
                    lake.fs.delete_file(path)
            base = lake.path(zone, item.name)
            if lake.exists(base):
                for info in lake.fs.get_file_info(pafs.FileSelector(base)):
                    inside = lake.fs.get_file_info(pafs.FileSelector(info.path, recursive=True)) \
                        if info.type == pafs.FileType.Directory else [info]
                    if info.type == pafs.FileType.Directory and not any(
                            i.type == pafs.FileType.File for i in inside):
                        lake.fs.delete_dir(info.path)


def block(settings: Settings, run: DbtRun) -> None:
    """Record a blocked publish and raise, naming what failed."""
    lake = Lake(settings.lake)
    failed = [f"{r.resource_type} {r.name}" for r in run.failed]
    message = run.failure_summary()
    _log(lake, new_version(), "blocked", {}, failed, message)
    raise PublishBlocked(f"not published, the last published version stays: {message}")


def _plan(lake: Lake, items: list[Publishable], previous: dict[str, Any],
          only: set[str] | None) -> dict[str, tuple[dict[str, Any] | None, bool]]:
    """Per mart: its last published entry (None when its files are gone) and whether to export it now."""
    plan = {}
    for item in items:
        before_item = previous.get(item.name)
        if before_item and not all(lake.exists(p) for files in before_item["files"].values() for p in files):
            before_item = None  # files gone (removed by hand?): export it whole again
        plan[item.name] = (before_item, not (only is not None and item.name not in only and before_item))
    return plan


def _gate(settings: Settings, lake: Lake, man: dict[str, Any], items: list[Publishable], version: str,
          plan: dict[str, tuple[dict[str, Any] | None, bool]]) -> dict[str, float]:
    """Run the governance gates; raise PublishBlocked naming model, column and rule when one fails."""
    con = Lake(settings.lake).register(duckdb.connect(str(settings.warehouse)))
    try:
        missing = [i.name for i in items if not con.execute(
            "select count(*) from information_schema.tables where table_schema = ? and table_name = ?",
            [i.relation.split(".")[0], f"{i.relation.split('.')[1]}__shared"]).fetchone()[0]]
        if missing:
            raise PublishBlocked(f"no shared view for {', '.join(missing)}: rebuild them with `envlake models build`")
        targets = [GateTarget(i.uid, i.name, i.relation, i.shared_relation, _changed_rows(con, i, plan[i.name][0]))
                   for i in items if plan[i.name][1]]
    finally:
        con.close()
    report = check(settings, man, targets, {i.uid for i in items}, version)
    if not report.passed:
        failed = sorted({f"{v.model}.{v.column}: {v.rule}" for v in report.violations}
                        | {f"{m}: {o.expectation}" for m, o in report.failed_expectations})
        message = f"governance gates failed: {report.summary()}"
        _log(lake, version, "blocked", {}, failed, message)
        raise PublishBlocked(f"not published, the last published version stays: {message}")
    return report.timings


def publish(settings: Settings | None = None, run: DbtRun | None = None,
            only: set[str] | None = None) -> PublishResult:
    """Publish the marts of the build area; ``only`` limits the export to marts a selective build touched
    (the others keep their files). Refuses, and says why, when ``run`` has a failed node or a gate fails."""
    settings = settings or Settings.from_env()
    if run is not None and (run.failed or not run.success):
        block(settings, run)
    lake = Lake(settings.lake)
    man = manifest()
    items = publishable(man)
    if not items:
        raise PublishBlocked("no model is tagged `publish`: nothing to publish")
    version = new_version()
    before = current(lake) or {}
    previous = before.get("marts", {})
    plan = _plan(lake, items, previous, only)
    timings = _gate(settings, lake, man, items, version, plan)
    marts: dict[str, Any] = {}
    rewritten: dict[str, str] = {}
    # Read-write like dbt-duckdb's own connection: DuckDB refuses a second in-process connection with another
    # configuration. Publishing runs in the warehouse pool's one slot, so it is still the only writer.
    con = Lake(settings.lake).register(duckdb.connect(str(settings.warehouse)))
    try:
        for item in items:
            before_item, export = plan[item.name]
            if not export:
                marts[item.name], rewritten[item.name] = before_item, "kept"
                continue
            marts[item.name], rewritten[item.name] = _export_item(con, lake, item, version, before_item)
    finally:
        con.close()
    rows = {k: v["rows"] for k, v in marts.items()}
    # Logged before the catalog is written, so that its publish_log view exists from the first publish on;
    # should the swap fail, a "failed" row for the same version follows.
    _log(lake, version, "published", rows, [], json.dumps(rewritten, ensure_ascii=False))
    try:
        published_at = datetime.now(UTC)
        descriptions = {i.name: i.description for i in items if i.description}
        catalog = _write_catalog(settings, version, published_at.isoformat(), marts, descriptions)
        superset_catalogs.write(settings, version, published_at.isoformat(), marts, _meta_views)
        state = {"version": version, "published_at": published_at.isoformat(), "models": rows,
                 "catalog": str(catalog), "marts": marts, "descriptions": descriptions, "gates": timings}
        _write_json(lake, lake.path("_meta", "publish", "versions", f"{version}.json"), state)
        _write_json(lake, lake.path("_meta", "publish", "current.json"), state)
        iceberg.commit(settings, marts, {i.name: i.partition for i in items}, version)
    except Exception as exc:
        _log(lake, version, "failed", {}, [], f"{type(exc).__name__}: {exc}")
        raise
    _remove_unreferenced(lake, items, settings.keep_published_versions, iceberg.live_files(settings))
    return PublishResult(version, published_at, rows, catalog, rewritten, timings)


def expire_and_clean(settings: Settings | None = None, retention: timedelta | None = None) -> dict[str, Any]:
    """Expire the Iceberg snapshots past their retention, then remove the files nothing keeps any more."""
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    expired = iceberg.expire(settings, retention)
    before = {p for zone in PUBLISH_ZONES for d in lake.datasets(zone) for p in lake.files(zone, d)}
    items = [Publishable("", d, "", "") for d in sorted({d for zone in PUBLISH_ZONES for d in lake.datasets(zone)})]
    _remove_unreferenced(lake, items, settings.keep_published_versions, iceberg.live_files(settings))
    after = {p for zone in PUBLISH_ZONES for d in lake.datasets(zone) for p in lake.files(zone, d)}
    return {"snapshots_expired": sum(expired.values()), "files_removed": len(before - after)}
