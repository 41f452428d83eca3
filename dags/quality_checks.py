"""Dynamic-update rules (动态更新) and the quality suites of landed batches.

Runs every hour and after any ingestion (the raw.<dataset> Assets): every landed batch not checked yet is
validated by its contract's GX suite (results in `_meta/quality/results/`); freshness of every dataset and
completeness of online monitoring are assessed. Results go to the lake's
`_meta/freshness/`; a stale or incomplete dataset raises an alert (log line, `_meta/alerts/`, and the
webhook of the Airflow connection `envlake_alert_webhook` or `ENVLAKE_ALERT_WEBHOOK`). A check that
cannot run fails the task, and the failure callback raises an alert too.
"""

import pendulum
from airflow.sdk import AssetOrTimeSchedule, CronTriggerTimetable, dag, task

from envlake.kernel.alerts import on_quality_failure
from envlake.orchestration.modelling import ingestion_assets
from envlake.orchestration.tasks import default_args


@dag(
    dag_id="quality_checks",
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("30 * * * *", timezone="Asia/Shanghai"),
                                 assets=ingestion_assets(include_loop=True)),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args={**default_args(), "on_failure_callback": on_quality_failure},
    tags=["envlake", "quality", "动态更新"],
)
def quality_checks():
    @task
    def dynamic_update_rules() -> dict:
        from quality.dynamic_update import check

        return check()

    @task
    def landed_batch_suites() -> dict:
        from quality.landed import validate_landed

        return validate_landed()

    landed_batch_suites() >> dynamic_update_rules()


quality_checks()
