"""The dashboards as code: YAML definitions in ``envlake/dashboards/assets/`` expanded into a Superset asset bundle.

A definition names datasets (a catalog table or a SELECT over the catalog), charts in rows and filters.
The bundle is what Superset's own export writes (metadata, database, datasets with their columns,
charts with ``params`` and ``query_context``, dashboards with their layout), with fixed UUIDs, so
``/api/v1/assets/import/`` overwrites the same objects on every deploy. Column lists come from the
catalog itself (DuckDB ``describe``), so they always match what is published.
"""

from __future__ import annotations

import io
import json
import uuid
import zipfile
from pathlib import Path
from typing import Any

import duckdb
import yaml

from envlake.kernel.departments import ASSETS
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings

DATABASE_NAME = "envlake 共享数据湖"
DATABASE_UUID = "2b0c9d8e-7f11-4e5a-8c3d-1a2b3c4d0000"
VIZ = {"bar": "echarts_timeseries_bar", "line": "echarts_timeseries_line", "pie": "pie", "table": "table",
       "big_number": "big_number_total"}
TEMPORAL = ("DATE", "TIMESTAMP", "TIMESTAMP WITH TIME ZONE", "TIMESTAMP_NS", "TIMESTAMP_MS")


def load_definitions(folder: Path = ASSETS) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    doc = yaml.safe_load((folder / "datasets.yaml").read_text(encoding="utf-8"))
    datasets = [{**d, "labels": doc.get("labels", {})} for d in doc["datasets"]]
    dashboards = [yaml.safe_load(p.read_text(encoding="utf-8")) for p in sorted(folder.glob("*.yaml"))
                  if p.name != "datasets.yaml" and not p.name.startswith("departments")]
    return datasets, dashboards


def _dump(doc: dict[str, Any]) -> str:
    return yaml.safe_dump(doc, allow_unicode=True, sort_keys=False)


def dataset_sql(ds: dict[str, Any]) -> str:
    return ds.get("sql") or f"select * from shared.{ds['table']}"


def dataset_columns(con: duckdb.DuckDBPyConnection, ds: dict[str, Any]) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in con.execute(f"describe ({dataset_sql(ds)})").fetchall()]


def _dataset_yaml(ds: dict[str, Any], columns: list[tuple[str, str]]) -> dict[str, Any]:
    physical = "table" in ds and "sql" not in ds
    return {
        "table_name": ds["table"] if physical else ds["name"], "main_dttm_col": ds.get("main_dttm_col"),
        "description": None, "default_endpoint": None, "offset": 0, "cache_timeout": 0,
        "schema": "shared" if physical else None, "sql": None if physical else " ".join(ds["sql"].split()),
        "params": None, "template_params": None, "filter_select_enabled": True, "fetch_values_predicate": None,
        "extra": None, "normalize_columns": False, "always_filter_main_dttm": False, "uuid": ds["uuid"],
        "metrics": [{"metric_name": "count", "verbose_name": "记录数", "metric_type": "count",
                     "expression": "COUNT(*)", "description": None, "d3format": None, "extra": None,
                     "warning_text": None}],
        "columns": [{"column_name": name, "verbose_name": ds.get("labels", {}).get(name),
                     "is_dttm": dtype.upper() in TEMPORAL,
                     "is_active": True, "type": dtype, "groupby": True, "filterable": True, "expression": None,
                     "description": None, "python_date_format": None, "extra": None} for name, dtype in columns],
        "version": "1.0.0", "database_uuid": DATABASE_UUID,
    }


def _metric(m: dict[str, Any]) -> dict[str, Any]:
    return {"expressionType": "SQL", "sqlExpression": m["sql"], "label": m["label"]}


