"""envlake models: generate dbt YAML from contracts, build the marts, publish them, show what is published."""

from __future__ import annotations

from contextlib import nullcontext
from typing import Annotated

import typer

from envlake.cli.output import console, fail, print_json, print_table
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling import codegen
from envlake.modelling.runner import DbtRunError, parse_manifest
from envlake.publishing.build import build_and_publish
from envlake.publishing.catalog import sync_catalog
from envlake.publishing.gate import PublishBlocked
from envlake.publishing.publish import publish
from envlake.publishing.reader import current

app = typer.Typer(help="dbt models: generate their YAML from contracts, build, test and publish.",
                  no_args_is_help=True)


@app.command("generate")
def generate(check: Annotated[bool, typer.Option("--check", help="Only report files out of date.")] = False) -> None:
    """Write the dbt sources and staging YAML from the contracts (or, with --check, fail if out of date)."""
    if check:
        stale = codegen.check()
        if stale:
            fail(f"{len(stale)} generated dbt files are out of date: {', '.join(p.name for p in stale)}",
                 "run `envlake models generate`")
        console.print("dbt YAML matches the contracts")
        return
    changed = codegen.generate()
    console.print(f"{len(changed)} files written" + "".join(f"\n  {p}" for p in changed), highlight=False)


@app.command("parse")
def parse() -> None:
    """dbt parse: write the manifest the modelling DAG is rendered from."""
    try:
        console.print(f"manifest written: {parse_manifest()}", highlight=False)
    except DbtRunError as exc:
        fail(str(exc))


def _vars(values: list[str]) -> dict[str, str]:
    out = {}
    for v in values:
        key, sep, value = v.partition("=")
        if not sep:
            fail(f"--var {v!r} is not KEY=VALUE", "for example --var as_of_date=2026-01-31")
        out[key] = value
    return out


