"""Table maintenance: expire old Iceberg snapshots of the published tables, then drop the files no kept
version and no live snapshot lists.

Every publish is a snapshot of each changed ``curated.<mart>`` / ``shared.<mart>`` table, so a department can
ask what a table said on a given day (`envlake query --as-of`). Snapshots older than
``ENVLAKE_SNAPSHOT_RETENTION_DAYS`` (30) are expired here once a day; a table's current snapshot is kept.
It runs in the warehouse pool: publishing must not add files while they are being removed.
"""

import pendulum
from airflow.sdk import dag, task

from envlake.orchestration.modelling import WAREHOUSE_TASK
from envlake.orchestration.tasks import default_args


@dag(
    dag_id="maintain_tables",
    schedule="15 3 * * *",
    start_date=pendulum.datetime(2026, 1, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=default_args(),
    tags=["envlake", "maintenance", "iceberg"],
)
def maintain_tables():
    @task(**WAREHOUSE_TASK)
    def expire_snapshots() -> dict:
        from envlake.publishing.publish import expire_and_clean

        return expire_and_clean()

    expire_snapshots()


maintain_tables()
