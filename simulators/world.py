"""A simulated source system's state, day by day, on the simulated clock.

Day 0 is the initial state; each later day applies that day's changes with a random
generator seeded by (seed, day), so the state of a day is the same however it is reached.
"""

from __future__ import annotations

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

    def initial(self) -> Records:
        raise NotImplementedError

    def change(self, day: int, state: Records, rng: np.random.Generator) -> None:
        raise NotImplementedError

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def state(self, day: int) -> Records:
        if day < 0:
            raise ValueError("the simulated day cannot be negative")
        if day < self._day:
            self._day, self._state = -1, {}
        if self._day < 0:
            self._state, self._day = self.initial(), 0
        while self._day < day:
            self._day += 1
            self.change(self._day, self._state, np.random.default_rng([self.seed, self.stream, self._day]))
        return copy.deepcopy(self._state)

    def records(self, day: int, updated_since: str | None = None) -> list[dict[str, Any]]:
        """Current records as of the end of ``day``, oldest change first, from ``updated_since`` on."""
        rows = [r for r in self.state(day).values() if updated_since is None or r["updated_at"] >= updated_since]
        return sorted(rows, key=lambda r: (r["updated_at"], str(self.key(r))))

    def key(self, record: dict[str, Any]) -> Any:
        raise NotImplementedError
