"""Start every simulated department for one simulated day, and stop them afterwards."""

from __future__ import annotations

import asyncio
from datetime import date
from pathlib import Path
from types import TracebackType
from urllib.parse import urlparse

from connectors.settings import Settings
from simulators import credit_db, permit_api
from simulators.departments import departments
from simulators.filedrops import write_filedrops
from simulators.ground_truth import write_ground_truth
from simulators.loggers import send_all
from simulators.monitoring import monitoring_day
from simulators.waste import write_exports, write_reference


class DemoSources:
    def __init__(self, settings: Settings, day: int):
        self.settings, self.day = settings, day
        self.servers: list = []

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
        return self

    def send_monitoring(self, host: str, port: int, outlets: int | None = None) -> int:
        """Every outlet's logger (or the first ``outlets``) sends the day's hourly and daily packets;
        returns the packets answered."""
        s = self.settings
        depts = departments(s.sim_seed, s.sim_start_date)
        days = monitoring_day(depts.limits, s.sim_seed, date.fromisoformat(s.sim_start_date), self.day)[:outlets]
        results = asyncio.run(send_all(host, port, days))
        return sum(len(r.acknowledged) for r in results)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        for server in self.servers:
            server.shutdown()
            server.server_close()
