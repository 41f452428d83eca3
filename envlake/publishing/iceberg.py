"""Published marts as Apache Iceberg tables (pyiceberg, SQL catalog): ``curated.<mart>`` and ``shared.<mart>``.

A publish writes its Parquet files first (``envlake.publishing.publish``); this module then commits
exactly those files to each mart's table as one snapshot (an overwrite: the files the publish no longer
lists are removed from the table, its new files added, nothing rewritten). So every publish is a snapshot,
a partitioned mart is partitioned by its ``publish_partition`` column, and ``state_as_of`` answers what
every shared table said at a given time. Snapshots older than the retention are expired by the
``maintain_tables`` DAG; data files stay in the lake while a kept manifest or a live snapshot lists them.

The catalog is SQLite beside the lake by default, any SQLAlchemy URL through ``ENVLAKE_ICEBERG_CATALOG``
(PostgreSQL in production); the table metadata lives in the lake under ``_meta/iceberg/``.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.exceptions import NoSuchTableError
from pyiceberg.manifest import DataFile
from pyiceberg.table import Table, TableProperties, _parquet_files_to_data_files

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings, _local_base

ZONES = ("curated", "shared")
VERSION_PROPERTY = "envlake.version"


def catalog(settings: Settings) -> SqlCatalog:
    lake = Lake(settings.lake)
    uri = os.environ.get("ENVLAKE_ICEBERG_CATALOG")
    if not uri:
        folder = _local_base(settings.lake) / "_meta" / "iceberg"
        folder.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{folder / 'catalog.sqlite'}"
    properties: dict[str, str] = {"uri": uri, "warehouse": uri_of(lake, lake.path("_meta", "iceberg"))}
    if not lake.is_local:
        properties.update({k: v for k, v in {
            "s3.endpoint": os.environ.get("ENVLAKE_S3_ENDPOINT"),
            "s3.access-key-id": os.environ.get("AWS_ACCESS_KEY_ID"),
            "s3.secret-access-key": os.environ.get("AWS_SECRET_ACCESS_KEY"),
            "s3.region": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")}.items() if v})
    cat = SqlCatalog("envlake", **properties)
    for zone in ZONES:
        cat.create_namespace_if_not_exists(zone)
    return cat


def uri_of(lake: Lake, path: str) -> str:
    return ("file://" if lake.is_local else "s3://") + path


def path_of(uri: str) -> str:
    return uri.split("://", 1)[1] if "://" in uri else uri


def _table(cat: SqlCatalog, lake: Lake, zone: str, mart: str, first_file: str, partition: str | None) -> Table:
    try:
        return cat.load_table((zone, mart))
    except NoSuchTableError:
        pass
    with lake.fs.open_input_file(first_file) as fh:
        schema = pq.read_schema(fh)
    table = cat.create_table((zone, mart), schema=schema,
                             location=uri_of(lake, lake.path("_meta", "iceberg", zone, mart)))
    with table.transaction() as txn:
        txn.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING:
                              txn.table_metadata.schema().name_mapping.model_dump_json()})
        if partition and partition in schema.names:
            with txn.update_spec() as spec:
                spec.add_identity(partition)
    return table


def _evolve(table: Table, schema: pa.Schema) -> None:
    """A mart that gained columns: the table's schema takes them (by name); old files read through the
    name mapping."""
    known = set(table.schema().column_names)
    if set(schema.names) <= known:
        return
    with table.transaction() as txn:
        with txn.update_schema() as update:
            update.union_by_name(schema)
        txn.set_properties(**{TableProperties.DEFAULT_NAME_MAPPING:
                              txn.table_metadata.schema().name_mapping.model_dump_json()})


def commit(settings: Settings, marts: dict[str, Any], partitions: dict[str, str | None], version: str) -> int:
    """Make each mart's tables list exactly the files of this publish; one snapshot per table that changed.
    Returns the number of snapshots committed."""
    lake = Lake(settings.lake)
    cat = catalog(settings)
    committed = 0
    for mart, entry in sorted(marts.items()):
        for zone in ZONES:
            files = entry["files"][zone]
            if not files:
                continue
            table = _table(cat, lake, zone, mart, files[0], partitions.get(mart))
            wanted = [uri_of(lake, p) for p in files]
            current = _data_files(table)
            added = [u for u in wanted if u not in current]
            dropped = [f for u, f in current.items() if u not in set(wanted)]
            if not added and not dropped:
                continue
            with lake.fs.open_input_file(files[-1]) as fh:
                _evolve(table, pq.read_schema(fh))
            with table.transaction() as txn, \
                    txn.update_snapshot(snapshot_properties={VERSION_PROPERTY: version}).overwrite() as snapshot:
                for data_file in dropped:
                    snapshot.delete_data_file(data_file)
                for data_file in _parquet_files_to_data_files(txn.table_metadata, added, table.io):
                    snapshot.append_data_file(data_file)
            committed += 1
    return committed


def _data_files(table: Table, snapshot_id: int | None = None) -> dict[str, DataFile]:
    """The data files a snapshot lists (the current one by default), empty files included: a scan's plan
    leaves out files with no rows, and an empty mart still needs its file for its schema."""
    snapshot = table.snapshot_by_id(snapshot_id) if snapshot_id is not None else table.current_snapshot()
    if snapshot is None:
        return {}
    return {entry.data_file.file_path: entry.data_file
            for manifest in snapshot.manifests(table.io)
            for entry in manifest.fetch_manifest_entry(table.io, discard_deleted=True)}


def _millis(when: datetime) -> int:
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def state_as_of(settings: Settings, when: datetime) -> dict[str, Any] | None:
    """What was published at ``when``, in the shape of ``current.json``: per mart its rows and the files of
    its curated and shared tables' snapshots then. None when nothing was published yet at that time."""
    cat = catalog(settings)
    marts: dict[str, Any] = {}
    versions: list[str] = []
    for zone in ZONES:
        for _, mart in cat.list_tables(zone):
            table = cat.load_table((zone, mart))
            snapshot = table.snapshot_as_of_timestamp(_millis(when))
            if snapshot is None:
                continue
            files = [path_of(uri) for uri in _data_files(table, snapshot.snapshot_id)]
            entry = marts.setdefault(mart, {"files": {}, "rows": 0})
            entry["files"][zone] = sorted(files)
            if zone == "curated":
                entry["rows"] = int(snapshot.summary.get("total-records", 0)) if snapshot.summary else 0
            if snapshot.summary and snapshot.summary.get(VERSION_PROPERTY):
                versions.append(snapshot.summary[VERSION_PROPERTY])
    marts = {m: e for m, e in marts.items() if set(e["files"]) == set(ZONES)}
    if not marts:
        return None
    return {"version": max(versions), "published_at": when.isoformat(), "as_of": when.isoformat(),
            "models": {m: e["rows"] for m, e in marts.items()}, "marts": marts}


