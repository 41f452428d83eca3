"""The online-monitoring side of the permit department: one data logger per permitted outlet.

Each outlet of a key or simplified permit reports its limited pollutants (and its flow) every hour
(CN=2061) and once a day (CN=2031): values follow a daily cycle around a share of the permit
limit, with occasional runs of hours over the limit, and flags other than N for maintenance (M),
calibration (C) and faults (D). About 0.5% of packets are corrupted in transit on their first send,
some hours are sent late and some twice. Seeded by (seed, day, outlet), so a day is the same
however often it is generated.

MN, the logger's id: the holder's 18-character code, the permit's site serial (2 digits) and the
outlet number without its D, e.g. ``91330109MA2B3C4D5E`` + ``01`` + ``A001`` (24 characters).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

import numpy as np

from connectors.hj212.crc import crc16_many
from envlake.simulators.permits import LimitWorld

FLOW = {"废水": ("w00000", 2.0, 20.0), "废气": ("a00000", 5.0, 60.0)}  # code, low, high typical flow
FLAG_CHOICES = np.array(list("NMCD"))
FLAG_WEIGHTS = np.array([0.982, 0.01, 0.005, 0.003])


@dataclass
class Outlet:
    mn: str
    permit_no: str
    outlet_code: str
    medium: str
    limits: dict[str, float]


@dataclass
class LoggerDay:
    """What one logger sends on one day: packets in sending order (data segments until ``frame_all``),
    and which first sends get corrupted."""

    mn: str
    packets: list[bytes] = field(default_factory=list)
    corrupt_first_send: set[int] = field(default_factory=set)


def device_id(permit_no: str, outlet_code: str) -> str:
    return f"{permit_no[:18]}{permit_no[19:21]}{outlet_code[1:]}"


def outlets(limits: LimitWorld, day: int) -> list[Outlet]:
    grouped: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    media = {}
    for row in limits.records(day):
        key = (row["permit_no"], row["outlet_code"])
        grouped[key][row["pollutant_code"]] = row["concentration_limit"]
        media[key] = row["medium"]
    return [Outlet(device_id(p, o), p, o, media[(p, o)], lims) for (p, o), lims in sorted(grouped.items())]


def _stamp(d: date, hour: int) -> str:
    return f"{d:%Y%m%d}{hour:02d}0000"


def _segment(cn: str, st: str, mn: str, stamp: str, groups: list[str]) -> str:
    return f"QN={stamp}000;ST={st};CN={cn};PW=123456;MN={mn};Flag=5;CP=&&DataTime={stamp};{';'.join(groups)}&&"


@dataclass
class OutletDay:
    """One outlet's hourly averages for a day, its flags, and the hours planted over the limit."""

    hourly: dict[str, np.ndarray]
    flow: np.ndarray
    flow_code: str
    flags: np.ndarray
    planted_hours: list[int]


def outlet_day(outlet: Outlet, seed: int, day: int, index: int) -> tuple[OutletDay, np.random.Generator]:
    """Values stay under 95% of each limit, except a planted run of 1-3 hours at 1.2-2.5 times the limit
    on about 8% of outlet-days: the exceedances the models must find (every limited pollutant of the run)."""
    rng = np.random.default_rng([seed, 21, day, index])
    hours = np.arange(24)
    cycle = 1 + 0.25 * np.sin((hours - 8) / 24 * 2 * np.pi)
    planted: list[int] = []
    excess = np.zeros(24)
    if rng.random() < 0.08:
        start = int(rng.integers(0, 22))
        planted = list(range(start, min(24, start + int(rng.integers(1, 4)))))
        excess[planted] = rng.uniform(1.2, 2.5)
    flow_code, low, high = FLOW[outlet.medium]
    flow = rng.uniform(low, high) * cycle
    hourly: dict[str, np.ndarray] = {flow_code: flow}
    for code, limit in outlet.limits.items():
        share = rng.uniform(0.3, 0.65)
        natural = np.minimum(limit * share * cycle * rng.lognormal(0, 0.12, 24), 0.95 * limit)
        hourly[code] = np.where(excess > 0, limit * excess, natural)
    flags = rng.choice(FLAG_CHOICES, size=24, p=FLAG_WEIGHTS)
    return OutletDay(hourly, flow, flow_code, flags, planted), rng


