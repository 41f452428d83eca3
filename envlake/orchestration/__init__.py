"""Airflow glue: the tasks the DAG files call, Assets, the dbt runner for Airflow, the Celery cluster."""
