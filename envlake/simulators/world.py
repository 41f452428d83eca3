"""A simulated source system's state, day by day, on the simulated clock.

Day 0 is the initial state; each later day applies that day's changes with a random
generator seeded by (seed, day), so the state of a day is the same however it is reached.
"""

from __future__ import annotations

import bisect
import copy
from datetime import date, datetime, time, timedelta
from typing import Any

import numpy as np

Records = dict[Any, dict[str, Any]]


def stamp(day_date: date, rng: np.random.Generator) -> str:
    """A working-hours time stamp on a date, to the second."""
    moment = datetime.combine(day_date, time(8, 30)) + timedelta(seconds=int(rng.integers(0, 9 * 3600)))
    return moment.isoformat()


class World:
    """Subclasses build ``initial()`` and apply ``change(day, state, rng)``."""

    stream = 0

    def __init__(self, seed: int, start: date):
        self.seed = seed
        self.start = start
        self._day = -1
        self._state: Records = {}
        self._snapshot_day = -1
        self._snapshot: list[dict[str, Any]] = []
        self._snapshot_times: list[str] = []

    def initial(self) -> Records:
        raise NotImplementedError

    def change(self, day: int, state: Records, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def advance(self, day: int) -> Records:
        """The live state at the end of ``day`` (not a copy: read it, do not change it)."""
        if day < 0:
            raise ValueError("the simulated day cannot be negative")
        if day < self._day:
            self._day, self._state = -1, {}
        if self._day < 0:
            self._state, self._day = self.initial(), 0
        while self._day < day:
            self._day += 1
            self.change(self._day, self._state, np.random.default_rng([self.seed, self.stream, self._day]))
        return self._state

    def state(self, day: int) -> Records:
        return copy.deepcopy(self.advance(day))

    def records(self, day: int, updated_since: str | None = None) -> list[dict[str, Any]]:
        """Records as of the end of ``day``, oldest change first, from ``updated_since`` on (inclusive).

        One sorted snapshot per day serves every page and cursor of that day; its records are shared,
        so callers read them and copy before changing."""
        if self._snapshot_day != day:
            rows = sorted(self.state(day).values(), key=lambda r: (r["updated_at"], str(self.key(r))))
            self._snapshot, self._snapshot_day = rows, day
            self._snapshot_times = [r["updated_at"] for r in rows]
        start = 0 if updated_since is None else bisect.bisect_left(self._snapshot_times, updated_since)
        return self._snapshot[start:]

    def key(self, record: dict[str, Any]) -> Any:
        raise NotImplementedError
