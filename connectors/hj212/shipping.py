"""Closed HJ 212 landing files go to the lake when the lake is on object storage.

The receiver appends to a local file (an hour's packets, fsynced per group); once the file is closed it is
uploaded to ``<lake>/landing/hj212/`` (one PUT: a reader sees all of it or nothing) and removed locally, so
the ingestion task can run on any worker. A file whose upload failed stays and goes with the next file the
receiver closes (hourly), at its next start, or with an ingestion run on the same host. With a local lake
the file stays where it is.
"""

from __future__ import annotations

import logging
from pathlib import Path

from connectors.lakefs import Lake
from connectors.settings import Settings

log = logging.getLogger(__name__)


def remote_lake() -> Lake | None:
    lake = Lake(Settings.from_env().lake)
    return None if lake.is_local else lake


def ship(path: Path, lake: Lake | None = None) -> str | None:
    """Upload one closed landing file; returns its lake path, or None when the lake is local. A failed upload
    leaves the local file for the next attempt."""
    lake = lake or remote_lake()
    if lake is None:
        return None
    target = lake.path("landing", "hj212", path.name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None  # another shipper on this host (the receiver, an ingestion run) took it first
    try:
        lake.write_bytes(data, target)
    except OSError as exc:
        log.warning("could not upload %s to %s (%s): kept locally for the next attempt", path, target, exc)
        return None
    path.unlink(missing_ok=True)  # the same bytes under the same key when two shippers raced
    return target


def ship_all(folder: Path, suffix: str, lake: Lake | None = None) -> list[str]:
    lake = lake or remote_lake()
    if lake is None or not folder.exists():
        return []
    return [t for t in (ship(p, lake) for p in sorted(folder.glob(f"*{suffix}"))) if t]
