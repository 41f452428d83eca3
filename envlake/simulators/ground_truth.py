"""What the simulators planted, written down so that tests (and people) can check the models against it.

``<sim_dir>/ground_truth/day=<n>/`` holds ``exceedances.json`` (every hour and pollutant planted over its
limit, with the hour's flag), ``manifests.json`` (each manifest's planted anomaly and whether that day's
export shows it, and the hand-typed generator entries with the enterprise behind them) and
``enterprises.json`` (the enterprises whose credit code is missing or fails its checksum, with their names
and districts: their records can only be linked by name and district).
"""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path

from envlake.simulators.departments import Departments
from envlake.simulators.monitoring import planted_exceedances
from envlake.simulators.waste import planted_manifests


def enterprises_without_valid_code(depts: Departments) -> list[dict]:
    return [{"index": e.index, "name": e.name, "district_code": e.district_code, "credit_code": e.credit_code}
            for e in depts.enterprises if not e.code_is_valid]


def ground_truth(depts: Departments, seed: int, start: date, day: int) -> dict[str, list[dict]]:
    return {"exceedances": planted_exceedances(depts.limits, seed, start, day),
            "manifests": planted_manifests(depts.permits, seed, start, day),
            "enterprises": enterprises_without_valid_code(depts)}


def write_ground_truth(folder: Path, depts: Departments, seed: int, start: date, day: int) -> Path:
    target = folder / f"day={day}"
    target.mkdir(parents=True, exist_ok=True)
    for name, rows in ground_truth(depts, seed, start, day).items():
        (target / f"{name}.json").write_text(json.dumps(rows, ensure_ascii=False, indent=1, default=_iso),
                                             encoding="utf-8")
    return target


def read_ground_truth(folder: Path, day: int) -> dict[str, list[dict]]:
    target = folder / f"day={day}"
    return {p.stem: json.loads(p.read_text(encoding="utf-8")) for p in sorted(target.glob("*.json"))}


def _iso(value: object) -> str:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"cannot write {type(value).__name__} as JSON")
