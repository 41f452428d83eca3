"""``envlake dashboards deploy``: the asset bundle, then roles, users and row-level security, all idempotent.

Assets go through ``/api/v1/assets/import/`` (matched by UUID: a second deploy overwrites, never
duplicates); the database is Superset's city catalog (envlake/publishing/superset_catalogs.py), and
superset_config.py sends each district branch to its own district's catalog instead. Roles, users and RLS
rules are looked up by name and created or updated to match ``assets/departments.yaml``:

- a district branch's role reads the district datasets only (``datasource_access`` on each, not the whole
  database: it lists no schema it has no dataset in), with a Regular RLS filter on ``district_code``;
- the leaders' role reads every dataset;
- no role but Superset's admin reads the action log;
- Base filters ``1=0`` deny every other role: on the district datasets all but the leaders and branches, on
  the lake's records (the health dashboard) all but the leaders. Their data holds the branches first (their
  catalog has no other district's rows); the filters are the second wall.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from envlake.dashboards.bundle import ASSETS, DATABASE_NAME, build_bundle, load_definitions
from envlake.dashboards.client import SupersetClient
from envlake.kernel.departments import ADMIN_ROLE, load_departments
from envlake.publishing import superset_catalogs as catalogs

BASE_RULE = "envlake 默认拒绝（未授权角色不可见）"
RECORDS_BASE_RULE = "envlake 默认拒绝（数据湖运行记录仅领导可见）"
# What a department user needs besides row access: read dashboards, charts and datasets; no SQL Lab, no
# action log (``Log`` holds the admin's SQL Lab text), no database-wide access.
READ_PERMISSIONS = {
    ("can_read", "Dashboard"), ("can_read", "Chart"), ("can_read", "Dataset"), ("can_read", "Database"),
    ("can_explore_json", "Superset"), ("can_dashboard", "Superset"), ("can_slice", "Superset"),
    ("can_explore", "Superset"), ("can_read", "DashboardFilterStateRestApi"),
    ("can_write", "DashboardFilterStateRestApi"), ("can_read", "ExploreFormDataRestApi"),
    ("can_write", "ExploreFormDataRestApi"), ("can_read", "ExplorePermalinkRestApi"),
    ("can_write", "ExplorePermalinkRestApi"), ("can_read", "DashboardPermalinkRestApi"),
    ("can_write", "DashboardPermalinkRestApi"), ("can_time_range", "Api"), ("can_query", "Api"),
    ("can_query_form_data", "Api"), ("can_read", "CurrentUserRestApi"), ("can_get", "Datasource"),
    ("can_read", "SecurityRestApi"), ("can_list", "SavedQuery"), ("can_external_metadata", "Datasource"),
    ("can_samples", "Datasource"),
}


@dataclass
class DeployReport:
    charts: int = 0
    dashboards: dict[str, int] = field(default_factory=dict)  # title -> id
    roles: list[str] = field(default_factory=list)
    users: list[str] = field(default_factory=list)
    rls_rules: list[str] = field(default_factory=list)


def catalog_uri(catalog: Path) -> str:
    return f"duckdb:///{catalog.resolve()}?access_mode=read_only"


def _ensure_role(client: SupersetClient, name: str) -> int:
    found = [r for r in client.get("/api/v1/security/roles/", q="(page_size:100)")["result"] if r["name"] == name]
    return found[0]["id"] if found else client.post("/api/v1/security/roles/", {"name": name})["id"]


def _permission_ids(client: SupersetClient, wanted: set[tuple[str, str]]) -> list[int]:
    ids, page = [], 0
    while True:
        rows = client.get("/api/v1/security/permissions-resources/", q=f"(page:{page},page_size:100)")["result"]
        for r in rows:
            if (r["permission"]["name"], r["view_menu"]["name"]) in wanted:
                ids.append(r["id"])
        if len(rows) < 100:
            return ids
        page += 1


def _ensure_user(client: SupersetClient, username: str, name: str, role_ids: list[int], password: str) -> None:
    found = [u for u in client.get("/api/v1/security/users/", q=f"(filters:!((col:username,opr:eq,value:{username})))")
             ["result"]]
    payload = {"first_name": name, "last_name": "envlake", "email": f"{username}@envlake.local", "active": True,
               "roles": role_ids}
    if found:
        client.put(f"/api/v1/security/users/{found[0]['id']}", payload)
    else:
        client.post("/api/v1/security/users/", {**payload, "username": username, "password": password})


def _ensure_rls(client: SupersetClient, name: str, filter_type: str, tables: list[int], roles: list[int],
                clause: str, group_key: str = "") -> None:
    payload = {"name": name, "filter_type": filter_type, "tables": tables, "roles": roles, "clause": clause,
               "group_key": group_key, "description": "envlake dashboards deploy"}
    found = [r for r in client.get("/api/v1/rowlevelsecurity/", q="(page_size:100)")["result"] if r["name"] == name]
    if found:
        client.put(f"/api/v1/rowlevelsecurity/{found[0]['id']}", payload)
    else:
        client.post("/api/v1/rowlevelsecurity/", payload)


def _dataset_access(ids: dict[str, int], names: dict[str, str]) -> set[tuple[str, str]]:
    """``datasource_access`` on each dataset (Superset's permission name for it)."""
    return {("datasource_access", f"[{DATABASE_NAME}].[{names[n]}](id:{i})") for n, i in ids.items()}


def deploy(client: SupersetClient, catalog: Path, folder: Path = ASSETS) -> DeployReport:
    """Deploy the dashboards of ``folder`` reading the lake whose readers' catalog is ``catalog``."""
    report = DeployReport()
    city = catalogs.city_catalog(catalog)
    if not city.exists():
        raise FileNotFoundError(f"no Superset catalog at {city}: publish, or run `envlake models sync-catalog`")
    client.import_assets(build_bundle(catalog, catalog_uri(city), folder))
    datasets_def, dashboards = load_definitions(folder)
    report.charts = sum(len(row) for d in dashboards for row in d["rows"])
    for d in dashboards:
        found = client.find("dashboard", "dashboard_title", d["title"])
        report.dashboards[d["title"]] = found[0]["id"] if found else -1
    database = client.find("database", "database_name", DATABASE_NAME)[0]
    dataset_ids, table_names = {}, {}
    for ds in datasets_def:
        name = ds["table"] if "table" in ds and "sql" not in ds else ds["name"]
        rows = [r for r in client.find("dataset", "table_name", name) if r["database"]["id"] == database["id"]]
        dataset_ids[ds["name"]], table_names[ds["name"]] = rows[0]["id"], name
    district_ids = {d["name"]: dataset_ids[d["name"]] for d in datasets_def if d.get("district")}
    records_ids = {n: i for n, i in dataset_ids.items() if n not in district_ids}

    departments = load_departments(folder)
    password = os.environ.get("ENVLAKE_DASHBOARD_PASSWORD", "envlake-demo")
    leader_access = _permission_ids(client, READ_PERMISSIONS | _dataset_access(dataset_ids, table_names))
    district_access = _permission_ids(client, READ_PERMISSIONS | _dataset_access(district_ids, table_names))
    leader_role = _ensure_role(client, departments.leader_role)
    client.post(f"/api/v1/security/roles/{leader_role}/permissions", {"permission_view_menu_ids": leader_access})
    report.roles.append(departments.leader_role)
    for user in departments.leaders:
        _ensure_user(client, user["username"], user["name"], [leader_role], password)
        report.users.append(user["username"])
    city_roles = [leader_role, _ensure_role(client, ADMIN_ROLE)]  # the admin deploys and checks the charts
    district_roles = []
    for district in departments.districts:
        role = _ensure_role(client, district.role)
        client.post(f"/api/v1/security/roles/{role}/permissions", {"permission_view_menu_ids": district_access})
        _ensure_rls(client, f"{district.role} 本区数据", "Regular", list(district_ids.values()), [role],
                    f"district_code = '{district.code}'", "district_code")
        _ensure_user(client, district.username, f"{district.name}分局", [role], password)
        district_roles.append(role)
        report.roles.append(district.role)
        report.users.append(district.username)
        report.rls_rules.append(f"{district.role} 本区数据")
    _ensure_rls(client, BASE_RULE, "Base", list(district_ids.values()), city_roles + district_roles, "1=0")
    _ensure_rls(client, RECORDS_BASE_RULE, "Base", list(records_ids.values()), city_roles, "1=0")
    report.rls_rules += [BASE_RULE, RECORDS_BASE_RULE]
    return report
