"""A stopped feed turns stale and raises an alert, posted to the webhook and recorded in the lake."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pyarrow as pa

from connectors.writer import LakeWriter
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from quality.completeness import monitoring_completeness
from quality.dynamic_update import check
from tests.cli.test_cli import envlake
from tests.conftest import free_port


class Hook(BaseHTTPRequestHandler):
    received: ClassVar[list[dict]] = []

    def do_POST(self) -> None:
        Hook.received.append(json.loads(self.rfile.read(int(self.headers["content-length"]))))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_stale_feed_alerts_through_the_webhook(env: Settings, tmp_path, monkeypatch) -> None:
    from envlake.simulators.filedrops import write_filedrops

    write_filedrops(tmp_path / "drops")
    assert envlake("ingest", "district", "--from", str(tmp_path / "drops" / "district.csv")).returncode == 0
    port = free_port()
    server = HTTPServer(("127.0.0.1", port), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("ENVLAKE_ALERT_WEBHOOK", f"http://127.0.0.1:{port}/alerts")
    try:
        fresh = check(env, datetime.now(UTC))
        assert fresh["states"]["district"] == "fresh" and not [a for a in fresh["alerts"] if a["dataset"] == "district"]
        stale = check(env, datetime.now(UTC) + timedelta(days=800))  # the district file stopped coming
    finally:
        server.shutdown()
    assert stale["states"]["district"] == "stale"
    posted = [a for a in Hook.received if a["dataset"] == "district"]
    assert posted and posted[0]["state"] == "stale" and "杭州市行政区划" in posted[0]["message"]
    lake = Lake(env.lake)
    recorded = lake.read_table("_meta", "alerts").to_pylist()
    assert any(r["dataset"] == "district" and r["delivered"] for r in recorded)
    assert lake.read_table("_meta", "freshness").num_rows == 2 * len(fresh["states"])


def test_an_outlet_short_of_20_valid_hours_is_incomplete(env: Settings) -> None:
    hours = [datetime(2026, 1, 1, h) for h in range(24)]
    flags = ["N"] * 18 + ["M"] * 6  # 18 valid hours: no daily mean
    rows = {"mn": ["MN0000A"] * 24 + ["MN0000B"] * 24, "st": ["31"] * 48, "cn": ["2061"] * 48, "data_time": hours * 2,
            "pollutant_code": ["a21026"] * 48, "avg_value": [10.0] * 48, "flag": flags + ["N"] * 24}
    LakeWriter(Lake(env.lake)).land(load_contract("monitoring_hourly"), pa.table(rows), source="test")
    result = monitoring_completeness(Lake(env.lake))
    assert (result.outlet_days, result.complete_outlet_days) == (2, 1)
    assert result.incomplete == [{"mn": "MN0000A", "day": "2026-01-01", "hours": 24, "valid_hours": 18}]


def test_quality_check_command_validates_the_batch_and_reports_freshness(env: Settings, tmp_path) -> None:
    from envlake.simulators.filedrops import write_filedrops

    write_filedrops(tmp_path / "drops")
    assert envlake("ingest", "district", "--from", str(tmp_path / "drops" / "district.csv")).returncode == 0
    result = envlake("quality", "check", "--json")
    assert result.returncode == 0, result.stderr
    payload = json.loads(result.stdout)
    assert payload["landed_batches"]["district"] == {"batches": 1, "failed": []}
    assert payload["states"]["district"] == "fresh" and payload["states"]["permit"] == "never"
    again = json.loads(envlake("quality", "check", "--json").stdout)
    assert again["landed_batches"] == {}  # each batch is validated once
