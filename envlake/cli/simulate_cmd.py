"""envlake simulate: run the simulated departmental source systems."""

from __future__ import annotations

import time
from http.server import ThreadingHTTPServer
from pathlib import Path
from typing import Annotated
from urllib.parse import urlparse

import typer

from envlake.cli.output import console
from envlake.kernel.settings import Settings
from envlake.simulators import credit_db, enforcement, permit_api
from envlake.simulators.filedrops import write_filedrops

app = typer.Typer(help="Run the simulated departments (permit API, credit database, reference file drops).",
                  no_args_is_help=True)

DayOption = Annotated[int | None, typer.Option(help="Simulated day (days after ENVLAKE_SIM_START). "
                                                    "Default: ENVLAKE_SIM_DAY.")]


def serve_until_interrupted(server: ThreadingHTTPServer, what: str) -> None:
    console.print(f"{what}; Ctrl-C stops it")
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.shutdown()


@app.command("permit-api")
def permit_api_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port. Default: the port of ENVLAKE_PERMIT_API_URL.")] = None,
    day: DayOption = None,
) -> None:
    """Serve the permit platform's HTTP API until interrupted (Ctrl-C)."""
    s = Settings.from_env()
    port = port or urlparse(s.permit_api_url).port or 8701
    the_day = s.sim_day if day is None else day
    server = permit_api.serve(host, port, s.sim_seed, s.sim_start_date, the_day)
    serve_until_interrupted(server, f"permit API on http://{host}:{port}/api/v1/permits (day {the_day})")


@app.command("station-api")
def station_api_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port. Default: the port of ENVLAKE_STATION_API_URL.")] = None,
    day: DayOption = None,
) -> None:
    """Serve the monitoring centre's air-station and water-section API until interrupted (Ctrl-C)."""
    s = Settings.from_env()
    port = port or urlparse(s.station_api_url).port or 8702
    the_day = s.sim_day if day is None else day
    server = permit_api.serve(host, port, s.sim_seed, s.sim_start_date, the_day, permit_api.station_endpoints)
    serve_until_interrupted(server, f"station API on http://{host}:{port}/api/v1/air-hourly and "
                                    f"/api/v1/water-sections (day {the_day})")


@app.command("enforcement")
def enforcement_cmd(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int | None, typer.Option(help="Port. Default: the port of ENVLAKE_ENFORCEMENT_API_URL.")] = None,
    day: DayOption = None,
) -> None:
    """Serve the district enforcement system (cases in, case updates out) until interrupted (Ctrl-C)."""
    from envlake.simulators.demo_sources import enforcement_db_url

    s = Settings.from_env()
    port = port or urlparse(s.enforcement_api_url).port or 8703
    the_day = s.sim_day if day is None else day
    server = enforcement.serve(host, port, enforcement_db_url(s), s.sim_start_date, the_day)
    serve_until_interrupted(server, f"enforcement system on http://{host}:{port}/api/v1/cases and "
                                    f"/api/v1/case-updates (day {the_day})")


@app.command("credit-db")
def credit_db_cmd(
    url: Annotated[str | None, typer.Option(help="Database URL. Default: ENVLAKE_CREDIT_DB_URL.")] = None,
    day: DayOption = None,
) -> None:
    """Bring the credit department's rating table to the state of a simulated day."""
    s = Settings.from_env()
    url = url or s.credit_db_url
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    changed = credit_db.sync(url, s.sim_day if day is None else day, s.sim_seed, s.sim_start_date)
    console.print(f"{credit_db.TABLE}: {changed} rows inserted or updated")


@app.command("filedrops")
def filedrops_cmd(
    out: Annotated[Path | None, typer.Option(help="Folder. Default: ENVLAKE_SIM_DIR/filedrops.")] = None,
) -> None:
    """Write the reference-data file drops (district.csv, pollutant_code.csv)."""
    folder = out or Settings.from_env().sim_dir / "filedrops"
    for path in write_filedrops(folder):
        console.print(f"wrote {path}")
