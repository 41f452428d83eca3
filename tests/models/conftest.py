"""A lake landed from the simulated departments without Airflow, then modelled and published once.

Day 9 of the simulation: the waste export then carries manifests still open from earlier days, so an
overdue confirmation can show. Monitoring is sent by the first OUTLETS loggers only, to keep it quick.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.airflow_tasks import land, land_landing_files, land_waste_drops
from connectors.hj212.landing import landing_folder
from connectors.hj212.receiver import ReceiverThread
from connectors.modelling.build import CycleResult, build_and_publish
from connectors.settings import Settings
from simulators.demo_sources import DemoSources
from simulators.ground_truth import read_ground_truth
from tests.conftest import SEED, START, free_port

DAY = 9
OUTLETS = 300
API_DATASETS = ("permit", "permit_outlet_limit", "credit_rating", "district", "pollutant_code", "hw_code",
                "disposal_licence", "air_station_hourly", "water_section_reading")


@dataclass
class ModelledLake:
    settings: Settings
    cycle: CycleResult
    ground_truth: dict[str, list[dict]]
    sent_mns: set[str]


def land_day(settings: Settings, day: int, outlets: int) -> set[str]:
    """Serve one simulated day and land every feed of it, as the ingestion DAGs do."""
    with DemoSources(settings, day) as sources:
        port = free_port()
        with ReceiverThread(landing_folder(settings), "127.0.0.1", port):
            sources.send_monitoring("127.0.0.1", port, outlets=outlets)
        for dataset in API_DATASETS:
            land(dataset)
        land_landing_files("monitoring_hourly")
        land_landing_files("monitoring_daily")
        land_waste_drops()
    from datetime import date

    from simulators.departments import departments
    from simulators.monitoring import monitoring_day

    depts = departments(settings.sim_seed, settings.sim_start_date)
    days = monitoring_day(depts.limits, settings.sim_seed, date.fromisoformat(settings.sim_start_date), day)
    return {d.mn for d in days[:outlets]}


@pytest.fixture(scope="session")
def modelled_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelledLake]:
    root = tmp_path_factory.mktemp("modelled")
    saved = dict(os.environ)
    os.environ.update({
        "ENVLAKE_LAKE": str(root / "lake"), "ENVLAKE_SIM_DIR": str(root / "sim"),
        "ENVLAKE_CREDIT_DB_URL": f"sqlite:///{root / 'sim' / 'credit.sqlite'}",
        "ENVLAKE_PERMIT_API_URL": f"http://127.0.0.1:{free_port()}",
        "ENVLAKE_STATION_API_URL": f"http://127.0.0.1:{free_port()}",
        "ENVLAKE_SIM_SEED": str(SEED), "ENVLAKE_SIM_START": START, "ENVLAKE_TASK_RETRIES": "0",
    })
    for key in ("ENVLAKE_WAREHOUSE", "ENVLAKE_CATALOG", "ENVLAKE_LANDING"):
        os.environ.pop(key, None)
    try:
        settings = Settings.from_env()
        sent = land_day(settings, DAY, OUTLETS)
        cycle = build_and_publish(settings)
        yield ModelledLake(settings, cycle, read_ground_truth(Path(settings.sim_dir) / "ground_truth", DAY), sent)
    finally:
        os.environ.clear()
        os.environ.update(saved)
