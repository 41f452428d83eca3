"""All simulated departments of one seed, built once and shared by the servers."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import cache

from envlake.simulators.complaints import ComplaintWorld
from envlake.simulators.credit import CreditWorld
from envlake.simulators.enterprises import Enterprise, generate_enterprises
from envlake.simulators.permits import LimitWorld, PermitWorld
from envlake.simulators.stations import AirStationWorld, WaterSectionWorld


@dataclass
class Departments:
    enterprises: list[Enterprise]
    permits: PermitWorld
    limits: LimitWorld
    credit: CreditWorld
    air: AirStationWorld
    water: WaterSectionWorld
    complaints: ComplaintWorld


@cache
def departments(seed: int, start: str, enterprises: int = 2000) -> Departments:
    people = generate_enterprises(seed, enterprises)
    permits = PermitWorld(seed, date.fromisoformat(start), people)
    start_date = date.fromisoformat(start)
    return Departments(people, permits, LimitWorld(permits), CreditWorld(permits),
                       AirStationWorld(seed, start_date), WaterSectionWorld(seed, start_date),
                       ComplaintWorld(seed, start_date, people))
