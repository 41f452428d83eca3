# Superset 6.1 with the pins it needs (envlake/dashboards/superset/uv.lock) and envlake's configuration.
# Build from the repository root: docker build -f docker/superset.Dockerfile -t envlake/superset .
FROM python:3.11-slim-bookworm
RUN apt-get update \
 && apt-get install -y --no-install-recommends curl \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir "uv==0.13.9"
ENV UV_PROJECT_ENVIRONMENT=/opt/superset/.venv \
    PATH=/opt/superset/.venv/bin:$PATH \
    SUPERSET_HOME=/opt/superset/home \
    SUPERSET_CONFIG_PATH=/opt/superset/superset_config.py \
    FLASK_APP=superset.app:create_app()
WORKDIR /opt/superset
COPY envlake/dashboards/superset/pyproject.toml envlake/dashboards/superset/uv.lock ./
RUN uv sync --locked --no-install-project
COPY envlake/dashboards/superset_config.py ./superset_config.py
# the read-only lake filesystem superset_config.py loads from beside itself
COPY envlake/kernel/lake_readonly.py ./lake_readonly.py
RUN useradd --uid 50001 --home-dir /opt/superset --no-create-home superset \
 && mkdir -p /opt/superset/home && chown superset /opt/superset/home
USER superset
EXPOSE 8088
CMD ["gunicorn", "-w", "2", "-k", "gthread", "--threads", "4", "--timeout", "120", "-b", "0.0.0.0:8088", "superset.app:create_app()"]