def live_files(settings: Settings) -> set[str]:
    """Every data file a live snapshot of a published table lists (they stay in the lake)."""
    cat = catalog(settings)
    files: set[str] = set()
    for zone in ZONES:
        for identifier in cat.list_tables(zone):
            table = cat.load_table(identifier)
            for snapshot in table.snapshots():
                files.update(path_of(uri) for uri in _data_files(table, snapshot.snapshot_id))
    return files


def expire(settings: Settings, retention: timedelta | None = None) -> dict[str, int]:
    """Expire the snapshots older than ``retention`` (ENVLAKE_SNAPSHOT_RETENTION_DAYS, 30 days); a table's
    current snapshot is always kept. Returns the number expired per table."""
    days = float(os.environ.get("ENVLAKE_SNAPSHOT_RETENTION_DAYS", "30"))
    cutoff = datetime.now(UTC) - (retention if retention is not None else timedelta(days=days))
    cat = catalog(settings)
    expired: dict[str, int] = {}
    for zone in ZONES:
        for identifier in cat.list_tables(zone):
            table = cat.load_table(identifier)
            before = len(table.snapshots())
            table.maintenance.expire_snapshots().older_than(cutoff).commit()
            expired[".".join(identifier)] = before - len(table.refresh().snapshots())
    return expired


def history(settings: Settings, zone: str, mart: str) -> list[dict[str, Any]]:
    """A table's snapshots, oldest first: when, which publish, how many rows."""
    table = catalog(settings).load_table((zone, mart))
    return [{"snapshot_id": s.snapshot_id, "at": datetime.fromtimestamp(s.timestamp_ms / 1000, UTC).isoformat(),
             "version": (s.summary or {}).get(VERSION_PROPERTY),
             "rows": int((s.summary or {}).get("total-records", 0))} for s in table.snapshots()]



