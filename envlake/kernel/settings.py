"""Settings read from the environment, with embedded defaults for the demo.

Every component reads its configuration here, so that the same code runs against the
local folder and SQLite (demo) or object storage and PostgreSQL (production) by
environment alone.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[2]
# An XLSX export is refused beyond these (unzipped bytes, data rows): far above a department's daily
# export (thousands of rows, a few MB), far below what stalls a parse (a 1 MB file can unzip to 1 GB).
XLSX_MAX_BYTES = 256 * 2**20
XLSX_MAX_ROWS = 500_000


@dataclass(frozen=True)
class Settings:
    lake: str
    sim_dir: Path
    landing_dir: Path
    schemas_dir: Path
    sim_start_date: str
    sim_day: int
    sim_seed: int
    permit_api_url: str
    station_api_url: str
    enforcement_api_url: str
    hj212_port: int
    credit_db_url: str
    http_timeout_s: float
    http_retries: int
    sql_batch_rows: int
    warehouse: Path
    catalog: Path
    keep_published_versions: int
    # How many outlets' data loggers send HJ 212 packets in the demo (the first N; all when unset). The
    # end-to-end tests send a few hundred: the Airflow, dbt and Superset work around them is the same.
    sim_loggers: int | None = None
    xlsx_max_bytes: int = XLSX_MAX_BYTES
    xlsx_max_rows: int = XLSX_MAX_ROWS

    def api_url(self, owner_department: str) -> str:
        """A department serves its own API: the monitoring centre the stations, the bureau the permits."""
        if owner_department == "hzzhzf":  # the enforcement system: case updates back from the districts
            return self.enforcement_api_url
        return self.station_api_url if owner_department == "zjhjjczx" else self.permit_api_url

    @classmethod
    def from_env(cls) -> Settings:
        env = os.environ
        sim_dir = Path(env.get("ENVLAKE_SIM_DIR", str(Path.cwd() / "sim")))
        lake = env.get("ENVLAKE_LAKE", str(Path.cwd() / "lake"))
        return cls(
            lake=lake,
            landing_dir=Path(env.get("ENVLAKE_LANDING", str(Path(lake) / "landing") if "://" not in lake
                                     else str(Path.cwd() / "landing"))),
            sim_dir=sim_dir,
            schemas_dir=Path(env.get("ENVLAKE_SCHEMAS", str(REPO_ROOT / "schemas"))),
            sim_start_date=env.get("ENVLAKE_SIM_START", "2026-01-01"),
            sim_day=int(env.get("ENVLAKE_SIM_DAY", "0")),
            sim_seed=int(env.get("ENVLAKE_SIM_SEED", "20260101")),
            permit_api_url=env.get("ENVLAKE_PERMIT_API_URL", "http://127.0.0.1:8701"),
            station_api_url=env.get("ENVLAKE_STATION_API_URL", "http://127.0.0.1:8702"),
            enforcement_api_url=env.get("ENVLAKE_ENFORCEMENT_API_URL", "http://127.0.0.1:8703"),
            hj212_port=int(env.get("ENVLAKE_HJ212_PORT", "8212")),
            credit_db_url=env.get("ENVLAKE_CREDIT_DB_URL", f"sqlite:///{sim_dir / 'credit.sqlite'}"),
            http_timeout_s=float(env.get("ENVLAKE_HTTP_TIMEOUT", "30")),
            http_retries=int(env.get("ENVLAKE_HTTP_RETRIES", "4")),
            sql_batch_rows=int(env.get("ENVLAKE_SQL_BATCH_ROWS", "50000")),
            # The build area (one writer) and the readers' catalog are DuckDB files, so they live on a local
            # disk: inside a local lake by default, beside the working directory when the lake is remote.
            warehouse=Path(env.get("ENVLAKE_WAREHOUSE", str(_local_base(lake) / "_build" / "envlake.duckdb"))),
            catalog=Path(env.get("ENVLAKE_CATALOG", str(_local_base(lake) / "_meta" / "catalog" / "envlake.duckdb"))),
            keep_published_versions=int(env.get("ENVLAKE_KEEP_PUBLISHED_VERSIONS", "3")),
            sim_loggers=int(env["ENVLAKE_SIM_LOGGERS"]) if env.get("ENVLAKE_SIM_LOGGERS") else None,
            xlsx_max_bytes=int(env.get("ENVLAKE_XLSX_MAX_BYTES", str(XLSX_MAX_BYTES))),
            xlsx_max_rows=int(env.get("ENVLAKE_XLSX_MAX_ROWS", str(XLSX_MAX_ROWS))),
        )


def _local_base(lake: str) -> Path:
    if "://" in lake and not lake.startswith("file://"):
        return Path.cwd() / "warehouse"
    return Path(lake.removeprefix("file://")).resolve()


def connection_url(conn_id: str | None) -> str | None:
    """The URI of an Airflow connection, when Airflow runs us and has it; else None (the settings apply)."""
    if not conn_id:
        return None
    try:
        from airflow.sdk import Connection

        return Connection.get(conn_id).get_uri()
    except Exception:  # no such connection: fall back to settings
        log.info("no Airflow connection %s; using the environment's settings", conn_id)
        return None
