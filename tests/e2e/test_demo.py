"""The demo end to end, twice, in a fresh folder: simulators, Airflow DAG runs, the lake."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pyarrow.parquet as pq
import pytest

from envlake.dashboards.client import SupersetClient
from envlake.dashboards.service import Superset
from envlake.kernel.identifiers import is_valid_uscc
from tests.catalog_reader import CatalogReader
from tests.conftest import free_port

# The first 400 outlets' loggers send (of 2,436): the Airflow, dbt, gate and Superset work is the same, the
# packets and readings a sixth. CI runs this test beside the demo on object storage in its 30 minutes.
LOGGERS = 400


def count_rows(folder: Path) -> int:
    return sum(pq.ParquetFile(p).metadata.num_rows for p in folder.rglob("*.parquet"))


@pytest.mark.e2e
@pytest.mark.timeout(2700)
def test_demo_twice_gives_the_same_lake(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVLAKE_", "AIRFLOW", "DBT_"))}
    env["ENVLAKE_PERMIT_API_URL"] = f"http://127.0.0.1:{free_port()}"
    env["ENVLAKE_HJ212_PORT"] = str(free_port())
    env["ENVLAKE_STATION_API_URL"] = f"http://127.0.0.1:{free_port()}"
    env["ENVLAKE_ENFORCEMENT_API_URL"] = f"http://127.0.0.1:{free_port()}"
    env["SUPERSET_PORT"] = str(free_port())
    env["ENVLAKE_SIM_LOGGERS"] = str(LOGGERS)
    command = [sys.executable, "-m", "envlake.cli.main", "demo", "--json"]
    try:
        run_twice(tmp_path, env, command)
    finally:
        Superset(tmp_path / ".superset", int(env["SUPERSET_PORT"])).stop()


def run_twice(tmp_path: Path, env: dict[str, str], command: list[str]) -> None:
    first = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stderr[-2000:]
    output = json.loads(first.stdout)
    rows = {r["dataset"]: r for r in output["datasets"]}
    published = output["published"]
    assert set(published["models"]) >= {"dim_enterprise", "fct_monitoring_hourly", "fct_exceedance",
                                         "fct_air_quality_daily", "fct_water_section_class", "fct_waste_transfer",
                                         "mart_enterprise_risk", "mart_inspection_plan", "mart_district_scorecard"}
    assert len(published["scorecard_top"]) == 5 and published["exceedance_events"] > 0
    # the closed loop: the ledger published, every district's figures, the problems dispatched
    loop = published["problem_loop"]
    assert len(loop) == 13 and sum(r["found"] for r in loop) > 0
    assert 0 < sum(r["dispatched"] for r in loop) <= sum(r["found"] for r in loop)
    catalog = Path(published["catalog"])
    state = json.loads((tmp_path / "lake" / "_meta" / "publish" / "current.json").read_text(encoding="utf-8"))
    for mart, entry in state["marts"].items():
        shared = entry["files"]["shared"]
        assert shared and all(Path(p).is_relative_to(tmp_path / "lake" / "shared" / mart) for p in shared), mart
        assert all(Path(p).exists() for p in shared), mart
    # the demo ends with the catalogue built: every shared dataset classified, every landed batch checked
    catalogue = json.loads((tmp_path / "lake" / "_meta" / "catalogue" / "catalogue.json").read_text(encoding="utf-8"))
    assert {d["id"] for d in catalogue["shared"]} == set(state["marts"])
    for d in catalogue["shared"]:
        assert d["columns"] and all(c.get("security_level") and c.get("sharing_class") for c in d["columns"]), d["id"]
        assert d["quality"]["pass_rate"] == 1.0, d["id"]
    assert all(d["quality"]["results"] for d in catalogue["sources"] if d["id"] in rows)
    assert (tmp_path / "lake" / "_meta" / "catalogue" / "index.html").exists()
    assert output["catalogue"] == {"shared": len(state["marts"]), "sources": len(catalogue["sources"])}
    # and with both dashboards deployed to a local Superset, every chart answering with rows
    dashboards = output["dashboards"]
    assert set(dashboards["dashboards"]) == {"生态环境综合驾驶舱", "数据健康"} and dashboards["charts"] >= 15
    with SupersetClient(dashboards["url"], "admin", "admin") as client:
        for chart in client.get("/api/v1/chart/", q="(page_size:100)")["result"]:
            assert client.chart_data(chart["id"])["result"][0]["rowcount"] > 0, chart["slice_name"]
    assert output["access"]["refused"] == 2 and output["access"]["masked_sample"]["contact_phone"].count("*") == 4
    department_reads_through_the_service(tmp_path, env)
    assert set(rows) == {"permit", "permit_outlet_limit", "credit_rating", "district", "pollutant_code",
                         "monitoring_hourly", "monitoring_daily", "air_station_hourly", "water_section_reading",
                         "hw_code", "disposal_licence", "waste_manifest", "waste_manifest_item", "complaint",
                         "enforcement_case_update"}
    quarantined = pq.read_table(tmp_path / "lake" / "quarantine" / "monitoring_hourly").column("_rule_id").to_pylist()
    assert quarantined and set(quarantined) == {"hj212.bad_crc"}  # the packets damaged in transit
    assert rows["monitoring_hourly"]["landed"] > LOGGERS * 24  # every sending outlet, 24 hours, its pollutants
    lake = tmp_path / "lake"
    for dataset in ("permit", "permit_outlet_limit", "credit_rating"):
        assert count_rows(lake / "raw" / dataset) == rows[dataset]["raw_rows_total"] == rows[dataset]["landed"] > 0
    for dataset in ("permit", "credit_rating"):
        quarantine = pq.read_table(lake / "quarantine" / dataset).to_pylist()
        assert len(quarantine) == rows[dataset]["quarantined"] > 0
        assert all(r["_rule_id"].startswith(f"{dataset}.credit_code.") and r["_reason"] for r in quarantine)
        assert all(r["credit_code"] is None or not is_valid_uscc(r["credit_code"]) for r in quarantine)
    # A department reads the published catalog, read-only, all through the second run and its modelling DAG.
    reader = CatalogReader(catalog)
    # without Superset this time: a second deploy changing nothing is tests/dashboards' to show
    second = subprocess.run([*command, "--no-dashboards"], cwd=tmp_path, env=env, capture_output=True, text=True)
    read = reader.stop()
    assert second.returncode == 0, second.stderr[-2000:]
    assert read["error_count"] == 0 and read["queries"] > 20, read
    second_output = json.loads(second.stdout)
    again = {r["dataset"]: r for r in second_output["datasets"]}
    assert second_output["published"]["version"] != published["version"]
    assert second_output["published"]["models"]["fct_monitoring_hourly"] == published["models"]["fct_monitoring_hourly"]
    for dataset, row in rows.items():
        assert again[dataset]["raw_rows_total"] == row["raw_rows_total"]
        assert again[dataset]["quarantine_rows_total"] == row["quarantine_rows_total"]
        assert again[dataset]["new_in_lake"] == 0


def department_reads_through_the_service(tmp_path: Path, env: dict[str, str]) -> None:
    """Issue 7's acceptance on the demo's lake: `envlake serve` running, a department's token reads an
    unconditional dataset; a conditional column is masked, in the clear once a grant is approved, masked
    again once it is revoked; each step is in the audit."""
    def envlake(*args: str) -> str:
        done = subprocess.run([sys.executable, "-m", "envlake.cli.main", *args], cwd=tmp_path, env=env,
                              capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "envlake.cli.main", "serve", "--port", str(port)], cwd=tmp_path,
                              env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        added = envlake("access", "add-department", "xihu_branch", "--name-zh", "西湖分局", "--json")
        token = json.loads(added)["token"]
        http = httpx.Client(base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {token}"})
        for _ in range(60):
            try:
                http.get("/health")
                break
            except httpx.HTTPError:
                time.sleep(0.5)

        def phones() -> list[str | None]:
            response = http.get("/datasets/dim_enterprise/rows", params={
                "columns": "enterprise_key,contact_phone", "filter": "contact_phone~1", "order_by": "enterprise_key",
                "limit": 50})
            assert response.status_code == 200, response.text
            return [r["contact_phone"] for r in response.json()["rows"]]

        events = http.get("/datasets/fct_exceedance_event/rows", params={"limit": 10}).json()
        assert events["row_count"] == 10
        assert all("****" in p for p in phones())
        grant = json.loads(envlake("access", "apply", "--department", "xihu_branch", "--dataset", "dim_enterprise",
                                   "--columns", "contact_phone", "--purpose", "超标企业电话核查", "--json"))
        envlake("access", "approve", str(grant["id"]), "--by", "数据办")
        assert all("****" not in p and len(p) == 11 for p in phones())
        envlake("access", "revoke", str(grant["id"]), "--by", "数据办")
        assert all("****" in p for p in phones())
        http.close()
    finally:
        server.terminate()
        server.wait(timeout=30)
    audit = json.loads(envlake("access", "audit", "--department", "xihu_branch", "--last", "100", "--json"))["audit"]
    fetched = [(r["dataset"], r["outcome"], r["clear_columns"]) for r in audit if r["action"] == "fetch"]
    assert fetched == [("fct_exceedance_event", "granted", ""), ("dim_enterprise", "granted", ""),
                       ("dim_enterprise", "granted", "contact_phone"), ("dim_enterprise", "granted", "")]
    steps = [r["action"] for r in audit if r["outcome"] == "recorded"]
    assert steps == ["department_added", "applied", "approved", "revoked"]
    recorded = json.loads(envlake("access", "steps", "--department", "xihu_branch", "--json"))["steps"]
    assert [s["action"] for s in recorded] == steps and recorded[2]["actor"] == "数据办"
