"""envlake demo: start the simulated departments, run every ingestion DAG once, show the lake."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from connectors.hj212.landing import landing_folder
from connectors.hj212.receiver import ReceiverThread
from envlake.cli.demo_tables import print_published, published_summary
from envlake.cli.lake_cmd import zone_rows
from envlake.cli.output import console, fail, print_json, print_table
from envlake.cli.status_cmd import print_status
from envlake.kernel import load_log
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.runner import DbtRunError, parse_manifest
from envlake.orchestration.runner import AirflowRunError, airflow_env, migrate, run_dags
from envlake.simulators.demo_sources import DemoSources

DEMO_DAGS = ("ingest_reference", "ingest_permits", "ingest_credit_rating", "ingest_monitoring", "ingest_stations",
             "ingest_waste", "ingest_complaints")
MODEL_DAG = "model_marts"
LOOP_DAG = "dispatch_problems"
QUALITY_DAG = "quality_checks"


def demo(
    day: Annotated[int | None, typer.Option(help="Simulated day to serve. Default: ENVLAKE_SIM_DAY.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
    with_dashboards: Annotated[bool, typer.Option("--dashboards/--no-dashboards",
                                                  help="Start Superset and deploy the dashboards at the end.")] = True,
) -> None:
    """Simulated departments → ingestion DAGs → quality DAG → modelling DAG → closed loop → catalogue →
    dashboards."""
    settings = Settings.from_env()
    settings = settings if day is None else replace(settings, sim_day=day)
    day = settings.sim_day
    lake = Lake(settings.lake)
    lake.ensure_zones()
    started = datetime.now(UTC)
    env = airflow_env(settings)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=console,
                  transient=not console.is_terminal, disable=as_json) as progress:
        step = progress.add_task(f"starting simulated departments (day {day})")
        with DemoSources(settings, day) as sources:
            progress.update(step, description="data loggers sending a day of HJ 212 packets to the receiver")
            with ReceiverThread(landing_folder(settings), "127.0.0.1", settings.hj212_port):
                sources.send_monitoring("127.0.0.1", settings.hj212_port)
            progress.update(step, description="preparing Airflow metadata (airflow db migrate)")
            try:
                migrate(env)
                progress.update(step, description="dbt parse (the manifest the modelling DAG is rendered from)")
                parse_manifest(settings, quiet=True)
                # quality after the feeds: the publish then finds the batch results and freshness for the
                # catalog's views; the closed loop after the publish. One Airflow process runs them all.
                descriptions = {QUALITY_DAG: f"airflow dags test {QUALITY_DAG}: batch suites, freshness",
                                MODEL_DAG: f"airflow dags test {MODEL_DAG}: dbt build, gates, publish",
                                LOOP_DAG: f"airflow dags test {LOOP_DAG}: problems to the enforcement system, "
                                          "case updates back, ledger rebuilt"}
                run_dags([*DEMO_DAGS, QUALITY_DAG, MODEL_DAG, LOOP_DAG], env, on_start=lambda dag_id: progress.update(
                    step, description=descriptions.get(dag_id, f"airflow dags test {dag_id}")))
            except (AirflowRunError, DbtRunError) as exc:
                fail(str(exc), "read the log named above")
    runs = [r for r in load_log.read(lake).to_pylist() if r["finished_at"] >= started]
    if not runs:
        fail("the demo's DAGs landed nothing", "see .airflow/demo-logs/")
    rows = []
    for dataset in sorted({r["dataset"] for r in runs}):
        last = [r for r in runs if r["dataset"] == dataset][-1]
        if last["status"] not in ("success", "skipped"):
            fail(f"the demo did not land {dataset}: {last['message']}", "see `envlake lake log`")
        rows.append({"dataset": dataset, "rows_in": last["rows_in"], "landed": last["rows_landed"],
                     "new_in_lake": last["rows_written"], "quarantined": last["rows_quarantined"],
                     "raw_rows_total": zone_rows(lake, "raw", dataset),
                     "quarantine_rows_total": zone_rows(lake, "quarantine", dataset),
                     "reasons": json.loads(last["quarantine_reasons"] or "{}")})
    published = published_summary(lake)
    catalogue, walkthrough, dashboards = share(settings, published is not None, with_dashboards)
    if as_json:
        print_json(rows if not published else {"datasets": rows, "published": published,
                                                "catalogue": {"shared": len(catalogue["shared"]),
                                                              "sources": len(catalogue["sources"])},
                                                "access": walkthrough and walkthrough.__dict__,
                                                "dashboards": dashboards})
        return
    print_table(f"envlake demo — simulated day {day}, lake {lake.base}",
                ["dataset", "rows in", "landed", "new in lake", "quarantined", "raw/ total", "quarantine/ total"],
                [[r["dataset"], r["rows_in"], r["landed"], r["new_in_lake"], r["quarantined"], r["raw_rows_total"],
                  r["quarantine_rows_total"]] for r in rows])
    for r in rows:
        for rule, count in r["reasons"].items():
            console.print(f"  {r['dataset']}: quarantined {count} × {rule}", highlight=False)
    if published:
        print_published(published)
    print_shared(settings, catalogue, walkthrough, dashboards)


def share(settings: Settings, published: bool, with_dashboards: bool) -> tuple[dict | None, Any, dict | None]:
    """After a publish: the catalogue, a department's first requests (audited), then (optionally) Superset with
    the dashboards deployed."""
    if not published:
        return None, None, None
    from envlake.access.walkthrough import run as access_walkthrough
    from envlake.catalogue.build import write as write_catalogue

    catalogue, folder = write_catalogue(settings, clock="simulated")
    catalogue["folder"] = folder
    walkthrough = access_walkthrough(settings)
    if not with_dashboards:
        return catalogue, walkthrough, None
    from envlake.cli.dashboards_cmd import deploy_dashboards, start_superset

    start_superset()
    return catalogue, walkthrough, deploy_dashboards()


def print_shared(settings: Settings, catalogue: dict | None, walkthrough: Any, dashboards: dict | None) -> None:
    if catalogue is not None:
        unclassified = [d["id"] for d in catalogue["shared"] if not d["columns"]]
        console.print(f"公共数据目录: {len(catalogue['shared'])} shared datasets, every column classified"
                      if not unclassified else f"公共数据目录: unclassified {', '.join(unclassified)}", highlight=False)
        console.print(f"  {catalogue['folder']}/index.html — browse it with `envlake catalog serve`", highlight=False)
    print_status(settings, clock="simulated")
    if walkthrough is not None:
        sample = ", ".join(f"{k}={v}" for k, v in walkthrough.masked_sample.items())
        console.print(f"共享数据访问: {walkthrough.department} made {walkthrough.granted} requests and was refused "
                      f"{walkthrough.refused} (conditional columns in the clear, a file read); masked: {sample}",
                      highlight=False)
        console.print("  serve departments with `envlake serve` (http://127.0.0.1:8780/docs); grants with "
                      "`envlake access --help`; the audit with `envlake access audit`", highlight=False)
    if dashboards:
        from envlake.dashboards.service import Superset

        login = Superset.from_env()
        console.print(f"Superset ({login.admin_user} / {login.admin_password}; district users such as xihu and "
                      "the leader `leader`, password envlake-demo):", highlight=False)
        for title, dashboard_id in dashboards["dashboards"].items():
            console.print(f"  {title}: {dashboards['url']}/superset/dashboard/{dashboard_id}/", highlight=False)
        console.print("  stop it with `make superset-stop`", highlight=False)
