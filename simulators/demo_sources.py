"""Start every simulated department for one simulated day, and stop them afterwards."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from urllib.parse import urlparse

from connectors.settings import Settings
from simulators import credit_db, permit_api
from simulators.filedrops import write_filedrops


class DemoSources:
    def __init__(self, settings: Settings, day: int):
        self.settings, self.day = settings, day
        self.server = None

    def __enter__(self) -> DemoSources:
        s = self.settings
        write_filedrops(s.sim_dir / "filedrops")
        if s.credit_db_url.startswith("sqlite:///"):
            Path(s.credit_db_url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        credit_db.sync(s.credit_db_url, self.day, s.sim_seed, s.sim_start_date)
        url = urlparse(s.permit_api_url)
        self.server = permit_api.serve(url.hostname or "127.0.0.1", url.port or 8701, s.sim_seed,
                                       s.sim_start_date, self.day)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
