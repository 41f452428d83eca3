"""Start every simulated department for one simulated day, and stop them afterwards."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from types import TracebackType
from urllib.parse import urlparse

from envlake.kernel.settings import Settings
from envlake.simulators import credit_db, enforcement, permit_api
from envlake.simulators.departments import departments
from envlake.simulators.filedrops import write_filedrops
from envlake.simulators.ground_truth import write_ground_truth
from envlake.simulators.loggers import send_all
from envlake.simulators.monitoring import monitoring_day
from envlake.simulators.waste import write_exports, write_reference


def enforcement_db_url(settings: Settings) -> str:
    """The simulated enforcement system keeps its cases in its own database, beside the other simulators."""
    return f"sqlite:///{Path(settings.sim_dir) / 'enforcement.sqlite'}"


class DemoSources:
    def __init__(self, settings: Settings, day: int):
        self.settings, self.day = settings, day
        self.servers: list = []
        self.sent_mns: set[str] = set()

    def __enter__(self) -> DemoSources:
        s = self.settings
        write_filedrops(s.sim_dir / "filedrops")
        depts = departments(s.sim_seed, s.sim_start_date)
        write_reference(s.sim_dir / "filedrops", s.sim_seed)
        write_exports(s.landing_dir / "waste", depts.permits, s.sim_seed, date.fromisoformat(s.sim_start_date),
                      self.day)
        write_ground_truth(s.sim_dir / "ground_truth", depts, s.sim_seed, date.fromisoformat(s.sim_start_date),
                           self.day)
        if s.credit_db_url.startswith("sqlite:///"):
            Path(s.credit_db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        credit_db.sync(s.credit_db_url, self.day, s.sim_seed, s.sim_start_date)
        self.servers = []
        for api_url, endpoints in ((s.permit_api_url, permit_api.permit_endpoints),
                                   (s.station_api_url, permit_api.station_endpoints)):
            url = urlparse(api_url)
            self.servers.append(permit_api.serve(url.hostname or "127.0.0.1", url.port or 80, s.sim_seed,
                                                 s.sim_start_date, self.day, endpoints))
        url = urlparse(s.enforcement_api_url)
        self.servers.append(enforcement.serve(url.hostname or "127.0.0.1", url.port or 80,
                                              enforcement_db_url(s), s.sim_start_date, self.day))
        return self

    def send_monitoring(self, host: str, port: int, outlets: int | None = None) -> int:
        """Every outlet's logger (or the first ``outlets``, by default ``ENVLAKE_SIM_LOGGERS``) sends the day's
        hourly and daily packets; returns the packets answered."""
        s = self.settings
        outlets = outlets if outlets is not None else s.sim_loggers
        depts = departments(s.sim_seed, s.sim_start_date)
        days = monitoring_day(depts.limits, s.sim_seed, date.fromisoformat(s.sim_start_date), self.day)[:outlets]
        self.sent_mns = {d.mn for d in days}
        results = asyncio.run(send_all(host, port, days))
        return sum(len(r.acknowledged) for r in results)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def scratch_environment(root: Path, seed: int | None = None, start: str | None = None) -> Iterator[Settings]:
    """Every setting pointed at a throwaway lake and simulator folder under ``root``, with the simulated
    departments on free ports; the environment is restored afterwards (tests and benchmarks)."""
    saved = dict(os.environ)
    os.environ.update({
        "ENVLAKE_LAKE": str(root / "lake"), "ENVLAKE_SIM_DIR": str(root / "sim"),
        "ENVLAKE_CREDIT_DB_URL": f"sqlite:///{root / 'sim' / 'credit.sqlite'}",
        "ENVLAKE_PERMIT_API_URL": f"http://127.0.0.1:{free_port()}",
        "ENVLAKE_STATION_API_URL": f"http://127.0.0.1:{free_port()}", "ENVLAKE_TASK_RETRIES": "0",
        "ENVLAKE_ENFORCEMENT_API_URL": f"http://127.0.0.1:{free_port()}",
        **({"ENVLAKE_SIM_SEED": str(seed)} if seed is not None else {}),
        **({"ENVLAKE_SIM_START": start} if start is not None else {}),
    })
    for key in ("ENVLAKE_WAREHOUSE", "ENVLAKE_CATALOG", "ENVLAKE_LANDING"):
        os.environ.pop(key, None)
    try:
        yield Settings.from_env()
    finally:
        os.environ.clear()
        os.environ.update(saved)


API_DATASETS = ("permit", "permit_outlet_limit", "credit_rating", "district", "pollutant_code", "hw_code",
                "disposal_licence", "air_station_hourly", "water_section_reading", "complaint")


def land_every_feed(settings: Settings, day: int, outlets: int | None = None, monitoring: bool = True) -> set[str]:
    """Serve one simulated day and land every feed of it as the ingestion DAGs do, without Airflow (tests and
    benchmarks). Returns the MNs of the loggers that sent (the first ``outlets``)."""
    from connectors.hj212.landing import landing_folder
    from connectors.hj212.receiver import ReceiverThread
    from envlake.orchestration.tasks import land, land_landing_files, land_waste_drops

    with DemoSources(settings, day) as sources:
        if monitoring:
            port = free_port()
            with ReceiverThread(landing_folder(settings), "127.0.0.1", port):
                sources.send_monitoring("127.0.0.1", port, outlets=outlets)
        for dataset in API_DATASETS:
            land(dataset)
        if monitoring:
            land_landing_files("monitoring_hourly")
            land_landing_files("monitoring_daily")
        land_waste_drops()
        return sources.sent_mns
