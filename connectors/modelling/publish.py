"""Write-audit-publish: marts built and tested in the build area are published to ``curated/`` and ``shared/``.

Each publish writes every mart into a new version folder (``<zone>/<model>/version=<id>/``), then swaps
in a new read-only catalog file of views over exactly those files (``os.replace``: readers see the old
set or the new one, never a mix) and records the version in ``_meta/publish/current.json``. Nothing is
published when a dbt node failed: the last published version stays in place and the failing tests are
named. ``shared/`` leaves out columns classified 不予共享 (``none``) or personal (``pii``).
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
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


@dataclass
class PublishResult:
    version: str
    published_at: datetime
    rows: dict[str, int]
    catalog: Path


def publishable(man: dict[str, Any]) -> list[Publishable]:
    """Models and snapshots tagged ``publish``, with the columns kept out of ``shared/``."""
    out = []
    for node in man["nodes"].values():
        if node["resource_type"] not in ("model", "snapshot") or "publish" not in node.get("tags", []):
            continue
        withheld = [c for c, col in node.get("columns", {}).items()
                    if col.get("meta", {}).get("sharing_class") == "none" or col.get("meta", {}).get("pii")]
        out.append(Publishable(node["name"], f'{node["schema"]}.{node["alias"] or node["name"]}', withheld,
                               node.get("description", "")))
    return sorted(out, key=lambda p: p.name)


def new_version() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S}-{secrets.token_hex(3)}"


def _export(con: duckdb.DuckDBPyConnection, lake: Lake, select: str, path: str) -> None:
    lake.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
    if lake.is_local:
        con.execute(f"copy ({select}) to '{path}' (format parquet, compression zstd)")
        return
    reader = con.execute(select).fetch_record_batch()
    with lake.fs.open_output_stream(path) as out, pq.ParquetWriter(out, reader.schema, compression="zstd") as w:
        for batch in reader:
            w.write_batch(batch)


def _write_catalog(settings: Settings, lake: Lake, version: str, items: list[Publishable],
                   rows: dict[str, int]) -> Path:
    target = settings.catalog
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{version}.inflight")
    con = duckdb.connect(str(tmp))
    try:
        for zone in PUBLISH_ZONES:
            con.execute(f"create schema {zone}")
            for item in items:
                files = lake.path(zone, item.name, f"version={version}", "*.parquet")
                con.execute(f"create view {zone}.{item.name} as "
                            f"select * from read_parquet('{files}', hive_partitioning = false)")
                if item.description:
                    text = item.description.replace("'", "")
                    con.execute(f"comment on view {zone}.{item.name} is '{text}'")
        con.execute("create schema lake_meta")
        con.execute("create table lake_meta.publish as select ? as version, ? as published_at, ? as models",
                    [version, datetime.now(UTC).isoformat(), json.dumps(rows, ensure_ascii=False)])
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


def current(lake: Lake) -> dict[str, Any] | None:
    path = lake.path("_meta", "publish", "current.json")
    if not lake.exists(path):
        return None
    with lake.fs.open_input_stream(path) as fh:
        return json.loads(fh.read().decode("utf-8"))


def _remove_old_versions(lake: Lake, items: list[Publishable], keep: int) -> None:
    from pyarrow import fs as pafs

    for zone in PUBLISH_ZONES:
        for item in items:
            base = lake.path(zone, item.name)
            if not lake.exists(base):
                continue
            versions = sorted(i.path for i in lake.fs.get_file_info(pafs.FileSelector(base))
                              if i.type == pafs.FileType.Directory and i.base_name.startswith("version="))
            for old in versions[:-keep]:
                lake.fs.delete_dir(old)


def block(settings: Settings, run: DbtRun) -> None:
    """Record a blocked publish and raise, naming what failed."""
    lake = Lake(settings.lake)
    failed = [f"{r.resource_type} {r.name}" for r in run.failed]
    message = run.failure_summary()
    _log(lake, new_version(), "blocked", {}, failed, message)
    raise PublishBlocked(f"not published, the last published version stays: {message}")


def publish(settings: Settings | None = None, run: DbtRun | None = None) -> PublishResult:
    """Publish every mart of the build area; refuses (and says why) when ``run`` has a failed node."""
    settings = settings or Settings.from_env()
    if run is not None and (run.failed or not run.success):
        block(settings, run)
    lake = Lake(settings.lake)
    items = publishable(manifest())
    if not items:
        raise PublishBlocked("no model is tagged `publish`: nothing to publish")
    version = new_version()
    rows: dict[str, int] = {}
    # Read-write like dbt-duckdb's own connection: DuckDB refuses a second in-process connection with another
    # configuration. Publishing runs in the warehouse pool's one slot, so it is still the only writer.
    con = duckdb.connect(str(settings.warehouse))
    try:
        for item in items:
            rows[item.name] = con.execute(f"select count(*) from {item.relation}").fetchone()[0]
            for zone in PUBLISH_ZONES:
                columns = "*" if zone == "curated" or not item.withheld_from_shared else \
                    f"* exclude ({', '.join(item.withheld_from_shared)})"
                _export(con, lake, f"select {columns} from {item.relation}",
                        lake.path(zone, item.name, f"version={version}", "part-0.parquet"))
    finally:
        con.close()
    catalog = _write_catalog(settings, lake, version, items, rows)
    published_at = datetime.now(UTC)
    state = {"version": version, "published_at": published_at.isoformat(), "models": rows,
             "catalog": str(catalog)}
    path = lake.path("_meta", "publish", "current.json")
    if lake.is_local:
        lake.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        tmp = f"{path}.{version}.inflight"
        Path(tmp).write_text(json.dumps(state, ensure_ascii=False, indent=1), encoding="utf-8")
        os.replace(tmp, path)
    else:
        with lake.fs.open_output_stream(path) as out:
            out.write(json.dumps(state, ensure_ascii=False).encode("utf-8"))
    _log(lake, version, "published", rows, [], "")
    _remove_old_versions(lake, items, settings.keep_published_versions)
    return PublishResult(version, published_at, rows, catalog)