@app.command("build")
def build(
    select: Annotated[list[str] | None, typer.Option("--select", "-s", help="dbt selection (default: all).")] = None,
    var: Annotated[list[str] | None, typer.Option("--var", help="A dbt var, KEY=VALUE (repeatable).")] = None,
    no_publish: Annotated[bool, typer.Option("--no-publish", help="Build and test only.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """dbt build (seeds, models, snapshots, tests) into the build area, then publish if every test passed."""
    try:
        with console.status("dbt build", spinner="dots") if not as_json else nullcontext():
            cycle = build_and_publish(select=select, variables=_vars(var or []), publish_after=not no_publish,
                                      quiet=as_json)
    except (DbtRunError, PublishBlocked) as exc:
        fail(str(exc), "fix the data or the model, then build again")
    if cycle.run.failed or not cycle.run.success:
        fail(f"dbt build failed: {cycle.run.failure_summary()}", "fix the data or the model, then build again")
    out = {"success": cycle.run.success, "nodes": len(cycle.run.results),
           "version": cycle.published.version if cycle.published else None,
           "rows": cycle.published.rows if cycle.published else {}}
    if as_json:
        print_json(out)
        return
    console.print(f"dbt build: {len(cycle.run.results)} nodes passed")
    if cycle.published:
        print_table(f"published version {cycle.published.version}", ["model", "rows"],
                    [[k, v] for k, v in cycle.published.rows.items()])


@app.command("spark")
def spark_cmd(
    compare_only: Annotated[bool, typer.Option("--compare-only", help="Compare the last Spark build, no build.")]
    = False,
    with_tests: Annotated[bool, typer.Option("--with-tests", help="Run the data tests on Spark too.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Build the same models on Spark (dbt-spark, its own environment) and compare every mart with DuckDB's
    build area: row counts and per-column figures. Build on DuckDB first (`envlake models build`)."""
    from envlake.modelling import spark

    settings = Settings.from_env()
    if not settings.warehouse.exists():
        fail(f"no DuckDB build area at {settings.warehouse}", "run `envlake models build` first")
    seconds = None
    if not compare_only:
        try:
            with console.status("dbt build on Spark", spinner="dots") if not as_json else nullcontext():
                built = spark.build(settings, with_tests=with_tests)
        except DbtRunError as exc:
            fail(str(exc))
        if built.failed:
            names = ", ".join(f"{r.resource_type} {r.name}" for r in built.failed)
            fail(f"dbt on Spark failed: {names}", f"see {built.home / 'dbt.log'}")
        seconds = round(built.seconds, 1)
    comparison = spark.compare(settings.warehouse, spark.spark_home(settings) / "warehouse")
    differences = comparison.differences
    out = {"marts": comparison.rows, "spark_seconds": seconds,
           "differences": [{"mart": d.mart, "figure": d.figure, "duckdb": d.duckdb, "spark": d.spark}
                           for d in differences]}
    if as_json:
        print_json(out)
    elif differences:
        print_table("DuckDB and Spark differ", ["mart", "figure", "duckdb", "spark"],
                    [[d.mart, d.figure, d.duckdb, d.spark] for d in differences])
    else:
        console.print(f"{len(comparison.rows)} marts: DuckDB and Spark agree (rows and every column's figures)")
    if differences:
        raise typer.Exit(1)


@app.command("publish")
def publish_cmd() -> None:
    """Publish what the build area holds now (after a successful `envlake models build --no-publish`)."""
    try:
        result = publish()
    except (DbtRunError, PublishBlocked) as exc:
        fail(str(exc))
    console.print(f"published version {result.version}: {len(result.rows)} models, catalog {result.catalog}")


@app.command("sync-catalog")
def sync_catalog_cmd(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """Bring this host's catalog file (ENVLAKE_CATALOG) to the published version, for Superset or another
    reader on a host other than the publisher's; run it on a timer there. Nothing is written when it is
    up to date."""
    settings = Settings.from_env()
    synced = sync_catalog(settings)
    if synced is None:
        fail(f"nothing has been published in {settings.lake} yet", "run the modelling DAG or `envlake models build`")
    version, rewritten = synced
    if as_json:
        print_json({"version": version, "rewritten": rewritten, "catalog": str(settings.catalog)})
        return
    console.print(f"catalog {settings.catalog}: version {version}, "
                  f"{'rewritten' if rewritten else 'already up to date'}", highlight=False)


@app.command("history")
def history_cmd(mart: Annotated[str, typer.Argument(help="A published mart, e.g. mart_district_scorecard")],
                zone: Annotated[str, typer.Option(help="curated or shared")] = "shared",
                as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """The kept snapshots of a published table (one per publish that changed it): what --as-of can read."""
    from pyiceberg.exceptions import NoSuchTableError

    from envlake.publishing.iceberg import history

    try:
        rows = history(Settings.from_env(), zone, mart)
    except NoSuchTableError:
        fail(f"no published table {zone}.{mart}", "`envlake models status` lists the published marts")
    if as_json:
        print_json(rows)
        return
    print_table(f"{zone}.{mart}: {len(rows)} snapshots", ["at", "version", "rows", "snapshot"],
                [[r["at"], r["version"], r["rows"], r["snapshot_id"]] for r in rows])


@app.command("expire")
def expire_cmd(days: Annotated[float | None, typer.Option(help="Retention (ENVLAKE_SNAPSHOT_RETENTION_DAYS, 30)")]
               = None) -> None:
    """Expire old snapshots of the published tables and remove the files nothing keeps (the maintain_tables
    DAG does this daily)."""
    from datetime import timedelta

    from envlake.publishing.publish import expire_and_clean

    result = expire_and_clean(Settings.from_env(), timedelta(days=days) if days is not None else None)
    console.print(f"snapshots expired: {result['snapshots_expired']}, files removed: {result['files_removed']}")


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json", help="Print as JSON.")] = False) -> None:
    """The version readers see now, and its models' row counts."""
    state = current(Lake(Settings.from_env().lake))
    if state is None:
        fail("nothing has been published yet", "run `envlake models build`")
    if as_json:
        print_json(state)
        return
    print_table(f"published {state['version']} at {state['published_at']}", ["model", "rows"],
                [[k, v] for k, v in state["models"].items()])
    console.print(f"catalog: {state['catalog']}", highlight=False)
