"""Shared fixtures of the security regression suite (issue 17). Each part adds its own section.

## The query service (tests/security/test_query_*.py)
The access tests' published lake (``catalogued``), with canaries planted where no department may read:
a Parquet and a CSV file in ``_meta/``, an older version folder of ``dim_enterprise`` in ``curated/`` and
``shared/``, and files outside the lake; plus every conditional value of ``curated/`` that appears nowhere
in ``shared/`` (the clear legal representatives and phones). A response that contains any of them leaked.
"""

from __future__ import annotations

import hashlib
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient

from envlake.access.api import create_app
from envlake.access.audit import read_audit
from envlake.access.config import build_service
from envlake.kernel.lake import Lake
from tests.access.conftest import Api, access_settings, catalogued  # noqa: F401 -- the shared lake fixture
from tests.modelling.conftest import ModelledLake

OLD_VERSION = "version=20200101t000000000000-canary"  # lower case: the gate folds case, a file path must not
CJK = re.compile("[\u4e00-\u9fff]")


@dataclass(frozen=True)
class Canaries:
    lake: ModelledLake
    curated: str  # dim_enterprise's file in curated/ (clear conditional columns)
    shared: str  # its file in shared/
    other_curated: str  # a curated/ file of a dataset without conditional columns
    meta_parquet: str
    meta_csv: str
    old_curated: str
    old_shared: str
    outside_parquet: str
    outside_csv: str
    symlink: str  # outside the lake, pointing at the curated file
    values: tuple[bytes, ...]  # what must never come back to a department without a grant
    pattern: re.Pattern[bytes]

    def leaked(self, body: bytes) -> bytes | None:
        found = self.pattern.search(body)
        return found.group(0) if found else None

    @property
    def forbidden_files(self) -> tuple[str, ...]:
        return (self.curated, self.other_curated, self.meta_parquet, self.meta_csv, self.old_curated,
                self.old_shared, self.outside_parquet, self.outside_csv, self.symlink)


def _strings(table: pa.Table) -> set[str]:
    out: set[str] = set()
    for column in table.columns:
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            out.update(v for v in pc.unique(column).to_pylist() if v)
    return out


@pytest.fixture(scope="session")
def canaries(catalogued: ModelledLake, tmp_path_factory: pytest.TempPathFactory) -> Canaries:  # noqa: F811
    lake = Lake(catalogued.settings.lake)
    service = build_service(catalogued.settings, "api", access_settings("sqlite:///:memory:"))
    published = service.published.get()
    enterprise = published.datasets["dim_enterprise"]
    other = next(d for d in published.datasets.values() if not d.grantable)
    service.engine.close()
    token = f"CANARY-{uuid.uuid4().hex[:12]}"
    marker = pa.table({"secret": [f"{token}-meta"], "legal_representative": [f"{token}-person"]})

    meta = Path(lake.path("_meta", "security_canary"))
    meta.mkdir(parents=True, exist_ok=True)
    pq.write_table(marker, meta / "canary.parquet")
    pacsv.write_csv(pa.table({"secret": [f"{token}-meta-csv"]}), meta / "canary.csv")
    old = {}
    for zone, current in (("curated", enterprise.curated_files[0]), ("shared", enterprise.shared_files[0])):
        folder = Path(lake.path(zone, "dim_enterprise", OLD_VERSION))
        folder.mkdir(parents=True, exist_ok=True)
        table = pq.read_table(current).slice(0, 3)
        table = table.set_column(table.schema.get_field_index("legal_representative"), "legal_representative",
                                 pa.array([f"{token}-old-{zone}"] * table.num_rows))
        pq.write_table(table, folder / "part-0.parquet")
        old[zone] = str(folder / "part-0.parquet")
    outside = tmp_path_factory.mktemp("outside-the-lake")
    pq.write_table(pa.table({"secret": [f"{token}-outside"]}), outside / "canary.parquet")
    pacsv.write_csv(pa.table({"secret": [f"{token}-outside-csv"]}), outside / "canary.csv")
    (outside / "linked.parquet").symlink_to(enterprise.curated_files[0])

    shared_text: set[str] = set()
    for dataset in published.datasets.values():
        for f in dataset.shared_files:
            shared_text |= _strings(pq.read_table(f))
    # a clear value counts only if no shared/ text holds it, even inside a longer string (an enterprise named
    # after its legal representative): names are looked for in Chinese text, phones in digit runs
    chinese = "\n".join(s for s in shared_text if CJK.search(s))
    digits = "\n".join(s for s in shared_text if re.search(r"\d{7}", s))
    clear = pq.read_table(enterprise.curated_files[0], columns=enterprise.grantable)
    secrets = {v for v in _strings(clear) if len(v) >= 2 and (CJK.search(v) or re.fullmatch(r"\d{7,}", v))
               and v not in (chinese if CJK.search(v) else digits)}
    assert len(secrets) > 50, "the lake should hold clear conditional values only curated/ has"
    values = tuple(sorted({v.encode() for v in secrets} | {token.encode()}, key=len, reverse=True))
    pattern = re.compile(b"|".join(re.escape(v) for v in values))
    return Canaries(catalogued, enterprise.curated_files[0], enterprise.shared_files[0], other.curated_files[0],
                    str(meta / "canary.parquet"), str(meta / "canary.csv"), old["curated"], old["shared"],
                    str(outside / "canary.parquet"), str(outside / "canary.csv"), str(outside / "linked.parquet"),
                    values, pattern)


@dataclass
class QueryApi(Api):
    canaries: Canaries | None = None

    def ask(self, headers: dict[str, str], sql: str, fmt: str = "json") -> tuple[int, bytes]:
        response = self.client.post("/query", headers=headers, json={"sql": sql, "format": fmt})
        return response.status_code, response.content

    def rows(self, department: str) -> list[dict]:
        return read_audit(Lake(self.lake.settings.lake), department).to_pylist()


@pytest.fixture
def query_api(catalogued: ModelledLake, canaries: Canaries, tmp_path: Path) -> Iterator[QueryApi]:  # noqa: F811
    service = build_service(catalogued.settings, "api", access_settings(f"sqlite:///{tmp_path / 'access.sqlite'}"))
    with TestClient(create_app(service), raise_server_exceptions=False) as client:
        yield QueryApi(service, client, catalogued, canaries)


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
