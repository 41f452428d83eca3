"""A lake of simulated day 9 with the 12369 complaints, one planted complaint carrying personal data in its
text, modelled and published once; the enforcement system on a free port."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import pytest

from connectors.writer import LakeWriter
from envlake.kernel.contracts import load_contract
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.publishing.build import CycleResult, build_and_publish
from envlake.simulators.complaints import resident_id
from envlake.simulators.demo_sources import DemoSources, land_every_feed, scratch_environment
from tests.conftest import SEED, START
from tests.modelling.conftest import DAY, OUTLETS, apply_env, lake_env

PLANTED_PHONE = "13912345678"


@dataclass
class LoopLake:
    settings: Settings
    cycle: CycleResult
    planted: dict
    env: dict


def planted_complaint() -> dict:
    import numpy as np

    id_number = resident_id(np.random.default_rng(5), "330106")
    return {"complaint_id": "12369202601109999", "reported_at": "2026-01-10T08:15:00", "district_code": "330106",
            "location": "文三路88号附近", "category": "异味",
            "description": f"我是欧阳明，住在附近。工厂散发刺鼻气味，联系电话{PLANTED_PHONE}。"
                           f"本人身份证号{id_number}，可以配合调查",
            "target_name": None, "complainant_name": "欧阳明", "complainant_phone": PLANTED_PHONE, "status": "已受理",
            "updated_at": "2026-01-10T09:00:00", "_id_number": id_number}


@pytest.fixture(scope="session")
def loop_lake(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoopLake]:
    with scratch_environment(tmp_path_factory.mktemp("loop"), SEED, START) as settings:
        land_every_feed(settings, DAY, OUTLETS)
        planted = planted_complaint()
        row = {k: v for k, v in planted.items() if not k.startswith("_")}
        table = pa.Table.from_pylist([{k: (datetime.fromisoformat(v) if k in ("reported_at", "updated_at") else v)
                                       for k, v in row.items()}])
        LakeWriter(Lake(settings.lake)).land(load_contract("complaint"), table, source="test:planted")
        cycle = build_and_publish(settings, quiet=True)
        yield LoopLake(settings, cycle, planted, lake_env())


@pytest.fixture(autouse=True)
def _loop_lake_env(loop_lake: LoopLake, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_env(monkeypatch, loop_lake.env)


@pytest.fixture
def enforcement(loop_lake: LoopLake) -> Iterator[DemoSources]:
    """The simulated departments of day 9, the enforcement system among them."""
    with DemoSources(loop_lake.settings, DAY) as sources:
        yield sources
