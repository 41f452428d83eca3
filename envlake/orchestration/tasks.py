"""What the ingestion DAGs call: schedules from contracts and one landing per task.

Kept out of ``dags/`` so that DAG files stay a table of contents. A source URL comes from the
Airflow connection named in the DAG when it exists, else from the environment's settings.
"""

from __future__ import annotations

import logging
import os
from datetime import timedelta

from connectors.ingest import ingest
from envlake.kernel.contracts import load_contract
from envlake.kernel.settings import connection_url

log = logging.getLogger(__name__)

CYCLE_SCHEDULES = {
    "realtime": "*/15 * * * *",
    "hourly": "@hourly",
    "daily": "@daily",
    "weekly": "@weekly",
    "monthly": "@monthly",
    "quarterly": "0 0 1 1,4,7,10 *",
    "yearly": "@yearly",
    "irregular": None,
}


def default_args(retries: int = 2, retry_delay: timedelta = timedelta(minutes=2)) -> dict:
    """Retries per task; ``ENVLAKE_TASK_RETRIES`` overrides them (the demo and tests use 0)."""
    override = os.environ.get("ENVLAKE_TASK_RETRIES")
    return {"retries": int(override) if override else retries, "retry_delay": retry_delay,
            "retry_exponential_backoff": True}


def schedule_for(*datasets: str) -> str | None:
    """The cron of the most frequent update cycle among the datasets' contracts."""
    order = list(CYCLE_SCHEDULES)
    cycles = [load_contract(d).update_cycle["cycle"] for d in datasets]
    return CYCLE_SCHEDULES[min(cycles, key=order.index)]


def asset_uri(dataset: str, zone: str = "raw") -> str:
    return f"envlake://{zone}/{dataset}"


def land_landing_files(dataset: str) -> dict:
    """Parse every closed HJ 212 landing file this dataset has not taken yet; a summary for XCom."""
    from connectors.hj212.landing import ingest_landing

    records = ingest_landing(dataset)
    summary = {"files": len(records), "rows_in": sum(r.rows_in for r in records),
               "rows_landed": sum(r.rows_landed for r in records),
               "rows_written": sum(r.rows_written for r in records),
               "rows_quarantined": sum(r.rows_quarantined for r in records)}
    log.info("%s: %s", dataset, summary)
    return summary


def land_waste_drops() -> dict:
    """Land every waste-manifest export dropped since the last run, then archive it."""
    from connectors.waste_drops import ingest_drops

    records = ingest_drops()
    summary: dict[str, dict] = {}
    for r in records:
        entry = summary.setdefault(r.dataset, {"files": 0, "rows_in": 0, "rows_written": 0, "rows_quarantined": 0})
        entry["files"] += 1
        entry["rows_in"] += r.rows_in
        entry["rows_written"] += r.rows_written
        entry["rows_quarantined"] += r.rows_quarantined
    log.info("waste drops: %s", summary)
    return summary


def land(dataset: str, conn_id: str | None = None) -> dict:
    """Land one batch; returns the load-log summary (small enough for XCom)."""
    record = ingest(dataset, connection_url(conn_id))
    log.info("%s: in %d, landed %d (new %d), quarantined %d %s", dataset, record.rows_in, record.rows_landed,
             record.rows_written, record.rows_quarantined, record.quarantine_reasons or "")
    summary = record.summary()
    summary.pop("files", None)
    return summary
