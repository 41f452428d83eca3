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

The steps live beside this module: ``export`` (the Parquet files), ``gate`` (the governance gates),
``catalog`` (the readers' catalog), ``superset_catalogs``, ``versions`` (manifests, log, clean-up) and
``iceberg``; readers import ``reader``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.runner import DbtRun, manifest
from envlake.publishing import iceberg, superset_catalogs
from envlake.publishing.catalog import catalog_version, meta_views, sync_catalog, write_catalog
from envlake.publishing.export import Publishable, export_item, plan_exports, publishable
from envlake.publishing.gate import PublishBlocked, block, run_gates
from envlake.publishing.reader import PUBLISH_ZONES, current
from envlake.publishing.versions import expire_and_clean, log_publish, new_version, remove_unreferenced, write_manifests

__all__ = ["PUBLISH_ZONES", "PublishBlocked", "PublishResult", "Publishable", "catalog_version", "current",
           "expire_and_clean", "publish", "publishable", "sync_catalog"]


@dataclass
class PublishResult:
    version: str
    published_at: datetime
    rows: dict[str, int]
    catalog: Path
    rewritten: dict[str, str] = field(default_factory=dict)  # mart -> "whole", "partitions: n" or "kept"
    gates: dict[str, float] = field(default_factory=dict)  # seconds each gate took


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
    plan = plan_exports(lake, items, previous, only)
    timings = run_gates(settings, lake, man, items, version, plan)
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
            marts[item.name], rewritten[item.name] = export_item(con, lake, item, version, before_item)
    finally:
        con.close()
    rows = {k: v["rows"] for k, v in marts.items()}
    # Logged before the catalog is written, so that its publish_log view exists from the first publish on;
    # should the swap fail, a "failed" row for the same version follows.
    log_publish(lake, version, "published", rows, [], json.dumps(rewritten, ensure_ascii=False))
    try:
        published_at = datetime.now(UTC)
        descriptions = {i.name: i.description for i in items if i.description}
        catalog = write_catalog(settings, version, published_at.isoformat(), marts, descriptions)
        superset_catalogs.write(settings, version, published_at.isoformat(), marts, meta_views)
        state = {"version": version, "published_at": published_at.isoformat(), "models": rows,
                 "catalog": str(catalog), "marts": marts, "descriptions": descriptions, "gates": timings}
        write_manifests(lake, state)
        iceberg.commit(settings, marts, {i.name: i.partition for i in items}, version)
    except Exception as exc:
        log_publish(lake, version, "failed", {}, [], f"{type(exc).__name__}: {exc}")
        raise
    remove_unreferenced(lake, items, settings.keep_published_versions, iceberg.live_files(settings))
    return PublishResult(version, published_at, rows, catalog, rewritten, timings)
