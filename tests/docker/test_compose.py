"""The production compose file: valid against the Compose Specification, and running the same commands,
ports and variables as `make cluster` and the native services (no Docker engine runs here)."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import jsonschema
import pytest
import yaml

from envlake.access.config import AccessSettings
from envlake.dashboards.service import Superset, serve_args
from envlake.kernel.settings import REPO_ROOT, Settings
from envlake.orchestration.cluster.processes import ClusterConfig, cluster_env, cluster_processes

DOCKER = REPO_ROOT / "docker"
SPEC = REPO_ROOT / "tests" / "data" / "compose-spec.json"
LONG_RUNNING = ("postgres", "redis", "minio", "api-server", "scheduler", "dag-processor", "triggerer",
                "worker-warehouse", "worker", "hj212-receiver", "query-service", "superset")
VARIABLE = re.compile(r"\$\{(\w+)(?:(:?-)([^}]*)|:\?([^}]*))?\}")


def _dotenv(path: Path) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))
    return {k.strip(): v.strip() for k, v in pairs}


def _interpolate(value: object, variables: dict[str, str]) -> object:
    """Compose's variable interpolation (${VAR}, ${VAR:-default}, ${VAR:?error}); $$ is a literal $."""
    if isinstance(value, dict):
        return {k: _interpolate(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, variables) for v in value]
    if not isinstance(value, str):
        return value

    def one(match: re.Match) -> str:
        name, _, default, required = match.groups()
        if required is not None and not variables.get(name):
            raise AssertionError(f"${{{name}}} is required but not in .env.example")
        return variables.get(name) or default or ""

    return VARIABLE.sub(one, value.replace("$$", "\0")).replace("\0", "$")


@pytest.fixture(scope="module")
def raw() -> dict:
    return yaml.safe_load((DOCKER / "compose.yaml").read_text())


@pytest.fixture(scope="module")
def compose(raw: dict) -> dict:
    return _interpolate(raw, _dotenv(DOCKER / ".env.example"))


@pytest.fixture(scope="module")
def native(compose: dict, monkeypatch_module) -> tuple[ClusterConfig, dict[str, str]]:
    """The cluster `make cluster` would run with the platform containers' environment."""
    for key, value in compose["services"]["api-server"]["environment"].items():
        monkeypatch_module.setenv(key, str(value))
    config = ClusterConfig.from_env()
    return config, cluster_env(Settings.from_env(), config)


@pytest.fixture(scope="module")
def monkeypatch_module():
    with pytest.MonkeyPatch.context() as mp:
        yield mp


def test_compose_file_is_valid_against_the_compose_specification(raw: dict, compose: dict) -> None:
    schema = json.loads(SPEC.read_text())
    jsonschema.Draft7Validator(schema).validate(raw)
    jsonschema.Draft7Validator(schema).validate(compose)
    assert set(LONG_RUNNING) <= set(compose["services"])


def test_every_long_running_service_has_a_health_check_and_its_volumes_are_declared(compose: dict) -> None:
    for name in LONG_RUNNING:
        assert compose["services"][name].get("healthcheck", {}).get("test"), name
    declared = set(compose["volumes"])
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":", 1)[0]
            assert source.startswith(".") or source in declared, f"{name}: volume {source} not declared"


def test_airflow_processes_run_what_make_cluster_runs(compose: dict, native) -> None:
    config, _ = native
    services = compose["services"]
    processes = {p.name: list(p.args) for p in cluster_processes(config)}
    for name in ("api-server", "scheduler", "dag-processor", "triggerer"):
        assert services[name]["command"] == processes[name], name
    workers = [_without_celery_hostname(processes[name]) for name in config.workers]
    assert services["worker-warehouse"]["command"] == workers[0]
    assert services["worker"]["command"] == workers[1]
    assert services["worker"]["deploy"]["replicas"] not in (None, "", "0")
    assert f"{config.api_port}:{config.api_port}" in services["api-server"]["ports"][0]


def test_the_platform_containers_set_every_variable_the_native_cluster_sets(compose: dict, native) -> None:
    _, env = native
    containers = compose["services"]["scheduler"]["environment"]
    for key, value in env.items():
        if not key.startswith("AIRFLOW__"):
            continue
        assert key in containers, f"{key} is missing from compose.yaml"
        if "/" not in value and "127.0.0.1" not in value:  # paths and addresses differ by host
            assert str(containers[key]) == value, key


def test_the_other_services_listen_where_the_native_ones_do(compose: dict, monkeypatch_module) -> None:
    services = compose["services"]
    for key in [k for k in os.environ if k.startswith(("ENVLAKE_", "SUPERSET_"))]:
        monkeypatch_module.delenv(key)
    access, settings, superset = AccessSettings.from_env(Settings.from_env()), Settings.from_env(), Superset.from_env()
    query = services["query-service"]["command"]
    assert query[:2] == ["envlake", "serve"] and query[query.index("--port") + 1] == str(access.port)
    receiver = services["hj212-receiver"]["command"]
    assert receiver[:2] == ["envlake", "hj212-receiver"]
    assert receiver[receiver.index("--port") + 1] == str(settings.hj212_port)
    assert services["superset"]["command"] == ["gunicorn", *serve_args(f"0.0.0.0:{superset.port}")]
    for name, port in (("query-service", access.port), ("hj212-receiver", settings.hj212_port),
                       ("superset", superset.port)):
        assert any(p.endswith(f":{port}") for p in services[name]["ports"]), name


def _without_celery_hostname(args: list[str]) -> list[str]:
    """Containers name their workers after the container's own host name."""
    i = args.index("--celery-hostname")
    return args[:i] + args[i + 2:]


def test_superset_reads_the_same_lake_folders_as_the_local_one(compose: dict, monkeypatch_module) -> None:
    from envlake.dashboards.service import READABLE

    lake_uri = compose["services"]["api-server"]["environment"]["ENVLAKE_LAKE"]
    allowed = json.loads(compose["services"]["superset"]["environment"]["ENVLAKE_SUPERSET_ALLOWED_DIRS"])
    assert allowed == [f"{lake_uri}/{'/'.join(parts)}" for parts in READABLE]
