"""All simulated departments of one seed, built once and shared by the servers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from simulators.credit import CreditWorld
from simulators.enterprises import Enterprise, generate_enterprises
from simulators.permits import LimitWorld, PermitWorld


@dataclass
class Departments:
    enterprises: list[Enterprise]
    permits: PermitWorld
    limits: LimitWorld
    credit: CreditWorld


@cache
def departments(seed: int, start: str, enterprises: int = 2000) -> Departments:
    people = generate_enterprises(seed, enterprises)
    permits = PermitWorld(seed, date.fromisoformat(start), people)
    return Departments(people, permits, LimitWorld(permits), CreditWorld(permits))
