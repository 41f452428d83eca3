"""dbt build on 30 days of simulated monitoring for every outlet, then one more day incrementally.

The lake is landed the way the connectors land it: the API feeds of day 30 from the simulators, and 30
days of hourly readings of every permitted outlet (the simulators' values, planted exceedances
included) through the lake writer, one batch per day. `full` is `dbt build` (seeds, models, snapshots,
tests) into an empty build area; `one_more_day` lands day 31 and builds again, so the incremental
fct_monitoring_hourly takes only what was ingested since. Target: one_more_day / full < 0.15.

Gates: the time the governance gates (lineage and classification, personal-data scan, the marts' GX
suites) add to a publish, against the dbt build they guard (target < 0.25). The first publish in a
process pays the GX import and, with an empty lineage cache, `dbt compile` and the trace of every node
(cold); later ones do not (warm).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from datetime import date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path

import numpy as np
import pyarrow as pa
from rich.console import Console

from connectors.writer import LakeWriter
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.publishing.build import CycleResult, build_and_publish
from envlake.simulators.demo_sources import land_every_feed, scratch_environment
from envlake.simulators.departments import departments
from envlake.simulators.monitoring import outlet_day, outlets

DAYS = int(os.environ.get("ENVLAKE_BENCH_DBT_DAYS", "30"))
HERE = Path(__file__).resolve().parent
console = Console()


def readings(depts, seed: int, start: date, day: int) -> pa.Table:
    """One day of hourly averages of every outlet, as the HJ 212 parser would hand them to the writer."""
    columns: dict[str, list] = {k: [] for k in ("mn", "st", "pollutant_code", "avg", "flag")}
    hours: list[np.ndarray] = []
    for i, o in enumerate(outlets(depts.limits, day)):
        values, _ = outlet_day(o, seed, day, i)
        st = "32" if o.medium == "废水" else "31"
        for code, v in values.hourly.items():
            columns["mn"] += [o.mn] * 24
            columns["st"] += [st] * 24
            columns["pollutant_code"] += [code] * 24
            columns["avg"].append(np.round(v, 2))
            columns["flag"].append(values.flags if code != values.flow_code else np.full(24, "N"))
            hours.append(np.arange(24))
    avg = np.concatenate(columns["avg"])
    hour = np.concatenate(hours)
    day_start = np.datetime64(datetime.combine(start + timedelta(days=day), dtime()), "us")
    times = day_start + (hour * 3_600_000_000).astype("timedelta64[us]")
    stamp = [f"{(start + timedelta(days=day)):%Y%m%d}{h:02d}0000000" for h in range(24)]
    n = len(avg)
    return pa.table({
        "mn": columns["mn"], "st": columns["st"], "cn": ["2061"] * n, "qn": [stamp[h] for h in hour],
        "data_time": pa.array(times, pa.timestamp("us")), "pollutant_code": columns["pollutant_code"],
        "code_sent": columns["pollutant_code"], "rtd": pa.nulls(n, pa.float64()), "avg_value": avg,
        "min_value": avg * 0.85, "max_value": avg * 1.15, "cou": avg * 3.6,
        "flag": np.concatenate(columns["flag"]).astype(str), "packet_flag": ["5"] * n,
    })


def land_monitoring(settings: Settings, depts, first: int, last: int) -> int:
    writer, contract = LakeWriter(Lake(settings.lake)), load_contract("monitoring_hourly")
    start = date.fromisoformat(settings.sim_start_date)
    rows = 0
    for day in range(first, last):
        record = writer.land(contract, readings(depts, settings.sim_seed, start, day), source=f"bench:day{day}")
        rows += record.rows_landed
    return rows


def dbt_figures() -> dict:
    root = Path(tempfile.mkdtemp(prefix="envlake-bench-dbt-"))
    try:
        with scratch_environment(root) as settings:
            return measure_builds(settings)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def timed_build(settings: Settings, select: list[str] | None = None) -> tuple[CycleResult, float]:
    started = time.perf_counter()
    cycle = build_and_publish(settings, select=select)
    return cycle, time.perf_counter() - started


def slowest(cycle: CycleResult, count: int = 5) -> list[tuple[str, float]]:
    return sorted(((r.name, round(r.execution_time, 2)) for r in cycle.run.results), key=lambda x: -x[1])[:count]


def measure_builds(settings: Settings) -> dict:
    depts = departments(settings.sim_seed, settings.sim_start_date)
    console.print(f"landing {DAYS} days of monitoring for every outlet and the other feeds")
    land_every_feed(settings, DAYS, monitoring=False)
    rows = land_monitoring(settings, depts, 0, DAYS)
    console.print(f"dbt build (full) over {rows:,} hourly readings")
    full, full_s = timed_build(settings)
    extra = land_monitoring(settings, depts, DAYS, DAYS + 1)
    console.print(f"dbt build of what one more day of monitoring touches ({extra:,} readings)")
    again, incremental_s = timed_build(settings, select=["source:monitoring.monitoring_hourly+"])
    land_monitoring(settings, depts, DAYS + 1, DAYS + 2)
    console.print("dbt build of every node after another day")
    everything, everything_s = timed_build(settings)
    gates = {name: c.published.gates for name, c in (("full", full), ("one_more_day", again),
                                                       ("every_node", everything)) if c.published}
    gate_s = {name: round(sum(v for v in g.values()), 2) for name, g in gates.items()}
    dbt_s = {"full": full.dbt_seconds, "one_more_day": again.dbt_seconds, "every_node": everything.dbt_seconds}
    lake = Lake(settings.lake)
    report = lake.read_bytes(lake.path("_meta", "quality", "gates", f"{again.published.version}.json")) \
        if again.published else None
    return {
        "gates_seconds": gate_s, "gates_detail": gates,
        "gx_seconds_per_mart_one_more_day": json.loads(report)["mart_seconds"] if report else None,
        "dbt_seconds": {k: round(v, 2) for k, v in dbt_s.items()},
        "ratio_gates_to_dbt_build": {k: round(gate_s[k] / dbt_s[k], 3) for k in gate_s},
        "gates_note": "full = cold (GX import, dbt compile + lineage of every node); the others warm",
        "days": DAYS, "outlets": len(outlets(depts.limits, DAYS)), "hourly_readings": rows,
        "one_more_day_readings": extra, "nodes": len(full.run.results),
        "full_build_seconds": round(full_s, 2), "one_more_day_seconds": round(incremental_s, 2),
        "ratio_one_more_day_to_full": round(incremental_s / full_s, 3),
        "one_more_day_selection": "source:monitoring.monitoring_hourly+ (what the landed feed touches)",
        "one_more_day_every_node_seconds": round(everything_s, 2),
        "ratio_one_more_day_every_node_to_full": round(everything_s / full_s, 3),
        "publish_one_more_day": again.published.rewritten if again.published else {},
        "fct_monitoring_hourly_rows": everything.published.rows["fct_monitoring_hourly"]
        if everything.published else None,
        "slowest_nodes_full": slowest(full), "slowest_nodes_one_more_day": slowest(again),
        "target": {"ratio_one_more_day_to_full": "< 0.15", "ratio_gates_to_dbt_build": "< 0.25"},
        "includes": "dbt build with publish: seeds, 40 models, 2 snapshots, ~90 tests, Parquet export, catalog",
    }


def main() -> None:
    figures = dbt_figures()
    out = HERE / "results.json"
    previous = json.loads(out.read_text()) if out.exists() else {}
    previous["dbt_build"] = figures
    out.write_text(json.dumps(previous, ensure_ascii=False, indent=2) + "\n")
    console.print(f"dbt build full {figures['full_build_seconds']} s, one more day {figures['one_more_day_seconds']} s "
                  f"(ratio {figures['ratio_one_more_day_to_full']}), every node "
                  f"{figures['one_more_day_every_node_seconds']} s; gates / dbt build "
                  f"{figures['ratio_gates_to_dbt_build']}; written to {out}")


if __name__ == "__main__":
    main()
