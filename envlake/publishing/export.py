"""Export the built marts to ``curated/`` and ``shared/`` as Parquet: whole, or the partitions that changed."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from envlake.kernel.lake import Lake
from envlake.publishing.reader import PUBLISH_ZONES


@dataclass
class Publishable:
    uid: str
    name: str
    relation: str
    shared_relation: str
    description: str = ""
    partition: str | None = None
    watermark: str | None = None


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


def changed_rows(con: duckdb.DuckDBPyConnection, item: Publishable, previous: dict[str, Any] | None) -> str:
    """The rows this publish writes: a partitioned mart's rows newer than the last publish, else all."""
    if item.partition and item.watermark and previous and previous.get("watermark") \
            and previous.get("schema") == _schema_key(con, item):
        return f"{item.watermark} > cast('{previous['watermark']}' as timestamp)"
    return "true"


def export_item(con: duckdb.DuckDBPyConnection, lake: Lake, item: Publishable, version: str,
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


def plan_exports(lake: Lake, items: list[Publishable], previous: dict[str, Any],
          only: set[str] | None) -> dict[str, tuple[dict[str, Any] | None, bool]]:
    """Per mart: its last published entry (None when its files are gone) and whether to export it now."""
    plan = {}
    for item in items:
        before_item = previous.get(item.name)
        if before_item and not all(lake.exists(p) for files in before_item["files"].values() for p in files):
            before_item = None  # files gone (removed by hand?): export it whole again
        plan[item.name] = (before_item, not (only is not None and item.name not in only and before_item))
    return plan
