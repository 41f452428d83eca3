"""Superset's configuration for envlake (read through SUPERSET_CONFIG_PATH).

Metadata in SQLite under ``SUPERSET_HOME`` by default, PostgreSQL when ``SUPERSET_DATABASE_URI`` says
so. No result cache: a chart reads the lake's read-only catalog on every query, so a publish shows at
once. Superset runs in its own virtual environment (envlake/dashboards/superset/); nothing here imports envlake.
"""

from __future__ import annotations

import importlib.util
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
PREVENT_UNSAFE_DB_CONNECTIONS = True  # no SQLite or shillelagh database: they read and write local files
SQLLAB_CTAS_NO_LIMIT = False
ROW_LIMIT = 50000
SUPERSET_WEBSERVER_TIMEOUT = 120


def _load_lake_readonly():
    """envlake/kernel/lake_readonly.py, loaded by path (no envlake import here): from beside this file in the
    Superset image, from the kernel's folder in a checkout."""
    here = Path(__file__).resolve()
    path = next(p for p in (here.with_name("lake_readonly.py"), here.parents[1] / "kernel" / "lake_readonly.py")
                if p.exists())
    spec = importlib.util.spec_from_file_location("envlake_lake_readonly", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


lake_readonly = _load_lake_readonly()


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


def _readable() -> tuple[list[str], object]:
    """The lake folders the city catalog's views read, as lake paths, and the filesystem holding them."""
    from fsspec.implementations.local import LocalFileSystem

    listed = os.environ.get("ENVLAKE_SUPERSET_ALLOWED_DIRS", "")
    # a JSON list (object-store URIs hold ':'), or local folders separated by os.pathsep
    folders = json.loads(listed) if listed.startswith("[") else [d for d in listed.split(os.pathsep) if d]
    if any(f.startswith("s3://") for f in folders):
        return [f.removeprefix("s3://") for f in folders], _object_store()
    return folders, LocalFileSystem()


# Superset's catalogs (written by envlake's publish, envlake/publishing/superset_catalogs.py): roles.json says
# which role reads which catalog file.
CATALOGS = Path(os.environ["ENVLAKE_SUPERSET_CATALOGS"]) if os.environ.get("ENVLAKE_SUPERSET_CATALOGS") else None


class LakeAccessRefused(PermissionError):
    """This user, or this database, may not read the lake."""


def _roles() -> dict:
    if CATALOGS is None:
        raise LakeAccessRefused("ENVLAKE_SUPERSET_CATALOGS is not set: no catalog to read")
    try:
        return json.loads((CATALOGS / "roles.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise LakeAccessRefused(f"no readable {CATALOGS / 'roles.json'}: publish, or `envlake models sync-catalog`") \
            from exc


def _catalog_for(username: str | None, security_manager) -> Path:
    """A district branch's role reads its own district's catalog (even beside another role); the admin and the
    leaders read the city's; anyone else nothing."""
    roles = _roles()
    user = security_manager.find_user(username=username) if username else None
    names = {r.name for r in user.roles} if user else set()
    districts = {roles["districts"][n] for n in names if n in roles["districts"]}
    if len(districts) > 1:
        raise LakeAccessRefused(f"{username} holds several district roles: which district is unclear")
    if districts:
        return CATALOGS / districts.pop()
    if names & set(roles["city"]["roles"]):
        return CATALOGS / roles["city"]["catalog"]
    raise LakeAccessRefused(f"{username or 'this request'} has no role that reads the lake")


def DB_CONNECTION_MUTATOR(uri, params, username, security_manager, source):
    """Every connection goes to the catalog file the user's role reads, read-only, whatever the database's
    URI or extra say: connection options an admin could add (extensions to preload, filesystems, settings) are
    dropped, and a database other than DuckDB is refused. The connect hook below then locks it down."""
    if uri.get_backend_name() != "duckdb":
        raise LakeAccessRefused("only envlake's DuckDB catalogs are data sources here")
    catalog = _catalog_for(username, security_manager)
    if not catalog.exists():
        raise LakeAccessRefused(f"{catalog.name} is not written yet: publish, or `envlake models sync-catalog`")
    agent = params.get("connect_args", {}).get("config", {}).get("custom_user_agent")
    config = {"custom_user_agent": agent} if agent else {}
    return (uri.set(database=str(catalog), query={"access_mode": "read_only"}),
            {**params, "connect_args": {"config": config}})


def _lock_down_duckdb() -> None:
    """Every DuckDB connection Superset opens is locked before its first query (envlake/kernel/lake_readonly.py):
    the city catalog reads the published zones through the read-only ``lakero://`` filesystem and nothing else;
    any other DuckDB file (a district's catalog) opens no file at all. No connection can write a file, load
    an extension or unlock itself. The settings belong to the DuckDB instance, which all connections to one
    file share, so they are set once, under a lock, and read back on every connection."""
    from sqlalchemy import event
    from sqlalchemy.engine import Engine

    readable, inner = _readable()
    lock = threading.Lock()

    @event.listens_for(Engine, "connect")
    def _on_connect(dbapi_connection, _record) -> None:
        if "duckdb" not in type(dbapi_connection).__module__ and "duckdb" not in type(dbapi_connection).__name__:
            return
        with lock:
            path = dbapi_connection.execute(
                "select path from duckdb_databases() where database_name = current_database()").fetchone()[0]
            city = CATALOGS is not None and path and \
                os.path.realpath(path) == os.path.realpath(CATALOGS / _roles()["city"]["catalog"])
            lake_readonly.lock_down(dbapi_connection, readable if city else [], inner)


_lock_down_duckdb()

# Roles, users and row-level security are created through the REST API by `envlake dashboards deploy`.
FAB_ADD_SECURITY_API = True