def chart_params(chart: dict[str, Any], dataset_id_ref: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``params`` (form data) and the ``query_context`` Superset saves with a chart."""
    viz = VIZ[chart["viz"]]
    metrics = [_metric(m) for m in chart.get("metrics", [])]
    groupby = list(chart.get("groupby", []))
    where = chart.get("where")
    adhoc_filters = [{"expressionType": "SQL", "clause": "WHERE", "sqlExpression": where}] if where else []
    form: dict[str, Any] = {"viz_type": viz, "datasource": dataset_id_ref, "adhoc_filters": adhoc_filters,
                            "row_limit": chart.get("row_limit", 10000), "time_range": "No filter"}
    query: dict[str, Any] = {"filters": [], "extras": {"where": where or "", "having": ""},
                             "row_limit": form["row_limit"], "orderby": []}
    if viz in ("echarts_timeseries_bar", "echarts_timeseries_line"):
        form.update({"x_axis": chart["x"], "metrics": metrics, "groupby": groupby,
                     "x_axis_title": chart.get("x_title", ""), "y_axis_title": chart.get("y_title", ""),
                     "x_axis_title_margin": 30, "y_axis_title_margin": 50, "show_legend": True,
                     "rich_tooltip": True, "x_axis_sort_asc": True, "markerEnabled": True, "markerSize": 6})
        if chart.get("order_by_metric"):
            form.update({"x_axis_sort": metrics[0]["label"],
                         "x_axis_sort_asc": chart["order_by_metric"] == "ascending"})
        query.update({"columns": [chart["x"], *groupby], "metrics": metrics,
                      "orderby": [[chart["x"], True]], "series_columns": groupby})
    elif viz == "pie":
        form.update({"groupby": groupby, "metric": metrics[0], "show_labels": True, "label_type": "key_percent"})
        query.update({"columns": groupby, "metrics": metrics, "orderby": [[metrics[0], False]]})
    elif viz == "table" and "columns" in chart:
        form.update({"query_mode": "raw", "all_columns": chart["columns"],
                     "order_by_cols": [json.dumps([chart["order_desc"], False])] if chart.get("order_desc") else []})
        query.update({"columns": chart["columns"], "metrics": [],
                      "orderby": [[chart["order_desc"], False]] if chart.get("order_desc") else []})
    elif viz == "table":
        form.update({"query_mode": "aggregate", "groupby": groupby, "metrics": metrics})
        query.update({"columns": groupby, "metrics": metrics, "orderby": [[metrics[0], False]]})
    else:
        form.update({"metric": metrics[0]})
        query.update({"columns": [], "metrics": metrics})
    return form, {"datasource": {"type": "table"}, "force": False, "queries": [query], "form_data": form,
                  "result_format": "json", "result_type": "full"}


def _chart_yaml(chart: dict[str, Any], dataset_uuid: str) -> dict[str, Any]:
    form, context = chart_params(chart, "__DATASOURCE__")
    return {"slice_name": chart["title"], "description": chart.get("description"), "certified_by": None,
            "certification_details": None, "viz_type": VIZ[chart["viz"]], "params": form,
            "query_context": json.dumps(context, ensure_ascii=False), "cache_timeout": 0, "uuid": chart["uuid"],
            "version": "1.0.0", "dataset_uuid": dataset_uuid}


def _layout(dashboard: dict[str, Any]) -> dict[str, Any]:
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
        "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
        "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": dashboard["title"]}, "type": "HEADER"},
    }
    number = 0
    for r, row in enumerate(dashboard["rows"]):
        row_id = f"ROW-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"children": [], "id": row_id, "type": "ROW", "parents": ["ROOT_ID", "GRID_ID"],
                            "meta": {"background": "BACKGROUND_TRANSPARENT"}}
        for chart in row:
            number += 1
            chart_id = f"CHART-{chart['uuid'][-4:]}"
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {"children": [], "id": chart_id, "type": "CHART",
                                  "parents": ["ROOT_ID", "GRID_ID", row_id],
                                  # chartId is remapped by uuid on import, but must be there
                                  "meta": {"uuid": chart["uuid"], "chartId": number, "sliceName": chart["title"],
                                           "width": chart.get("width", 4), "height": chart.get("height", 50)}}
    return position


def _native_filters(dashboard: dict[str, Any], datasets: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for i, f in enumerate(dashboard.get("filters", [])):
        fid = f"NATIVE_FILTER-{dashboard['uuid'][-4:]}-{i}"
        base = {"id": fid, "name": f["name"], "cascadeParentIds": [], "scope": {"rootPath": ["ROOT_ID"],
                "excluded": []}, "controlValues": {}, "defaultDataMask": {"filterState": {}, "extraFormData": {},
                "ownState": {}}, "type": "NATIVE_FILTER", "description": ""}
        if f["type"] == "time":
            base.update({"filterType": "filter_time", "targets": [{}]})
        else:
            base.update({"filterType": "filter_select",
                         "controlValues": {"multiSelect": True, "enableEmptyFilter": False,
                                           "searchAllOptions": False, "inverseSelection": False},
                         "targets": [{"column": {"name": f["column"]},
                                      "datasetUuid": datasets[f["dataset"]]["uuid"]}]})
        out.append(base)
    return out


def build_bundle(catalog: Path, sqlalchemy_uri: str, folder: Path = ASSETS) -> bytes:
    """The asset bundle (a zip) for every dashboard in ``folder``, columns read from ``catalog``."""
    datasets_def, dashboards = load_definitions(folder)
    datasets = {d["name"]: d for d in datasets_def}
    root = "envlake_dashboards"
    files: dict[str, str] = {
        "metadata.yaml": _dump({"version": "1.0.0", "type": "assets", "timestamp": "2026-01-01T00:00:00+00:00"}),
        f"databases/{DATABASE_UUID}.yaml": _dump({
            "database_name": DATABASE_NAME, "sqlalchemy_uri": sqlalchemy_uri, "cache_timeout": 0,
            "expose_in_sqllab": True, "allow_run_async": False, "allow_ctas": False, "allow_cvas": False,
            "allow_dml": False, "allow_file_upload": False,
            "extra": {"metadata_params": {}, "engine_params": {}, "metadata_cache_timeout": {},
                      "schemas_allowed_for_file_upload": []},
            "uuid": DATABASE_UUID, "version": "1.0.0"}),
    }
    con = Lake(Settings.from_env().lake).register(duckdb.connect(str(catalog), read_only=True))
    try:
        for ds in datasets_def:
            files[f"datasets/envlake/{ds['name']}.yaml"] = _dump(_dataset_yaml(ds, dataset_columns(con, ds)))
    finally:
        con.close()
    for dashboard in dashboards:
        for row in dashboard["rows"]:
            for chart in row:
                doc = _chart_yaml(chart, datasets[chart["dataset"]]["uuid"])
                files[f"charts/{chart['uuid']}.yaml"] = _dump(doc)
        files[f"dashboards/{dashboard['uuid']}.yaml"] = _dump({
            "dashboard_title": dashboard["title"], "description": dashboard.get("description"), "css": None,
            "slug": dashboard.get("slug"), "certified_by": None, "certification_details": None, "published": True,
            "uuid": dashboard["uuid"], "position": _layout(dashboard),
            "metadata": {"native_filter_configuration": _native_filters(dashboard, datasets),
                         "color_scheme": "supersetColors", "refresh_frequency": 0, "cross_filters_enabled": True,
                         "expanded_slices": {}, "label_colors": {}, "shared_label_colors": [],
                         "timed_refresh_immune_slices": [], "default_filters": "{}"},
            "version": "1.0.0"})
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as z:
        for name, text in files.items():
            z.writestr(f"{root}/{name}", text)
    return buffer.getvalue()


def chart_uuids(folder: Path = ASSETS) -> dict[str, str]:
    """uuid -> title of every chart defined."""
    _, dashboards = load_definitions(folder)
    return {c["uuid"]: c["title"] for d in dashboards for row in d["rows"] for c in row}


def stable_uuid(text: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"envlake:{text}"))
