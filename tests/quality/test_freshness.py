"""Dynamic-update rules: a dataset is fresh within its cycle plus grace, late within two, stale beyond."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from envlake.kernel.contracts import load_contract
from envlake.kernel.settings import Settings
from quality.freshness import assess, state_for
from tests.cli.test_cli import envlake


@pytest.mark.parametrize(("dataset", "lag", "state"), [
    ("monitoring_hourly", 2.9, "fresh"), ("monitoring_hourly", 3.5, "late"), ("monitoring_hourly", 4.5, "stale"),
    ("permit", 30, "fresh"), ("permit", 54, "late"), ("permit", 55, "stale"),
    ("hw_code", 10_000, "fresh"), ("permit", None, "never"),
])
def test_state_from_cycle_and_grace(dataset: str, lag: float | None, state: str) -> None:
    assert state_for(lag, load_contract(dataset)) == state


def test_a_feed_stopped_past_its_cycle_turns_stale(env: Settings, tmp_path) -> None:
    from envlake.simulators.filedrops import write_filedrops

    write_filedrops(tmp_path / "drops")
    assert envlake("ingest", "district", "--from", str(tmp_path / "drops" / "district.csv")).returncode == 0
    now = datetime.now(UTC)
    district = {f.dataset: f for f in assess(env, now)}["district"]
    assert district.state == "fresh" and district.load_lag_hours is not None and district.load_lag_hours < 1
    later = {f.dataset: f for f in assess(env, now + timedelta(days=400))}
    assert later["district"].state == "late"  # yearly cycle + 720 h grace: late after 396 days
    assert {f.dataset: f for f in assess(env, now + timedelta(days=800))}["district"].state == "stale"
    assert later["permit"].state == "never"


def test_status_command_prints_every_dataset(env: Settings) -> None:
    result = envlake("status", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)["datasets"]
    assert {r["dataset"] for r in rows} >= {"permit", "monitoring_hourly", "waste_manifest"}
    assert all(r["state"] == "never" and r["state_zh"] == "从未入湖" for r in rows)
