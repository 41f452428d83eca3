"""Credit feed (企业环境信用评价): rating records from the credit department's database table.

Owner: 杭州市生态环境局. Source URL: Airflow connection ``envlake_credit_db`` or
``ENVLAKE_CREDIT_DB_URL`` (SQLite in the demo, PostgreSQL or MariaDB in production).
"""

import pendulum
from airflow.sdk import Asset, dag, task

from envlake.orchestration.tasks import asset_uri, default_args, land, schedule_for


@dag(
    dag_id="ingest_credit_rating",
    schedule=schedule_for("credit_rating"),
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "ingest", "信用评价"],
)
def ingest_credit_rating():
    @task(outlets=[Asset(name="raw.credit_rating", uri=asset_uri("credit_rating"))])
    def land_credit_rating() -> dict:
        return land("credit_rating", "envlake_credit_db")

    land_credit_rating()


ingest_credit_rating()
