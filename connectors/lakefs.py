"""The lake's storage: a pyarrow filesystem and a root, local folder or S3-compatible store.

Everything that reads or writes the lake goes through ``Lake`` so that ``ENVLAKE_LAKE`` can
point at ``s3://bucket/prefix`` (endpoint and keys from the environment) instead of a folder.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

ZONES = ("landing", "raw", "quarantine", "curated", "shared", "_meta")
TMP_SUFFIX = ".inflight"


def filesystem_for(root: str) -> tuple[pafs.FileSystem, str]:
    if root.startswith("s3://"):
        endpoint = os.environ.get("ENVLAKE_S3_ENDPOINT")
        fs = pafs.S3FileSystem(
            endpoint_override=endpoint,
            scheme="http" if endpoint and endpoint.startswith("http://") else "https",
            access_key=os.environ.get("AWS_ACCESS_KEY_ID"),
            secret_key=os.environ.get("AWS_SECRET_ACCESS_KEY"),
            region=os.environ.get("AWS_DEFAULT_REGION", "us-east-1"),
        ) if endpoint else pafs.S3FileSystem()
        return fs, root.removeprefix("s3://").rstrip("/")
    if "://" in root and not root.startswith("file://"):
        fs, path = pafs.FileSystem.from_uri(root)
        return fs, path.rstrip("/")
    return pafs.LocalFileSystem(), str(Path(root.removeprefix("file://")).resolve())


def s3_options() -> dict[str, Any]:
    """fsspec/s3fs options from the environment (endpoint, keys, region), as dbt-duckdb's profile wants them.

    No listings cache: pyarrow and other processes write the lake behind s3fs's back, and a cached folder
    listing made a glob name a file the cache then said did not exist (the ledger's publish, CI)."""
    options: dict[str, Any] = {"client_kwargs": {"region_name": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")},
                               "use_listings_cache": False}
    if os.environ.get("ENVLAKE_S3_ENDPOINT"):
        options["endpoint_url"] = os.environ["ENVLAKE_S3_ENDPOINT"]
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        options["key"] = os.environ["AWS_ACCESS_KEY_ID"]
        options["secret"] = os.environ.get("AWS_SECRET_ACCESS_KEY", "")
    return options


def s3_filesystem() -> Any:
    import s3fs

    return s3fs.S3FileSystem(**s3_options())


@dataclass
class Lake:
    """A lake root. Paths inside it are written with '/' whatever the store."""

    root: str

    def __post_init__(self) -> None:
        self.fs, self.base = filesystem_for(self.root)
        self.is_local = isinstance(self.fs, pafs.LocalFileSystem)

    def path(self, *parts: str) -> str:
        return "/".join([self.base, *[p.strip("/") for p in parts if p]])

    def uri(self, path: str) -> str:
        """A lake path as DuckDB, dbt and pyiceberg name it: itself locally, ``s3://…`` on object storage."""
        return path if self.is_local else f"s3://{path}"

    def register(self, con: Any) -> Any:
        """Let a DuckDB connection read and write the lake: on object storage, through fsspec's s3fs (DuckDB's
        httpfs extension cannot be installed here, and need not be). Returns the connection."""
        # a database file opened twice in one process is one DuckDB instance: register once
        if not self.is_local and "s3" not in con.list_filesystems():
            con.register_filesystem(s3_filesystem())
        return con

    def ensure_zones(self) -> None:
        for zone in ZONES:
            self.fs.create_dir(self.path(zone), recursive=True)

    def exists(self, path: str) -> bool:
        return self.fs.get_file_info(path).type != pafs.FileType.NotFound

    def datasets(self, zone: str) -> list[str]:
        """Dataset folders in a zone."""
        selector = pafs.FileSelector(self.path(zone), allow_not_found=True)
        return sorted(i.base_name for i in self.fs.get_file_info(selector)
                      if i.type == pafs.FileType.Directory and not i.base_name.startswith((".", "_")))

    def files(self, *parts: str, suffix: str = ".parquet") -> list[str]:
        """Visible files below a folder: in-flight temporaries and hidden files are not listed."""
        base = self.path(*parts)
        if not self.exists(base):
            return []
        infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=True))
        return sorted(
            i.path for i in infos
            if i.type == pafs.FileType.File and i.path.endswith(suffix)
            and not any(seg.startswith((".", "_")) for seg in i.path[len(base):].split("/") if seg)
        )

    def write_parquet(self, table: pa.Table, path: str, **options: object) -> None:
        """Write one Parquet file so that a reader sees all of it or nothing."""
        self._write_atomic(path, lambda sink: pq.write_table(table, sink, compression="zstd", **options))

    def write_bytes(self, data: bytes, path: str) -> None:
        """Write a small file (a JSON manifest, say) so that a reader sees all of it or nothing."""
        self._write_atomic(path, lambda sink: sink.write(data))

    def read_bytes(self, path: str) -> bytes | None:
        if not self.exists(path):
            return None
        with self.fs.open_input_stream(path) as fh:
            return fh.read()

    def _write_atomic(self, path: str, write: Callable[[Any], object]) -> None:
        """Locally: write a temporary file beside the target, fsync, then rename over it.
        On object storage: a single object appears only when its upload completes."""
        parent = path.rsplit("/", 1)[0]
        self.fs.create_dir(parent, recursive=True)
        if not self.is_local:
            with self.fs.open_output_stream(path) as out:
                write(out)
            return
        tmp = f"{parent}/.{path.rsplit('/', 1)[1]}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}"
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise

    def read_table(self, *parts: str, columns: list[str] | None = None) -> pa.Table | None:
        files = self.files(*parts)
        return self.read_files(files, columns) if files else None

    def read_files(self, files: list[str], columns: list[str] | None = None) -> pa.Table:
        """Read files whose schemas may differ (drifted sources): columns are unified by name."""
        dataset = ds.dataset(files, filesystem=self.fs, format="parquet")
        schema = pa.unify_schemas(
            [fragment.physical_schema for fragment in dataset.get_fragments()], promote_options="permissive"
        )
        dataset = ds.dataset(files, filesystem=self.fs, format="parquet", schema=schema)
        if columns is not None:
            columns = [c for c in columns if c in schema.names]
        return dataset.to_table(columns=columns)

    def remove_stale_temporaries(self, *parts: str) -> int:
        base = self.path(*parts)
        if not self.exists(base):
            return 0
        infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=True))
        stale = [i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(TMP_SUFFIX)]
        for p in stale:
            self.fs.delete_file(p)
        return len(stale)

