"""envlake cluster: Airflow on Celery workers on this machine (PostgreSQL metadata, Redis broker)."""

from __future__ import annotations

from typing import Annotated

import typer

from envlake.cli.output import console, fail, print_json, print_table
from envlake.kernel.settings import Settings

app = typer.Typer(help="Airflow with Celery workers: start, stop, run DAGs on it.", no_args_is_help=True)


def _supervisor():
    from envlake.orchestration.cluster.processes import ClusterConfig
    from envlake.orchestration.cluster.supervisor import Supervisor

    return Supervisor(Settings.from_env(), ClusterConfig.from_env())


@app.command("up")
def up() -> None:
    """Start the api-server, scheduler, dag-processor, triggerer and the named Celery workers."""
    from envlake.modelling.runner import parse_manifest
    from envlake.orchestration.cluster.supervisor import ClusterError

    supervisor = _supervisor()
    try:
        with console.status("cluster: parsing the dbt project") as status:
            parse_manifest(supervisor.settings)
            supervisor.start(progress=lambda message: status.update(f"cluster: {message}"))
    except ClusterError as exc:
        fail(str(exc), "`make cluster-stop`, then look at the log named")
    console.print(f"cluster up: {supervisor.config.api_url} (admin / {supervisor.config.admin_password}); "
                  f"workers {', '.join(supervisor.config.workers)}; stop: `make cluster-stop`", highlight=False)


@app.command("migrate")
def migrate() -> None:
    """Create or upgrade the metadata database and the warehouse pool (what `up` does first; the production
    compose file runs it once as its own service)."""
    from envlake.orchestration.cluster.supervisor import ClusterError

    try:
        _supervisor().migrate()
    except ClusterError as exc:
        fail(str(exc))
    console.print("cluster metadata up to date")


@app.command("down")
def down() -> None:
    """Stop every process of the cluster by its pid file."""
    stopped = _supervisor().stop()
    console.print(f"stopped: {', '.join(stopped)}" if stopped else "no cluster process was running")


@app.command("status")
def status(as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Which processes run, with their pids, and which workers answer on the broker."""
    supervisor = _supervisor()
    running = supervisor.running()
    answering = supervisor.workers_answering() if running else []
    rows = [{"process": p.name, "pid": running.get(p.name), "answers": p.name in answering if "worker" in p.name
             else None} for p in supervisor.processes]
    if as_json:
        print_json(rows)
        return
    print_table("envlake cluster", ["process", "pid", "worker answers"],
                [[r["process"], r["pid"] or "stopped", r["answers"]] for r in rows])


@app.command("run")
def run(dag_ids: Annotated[list[str], typer.Argument(help="DAGs to run and wait for")],
        timeout: Annotated[float, typer.Option(help="seconds to wait for each run")] = 900,
        as_json: Annotated[bool, typer.Option("--json")] = False) -> None:
    """Unpause DAGs on the cluster (their schedule starts a run, or one is triggered), wait for them, and show
    which worker ran each task."""
    from envlake.orchestration.cluster.client import AirflowApiError, AirflowClient

    supervisor = _supervisor()
    try:
        with AirflowClient(supervisor.config.api_url, password=supervisor.config.admin_password) as client:
            client.wait_for_dags(dag_ids)
            runs = {dag_id: client.start_run(dag_id) for dag_id in dag_ids}
            results = []
            for dag_id, run_id in runs.items():
                state = client.wait_for_run(dag_id, run_id, timeout)
                for ti in client.task_instances(dag_id, run_id):
                    results.append({"dag": dag_id, "run": run_id, "run_state": state, "task": ti["task_id"],
                                    "state": ti["state"], "host": ti.get("hostname"), "queue": ti.get("queue")})
    except AirflowApiError as exc:
        fail(str(exc), "is the cluster up? `make cluster`")
    if as_json:
        print_json(results)
    else:
        print_table("tasks on the cluster", ["dag", "task", "state", "worker"],
                    [[r["dag"], r["task"], r["state"], r["host"]] for r in results])
    if any(r["run_state"] != "success" for r in results):
        raise typer.Exit(code=1)
