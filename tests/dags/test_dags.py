"""Every DAG loads without import errors and runs with `airflow dags test` against the simulators."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from connectors.hj212.landing import landing_folder
from connectors.hj212.receiver import ReceiverThread
from envlake.kernel import load_log
from envlake.kernel.lake import Lake
from envlake.kernel.settings import REPO_ROOT, Settings
from envlake.modelling.runner import parse_manifest
from envlake.orchestration.runner import airflow_env, migrate, run_dag, run_dags
from envlake.publishing.reader import current
from envlake.simulators.demo_sources import DemoSources
from tests.conftest import free_port

DAG_FILES = sorted(p for p in (REPO_ROOT / "dags").glob("*.py"))
EXPECTED = {"ingest_permits": ["permit", "permit_outlet_limit"], "ingest_credit_rating": ["credit_rating"],
            "ingest_reference": ["district", "pollutant_code", "hw_code", "disposal_licence"],
            "ingest_waste": ["waste_manifest", "waste_manifest_item"],
            "ingest_monitoring": ["monitoring_hourly", "monitoring_daily"],
            "ingest_stations": ["air_station_hourly", "water_section_reading"], "ingest_complaints": ["complaint"]}


@pytest.fixture(scope="module")
def airflow(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("airflow")
    root = tmp_path_factory.mktemp("envlake")
    old = dict(os.environ)
    os.environ.update({"AIRFLOW_HOME": str(home), "ENVLAKE_LAKE": str(root / "lake"),
                       "ENVLAKE_SIM_DIR": str(root / "sim"),
                       "ENVLAKE_CREDIT_DB_URL": f"sqlite:///{root / 'sim' / 'credit.sqlite'}",
                       "ENVLAKE_PERMIT_API_URL": f"http://127.0.0.1:{free_port()}",
                       "ENVLAKE_STATION_API_URL": f"http://127.0.0.1:{free_port()}",
                       "ENVLAKE_ENFORCEMENT_API_URL": f"http://127.0.0.1:{free_port()}"})
    settings = Settings.from_env()
    env = airflow_env(settings)
    migrate(env)
    try:
        yield settings, env
    finally:
        os.environ.clear()
        os.environ.update(old)


@pytest.mark.airflow
def test_dagbag_has_no_import_errors(airflow) -> None:
    _, env = airflow
    parse_manifest(airflow[0])
    code = ("from airflow.dag_processing.dagbag import DagBag; import json; "
            "b = DagBag(); "
            "print(json.dumps({'errors': {k: str(v) for k, v in b.import_errors.items()}, 'dags': sorted(b.dag_ids),"
            "'schedules': {d: str(b.dags[d].schedule) for d in b.dag_ids}}))")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    import json

    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["errors"] == {}
    assert set(EXPECTED) <= set(result["dags"])
    assert result["schedules"]["ingest_permits"] == "@daily"
    assert {"model_marts", "quality_checks", "dispatch_problems", "maintain_tables"} <= set(result["dags"])
    assert len(DAG_FILES) == len(EXPECTED) + 4
    for path in DAG_FILES:
        assert len(path.read_text().splitlines()) <= 70, f"{path.name} is not a thin DAG file"


@pytest.fixture(scope="module")
def ingested(airflow) -> dict[str, str]:
    """Every ingestion DAG run with `airflow dags test` against the simulators, in one Airflow process as the
    demo runs them (an Airflow start-up and the simulators' once, not seven times). Gives each DAG's log."""
    settings, env = airflow
    with DemoSources(settings, day=0) as sources:
        port = free_port()
        with ReceiverThread(landing_folder(settings), "127.0.0.1", port):
            assert sources.send_monitoring("127.0.0.1", port, outlets=40) > 40 * 24
        run_dags(sorted(EXPECTED), env)
    logs = Path(env["AIRFLOW_HOME"]) / "demo-logs"
    return {dag_id: (logs / f"{dag_id}.log").read_text(errors="replace") for dag_id in EXPECTED}


@pytest.mark.airflow
@pytest.mark.parametrize("dag_id", sorted(EXPECTED))
def test_dag_runs_against_the_simulators(airflow, ingested: dict[str, str], dag_id: str) -> None:
    settings, _ = airflow
    assert f"DagRun Finished: dag_id={dag_id}" in ingested[dag_id] and "state=success" in ingested[dag_id]
    lake = Lake(settings.lake)
    log = load_log.read(lake).to_pylist()
    for dataset in EXPECTED[dag_id]:
        runs = [r for r in log if r["dataset"] == dataset]
        assert runs and runs[-1]["status"] == "success"
        assert runs[-1]["rows_in"] == runs[-1]["rows_landed"] + runs[-1]["rows_quarantined"] > 0
        assert Path(lake.files("raw", dataset)[0]).exists()


@pytest.mark.airflow
def test_model_dag_builds_tests_and_publishes(airflow) -> None:
    """After the ingestion DAGs above: the Cosmos-rendered modelling DAG builds every node and publishes."""
    settings, env = airflow
    parse_manifest(settings)
    run_dag("model_marts", env)
    state = current(Lake(settings.lake))
    assert state is not None and state["models"]["mart_district_scorecard"] == 13
    log = (Path(env["AIRFLOW_HOME"]) / "demo-logs" / "model_marts.log").read_text(errors="replace")
    assert "dbt.fct_exceedance" in log or "fct_exceedance" in log
    con = duckdb.connect(str(settings.catalog), read_only=True)
    assert con.execute("select count(*) from shared.fct_monitoring_hourly").fetchone()[0] > 40 * 24


@pytest.mark.airflow
def test_dispatch_dag_sends_the_ledger_and_folds_the_case_updates_back(airflow) -> None:
    """After the modelling DAG: every published problem sent once, its case updates landed, the ledger rebuilt."""
    settings, env = airflow
    with DemoSources(settings, day=0):
        run_dag("dispatch_problems", env)
    lake = Lake(settings.lake)
    acks = lake.read_table("_meta", "dispatch", "acks").column("problem_id").to_pylist()
    con = duckdb.connect(str(settings.catalog), read_only=True)
    problems = {r[0] for r in con.execute("select problem_id from shared.fct_problem").fetchall()}
    assert problems and sorted(acks) == sorted(problems)
    assert con.execute("select count(*) from shared.fct_problem where dispatched_at is not null").fetchone()[0] > 0
    assert con.execute("select count(*) from shared.mart_problem_loop").fetchone()[0] >= 13


@pytest.mark.airflow
def test_quality_dag_records_freshness(airflow) -> None:
    settings, env = airflow
    run_dag("quality_checks", env)
    freshness = Lake(settings.lake).read_table("_meta", "freshness").to_pylist()
    states = {r["dataset"]: r["state"] for r in freshness}
    assert states["permit"] == "fresh" and states["monitoring_hourly"] in ("fresh", "late", "stale")


@pytest.mark.airflow
def test_table_maintenance_dag_expires_snapshots_and_keeps_what_readers_need(airflow) -> None:
    """After the publishes above: every published table has its snapshots; maintenance keeps the current ones."""
    from envlake.publishing.iceberg import history

    settings, env = airflow
    before = history(settings, "shared", "mart_district_scorecard")
    run_dag("maintain_tables", env)
    after = history(settings, "shared", "mart_district_scorecard")
    assert before and after and after[-1] == before[-1]
    con = duckdb.connect(str(settings.catalog), read_only=True)
    assert con.execute("select count(*) from shared.mart_district_scorecard").fetchone()[0] == 13
