import pyarrow.compute as pc
import pytest

from connectors.ingest import ingest
from connectors.sources import SourceError
from envlake.kernel import load_log
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.simulators.departments import departments
from tests.conftest import SEED, START


def raw_rows(lake: Lake, dataset: str) -> int:
    table = lake.read_table("raw", dataset)
    return 0 if table is None else table.num_rows


def test_first_run_pages_through_everything(permit_api_server, lake: Lake, monkeypatch) -> None:
    monkeypatch.setattr("connectors.http_api.HttpApiSource.page_size", 137)
    record = ingest("permit")
    expected = len(departments(SEED, START).permits.records(0))
    assert record.rows_in == expected
    assert record.rows_landed + record.rows_quarantined == expected
    assert record.rows_quarantined > 0  # the simulated share of bad credit codes
    assert raw_rows(lake, "permit") == record.rows_landed
    assert record.watermark_after == max(r["updated_at"] for r in departments(SEED, START).permits.records(0))


def test_cursor_brings_only_the_next_days_changes(permit_api_server, lake: Lake) -> None:
    first = ingest("permit")
    permit_api_server.control(day=10)
    second = ingest("permit")
    changed = departments(SEED, START).permits.records(10, first.watermark_after)
    assert second.watermark_before == first.watermark_after
    assert 0 < second.rows_in <= len(changed)
    assert second.rows_in < first.rows_in / 10
    assert raw_rows(lake, "permit") == first.rows_landed + second.rows_written
    again = ingest("permit")
    assert again.rows_written == 0


def test_retries_through_transient_server_errors(permit_api_server, lake: Lake) -> None:
    permit_api_server.control(fail="http_500", times=2)
    record = ingest("permit_outlet_limit")
    assert record.status == "success" and record.rows_in > 0


@pytest.mark.parametrize("failure", ["http_500", "malformed"])
def test_persistent_failure_lands_nothing_and_says_why(permit_api_server, lake: Lake, failure: str) -> None:
    permit_api_server.control(fail=failure, after_pages=1)  # the first page succeeds, then it breaks
    with pytest.raises(SourceError, match="failed after 3 attempts"):
        ingest("permit", Settings.from_env().permit_api_url)
    assert raw_rows(lake, "permit") == 0
    log = load_log.read(lake, "permit")
    assert log.num_rows == 1 and log["status"][0].as_py() == "failed"
    assert load_log.last_watermark(lake, "permit", f"{permit_api_server.url}/api/v1/permits") is None


def test_slow_source_times_out(permit_api_server, lake: Lake, monkeypatch) -> None:
    monkeypatch.setenv("ENVLAKE_HTTP_TIMEOUT", "0.5")
    permit_api_server.control(fail="slow", slow_seconds=2)
    with pytest.raises(SourceError, match="ReadTimeout"):
        ingest("permit")
    assert raw_rows(lake, "permit") == 0


def test_unreachable_source_is_a_clear_error(env, lake: Lake) -> None:
    with pytest.raises(SourceError, match=r"http://127\.0\.0\.1:9/api/v1/permits failed after"):
        ingest("permit", "http://127.0.0.1:9")


def test_bad_codes_go_to_quarantine_with_reason(permit_api_server, lake: Lake) -> None:
    ingest("permit")
    quarantine = lake.read_table("quarantine", "permit")
    assert quarantine.num_rows > 0
    assert set(pc.unique(quarantine["_rule_id"]).to_pylist()) <= {"permit.credit_code.checksum"}
    assert all(quarantine["_reason"].to_pylist())
