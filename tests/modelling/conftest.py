"""A lake landed from the simulated departments without Airflow, then modelled and published once.

Day 9 of the simulation: the waste export then carries manifests still open from earlier days, so an
overdue confirmation can show. Monitoring is sent by the first OUTLETS loggers only, to keep it quick.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from envlake.kernel.settings import Settings
from envlake.publishing.build import CycleResult, build_and_publish
from envlake.simulators.demo_sources import land_every_feed, scratch_environment
from envlake.simulators.ground_truth import read_ground_truth
from tests.conftest import SEED, START, once_per_process

DAY = 9
OUTLETS = 300


@dataclass
class ModelledLake:
    settings: Settings
    cycle: CycleResult
    ground_truth: dict[str, list[dict]]
    sent_mns: set[str]
    env: dict[str, str] = field(default_factory=dict)  # the ENVLAKE_ settings it was built with


def lake_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("ENVLAKE_")}


def apply_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    """A test runs with its lake's settings, whatever lake another session fixture on the same xdist worker
    set up since."""
    for key in [k for k in os.environ if k.startswith("ENVLAKE_") and k not in env]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)


@contextmanager
def _modelled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ModelledLake]:
    with scratch_environment(tmp_path_factory.mktemp("modelled"), SEED, START) as settings:
        sent = land_every_feed(settings, DAY, OUTLETS)
        cycle = build_and_publish(settings)
        yield ModelledLake(settings, cycle, read_ground_truth(Path(settings.sim_dir) / "ground_truth", DAY), sent,
                           lake_env())


@pytest.fixture(scope="session")
def modelled_lake(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> ModelledLake:
    """Built once per worker, for every folder that uses it (tests/conftest.py's scheduler sends them to one)."""
    return once_per_process(request, "modelled_lake", lambda: _modelled(tmp_path_factory))


@pytest.fixture(autouse=True)
def _modelled_lake_env(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    if "modelled_lake" in request.fixturenames:
        apply_env(monkeypatch, request.getfixturevalue("modelled_lake").env)
