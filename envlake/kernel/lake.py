"""The lake's storage: a pyarrow filesystem and a root, local folder or S3-compatible store.

Everything that reads or writes the lake goes through ``Lake`` so that ``ENVLAKE_LAKE`` can
point at ``s3://bucket/prefix`` (endpoint and keys from the environment) instead of a folder.

Durability on a local disk: fsyncing a file makes its data durable, not its name. A new file's directory
entry, a rename and a new folder are durable only once their folder (for a new folder: its parent) is
fsynced too (Pillai et al., OSDI '14, "All File Systems Are Not Created Equal"). ``fsync_dir``,
``make_dirs`` and ``replace_durably`` below do that, and every writer of the lake and of the HJ 212
landing folder uses them.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from envlake.kernel.owner import Owner, me

ZONES = ("landing", "raw", "quarantine", "curated", "shared", "_meta")
TMP_SUFFIX = ".inflight"
# A temporary whose owner cannot be told alive or dead (another host, an older name) is stale after this long.
STALE_AFTER_S = 15 * 60


def fsync_dir(path: str | os.PathLike[str]) -> None:
    """Make a folder's entries durable: the files created in it, renamed into or out of it, removed from it."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def make_dirs(path: str | os.PathLike[str]) -> list[Path]:
    """Create a folder and its missing parents, each durably: the parent of every folder created is fsynced.
    Returns the folders created (none when it existed: then nothing is fsynced)."""
    missing = []
    folder = Path(path)
    while not folder.is_dir():
        missing.append(folder)
        folder = folder.parent
    for created in reversed(missing):
        with contextlib.suppress(FileExistsError):  # made meanwhile by another writer: made durable all the same
            created.mkdir()
        fsync_dir(created.parent)
    return missing


def replace_durably(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
    """``os.replace`` and then fsync the target's folder, so that the new name survives a power cut."""
    os.replace(src, dst)
    fsync_dir(os.path.dirname(os.fspath(dst)) or ".")


def temporary_name(path: str) -> str:
    """A hidden temporary beside ``path``, named with its owner so that a clean-up can tell a live writer's."""
    parent, name = path.rsplit("/", 1)
    return f"{parent}/.{name}.{me().token}.{uuid.uuid4().hex[:8]}{TMP_SUFFIX}"


def temporary_is_stale(path: str, mtime: float | None) -> bool:
    """A temporary whose owner is gone; or, when that cannot be told, one older than ``STALE_AFTER_S``."""
    parts = path.rsplit("/", 1)[-1].removesuffix(TMP_SUFFIX).rsplit(".", 2)
    owner = Owner.parse(parts[1]) if len(parts) == 3 else None
    alive = owner.alive() if owner else None
    if alive is not None:
        return not alive
    return mtime is None or time.time() - mtime > STALE_AFTER_S


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

    def write_unlisted_parquet(self, table: pa.Table, path: str, **options: object) -> None:
        """Write one Parquet file where no reader looks (a transaction's staging folder): in place, its data
        fsynced, without a temporary and a rename. Its folder entry becomes durable with ``sync_dirs``, which
        the caller runs once per folder rather than once per file (and so for the folders made here)."""
        self.fs.create_dir(path.rsplit("/", 1)[0], recursive=True)
        if not self.is_local:
            with self.fs.open_output_stream(path) as out:
                pq.write_table(table, out, compression="zstd", **options)
            return
        with open(path, "wb") as fh:
            pq.write_table(table, fh, compression="zstd", **options)
            fh.flush()
            os.fsync(fh.fileno())

    def make_dirs(self, path: str) -> None:
        """A folder and its parents; locally each new one made durable (``make_dirs``)."""
        if self.is_local:
            make_dirs(path)
        else:
            self.fs.create_dir(path, recursive=True)

    def make_durable(self, path: str) -> None:
        """A file another writer made without fsyncing (DuckDB's ``COPY … TO``): fsync its data, then its folder.
        Nothing to do on object storage, where an object exists once its upload completed."""
        if not self.is_local:
            return
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        fsync_dir(path.rsplit("/", 1)[0])

    def sync_dirs(self, folders: Iterable[str]) -> None:
        """Make the entries of these folders durable (locally; an object store has no folder entries)."""
        if self.is_local:
            for folder in sorted(set(folders)):
                fsync_dir(folder)

    def move(self, src: str, dst: str) -> bool:
        """Move a file; False when ``src`` is gone (moved before: a commit applied again). Locally a rename,
        whose target folder the caller fsyncs (``sync_dirs``); on object storage a copy and a delete."""
        if self.is_local:
            try:
                os.replace(src, dst)
            except FileNotFoundError:
                if os.path.exists(src):
                    raise  # the target's folder is missing
                return False
            return True
        if not self.exists(src):
            return False
        self.fs.move(src, dst)
        return True

    def delete_tree(self, path: str) -> None:
        if self.is_local:
            shutil.rmtree(path, ignore_errors=True)
        elif self.exists(path):
            self.fs.delete_dir(path)

    def write_bytes(self, data: bytes, path: str) -> None:
        """Write a small file (a JSON manifest, say) so that a reader sees all of it or nothing."""
        self._write_atomic(path, lambda sink: sink.write(data))

    def read_bytes(self, path: str) -> bytes | None:
        if not self.exists(path):
            return None
        with self.fs.open_input_stream(path) as fh:
            return fh.read()

    def _write_atomic(self, path: str, write: Callable[[Any], object]) -> None:
        """Locally: write a temporary file beside the target, fsync it, rename it over the target and fsync the
        folder (new folders made durably too). On object storage: a single object appears only when its upload
        completes."""
        self.make_dirs(path.rsplit("/", 1)[0])
        if not self.is_local:
            with self.fs.open_output_stream(path) as out:
                write(out)
            return
        tmp = temporary_name(path)
        try:
            with open(tmp, "wb") as fh:
                write(fh)
                fh.flush()
                os.fsync(fh.fileno())
            replace_durably(tmp, path)
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
        """Remove temporaries below a folder that a killed writer left (never a live writer's)."""
        base = self.path(*parts)
        if not self.exists(base):
            return 0
        infos = self.fs.get_file_info(pafs.FileSelector(base, recursive=True))
        stale = [i.path for i in infos if i.type == pafs.FileType.File and i.path.endswith(TMP_SUFFIX)
                 and temporary_is_stale(i.path, i.mtime.timestamp() if i.mtime else None)]
        for p in stale:
            self.fs.delete_file(p)
        return len(stale)

