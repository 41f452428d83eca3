"""Airflow on Celery workers: the processes of a cluster, started and stopped by pid, and a REST client for it.

The same process list is what ``docker/compose.yaml`` runs in containers (a test checks the two agree).
"""
