"""Ingest the receiver's closed landing files, each exactly once per dataset.

A file counts as done for a dataset when the load log holds a successful run of that dataset with
the file as its source; a failed run is retried on the next call.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from connectors import load_log
from connectors.hj212.receiver import CLOSED
from connectors.ingest import ingest
from connectors.lakefs import Lake
from connectors.load_log import LoadRecord
from connectors.settings import Settings


def landing_folder(settings: Settings) -> Path:
    return settings.landing_dir / "hj212"


def pending_files(lake: Lake, dataset: str, folder: Path) -> list[Path]:
    log = load_log.read(lake, dataset)
    done = set(log.filter(pc.equal(log["status"], "success"))["source"].to_pylist())
    return [p for p in sorted(folder.glob(f"*{CLOSED}")) if str(p) not in done]


def ingest_landing(dataset: str, settings: Settings | None = None) -> list[LoadRecord]:
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    return [ingest(dataset, str(path), settings=settings, lake=lake)
            for path in pending_files(lake, dataset, landing_folder(settings))]
