from collections.abc import Iterator

import pyarrow.compute as pc
import pytest

from connectors.ingest import ingest
from envlake.kernel.lake import Lake
from envlake.simulators import permit_api
from envlake.simulators.stations import AIR_STATIONS
from tests.conftest import SEED, START, free_port


@pytest.fixture
def station_api(env, monkeypatch) -> Iterator[str]:
    port = free_port()
    server = permit_api.serve("127.0.0.1", port, SEED, START, 2, permit_api.station_endpoints)
    monkeypatch.setenv("ENVLAKE_STATION_API_URL", f"http://127.0.0.1:{port}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.shutdown()
        server.server_close()


def test_air_stations_land_hourly_with_some_gaps(station_api, lake: Lake) -> None:
    record = ingest("air_station_hourly")
    assert record.rows_in == record.rows_landed == len(AIR_STATIONS) * 24 * 3
    raw = lake.read_table("raw", "air_station_hourly")
    missing = raw["pm25"].null_count / raw.num_rows
    assert 0.005 < missing < 0.05
    assert 5 < pc.mean(raw["pm25"]).as_py() < 250
    assert pc.max(raw["co"]).as_py() < 5  # mg/m³
    assert {p.split("/")[-2] for p in lake.files("raw", "air_station_hourly")} == {
        "event_date=2026-01-01", "event_date=2026-01-02", "event_date=2026-01-03"}


def test_water_sections_land_and_pull_again_adds_nothing(station_api, lake: Lake) -> None:
    first = ingest("water_section_reading")
    assert first.rows_landed == 40 * 6 * 3 and first.rows_quarantined == 0
    again = ingest("water_section_reading")
    assert again.rows_written == 0
    raw = lake.read_table("raw", "water_section_reading")
    assert set(raw["water_body_type"].to_pylist()) == {"河流", "湖库"}
