"""The solid-waste centre's export files dropped into ``ENVLAKE_LANDING/waste``: each is landed once
(its content hash is in the load log) into every dataset of its file group, then moved to ``archive/``.
A file that cannot be read stays where it is, with its failed load-log rows, and does not hold back
the files after it; the run then raises with every failed file's rows."""

from __future__ import annotations

import shutil
from pathlib import Path

from connectors.ingest import BatchFailed, ingest_group
from envlake.kernel.lake import Lake
from envlake.kernel.load_log import LoadRecord
from envlake.kernel.settings import Settings

PATTERNS = ("*.csv", "*.xlsx")


def drop_folder(settings: Settings) -> Path:
    return settings.landing_dir / "waste"


def ingest_drops(dataset: str = "waste_manifest", settings: Settings | None = None) -> list[LoadRecord]:
    settings = settings or Settings.from_env()
    folder = drop_folder(settings)
    lake = Lake(settings.lake)
    records: list[LoadRecord] = []
    failed: list[LoadRecord] = []
    for path in sorted(p for pattern in PATTERNS for p in folder.glob(pattern)):
        try:
            landed = ingest_group(dataset, str(path), settings=settings, lake=lake)
        except BatchFailed as exc:
            failed += exc.records
            continue
        records += landed
        if all(r.status in ("success", "skipped") for r in landed):
            archive = folder / "archive"
            archive.mkdir(exist_ok=True)
            shutil.move(str(path), archive / path.name)
    if failed:
        raise BatchFailed(failed)
    return records
