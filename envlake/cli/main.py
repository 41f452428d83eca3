"""envlake: the command line of Hangzhou's shared eco-environment data lake."""

from __future__ import annotations

import typer

from envlake.cli import (
    access_cmd,
    catalog_cmd,
    cluster_cmd,
    contracts_cmd,
    dashboards_cmd,
    demo_cmd,
    ingest_cmd,
    lake_cmd,
    models_cmd,
    quality_cmd,
    query_cmd,
    receiver_cmd,
    serve_cmd,
    simulate_cmd,
    status_cmd,
)

app = typer.Typer(
    help="envlake — 杭州生态环境共享数据湖: land departmental feeds, check them, share them.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.command("ingest")(ingest_cmd.ingest)
app.command("demo")(demo_cmd.demo)
app.command("status")(status_cmd.status)
app.command("serve")(serve_cmd.serve)
app.command("query")(query_cmd.query)
app.command("hj212-receiver")(receiver_cmd.hj212_receiver)
app.add_typer(access_cmd.app, name="access")
app.add_typer(catalog_cmd.app, name="catalog")
app.add_typer(cluster_cmd.app, name="cluster")
app.add_typer(contracts_cmd.app, name="contracts")
app.add_typer(dashboards_cmd.app, name="dashboards")
app.add_typer(lake_cmd.app, name="lake")
app.add_typer(models_cmd.app, name="models")
app.add_typer(quality_cmd.app, name="quality")
app.add_typer(simulate_cmd.app, name="simulate")

if __name__ == "__main__":
    app()
