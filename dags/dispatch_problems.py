"""Closed loop (问题发现和整改闭环): new problems of the published ledger to the district enforcement system,
its case updates back into the lake, the ledger rebuilt with them, and an alert for each overdue problem.

Runs after each publish (Asset ``shared.marts``). Sending is idempotent (a problem is sent once, retried until
acknowledged). The enforcement system's URL: Airflow connection ``envlake_enforcement_api`` or
``ENVLAKE_ENFORCEMENT_API_URL``. The ledger's rebuild is a selective dbt build in the warehouse pool.
"""

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.modelling import WAREHOUSE_TASK, refresh_ledger
from envlake.orchestration.tasks import asset_uri, default_args, land


@dag(
    dag_id="dispatch_problems",
    schedule=[Asset(name="shared.marts", uri="envlake://shared/marts")],
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "closed-loop", "闭环处置"],
)
def dispatch_problems():
    @task
    def send_new_problems() -> dict:
        from envlake.loop.dispatch import dispatch

        return dispatch().as_dict()

    @task(outlets=[Asset(name="raw.enforcement_case_update", uri=asset_uri("enforcement_case_update"))])
    def land_case_updates() -> dict:
        return land("enforcement_case_update", "envlake_enforcement_api")

    @task
    def check_case_updates() -> dict:  # their batch suites, before they reach the ledger
        from quality.landed import validate_landed

        return validate_landed()

    @task(**WAREHOUSE_TASK)
    def rebuild_ledger() -> dict:
        return refresh_ledger()

    @task
    def alert_overdue() -> int:
        from envlake.loop.dispatch import overdue_alerts

        return len(overdue_alerts())

    send_new_problems() >> land_case_updates() >> check_case_updates() >> rebuild_ledger() >> alert_overdue()


dispatch_problems()
