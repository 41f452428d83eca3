"""Alerts for the dynamic-update rules: a log line, a row in ``_meta/alerts/``, and a POST to a webhook.

The webhook URL comes from the Airflow connection ``envlake_alert_webhook`` or ``ENVLAKE_ALERT_WEBHOOK``;
without one the alert is logged and recorded only. A webhook that fails does not lose the alert.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from datetime import UTC, datetime

import httpx
import pyarrow as pa

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings, connection_url

log = logging.getLogger("envlake.alerts")
ALERT_SCHEMA = pa.schema([("alert_id", pa.string()), ("raised_at", pa.timestamp("us", "UTC")),
                          ("dataset", pa.string()), ("rule", pa.string()), ("state", pa.string()),
                          ("message", pa.string()), ("webhook", pa.string()), ("delivered", pa.bool_())])


def webhook_url() -> str | None:
    return connection_url("envlake_alert_webhook") or os.environ.get("ENVLAKE_ALERT_WEBHOOK") or None


def raise_alerts(lake: Lake, alerts: list[dict], url: str | None = None) -> list[dict]:
    """Each alert ({dataset, rule, state, message}) logged, recorded and posted; returns them as recorded."""
    if not alerts:
        return []
    url = url if url is not None else webhook_url()
    now = datetime.now(UTC)
    recorded = []
    for alert in alerts:
        log.warning("ALERT %s %s=%s: %s", alert["dataset"], alert["rule"], alert["state"], alert["message"])
        delivered = False
        if url:
            try:
                response = httpx.post(url, content=json.dumps({**alert, "raised_at": now.isoformat()},
                                                              ensure_ascii=False).encode("utf-8"),
                                      headers={"content-type": "application/json"}, timeout=5)
                delivered = response.status_code < 300
            except httpx.HTTPError as exc:
                log.warning("alert webhook %s failed: %s", url, exc)
        recorded.append({"alert_id": secrets.token_hex(8), "raised_at": now, **alert, "webhook": url,
                         "delivered": delivered})
    table = pa.Table.from_pylist(recorded, schema=ALERT_SCHEMA)
    lake.write_parquet(table, lake.path("_meta", "alerts", f"{now:%Y%m%dT%H%M%S%f}.parquet"))
    return recorded


def on_quality_failure(context: dict) -> None:
    """Airflow ``on_failure_callback`` of the quality DAG: the failed check becomes an alert."""
    task = context.get("task_instance")
    exc = context.get("exception")
    raise_alerts(Lake(Settings.from_env().lake), [{
        "dataset": "*", "rule": "quality_dag", "state": "failed",
        "message": f"{getattr(task, 'dag_id', '?')}.{getattr(task, 'task_id', '?')}: {exc}"}])
