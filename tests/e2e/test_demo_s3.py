"""The demo against an S3-compatible object store (moto_server on 127.0.0.1): every writer and reader goes
through ``ENVLAKE_LAKE=s3://…`` — connectors, the HJ 212 receiver's landing files, dbt, the gates, the
catalogue, the Iceberg tables and the departments' query service. Only the build area and the readers'
catalog file are local (DuckDB files)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import boto3
import duckdb
import httpx
import pytest

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.publishing.iceberg import state_as_of
from envlake.publishing.reader import current
from tests.conftest import free_port

BUCKET = "envlake-demo"


@pytest.fixture
def object_store(tmp_path: Path) -> Iterator[dict[str, str]]:
    port = free_port()
    server = subprocess.Popen([str(Path(sys.executable).parent / "moto_server"), "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                httpx.get(endpoint, timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        keys = {"AWS_ACCESS_KEY_ID": "envlake", "AWS_SECRET_ACCESS_KEY": "envlake-secret",
                "AWS_DEFAULT_REGION": "us-east-1"}
        boto3.client("s3", endpoint_url=endpoint, **{"aws_access_key_id": keys["AWS_ACCESS_KEY_ID"],
                                                     "aws_secret_access_key": keys["AWS_SECRET_ACCESS_KEY"],
                                                     "region_name": "us-east-1"}).create_bucket(Bucket=BUCKET)
        yield {"ENVLAKE_LAKE": f"s3://{BUCKET}/lake", "ENVLAKE_S3_ENDPOINT": endpoint, **keys}
    finally:
        server.terminate()
        server.wait(10)


@pytest.mark.e2e
@pytest.mark.timeout(1500)
def test_the_demo_runs_on_object_storage(tmp_path: Path, object_store: dict[str, str],
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("ENVLAKE_", "AIRFLOW", "DBT_"))}
    env.update(object_store)
    for name in ("ENVLAKE_PERMIT_API_URL", "ENVLAKE_STATION_API_URL", "ENVLAKE_ENFORCEMENT_API_URL"):
        env[name] = f"http://127.0.0.1:{free_port()}"
    env["ENVLAKE_HJ212_PORT"] = str(free_port())
    env["ENVLAKE_SIM_LOGGERS"] = "300"  # the first 300 outlets' loggers send: the same work around fewer readings
    done = subprocess.run([sys.executable, "-m", "envlake.cli.main", "demo", "--json", "--no-dashboards"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-3000:]
    output = json.loads(done.stdout)

    for key, value in object_store.items():
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    settings = Settings.from_env()
    lake = Lake(settings.lake)
    assert not lake.is_local
    # nothing of the lake on the local disk but the build area, the catalog file and the access database
    assert not (tmp_path / "lake").exists()
    state = current(lake)
    assert state is not None and state["version"] == output["published"]["version"]
    assert set(state["models"]) == set(output["published"]["models"]) and len(state["models"]) >= 17
    for mart, entry in state["marts"].items():
        for zone in ("curated", "shared"):
            assert entry["files"][zone] and all(lake.exists(p) for p in entry["files"][zone]), (mart, zone)
            assert all(p.startswith(f"{BUCKET}/lake/{zone}/{mart}/") for p in entry["files"][zone])
    # the HJ 212 receiver's closed files were uploaded to the lake and landed from there
    assert lake.files("landing", "hj212", suffix=".hj212")
    assert not list((tmp_path / "landing" / "hj212").glob("*.hj212"))
    # readers: the catalog's views read s3:// through the registered filesystem
    con = lake.register(duckdb.connect(state["catalog"], read_only=True))
    assert con.execute("select count(*) from shared.mart_district_scorecard").fetchone()[0] == 13
    assert con.execute("select count(*) from lake_meta.load_log").fetchone()[0] > 0
    # the Iceberg tables say the same now
    now = state_as_of(settings, datetime_now())
    assert now is not None and {m: sorted(e["files"]["shared"]) for m, e in now["marts"].items()} == \
        {m: sorted(e["files"]["shared"]) for m, e in state["marts"].items()}
    # the catalogue, and a department's read through the query service's locked engine
    assert lake.read_bytes(lake.path("_meta", "catalogue", "catalogue.json"))
    audit = subprocess.run([sys.executable, "-m", "envlake.cli.main", "access", "audit", "--last", "100", "--json"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert audit.returncode == 0, audit.stderr
    outcomes = {r["outcome"] for r in json.loads(audit.stdout)["audit"]}
    assert "granted" in outcomes and "refused" in outcomes


def datetime_now():
    from datetime import UTC, datetime

    return datetime.now(UTC)
