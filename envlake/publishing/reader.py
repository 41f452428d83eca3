"""What readers open: the published version named by ``_meta/publish/current.json``, and which version a
catalog file holds. Consumers (access, the catalogue, the closed loop, the CLI) import this, not the writer.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb

from envlake.kernel.lake import Lake

PUBLISH_ZONES = ("curated", "shared")


def manifest_path(lake: Lake, version: str | None = None) -> str:
    """``current.json``, or the manifest of one version."""
    if version is None:
        return lake.path("_meta", "publish", "current.json")
    return lake.path("_meta", "publish", "versions", f"{version}.json")


def read_json(lake: Lake, path: str) -> dict[str, Any] | None:
    data = lake.read_bytes(path)
    return None if data is None else json.loads(data.decode("utf-8"))


def current(lake: Lake) -> dict[str, Any] | None:
    """The published version readers see: ``version``, ``models`` (rows per mart), ``catalog``, ``marts``."""
    return read_json(lake, manifest_path(lake))


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
