"""Dynamic-update rules (动态更新): each dataset's freshness against the update cycle its contract declares.

Two lags are measured against a reference time: since the last successful load (the load log), and, for
fact streams (monitoring, stations, manifests), since the newest event the lake holds (the contract's
event-time field; an entity table such as permits may simply not have changed). Each lag gives a state:
fresh within one cycle plus grace, late within two cycles plus grace, stale beyond; the dataset takes the
worse of the two. A dataset never loaded is `never`; an irregular one (不定期) is fresh once it has been loaded.

The reference time is the wall clock, or the simulators' clock (``ENVLAKE_CLOCK=simulated``: the end
of the simulated day), since simulated events happen in 2026-01 whatever the date.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime, timedelta

import pyarrow as pa
import pyarrow.compute as pc

from connectors.writer import LOCAL_TZ
from envlake.kernel import load_log
from envlake.kernel.contracts import Contract, load_contracts
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.codegen import CYCLE_HOURS

STATE_ZH = {"fresh": "按时更新", "late": "迟到", "stale": "过期未更新", "never": "从未入湖"}
ORDER = ["fresh", "late", "stale", "never"]


@dataclass
class Freshness:
    dataset: str
    name_zh: str
    owner: str
    update_cycle: str
    update_cycle_zh: str
    grace_hours: int
    last_load_at: datetime | None
    newest_event_at: datetime | None
    load_lag_hours: float | None
    event_lag_hours: float | None
    state: str

    @property
    def state_zh(self) -> str:
        return STATE_ZH[self.state]

    def as_dict(self) -> dict:
        out = asdict(self)
        out["state_zh"] = self.state_zh
        return out


def reference_time(settings: Settings, clock: str | None = None) -> datetime:
    """Now, in UTC: the wall clock, or the end of the simulated day when ``ENVLAKE_CLOCK=simulated``."""
    if (clock or os.environ.get("ENVLAKE_CLOCK", "wall")) == "simulated":
        day = date.fromisoformat(settings.sim_start_date) + timedelta(days=settings.sim_day + 1)
        return datetime.combine(day, datetime.min.time(), LOCAL_TZ).astimezone(UTC)
    return datetime.now(UTC)


def state_for(lag_hours: float | None, contract: Contract) -> str:
    if lag_hours is None:
        return "never"
    cycle = contract.update_cycle["cycle"]
    if cycle not in CYCLE_HOURS:
        return "fresh"
    hours, grace = CYCLE_HOURS[cycle], float(contract.update_cycle.get("grace_hours", 0))
    if lag_hours <= hours + grace:
        return "fresh"
    return "late" if lag_hours <= 2 * hours + grace else "stale"


def newest_event(lake: Lake, contract: Contract) -> datetime | None:
    """The newest event time the raw zone holds (local time in the lake), as UTC."""
    if not contract.event_time:
        return None
    table = lake.read_table("raw", contract.id, columns=[contract.event_time])
    if table is None or table.num_rows == 0:
        return None
    newest = pc.max(table.column(contract.event_time)).as_py()
    if newest is None:
        return None
    if isinstance(newest, date) and not isinstance(newest, datetime):
        newest = datetime.combine(newest, datetime.min.time())
    return newest.replace(tzinfo=LOCAL_TZ).astimezone(UTC) if newest.tzinfo is None else newest.astimezone(UTC)


def _hours(now: datetime, then: datetime | None) -> float | None:
    """Hours from ``then`` to ``now``; a load stamped after a simulated ``now`` counts as just done."""
    return None if then is None else max(0.0, round((now - then).total_seconds() / 3600, 2))


def assess(settings: Settings | None = None, now: datetime | None = None) -> list[Freshness]:
    """Freshness of every contracted dataset, worst first."""
    settings = settings or Settings.from_env()
    now = now or reference_time(settings)
    lake = Lake(settings.lake)
    log = load_log.read(lake)
    loaded = log.filter(pc.is_in(log["status"], value_set=pa.array(["success", "skipped"])))
    out = []
    for contract in load_contracts(settings.schemas_dir).values():
        rows = loaded.filter(pc.equal(loaded["dataset"], contract.id))
        last = rows["finished_at"][-1].as_py() if rows.num_rows else None
        event = newest_event(lake, contract)
        load_lag, event_lag = _hours(now, last), _hours(now, event)
        states = [state_for(load_lag, contract)]
        if contract.kind == "fact" and contract.event_time and last is not None:
            # a fact stream must also bring recent events; an entity table may simply not have changed
            states.append(state_for(event_lag, contract))
        out.append(Freshness(
            contract.id, contract.name_zh, contract.owner_department["name_zh"], contract.update_cycle["cycle"],
            contract.update_cycle["name_zh"], int(contract.update_cycle.get("grace_hours", 0)), last, event,
            load_lag, event_lag, max(states, key=ORDER.index)))
    return sorted(out, key=lambda f: (-ORDER.index(f.state), f.dataset))
