"""Closed landing files reach an object-store lake even when an upload fails: the file stays on the
receiver's host and goes with the next file the receiver closes."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from connectors.hj212 import shipping
from connectors.hj212.receiver import CLOSED, OPEN, LandingFile, close_open_files


class FlakyStore:
    """A remote lake whose first ``failures`` uploads fail as a dropped connection would."""

    is_local = False

    def __init__(self, failures: int) -> None:
        self.failures = failures
        self.objects: dict[str, bytes] = {}

    def path(self, *parts: str) -> str:
        return "/".join(["bucket/lake", *parts])

    def write_bytes(self, data: bytes, path: str) -> None:
        if self.failures:
            self.failures -= 1
            raise OSError("connection reset by peer")
        self.objects[path] = data


def next_hour(hour_seconds: int) -> None:
    time.sleep(hour_seconds - time.time() % hour_seconds + 0.02)


def test_a_failed_upload_goes_with_the_next_closed_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FlakyStore(failures=1)
    monkeypatch.setattr(shipping, "remote_lake", lambda: store)
    landing = LandingFile(tmp_path, hour_seconds=1)  # a one-second "hour": each write closes the one before
    landing.write([b"##first\r\n"])
    next_hour(1)
    landing.write([b"##second\r\n"])  # closes the first hour's file: its upload fails, the file stays
    assert store.objects == {} and len(list(tmp_path.glob(f"*{CLOSED}"))) == 1
    next_hour(1)
    landing.write([b"##third\r\n"])  # closes the second: both go
    assert sorted(store.objects.values()) == [b"##first\r\n", b"##second\r\n"]
    assert not list(tmp_path.glob(f"*{CLOSED}"))
    landing.close()
    assert sorted(store.objects.values()) == [b"##first\r\n", b"##second\r\n", b"##third\r\n"]
    assert not list(tmp_path.iterdir())
    landing.write([b"##after a close\r\n"])  # a new file, not a write to the closed one
    landing.close()
    assert len(store.objects) == 4


def test_a_restarted_receiver_ships_what_it_had_left(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / f"20260101000000-aaaa{CLOSED}").write_bytes(b"##left by a failed upload\r\n")
    (tmp_path / f"20260101010000-bbbb{OPEN}").write_bytes(b"##open when the receiver was killed\r\n")
    store = FlakyStore(failures=0)
    monkeypatch.setattr(shipping, "remote_lake", lambda: store)
    close_open_files(tmp_path)
    assert sorted(p.rsplit("/", 1)[1] for p in store.objects) == [f"20260101000000-aaaa{CLOSED}",
                                                                   f"20260101010000-bbbb{CLOSED}"]
    assert not list(tmp_path.iterdir())


def test_two_shippers_racing_for_one_file_upload_it_and_fail_neither(tmp_path: Path) -> None:
    closed = tmp_path / f"20260101000000-cccc{CLOSED}"
    closed.write_bytes(b"##one\r\n")
    store = FlakyStore(failures=0)
    assert shipping.ship(closed, store) == f"bucket/lake/landing/hj212/{closed.name}"
    assert shipping.ship(closed, store) is None  # the other shipper finds it gone
    assert list(store.objects.values()) == [b"##one\r\n"]
