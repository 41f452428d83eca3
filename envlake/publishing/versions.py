"""Published versions: their ids, the publish log, the manifests, and removing the files no version keeps."""

from __future__ import annotations

import json
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from envlake.kernel.lake import Lake
from envlake.kernel.records import PUBLISH_LOG_SCHEMA
from envlake.kernel.settings import Settings
from envlake.publishing import iceberg
from envlake.publishing.export import Publishable
from envlake.publishing.reader import PUBLISH_ZONES, manifest_path, read_json


def new_version() -> str:
    return f"{datetime.now(UTC):%Y%m%dT%H%M%S%f}-{secrets.token_hex(3)}"


def log_publish(lake: Lake, version: str, status: str, models: dict[str, int], failed: list[str], message: str) -> None:
    row = pa.table({"version": [version], "status": [status], "published_at": [datetime.now(UTC)],
                    "models": [json.dumps(models, ensure_ascii=False)],
                    "failed": [json.dumps(failed, ensure_ascii=False)], "message": [message]},
                   schema=PUBLISH_LOG_SCHEMA)
    lake.write_parquet(row, lake.path("_meta", "publish_log", f"{version}.parquet"))


def write_json(lake: Lake, path: str, doc: dict[str, Any]) -> None:
    lake.write_bytes(json.dumps(doc, ensure_ascii=False, indent=1).encode("utf-8"), path)


def write_manifests(lake: Lake, state: dict[str, Any]) -> None:
    """The version's manifest, then ``current.json``: readers move to it with the second write."""
    write_json(lake, manifest_path(lake, state["version"]), state)
    write_json(lake, manifest_path(lake), state)


def remove_unreferenced(lake: Lake, items: list[Publishable], keep: int, live: set[str]) -> None:
    """Keep the newest ``keep`` versions' manifests; delete every mart file none of them and no live Iceberg
    snapshot (``live``) refers to."""
    folder = lake.path("_meta", "publish", "versions")
    manifests = sorted(i.path for i in lake.fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True))
                       if i.path.endswith(".json"))
    for old in manifests[:-keep]:
        lake.fs.delete_file(old)
    referenced: set[str] = set(live)
    for path in manifests[-keep:]:
        doc = read_json(lake, path) or {}
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


def expire_and_clean(settings: Settings | None = None, retention: timedelta | None = None) -> dict[str, Any]:
    """Expire the Iceberg snapshots past their retention, then remove the files nothing keeps any more."""
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    expired = iceberg.expire(settings, retention)
    before = {p for zone in PUBLISH_ZONES for d in lake.datasets(zone) for p in lake.files(zone, d)}
    items = [Publishable("", d, "", "") for d in sorted({d for zone in PUBLISH_ZONES for d in lake.datasets(zone)})]
    remove_unreferenced(lake, items, settings.keep_published_versions, iceberg.live_files(settings))
    after = {p for zone in PUBLISH_ZONES for d in lake.datasets(zone) for p in lake.files(zone, d)}
    return {"snapshots_expired": sum(expired.values()), "files_removed": len(before - after)}
