"""envlake dashboards: a local Superset (install, start, stop) and the dashboards deployed to it as code."""

from __future__ import annotations

from typing import Annotated

import typer

from envlake.cli.output import console, fail, print_json
from envlake.kernel.settings import Settings

app = typer.Typer(help="Leaders' dashboards in Superset: start it, deploy the dashboards and roles, stop it.",
                  no_args_is_help=True)


def start_superset() -> str:
    """Install, initialise and start the local Superset; returns its address."""
    from envlake.dashboards.service import Superset, SupersetError

    superset = Superset.from_env()
    try:
        with console.status("Superset: installing its venv, initialising its metadata, starting"):
            superset.up()
    except SupersetError as exc:
        fail(str(exc))
    return superset.url


def deploy_dashboards(url: str | None = None) -> dict:
    from envlake.dashboards.client import SupersetAPIError, SupersetClient
    from envlake.dashboards.deploy import deploy
    from envlake.dashboards.service import Superset

    superset = Superset.from_env()
    settings = Settings.from_env()
    if not settings.catalog.exists():
        fail(f"no published catalog at {settings.catalog}", "run `make demo` or `envlake models build` first")
    from envlake.publishing.superset_catalogs import city_catalog

    if not city_catalog(settings.catalog).exists():  # a lake published before Superset had catalogs of its own
        fail(f"no Superset catalog at {city_catalog(settings.catalog)}", "run `envlake models sync-catalog`")
    try:
        with SupersetClient(url or superset.url, superset.admin_user, superset.admin_password) as client:
            report = deploy(client, settings.catalog)
    except SupersetAPIError as exc:
        fail(str(exc), "is Superset running? `make superset`")
    except Exception as exc:
        fail(f"deploying to {url or superset.url} failed: {exc}", "is Superset running? `make superset`")
    return {"url": url or superset.url, "charts": report.charts, "dashboards": report.dashboards,
            "roles": report.roles, "users": report.users, "rls_rules": report.rls_rules}


@app.command("up")
def up() -> None:
    """Install (own venv from envlake/dashboards/superset/uv.lock), initialise and start Superset on 127.0.0.1."""
    from envlake.dashboards.service import Superset

    url = start_superset()
    s = Superset.from_env()
    console.print(f"Superset: {url}/ (login {s.admin_user} / {s.admin_password}); stop: `make superset-stop`",
                  highlight=False)


@app.command("deploy")
def deploy_cmd(url: Annotated[str | None, typer.Option(help="Superset address (default: the local one).")] = None,
               as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Deploy both dashboards, their datasets and charts, the department roles, users and row security."""
    result = deploy_dashboards(url)
    if as_json:
        print_json(result)
        return
    for title, dashboard_id in result["dashboards"].items():
        console.print(f"{title}: {result['url']}/superset/dashboard/{dashboard_id}/", highlight=False)
    console.print(f"{result['charts']} charts, {len(result['roles'])} roles, {len(result['users'])} users, "
                  f"{len(result['rls_rules'])} row-level security rules", highlight=False)


@app.command("stop")
def stop() -> None:
    """Stop the local Superset (by its pid file)."""
    from envlake.dashboards.service import Superset

    console.print("Superset stopped" if Superset.from_env().stop() else "Superset was not running")
