# The envlake platform: Airflow 3 (api-server, scheduler, dag-processor, triggerer, Celery workers), the dbt
# project, the HJ 212 receiver and the departments' query service. One image, the role set by `command`.
# Build from the repository root: docker build -f docker/platform.Dockerfile -t envlake/platform .
FROM python:3.11-slim-bookworm

# Java 17 for the dbt-spark target (pyspark session); curl for health checks.
RUN apt-get update \
 && apt-get install -y --no-install-recommends openjdk-17-jre-headless curl \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "uv==0.13.9"

ENV UV_PROJECT_ENVIRONMENT=/opt/envlake/.venv \
    PATH=/opt/envlake/.venv/bin:$PATH \
    PYTHONPATH=/opt/envlake/app \
    ENVLAKE_CLUSTER_HOME=/opt/envlake/cluster \
    AIRFLOW_HOME=/opt/envlake/cluster/airflow
WORKDIR /opt/envlake/app

# Dependencies first (cached while only code changes), from the same lock as CI.
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --locked --no-dev --no-install-project
COPY envlake ./envlake
COPY connectors ./connectors
COPY quality ./quality
COPY schemas ./schemas
COPY dags ./dags
COPY dbt_project ./dbt_project
RUN uv sync --locked --no-dev \
 && useradd --uid 50000 --home-dir /opt/envlake --no-create-home envlake \
 && mkdir -p /opt/envlake/cluster /opt/envlake/warehouse \
 && chown -R envlake /opt/envlake/cluster /opt/envlake/warehouse
# dbt on Spark from its own environment (pyspark cannot share the main one): `envlake models spark`.
RUN UV_PROJECT_ENVIRONMENT=/opt/envlake/app/dbt_project/spark/.venv uv sync --locked --project dbt_project/spark
# The dbt manifest the modelling DAG is rendered from, built into the image.
RUN envlake models parse
USER envlake
CMD ["envlake", "--help"]