def logger_day(outlet: Outlet, day_date: date, seed: int, day: int, index: int) -> LoggerDay:
    values, rng = outlet_day(outlet, seed, day, index)
    st = "32" if outlet.medium == "废水" else "31"
    hours = np.arange(24)
    hourly, flow, flow_code, flags = values.hourly, values.flow, values.flow_code, values.flags
    day_out = LoggerDay(outlet.mn)
    for h in hours:
        groups = [f"{code}-Min={v[h] * 0.85:.2f},{code}-Avg={v[h]:.2f},{code}-Max={v[h] * 1.15:.2f},"
                  f"{code}-Cou={v[h] * flow[h] * 3.6:.2f},{code}-Flag={flags[h] if code != flow_code else 'N'}"
                  for code, v in hourly.items()]
        day_out.packets.append(_segment("2061", st, outlet.mn, _stamp(day_date, int(h)), groups).encode())
    daily = [f"{code}-Min={v.min():.2f},{code}-Avg={v.mean():.2f},{code}-Max={v.max():.2f},"
             f"{code}-Cou={(v * flow).sum() * 3.6:.2f},{code}-Flag=N" for code, v in hourly.items()]
    day_out.packets.append(_segment("2031", st, outlet.mn, _stamp(day_date, 0), daily).encode())
    if rng.random() < 0.05:  # a late hour: sent again at the end of the day
        day_out.packets.append(day_out.packets[int(rng.integers(0, 24))])
    if rng.random() < 0.05:  # a duplicate send right after the original
        k = int(rng.integers(0, 24))
        day_out.packets.insert(k + 1, day_out.packets[k])
    day_out.corrupt_first_send = {i for i in range(len(day_out.packets)) if rng.random() < 0.005}
    return day_out


def corrupt(packet: bytes) -> bytes:
    """A transmission error: one digit of the data segment changed, so the CRC no longer matches."""
    at = packet.index(b"Avg=") + 4
    digit = packet[at:at + 1]
    return packet[:at] + (b"7" if digit != b"7" else b"3") + packet[at + 1:]


def frame_all(days: list[LoggerDay]) -> None:
    """Turn every logger's data segments into whole packets, with the CRCs computed in one go."""
    segments = [segment for d in days for segment in d.packets]
    crcs = iter(crc16_many(segments).tolist())
    for d in days:
        d.packets = [b"##%04d%s%04X\r\n" % (len(seg), seg, next(crcs)) for seg in d.packets]


def planted_exceedances(limits: LimitWorld, seed: int, start: date, day: int) -> list[dict]:
    """Ground truth: every hour and pollutant planted over its outlet's limit, with the hour's flag."""
    day_date = start + timedelta(days=day)
    rows = []
    for i, o in enumerate(outlets(limits, day)):
        values, _ = outlet_day(o, seed, day, i)
        for h in values.planted_hours:
            for code, limit in o.limits.items():
                rows.append({"mn": o.mn, "permit_no": o.permit_no, "outlet_code": o.outlet_code,
                             "pollutant_code": code, "data_time": datetime.combine(day_date, time(h)),
                             "avg_value": round(float(values.hourly[code][h]), 2), "limit": limit,
                             "flag": str(values.flags[h])})
    return rows


def monitoring_day(limits: LimitWorld, seed: int, start: date, day: int) -> list[LoggerDay]:
    day_date = start + timedelta(days=day)
    days = [logger_day(o, day_date, seed, day, i) for i, o in enumerate(outlets(limits, day))]
    frame_all(days)
    return days
