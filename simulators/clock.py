"""The simulated clock: a fixed start date plus a day counter set by the demo and the tests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta


@dataclass(frozen=True)
class SimClock:
    start: date
    day: int = 0

    @classmethod
    def of(cls, start: str, day: int) -> SimClock:
        return cls(date.fromisoformat(start), day)

    @property
    def today(self) -> date:
        return self.start + timedelta(days=self.day)

    def date_of(self, day: int) -> date:
        return self.start + timedelta(days=day)

    def end_of_day(self, day: int | None = None) -> datetime:
        return datetime.combine(self.date_of(self.day if day is None else day), time(23, 59, 59))
