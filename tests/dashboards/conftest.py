"""A real Superset for the dashboard tests: its own home and port, on the modelled lake, deployed once."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from envlake.access.walkthrough import run as access_walkthrough
from envlake.dashboards.client import SupersetClient
from envlake.dashboards.deploy import DeployReport, deploy
from envlake.dashboards.service import Superset
from envlake.publishing.publish import publish
from quality.dynamic_update import check
from quality.landed import validate_landed
from tests.conftest import free_port, once_per_process
from tests.modelling.conftest import ModelledLake, modelled_lake  # noqa: F401 - the session fixture, shared

ARTIFACTS = Path(os.environ.get("ENVLAKE_TEST_ARTIFACTS", Path(__file__).resolve().parents[2] / "test-artifacts"))


@dataclass
class DeployedSuperset:
    superset: Superset
    lake: ModelledLake
    report: DeployReport
    catalog: Path

    def client(self, user: str = "admin", password: str = "admin") -> SupersetClient:
        return SupersetClient(self.superset.url, user, password)


@pytest.fixture(scope="session")
def deployed(request: pytest.FixtureRequest, modelled_lake: ModelledLake,  # noqa: F811
             tmp_path_factory: pytest.TempPathFactory) -> DeployedSuperset:
    """Started and deployed once per worker, for tests/dashboards and tests/security/test_superset.py."""
    return once_per_process(request, "deployed", lambda: _deployed(modelled_lake, tmp_path_factory))


@contextmanager
def _deployed(modelled_lake: ModelledLake, tmp_path_factory: pytest.TempPathFactory) -> Iterator[DeployedSuperset]:  # noqa: F811
    settings = modelled_lake.settings
    validate_landed(settings)  # the health dashboard's records: batch results and freshness, then a publish
    check(settings)
    published = publish(settings)
    access_walkthrough(settings)  # the access audit the health dashboard summarises
    superset = Superset(tmp_path_factory.mktemp("superset"), free_port())
    try:  # scratch_environment (the modelled lake) has set ENVLAKE_LAKE: Superset's lock-down follows it
        superset.up()
        with SupersetClient(superset.url, superset.admin_user, superset.admin_password) as client:
            report = deploy(client, published.catalog)
        yield DeployedSuperset(superset, modelled_lake, report, published.catalog)
    finally:
        superset.stop()
