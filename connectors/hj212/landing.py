"""Ingest the receiver's closed landing files, each exactly once per dataset.

A file counts as done for a dataset when the load log holds a successful run of that dataset with
the file as its source; a failed run is retried on the next call.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.compute as pc

from connectors.hj212.receiver import CLOSED
from connectors.hj212.shipping import ship_all
from connectors.ingest import ingest
from envlake.kernel import load_log
from envlake.kernel.lake import Lake
from envlake.kernel.load_log import LoadRecord
from envlake.kernel.settings import Settings


def landing_folder(settings: Settings) -> Path:
    return settings.landing_dir / "hj212"


def pending_files(lake: Lake, dataset: str, folder: Path) -> list[str]:
    """Closed landing files this dataset has not taken: in the local folder, and in the lake's
    ``landing/hj212/`` when the lake is on object storage (``lake.uri`` names them)."""
    log = load_log.read(lake, dataset)
    done = set(log.filter(pc.equal(log["status"], "success"))["source"].to_pylist())
    local = [str(p) for p in sorted(folder.glob(f"*{CLOSED}"))] if folder.exists() else []
    remote = [] if lake.is_local else [lake.uri(p) for p in lake.files("landing", "hj212", suffix=CLOSED)]
    return [p for p in local + remote if p not in done]


def ingest_landing(dataset: str, settings: Settings | None = None) -> list[LoadRecord]:
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    if not lake.is_local:  # files closed on this machine but not uploaded yet (an upload that failed)
        ship_all(landing_folder(settings), CLOSED, lake)
    return [ingest(dataset, path, settings=settings, lake=lake)
            for path in pending_files(lake, dataset, landing_folder(settings))]
