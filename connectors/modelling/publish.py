"""Write-audit-publish: marts built and tested in the build area are published to ``curated/`` and ``shared/``.

A publish exports the marts as Parquet, then swaps in a new read-only catalog file of views over
exactly those files (``os.replace``: readers see the old set or the new one, never a mix) and writes
the version's manifest (``_meta/publish/versions/<id>.json``, and ``current.json``). Files are never
changed once written, so a version can reuse files of the one before:

- a mart the build did not touch (a selective build) keeps its files;
- a mart declared partitioned (``meta: {publish_partition: <date column>, publish_watermark: <column>}``,
  e.g. the incremental ``fct_monitoring_hourly``) rewrites only the partitions holding rows newer than
  the watermark of the last publish;
- every other mart is exported whole into ``<zone>/<mart>/version=<id>/``.

Nothing is published when a dbt node failed: the last published version stays in place and the failing
tests are named. ``shared/`` leaves out columns classified 不予共享 (``none``) or personal (``pii``).
Files no kept version refers to are removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from connectors.lakefs import Lake
from connectors.modelling.runner import DbtRun, manifest
from connectors.settings import Settings

PUBLISH_ZONES = ("curated", "shared")
PUBLISH_LOG_SCHEMA = pa.schema([
    ("version", pa.string()), ("status", pa.string()), ("published_at", pa.timestamp("us", "UTC")),
    ("models", pa.string()), ("failed", pa.string()), ("message", pa.string()),
])


class PublishBlocked(RuntimeError):
    """The audit failed: nothing was published."""


@dataclass
class Publishable:
    name: str
    relation: str
    withheld_from_shared: list[str] = field(default_factory=list)
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


def publishable(man: dict[str, Any]) -> list[Publishable]:
    """Models and snapshots tagged ``publish``, with the columns kept out of ``shared/``."""
    out = []
    for node in man["nodes"].values():
        if node["resource_type"] not in ("model", "snapshot") or "publish" not in node.get("tags", []):
            continue
        withheld = [c for c, col in node.get("columns", {}).items()
                    if col.get("meta", {}).get("sharing_class") == "none" or col.get("meta", {}).get("pii")]
        meta = node.get("config", {}).get("meta", {}) or node.get("meta", {})
        out.append(Publishable(node["name"], f'{node["schema"]}.{node["alias"] or node["name"]}', withheld,
                               node.get("description", ""), meta.get("publish_partition"),
                               meta.get("publish_watermark")))
    return sorted(out, key=lambda p: p.name)


def new_version() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"


def _columns(item: Publishable, zone: str) -> str:
    if zone == "curated" or not item.withheld_from_shared:
        return "*"
    return f"* exclude ({', '.join(item.withheld_from_shared)})"


def _export(con: duckdb.DuckDBPyConnection, lake: Lake, select: str, path: str) -> None:
    lake.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    if lake.is_local:
        con.execute(f"copy ({select}) to '{path}' (format parquet, compression zstd)")
        return
    reader = con.execute(select).fetch_record_batch()
    with lake.fs.open_output_stream(path) as out, pq.ParquetWriter(out, reader.schema, compression="zstd") as w:
        for batch in reader:
            w.write_batch(batch)


def _schema_key(con: duckdb.DuckDBPyConnection, item: Publishable) -> str:
    described = con.execute(f"describe {item.relation}").fetchall()
    return hashlib.sha256(json.dumps([(r[0], r[1]) for r in described]).encode()).hexdigest()[:16]


def _partition_files(con: duckdb.DuckDBPyConnection, lake: Lake, item: Publishable, zone: str, version: str,
                     days: list[str]) -> dict[str, str]:
    """One file per partition value in ``days``: {day: path}."""
    files = {}
    columns = _columns(item, zone)
    for day in days:
        path = lake.path(zone, item.name, f"{item.partition}={day}", f"part-{version}.parquet")
        _export(con, lake, f"select {columns} from {item.relation} where {item.partition} = date '{day}'", path)
        files[day] = path
    return files


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
        _export(con, lake, f"select {_columns(item, zone)} from {item.relation}", path)
        entry["files"][zone] = [path]
    return entry, "whole"


def _write_catalog(settings: Settings, version: str, items: list[Publishable], marts: dict[str, Any]) -> Path:
    target = settings.catalog
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{version}.inflight")
    con = duckdb.connect(str(tmp))
    try:
        for zone in PUBLISH_ZONES:
            con.execute(f"create schema {zone}")
            for item in items:
                files = ", ".join(f"'{p}'" for p in marts[item.name]["files"][zone])
                con.execute(f"create view {zone}.{item.name} as "
                            f"select * from read_parquet([{files}], hive_partitioning = false, union_by_name = true)")
                if item.description:
                    text = item.description.replace("'", "")
                    con.execute(f"comment on view {zone}.{item.name} is '{text}'")
        con.execute("create schema lake_meta")
        con.execute("create table lake_meta.publish as select ? as version, ? as published_at, ? as models",
                    [version, datetime.now(UTC).isoformat(),
                     json.dumps({k: v["rows"] for k, v in marts.items()}, ensure_ascii=False)])
        con.execute("checkpoint")
    finally:
        con.close()
    os.replace(tmp, target)
    return target


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


def _remove_unreferenced(lake: Lake, items: list[Publishable], keep: int) -> None:
    """Keep the newest ``keep`` versions' manifests; delete every mart file none of them refers to."""
    folder = lake.path("_meta", "publish", "versions")
    manifests = sorted(i.path for i in lake.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
                       if i.path.endswith(".json"))
    for old in manifests[:-keep]:
        lake.fs.delete_file(old)
    referenced: set[str] = set()
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


