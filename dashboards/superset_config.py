"""Superset's configuration for envlake (read through SUPERSET_CONFIG_PATH).

Metadata in SQLite under ``SUPERSET_HOME`` by default, PostgreSQL when ``SUPERSET_DATABASE_URI`` says
so. No result cache: a chart reads the lake's read-only catalog on every query, so a publish shows at
once. Superset runs in its own virtual environment (dashboards/superset/); nothing here imports envlake.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
from pathlib import Path

HOME = Path(os.environ.get("SUPERSET_HOME", Path.cwd() / ".superset"))
HOME.mkdir(parents=True, exist_ok=True)


def _secret_key() -> str:
    if os.environ.get("SUPERSET_SECRET_KEY"):
        return os.environ["SUPERSET_SECRET_KEY"]
    path = HOME / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = _secret_key()
SQLALCHEMY_DATABASE_URI = os.environ.get("SUPERSET_DATABASE_URI", f"sqlite:///{HOME / 'superset.db'}")
SQLALCHEMY_TRACK_MODIFICATIONS = False

# Every chart asks the lake again: the catalog is only views over published Parquet, fast enough.
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
FILTER_STATE_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 3600}
EXPLORE_FORM_DATA_CACHE_CONFIG = {"CACHE_TYPE": "SimpleCache", "CACHE_DEFAULT_TIMEOUT": 3600}
RATELIMIT_STORAGE_URI = "memory://"

BABEL_DEFAULT_LOCALE = "zh"
LANGUAGES = {"zh": {"flag": "cn", "name": "简体中文"}, "en": {"flag": "us", "name": "English"}}
APP_NAME = "杭州生态环境数据驾驶舱"

FEATURE_FLAGS = {"DASHBOARD_RBAC": True, "ROW_LEVEL_SECURITY": True, "EMBEDDED_SUPERSET": False}
WTF_CSRF_ENABLED = True
TALISMAN_ENABLED = False
PREVENT_UNSAFE_DB_CONNECTIONS = False  # the DuckDB catalog is a local file; its connection is locked down
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50000
SUPERSET_WEBSERVER_TIMEOUT = 120


def _object_store():
    """The lake on object storage, read through fsspec (DuckDB's httpfs cannot be installed here); endpoint
    and keys from the same variables envlake reads."""
    import s3fs

    options = {"client_kwargs": {"region_name": os.environ.get("AWS_DEFAULT_REGION", "us-east-1")},
               "use_listings_cache": False}  # envlake publishes behind its back: a cached listing goes stale
    if os.environ.get("ENVLAKE_S3_ENDPOINT"):
        options["endpoint_url"] = os.environ["ENVLAKE_S3_ENDPOINT"]
    if os.environ.get("AWS_ACCESS_KEY_ID"):
        options.update(key=os.environ["AWS_ACCESS_KEY_ID"], secret=os.environ.get("AWS_SECRET_ACCESS_KEY", ""))
    return s3fs.S3FileSystem(**options)


def _lock_down_duckdb() -> None:
    """Every DuckDB connection Superset opens may read the published zones only: SQL Lab cannot read
    other files (``read_csv('/etc/passwd')``), attach databases or switch the lock off again. The order
    matters: ``allowed_directories`` cannot change once external access is off."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    listed_dirs = os.environ.get("ENVLAKE_SUPERSET_ALLOWED_DIRS", "")
    # a JSON list (object-store URIs hold ':'), or local folders separated by os.pathsep
    allowed = json.loads(listed_dirs) if listed_dirs.startswith("[") else \
        [d for d in listed_dirs.split(os.pathsep) if d]
    lock = threading.Lock()

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        if "duckdb" not in type(dbapi_connection).__module__ and "duckdb" not in type(dbapi_connection).__name__:
            return
        # Connections to one file share a DuckDB instance, and these settings are the instance's: a later
        # connection finds them already set (and could not change them). Threads connect concurrently.
        with lock:
            cursor = dbapi_connection.cursor()
            cursor.execute("select current_setting('enable_external_access')")
            if cursor.fetchone()[0]:
                if any(d.startswith("s3://") for d in allowed):
                    dbapi_connection.register_filesystem(_object_store())
                listed = ", ".join("'" + d.replace("'", "''").rstrip("/") + "/'" for d in allowed)
                cursor.execute(f"set allowed_directories = [{listed}]")
                cursor.execute("set enable_external_access = false")
            cursor.close()


_lock_down_duckdb()

# Roles, users and row-level security are created through the REST API by `envlake dashboards deploy`.
FAB_ADD_SECURITY_API = True
