"""The access service on the modelled lake (the session's one published lake), with its own grants database."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from envlake.access.api import create_app
from envlake.access.audit import read_audit
from envlake.access.config import AccessSettings, build_service
from envlake.access.engine import Limits
from envlake.access.service import AccessService
from envlake.catalogue.build import write as write_catalogue
from envlake.kernel.lake import Lake
from envlake.publishing.build import build_and_publish
from envlake.simulators.demo_sources import land_every_feed, scratch_environment
from tests.conftest import SEED, START
from tests.modelling.conftest import DAY, OUTLETS, ModelledLake

_BUILT: dict[str, ModelledLake] = {}  # tests/security imports this fixture: one lake per process all the same


@pytest.fixture(scope="session")
def catalogued(tmp_path_factory: pytest.TempPathFactory) -> ModelledLake:
    """A lake landed, modelled, published and catalogued like the models tests', its own. The environment is
    restored once it is built: the service is given its settings, and the tests that follow see no trace."""
    if "lake" not in _BUILT:
        with scratch_environment(tmp_path_factory.mktemp("access"), SEED, START) as settings:
            sent = land_every_feed(settings, DAY, OUTLETS)
            cycle = build_and_publish(settings)
            write_catalogue(settings)
        _BUILT["lake"] = ModelledLake(settings, cycle, {}, sent)
    return _BUILT["lake"]


def access_settings(db_url: str, max_rows: int = 500, timeout_s: float = 20.0) -> AccessSettings:
    return AccessSettings(db_url, "127.0.0.1", 0, Limits(max_rows=max_rows, timeout_s=timeout_s), 0.0)


@dataclass
class Api:
    service: AccessService
    client: TestClient
    lake: ModelledLake

    def department(self, prefix: str = "dept") -> tuple[str, dict[str, str]]:
        """A new department: its code and the headers that carry its token."""
        code = f"{prefix}_{uuid.uuid4().hex[:8]}"
        token = self.service.store.add_department(code, f"测试部门{code[-4:]}", "test")
        return code, {"Authorization": f"Bearer {token}"}

    def audit(self, department: str) -> list[dict]:
        return read_audit(Lake(self.lake.settings.lake), department).to_pylist()


@pytest.fixture
def api(catalogued: ModelledLake, tmp_path: Path) -> Iterator[Api]:
    service = build_service(catalogued.settings, "api", access_settings(f"sqlite:///{tmp_path / 'access.sqlite'}"))
    with TestClient(create_app(service)) as client:
        yield Api(service, client, catalogued)
