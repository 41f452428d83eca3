"""Column lineage of the dbt project: which upstream columns each model column is computed from.

Read from the compiled SQL with sqlglot, against the column lists of the build area (so ``select *`` and
``exclude`` resolve). Only what a column's value is computed from counts (the projection), not the columns
used to filter or join. A column computed from no column (``count(*)``, a literal) has no inputs.

Lineage depends on code, not data, so it is kept in the lake (``_meta/classification/lineage.json``) per
node, keyed by the node's SQL checksum, the project's macros and vars, and the columns of its parents;
only nodes whose key changed are compiled (``dbt compile``) and traced again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

import duckdb

from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.layout import DBT_PROJECT_DIR
from envlake.modelling.runner import dbt_env, environment

TRACED = ("model", "snapshot")
LAKE_SCHEMAS = ("lake_raw", "lake_quarantine")  # the on-run-start views over the raw and quarantine zones


@dataclass(frozen=True)
class Input:
    """One upstream column: a node's (``model.envlake.x``) or a contract's (``contract:<dataset>``)."""

    parent: str
    column: str


Lineage = dict[str, dict[str, list[Input]] | None]  # node -> column -> inputs; None when it could not be traced


def relation_names(man: dict[str, Any]) -> dict[str, str]:
    """``schema.table`` (lower case) -> the node or contract it is."""
    names = {}
    for uid, node in man["nodes"].items():
        if node["resource_type"] in ("model", "snapshot", "seed"):
            names[f'{node["schema"]}.{node.get("alias") or node["name"]}'.lower()] = uid
    for source in man.get("sources", {}).values():
        dataset = (source.get("meta") or {}).get("dataset") or source["name"]
        for schema in LAKE_SCHEMAS:
            names[f"{schema}.{source['identifier'] or source['name']}".lower()] = f"contract:{dataset}"
    return names


def warehouse_columns(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str]]:
    """``schema.table`` -> {column: type} for every relation of the build area."""
    out: dict[str, dict[str, str]] = {}
    for schema, table, column, dtype in con.execute(
            "select table_schema, table_name, column_name, data_type from information_schema.columns "
            "where table_catalog = current_database() order by table_schema, table_name, ordinal_position"
    ).fetchall():
        out.setdefault(f"{schema}.{table}".lower(), {})[column] = dtype
    return out


def _project_digest(man: dict[str, Any]) -> str:
    macros = sorted((m["unique_id"], hashlib.sha256(m.get("macro_sql", "").encode()).hexdigest())
                    for m in man.get("macros", {}).values() if m.get("package_name") == "envlake")
    variables = (man.get("metadata") or {}).get("vars") or {}
    return hashlib.sha256(json.dumps([macros, variables], sort_keys=True, default=str).encode()).hexdigest()


def _node_key(node: dict[str, Any], digest: str, parents: dict[str, dict[str, str]]) -> str:
    parent_columns = {p: parents.get(p, {}) for p in sorted(node["depends_on"]["nodes"])}
    material = [node["checksum"]["checksum"], digest, parent_columns]
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()


def _sqlglot_schema(columns: dict[str, dict[str, str]], database: str) -> dict[str, Any]:
    schema: dict[str, Any] = {}
    for relation, cols in columns.items():
        sch, table = relation.split(".", 1)
        schema.setdefault(sch, {})[table] = cols
    return {database: schema}


def trace(sql: str, columns: dict[str, dict[str, str]], database: str,
          names: dict[str, str]) -> dict[str, list[Input]]:
    """Inputs of each output column of one compiled SELECT."""
    import sqlglot
    from sqlglot import exp
    from sqlglot.lineage import lineage
    from sqlglot.optimizer.qualify import qualify
    from sqlglot.optimizer.scope import build_scope

    schema = _sqlglot_schema(columns, database)
    tree = qualify(sqlglot.parse_one(sql, dialect="duckdb"), schema=schema, dialect="duckdb",
                   validate_qualify_columns=False)
    scope = build_scope(tree)
    out: dict[str, list[Input]] = {}
    for select in tree.selects:
        name = select.alias_or_name
        node = lineage(name, tree, schema=schema, dialect="duckdb", scope=scope, copy=False)
        inputs: list[Input] = []
        for leaf in node.walk():
            if leaf.downstream or not isinstance(leaf.source, exp.Table):
                continue
            table = leaf.source
            parent = names.get(f"{table.db}.{table.name}".lower())
            if parent is None:
                raise ValueError(f"reads {table.db}.{table.name}, which is no model, seed or source")
            column = leaf.name.rsplit(".", 1)[-1].strip('"')
            if Input(parent, column) not in inputs:
                inputs.append(Input(parent, column))
        out[name] = inputs
    return out


def _compile(names: list[str], settings: Settings) -> dict[str, str]:
    from dbt.cli.main import dbtRunner

    command = ["--log-level", "none", "compile", "--select", *names, "--project-dir", str(DBT_PROJECT_DIR),
               "--profiles-dir", str(DBT_PROJECT_DIR)]
    with environment(dbt_env(settings)):
        outcome = dbtRunner().invoke(command)
    if not outcome.success:
        raise RuntimeError(f"dbt compile failed for the lineage of {', '.join(names[:5])}: run `dbt compile`")
    return {r.node.unique_id: r.node.compiled_code for r in outcome.result.results}


def column_lineage(man: dict[str, Any], columns: dict[str, dict[str, str]], settings: Settings,
                   database: str = "envlake") -> tuple[Lineage, dict[str, str]]:
    """Lineage of every model and snapshot, from the cache where the key still holds. Returns the lineage
    and, per node that could not be traced, why."""
    lake = Lake(settings.lake)
    cache_path = lake.path("_meta", "classification", "lineage.json")
    cached = json.loads((lake.read_bytes(cache_path) or b"{}").decode("utf-8"))
    names = relation_names(man)
    uid_relation = {uid: rel for rel, uid in names.items()}
    by_uid_columns = {uid: columns.get(rel, {}) for uid, rel in uid_relation.items()}
    digest = _project_digest(man)
    traced = {uid: n for uid, n in man["nodes"].items() if n["resource_type"] in TRACED}
    keys = {uid: _node_key(n, digest, by_uid_columns) for uid, n in traced.items()}
    stale = [uid for uid in traced if (cached.get(uid) or {}).get("key") != keys[uid]]
    problems: dict[str, str] = {}
    if stale:
        compiled = _compile(sorted(traced[uid]["name"] for uid in stale), settings)
        for uid in stale:
            try:
                result = trace(compiled[uid], columns, database, names)
                cached[uid] = {"key": keys[uid], "columns": {c: [[i.parent, i.column] for i in ins]
                                                             for c, ins in result.items()}}
            except Exception as exc:
                cached[uid] = {"key": keys[uid], "columns": None, "error": f"{type(exc).__name__}: {exc}"}
        lake.write_bytes(json.dumps(cached, ensure_ascii=False, sort_keys=True).encode("utf-8"), cache_path)
    lineage: Lineage = {}
    for uid in traced:
        entry = cached[uid]
        if entry["columns"] is None:
            lineage[uid] = None
            problems[uid] = entry.get("error", "not traced")
        else:
            lineage[uid] = {c: [Input(p, col) for p, col in ins] for c, ins in entry["columns"].items()}
    return lineage, problems
