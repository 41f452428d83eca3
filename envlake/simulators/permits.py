"""The permit department: discharge permits, their outlets and limits, changing over time.

Permit numbers follow HJ 608-2017: the holder's credit code, a 3-digit site serial and a
letter (``P`` for permits; registration receipts use a configurable letter, unverified).
A holder without a credit code gets an ``H9`` + region form.
"""

from __future__ import annotations

import os
from datetime import date, timedelta
from typing import Any

import numpy as np

from envlake.simulators.enterprises import Enterprise
from envlake.simulators.reference import AIR_LIMITS, INDUSTRIES, POLLUTANT_NAMES, WATER_LIMITS
from envlake.simulators.world import Records, World, stamp

CLASSES = ["重点管理", "简化管理", "登记管理"]
CLASS_WEIGHTS = [0.25, 0.35, 0.40]
REGISTRATION_LETTER = os.environ.get("ENVLAKE_SIM_REGISTRATION_LETTER", "W")


def authority(district_name: str) -> str:
    short = district_name[:-1] if district_name.endswith(("区", "县", "市")) else district_name
    return f"杭州市生态环境局{short}分局"


def _years_later(d: date, years: int) -> date:
    try:
        return d.replace(year=d.year + years)
    except ValueError:
        return d.replace(year=d.year + years, day=28)


class PermitWorld(World):
    """Permits keyed by permit number. Limits live in ``LimitWorld``, driven by this world's permits."""

    stream = 7

    def __init__(self, seed: int, start: date, enterprises: list[Enterprise]):
        super().__init__(seed, start)
        self.enterprises = enterprises
        rng = np.random.default_rng([seed, 3])
        self.sites: list[tuple[Enterprise, int, str, int]] = []  # enterprise, serial, class, day issued
        for e in enterprises:
            klass = str(rng.choice(CLASSES, p=CLASS_WEIGHTS))
            issue_day = 0 if rng.random() > 0.05 else int(rng.integers(1, 120))
            self.sites.append((e, 1, klass, issue_day))
            if rng.random() < 0.02:
                self.sites.append((e, 2, str(rng.choice(CLASSES[1:])), issue_day))

    def key(self, record: dict[str, Any]) -> Any:
        return record["permit_no"]

    def permit_no(self, e: Enterprise, serial: int, klass: str) -> str:
        holder = e.credit_code or f"H9{e.district_code}{e.index:010d}"
        letter = REGISTRATION_LETTER if klass == "登记管理" else "P"
        return f"{holder}{serial:03d}{letter}"

    def _new_permit(self, site: tuple[Enterprise, int, str, int], issue: date, updated_at: str) -> dict[str, Any]:
        e, serial, klass, _ = site
        return {
            "permit_no": self.permit_no(e, serial, klass),
            "credit_code": e.credit_code,
            "enterprise_name": e.name,
            "district_code": e.district_code,
            "address": e.address,
            "industry_code": e.industry_code,
            "industry_name": e.industry_name,
            "management_class": klass,
            "issuing_authority": authority(e.district_name),
            "issue_date": issue.isoformat(),
            "valid_from": issue.isoformat(),
            "valid_to": (_years_later(issue, 5) - timedelta(days=1)).isoformat(),
            "status": "有效",
            "longitude": e.longitude,
            "latitude": e.latitude,
            "legal_representative": e.legal_representative,
            "contact_phone": e.contact_phone,
            "updated_at": updated_at,
        }

    def initial(self) -> Records:
        rng = np.random.default_rng([self.seed, self.stream, 0])
        state: Records = {}
        for site in self.sites:
            if site[3] != 0:
                continue
            issue = self.start - timedelta(days=int(rng.integers(30, 5 * 365 - 20)))
            permit = self._new_permit(site, issue, stamp(issue, rng))
            state[permit["permit_no"]] = permit
        return state

    def change(self, day: int, state: Records, rng: np.random.Generator) -> None:
        today = self.date_of(day)
        for site in self.sites:
            if site[3] == day:
                permit = self._new_permit(site, today, stamp(today, rng))
                state[permit["permit_no"]] = permit
        for permit in state.values():
            if permit["status"] != "有效":
                continue
            valid_to = date.fromisoformat(permit["valid_to"])
            renew_on = valid_to - timedelta(days=30)
            if today == renew_on and rng.random() < 0.85:
                permit.update(issue_date=today.isoformat(),
                              valid_from=(valid_to + timedelta(days=1)).isoformat(),
                              valid_to=(_years_later(valid_to, 5)).isoformat(),
                              updated_at=stamp(today, rng))
            elif today > valid_to:
                permit.update(status="过期", updated_at=stamp(today, rng))
            elif rng.random() < 0.0002:
                permit.update(status="注销", updated_at=stamp(today, rng))
            elif rng.random() < 0.0008:
                permit.update(contact_phone="1" + str(rng.choice(list("3456789")))
                              + "".join(rng.choice(list("0123456789"), 9)),
                              updated_at=stamp(today, rng))