def publish(settings: Settings | None = None, run: DbtRun | None = None,
            only: set[str] | None = None) -> PublishResult:
    """Publish the marts of the build area; ``only`` limits the export to marts a selective build touched
    (the others keep their files). Refuses, and says why, when ``run`` has a failed node."""
    settings = settings or Settings.from_env()
    if run is not None and (run.failed or not run.success):
        block(settings, run)
    lake = Lake(settings.lake)
    items = publishable(manifest())
    if not items:
        raise PublishBlocked("no model is tagged `publish`: nothing to publish")
    version = new_version()
    before = current(lake) or {}
    previous = before.get("marts", {})
    marts: dict[str, Any] = {}
    rewritten: dict[str, str] = {}
    # Read-write like dbt-duckdb's own connection: DuckDB refuses a second in-process connection with another
    # configuration. Publishing runs in the warehouse pool's one slot, so it is still the only writer.
    con = duckdb.connect(str(settings.warehouse))
    try:
        for item in items:
            before_item = previous.get(item.name)
            if before_item and not all(lake.exists(p) for files in before_item["files"].values() for p in files):
                before_item = None  # files gone (removed by hand?): export it whole again
            if only is not None and item.name not in only and before_item:
                marts[item.name], rewritten[item.name] = before_item, "kept"
                continue
            marts[item.name], rewritten[item.name] = _export_item(con, lake, item, version, before_item)
    finally:
        con.close()
    catalog = _write_catalog(settings, version, items, marts)
    published_at = datetime.now(UTC)
    rows = {k: v["rows"] for k, v in marts.items()}
    state = {"version": version, "published_at": published_at.isoformat(), "models": rows,
             "catalog": str(catalog), "marts": marts}
    _write_json(lake, lake.path("_meta", "publish", "versions", f"{version}.json"), state)
    _write_json(lake, lake.path("_meta", "publish", "current.json"), state)
    _log(lake, version, "published", rows, [], json.dumps(rewritten, ensure_ascii=False))
    _remove_unreferenced(lake, items, settings.keep_published_versions)
    return PublishResult(version, published_at, rows, catalog, rewritten)
