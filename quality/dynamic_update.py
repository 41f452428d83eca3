"""One run of the dynamic-update rules: freshness of every dataset and completeness of monitoring,
written to ``_meta/freshness/`` for the catalogue, with an alert for each stale or incomplete dataset."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from envlake.kernel.alerts import raise_alerts
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from quality.completeness import monitoring_completeness
from quality.freshness import assess, reference_time

# Below this share of complete outlet-days (every pollutant with 20 valid hours), monitoring is incomplete.
COMPLETE_SHARE_REQUIRED = 0.95


def check(settings: Settings | None = None, now: datetime | None = None) -> dict:
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    now = now or reference_time(settings)
    rows = assess(settings, now)
    checked_at = datetime.now(UTC)
    table = pa.Table.from_pylist([{**r.as_dict(), "checked_at": checked_at, "reference_time": now} for r in rows])
    lake.write_parquet(table, lake.path("_meta", "freshness", f"{checked_at:%Y%m%dT%H%M%S%f}.parquet"))
    alerts = [{"dataset": r.dataset, "rule": "freshness", "state": r.state,
               "message": f"{r.name_zh}：{r.state_zh}（更新周期{r.update_cycle_zh}，宽限{r.grace_hours}小时，"
                          f"距上次入湖{r.load_lag_hours}小时，距最新数据{r.event_lag_hours}小时）"}
              for r in rows if r.state == "stale"]
    completeness = monitoring_completeness(lake)
    if completeness and completeness.complete_share < COMPLETE_SHARE_REQUIRED:
        alerts.append({"dataset": "monitoring_hourly", "rule": "completeness", "state": "incomplete",
                       "message": f"污染源自动监控小时数据：完整监测点日占比 {completeness.complete_share:.1%}"
                                  f"（要求≥{COMPLETE_SHARE_REQUIRED:.0%}，日均值需≥20个有效小时值）"})
    recorded = raise_alerts(lake, alerts)
    return {"reference_time": now.isoformat(), "states": {r.dataset: r.state for r in rows},
            "completeness": None if completeness is None else {
                "outlet_days": completeness.outlet_days, "complete_share": round(completeness.complete_share, 4),
                "mean_hour_share": completeness.mean_hour_share},
            "alerts": [{k: v for k, v in a.items() if k != "raised_at"} for a in recorded]}