class LimitWorld(World):
    """Outlet limits of every permit that carries them (重点 and 简化; registrations have none)."""

    stream = 8

    def __init__(self, permits: PermitWorld):
        super().__init__(permits.seed, permits.start)
        self.permits = permits
        self._site_of = {permits.permit_no(e, s, k): (e, s, k, d) for e, s, k, d in permits.sites}

    def key(self, record: dict[str, Any]) -> Any:
        return (record["permit_no"], record["outlet_code"], record["pollutant_code"])

    def _limits_for(self, permit: dict[str, Any]) -> list[dict[str, Any]]:
        e, serial, klass, _ = self._site_of[permit["permit_no"]]
        if klass == "登记管理":
            return []
        rng = np.random.default_rng([self.seed, 11, e.index, serial])
        _, _, has_water, has_air, water_std, air_std = INDUSTRIES[e.industry_code]
        rows = []
        main = klass == "重点管理"
        if has_water:
            direct = rng.random() < 0.3
            for code, (low, high) in WATER_LIMITS.items():
                value = low * rng.uniform(1, 1.5) if direct else high * rng.uniform(0.4, 1)
                flow_m3_d = rng.uniform(300, 5000)
                rows.append(self._row(permit, "DW001", "废水总排放口", main, "废水", code, value, "mg/L",
                                      value * flow_m3_d * 330 / 1e6 if main else None, water_std))
        if has_air:
            outlets = int(rng.integers(1, 4)) if main else 1
            limits = AIR_LIMITS.get(e.industry_code, AIR_LIMITS["default"])
            for k in range(1, outlets + 1):
                flow_m3_h = rng.uniform(2e4, 2e5)
                for code, (low, high) in limits.items():
                    value = rng.uniform(low, high)
                    quantity = value * flow_m3_h * 7200 / 1e9 if main and k == 1 else None
                    rows.append(self._row(permit, f"DA{k:03d}", f"{k}#废气排放口", main and k == 1, "废气", code,
                                          value, "mg/m³", quantity, air_std))
        return rows

    @staticmethod
    def _row(permit: dict[str, Any], outlet: str, name: str, main: bool, medium: str, code: str, value: float,
             unit: str, quantity: float | None, standard: str | None) -> dict[str, Any]:
        return {
            "permit_no": permit["permit_no"],
            "outlet_code": outlet,
            "outlet_name": name,
            "outlet_type": "主要排放口" if main else "一般排放口",
            "medium": medium,
            "pollutant_code": code,
            "pollutant_name": POLLUTANT_NAMES[code],
            "concentration_limit": round(float(value), 1 if value >= 10 else 2),
            "concentration_unit": unit,
            "annual_permitted_quantity": None if quantity is None else round(float(quantity), 3),
            "emission_standard": standard,
            "updated_at": permit["updated_at"],
        }

    def _sync_new_permits(self, day: int, state: Records) -> None:
        for permit in self.permits.advance(day).values():
            if permit["permit_no"] in self._seen:
                continue
            self._seen.add(permit["permit_no"])
            for row in self._limits_for(permit):
                state[self.key(row)] = row

    def initial(self) -> Records:
        self._seen: set[str] = set()
        state: Records = {}
        self._sync_new_permits(0, state)
        return state

    def change(self, day: int, state: Records, rng: np.random.Generator) -> None:
        self._sync_new_permits(day, state)
        today = self.date_of(day)
        for row in state.values():
            if rng.random() < 0.0003:
                row.update(concentration_limit=round(row["concentration_limit"] * float(rng.uniform(0.7, 0.9)), 2),
                           updated_at=stamp(today, rng))
