"""The credit department: enterprise environmental credit ratings, changing over time.

Annual ratings (about 4% green, 91% blue, 5% yellow, under 1% red) for holders of key and
simplified permits, dynamic downgrades after violations, and credit repair that moves a
record through 修复申请中 to 已修复 (with a new blue rating) or 修复驳回.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import numpy as np

from envlake.simulators.enterprises import Enterprise
from envlake.simulators.permits import PermitWorld
from envlake.simulators.world import Records, World, stamp

GRADES = ["绿色", "蓝色", "黄色", "红色"]
GRADE_WEIGHTS = [0.04, 0.905, 0.05, 0.005]
SCORE_RANGES = {"绿色": (90, 100), "蓝色": (75, 90), "黄色": (60, 75), "红色": (30, 60)}
AUTHORITY = "杭州市生态环境局"


class CreditWorld(World):
    stream = 9

    def __init__(self, permits: PermitWorld):
        super().__init__(permits.seed, permits.start)
        rated = {e.index: e for e, _, klass, _ in permits.sites if klass != "登记管理"}
        self.rated: list[Enterprise] = [rated[i] for i in sorted(rated)]
        self._by_name = {e.name: e for e in self.rated}
        self._serial: dict[int, int] = {}

    def key(self, record: dict[str, Any]) -> Any:
        return record["rating_id"]

    def _next_id(self, year: int) -> str:
        self._serial[year] = self._serial.get(year, 0) + 1
        return f"CR{year}{self._serial[year]:06d}"

    def _record(self, e: Enterprise, year: int, grade: str, rated_on: date, valid_to: date,
                rng: np.random.Generator, updated_at: str) -> dict[str, Any]:
        low, high = SCORE_RANGES[grade]
        return {
            "rating_id": self._next_id(rated_on.year),
            "credit_code": e.credit_code,
            "enterprise_name": e.name,
            "district_code": e.district_code,
            "rating_year": year,
            "grade": grade,
            "score": round(float(rng.uniform(low, high)), 1),
            "rating_date": rated_on.isoformat(),
            "evaluating_authority": AUTHORITY,
            "valid_from": (rated_on + timedelta(days=1)).isoformat(),
            "valid_to": valid_to.isoformat(),
            "repair_status": "无需修复",
            "updated_at": updated_at,
        }

    def _annual(self, state: Records, year: int, rng: np.random.Generator) -> None:
        published = date(year + 1, 6, 28)
        valid_to = date(year + 2, 6, 30)
        for e in self.rated:
            grade = str(rng.choice(GRADES, p=GRADE_WEIGHTS))
            record = self._record(e, year, grade, published, valid_to, rng, stamp(published, rng))
            state[record["rating_id"]] = record

    def initial(self) -> Records:
        self._serial = {}
        rng = np.random.default_rng([self.seed, self.stream, 0])
        state: Records = {}
        last_year = self.start.year - 2 if self.start < date(self.start.year, 6, 28) else self.start.year - 1
        for year in (last_year - 1, last_year):
            self._annual(state, year, rng)
        return state

    def change(self, day: int, state: Records, rng: np.random.Generator) -> None:
        today = self.date_of(day)
        if today.month == 6 and today.day == 28:
            self._annual(state, today.year - 1, rng)
        current = [r for r in state.values() if date.fromisoformat(r["valid_to"]) >= today]
        for record in current:
            age = (today - date.fromisoformat(record["rating_date"])).days
            if record["grade"] in ("黄色", "红色") and record["repair_status"] == "无需修复" and age > 30 \
                    and rng.random() < 0.02:
                record.update(repair_status="修复申请中", updated_at=stamp(today, rng))
            elif record["repair_status"] == "修复申请中" and rng.random() < 0.05:
                if rng.random() < 0.7:
                    record.update(repair_status="已修复", updated_at=stamp(today, rng))
                    fresh = self._record(self._by_name[record["enterprise_name"]], record["rating_year"], "蓝色", today,
                                         date.fromisoformat(record["valid_to"]), rng, stamp(today, rng))
                    state[fresh["rating_id"]] = fresh
                else:
                    record.update(repair_status="修复驳回", updated_at=stamp(today, rng))
        for e in self.rated:
            if rng.random() < 0.0003:
                grade = "红色" if rng.random() < 0.2 else "黄色"
                valid_to = date(today.year + (1 if today >= date(today.year, 6, 30) else 0), 6, 30)
                record = self._record(e, today.year - 1, grade, today, valid_to, rng, stamp(today, rng))
                state[record["rating_id"]] = record
