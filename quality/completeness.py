"""Completeness of online monitoring: each outlet's share of the expected hourly values per day.

A data logger owes 24 hourly values (CN=2061) a day for each pollutant it reports; a daily mean is valid
only with at least 20 valid (flag N) hours. Counted per outlet (MN) and day over the raw zone.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from envlake.kernel.lake import Lake

HOURS_A_DAY = 24
VALID_HOURS_FOR_A_DAILY_MEAN = 20


@dataclass
class Completeness:
    outlet_days: int
    complete_outlet_days: int  # every pollutant with at least 20 valid hours
    mean_hour_share: float  # received hours / 24, averaged over outlet-days
    incomplete: list[dict]  # the worst outlet-days, for people

    @property
    def complete_share(self) -> float:
        return self.complete_outlet_days / self.outlet_days if self.outlet_days else 0.0


def monitoring_completeness(lake: Lake, dataset: str = "monitoring_hourly", worst: int = 20) -> Completeness | None:
    files = lake.files("raw", dataset)
    if not files:
        return None
    files = [lake.uri(f) for f in files]
    con = lake.register(duckdb.connect())
    try:
        con.execute(f"""
            create temp view per_pollutant as
            select mn, cast(data_time as date) as day, pollutant_code,
                   count(distinct data_time) as hours,
                   count(distinct case when upper(flag) = 'N' then data_time end) as valid_hours
            from read_parquet({files!r}, union_by_name = true)
            group by all""")
        con.execute(f"""
            create temp view per_outlet_day as
            select mn, day, min(hours) as hours, min(valid_hours) as valid_hours,
                   min(valid_hours) >= {VALID_HOURS_FOR_A_DAILY_MEAN} as complete
            from per_pollutant group by mn, day""")
        total, complete, share = con.execute(
            f"select count(*), count(*) filter (where complete), avg(hours / {HOURS_A_DAY}) from per_outlet_day"
        ).fetchone()
        rows = con.execute(f"select mn, cast(day as varchar), hours, valid_hours from per_outlet_day "
                           f"where not complete order by valid_hours, mn limit {worst}").fetchall()
    finally:
        con.close()
    return Completeness(total, complete, round(share or 0.0, 4),
                        [{"mn": r[0], "day": r[1], "hours": r[2], "valid_hours": r[3]} for r in rows])
