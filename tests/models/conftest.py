"""A lake landed from the simulated departments without Airflow, then modelled and published once.

Day 9 of the simulation: the waste export then carries manifests still open from earlier days, so an
overdue confirmation can show. Monitoring is sent by the first OUTLETS loggers only, to keep it quick.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.modelling.build import CycleResult, build_and_publish
from connectors.settings import Settings
from simulators.demo_sources import land_every_feed, scratch_environment
from simulators.ground_truth import read_ground_truth
from tests.conftest import SEED, START

DAY = 9
OUTLETS = 300


@dataclass
class ModelledLake:
    settings: Settings
    cycle: CycleResult
    ground_truth: dict[str, list[dict]]
    sent_mns: set[str]


@pytest.fixture(scope="session")
def modelled_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelledLake]:
    with scratch_environment(tmp_path_factory.mktemp("modelled"), SEED, START) as settings:
        sent = land_every_feed(settings, DAY, OUTLETS)
        cycle = build_and_publish(settings)
        yield ModelledLake(settings, cycle, read_ground_truth(Path(settings.sim_dir) / "ground_truth", DAY), sent)
