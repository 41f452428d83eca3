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

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings

log = logging.getLogger(__name__)


def remote_lake() -> Lake | None:
    lake = Lake(Settings.from_env().lake)
    return None if lake.is_local else lake


def _upload(path: Path, lake: Lake) -> str | None:
    """Upload one closed landing file and remove it; None when another shipper on this host (the receiver,
    an ingestion run) took it first. Raises OSError when the store refuses it: the file stays."""
    target = lake.path("landing", "hj212", path.name)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    lake.write_bytes(data, target)
    path.unlink(missing_ok=True)  # the same bytes under the same key when two shippers raced
    return target


def ship(path: Path, lake: Lake | None = None) -> str | None:
    """Upload one closed landing file; returns its lake path, or None when the lake is local, the file is
    gone or the upload failed (the local file then stays for the next attempt)."""
    lake = lake or remote_lake()
    if lake is None:
        return None
    try:
        return _upload(path, lake)
    except OSError as exc:
        log.warning("could not upload %s (%s): kept locally for the next attempt", path, exc)
        return None


def ship_all(folder: Path, suffix: str, lake: Lake | None = None) -> list[str]:
    """Upload every closed file ending in ``suffix``, oldest first. The first refused upload ends the pass:
    the receiver ships from its write path, and a store that is down must cost it one timeout, not one a
    waiting file."""
    lake = lake or remote_lake()
    if lake is None or not folder.exists():
        return []
    shipped = []
    for path in sorted(folder.glob(f"*{suffix}")):
        try:
            target = _upload(path, lake)
        except OSError as exc:
            log.warning("could not upload %s (%s): it and the files after it wait for the next attempt", path, exc)
            break
        if target:
            shipped.append(target)
    return shipped
