"""What the demo shows of the published marts, read like any department would: through the catalog file."""

from __future__ import annotations

from typing import Any

import duckdb

from envlake.cli.output import console, print_table
from envlake.kernel.lake import Lake
from envlake.publishing.reader import current

SCORECARD = """
select overall_rank, district_name, mean_aqi, water_compliance_pct, exceedance_rate_pct,
       manifest_anomaly_rate_pct, mean_component_rank
from shared.mart_district_scorecard order by overall_rank, district_code limit {limit}
"""

LOOP = """
select district_name, sum(problems_found) as found, sum(problems_dispatched) as dispatched,
       sum(problems_closed) as closed, sum(closed_on_time) as closed_on_time, sum(overdue_open) as overdue_open,
       sum(problems_reopened) as reopened, round(median(median_days_to_close), 1) as median_days_to_close
from shared.mart_problem_loop group by district_code, district_name order by district_code
"""


def loop_figures(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The closed loop per district (闭环处置), from the published ledger's figures."""
    cursor = con.execute(LOOP)
    columns = [d[0] for d in cursor.description]
    return [dict(zip(columns, row, strict=True)) for row in cursor.fetchall()]


def published_summary(lake: Lake, limit: int = 5) -> dict[str, Any] | None:
    state = current(lake)
    if state is None:
        return None
    con = lake.register(duckdb.connect(state["catalog"], read_only=True))
    try:
        scorecard = con.execute(SCORECARD.format(limit=limit))
        columns = [d[0] for d in scorecard.description]
        top = [dict(zip(columns, row, strict=True)) for row in scorecard.fetchall()]
        events = con.execute("select count(*) from shared.fct_exceedance_event").fetchone()[0]
        anomalies = con.execute("select count(*), count(distinct manifest_no) from shared.fct_manifest_anomaly"
                                ).fetchone()
        loop = loop_figures(con) if "mart_problem_loop" in state["models"] else []
    finally:
        con.close()
    return {"version": state["version"], "catalog": state["catalog"], "models": state["models"],
            "scorecard_top": top, "exceedance_events": events, "manifest_anomalies": anomalies[0],
            "anomalous_manifests": anomalies[1], "problem_loop": loop}


def print_published(p: dict[str, Any]) -> None:
    print_table(f"环境质量综合排名（前{len(p['scorecard_top'])}名）— published {p['version']}",
                ["排名", "区县", "AQI均值", "水质达标率%", "超标率%", "联单异常率%", "平均名次"],
                [list(r.values()) for r in p["scorecard_top"]])
    console.print(f"超标事件 exceedance events: {p['exceedance_events']}; 联单异常 manifest anomalies: "
                  f"{p['manifest_anomalies']} on {p['anomalous_manifests']} manifests", highlight=False)
    if p.get("problem_loop"):
        print_table("闭环处置 — problems found, dispatched and closed per district",
                    ["区县", "发现", "已推送", "已办结", "按期办结", "超期未办结", "重新打开", "办结天数中位数"],
                    [list(r.values()) for r in p["problem_loop"]])
    console.print(f"read-only catalog for departments and dashboards: {p['catalog']}", highlight=False)
