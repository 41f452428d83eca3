"""Superset's own catalogs, written at each publish beside the readers' catalog, in ``<its folder>/superset/``.

- ``city.duckdb``: views over the published ``shared/`` marts and the lake's records, every path named through
  the read-only ``lakero://`` filesystem (envlake/kernel/lake_readonly.py). The leaders' dashboards and the admin's
  SQL Lab read it; its connections can open no other file and write none. No ``curated/``: no dashboard reads it.
- ``district-<code>.duckdb``, one per district branch: the marts the branch's dashboards read
  (``district_marts`` in assets/datasets.yaml), as tables holding that district's rows only, and no view of
  any file. A branch's connection opens no lake file at all, so no expression in a chart request can reach
  another district's rows: the engine holds them, Superset's row-level security is the second wall.
- ``roles.json``: which Superset role reads which catalog (superset_config.py reads it on every connection;
  a role it does not name reads nothing). Written last: its version says the whole set is written.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import yaml
from fsspec.implementations.local import LocalFileSystem

from envlake.kernel import lake_readonly
from envlake.kernel.departments import ADMIN_ROLE, ASSETS, load_departments
from envlake.kernel.lake import Lake, replace_durably, s3_filesystem
from envlake.kernel.settings import Settings

FOLDER = "superset"
CITY = "city.duckdb"
ROLES = "roles.json"
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")
_CODE = re.compile(r"^[0-9A-Za-z_]+$")

MetaViews = Callable[[duckdb.DuckDBPyConnection, Lake, Callable[[str], str]], None]


def folder(catalog: Path) -> Path:
    """Where Superset's catalogs live, given the readers' catalog file."""
    return catalog.parent / FOLDER


def city_catalog(catalog: Path) -> Path:
    return folder(catalog) / CITY


def district_catalog(catalog: Path, code: str) -> Path:
    if not _CODE.match(code):
        raise ValueError(f"not a district code: {code!r}")
    return folder(catalog) / f"district-{code}.duckdb"


@dataclass(frozen=True)
class DistrictRule:
    """How a mart's rows belong to a district: by a column of its own, or through another mart's key."""

    mart: str
    column: str | None = None
    via: str | None = None
    key: str | None = None

    def predicate(self, schema: str) -> str:
        """A WHERE clause for the rows of district ``$code``; ``schema`` holds the district's marts already
        written."""
        if self.column:
            return f'"{self.column}" = $code'
        return f'"{self.key}" in (select "{self.key}" from {schema}."{self.via}")'


def district_rules(assets: Path = ASSETS) -> list[DistrictRule]:
    """``district_marts`` of datasets.yaml, each mart after the one it goes through."""
    doc = yaml.safe_load((assets / "datasets.yaml").read_text(encoding="utf-8"))
    rules = []
    for mart, how in doc["district_marts"].items():
        rule = DistrictRule(mart, column=how) if isinstance(how, str) else DistrictRule(mart, via=how["via"],
                                                                                           key=how["key"])
        names = [n for n in (rule.mart, rule.column, rule.via, rule.key) if n is not None]
        if not all(_IDENTIFIER.match(n) for n in names) or (rule.via and rule.via not in doc["district_marts"]):
            raise ValueError(f"district_marts: {mart}: {how!r} is not a column, nor {{via: <mart>, key: <column>}}")
        rules.append(rule)
    return sorted(rules, key=lambda r: r.via is not None)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _files(marts: dict[str, Any], name: str, uri: Callable[[str], str]) -> str:
    if name not in marts:
        raise ValueError(f"district_marts names {name}, which is not published")
    return "[" + ", ".join(_literal(uri(p)) for p in marts[name]["files"]["shared"]) + "]"


def _read(files: str) -> str:
    return f"select * from read_parquet({files}, hive_partitioning = false, union_by_name = true)"


def _swap(write: Callable[[Path], None], target: Path, version: str) -> None:
    """Write ``target`` under a temporary name, then rename it over the old one: readers see either."""
    tmp = target.with_name(f".{target.name}.{version}.{os.getpid()}.inflight")
    tmp.unlink(missing_ok=True)
    try:
        write(tmp)
        replace_durably(tmp, target)  # DuckDB fdatasyncs the file at its closing checkpoint
    finally:
        tmp.unlink(missing_ok=True)


def _write_city(target: Path, lake: Lake, marts: dict[str, Any], meta_views: MetaViews) -> None:
    con = duckdb.connect(str(target))
    try:
        inner = LocalFileSystem() if lake.is_local else s3_filesystem()
        con.register_filesystem(lake_readonly.ReadOnlyLake(inner, [lake.base]))
        con.execute("create schema shared")
        for name in marts:
            con.execute(f'create view shared."{name}" as {_read(_files(marts, name, lake_readonly.uri))}')
        con.execute("create schema lake_meta")
        meta_views(con, lake, lake_readonly.uri)
        con.execute("checkpoint")
    finally:
        con.close()


def _write_districts(catalog: Path, lake: Lake, marts: dict[str, Any], version: str,
                     codes: list[str], rules: list[DistrictRule]) -> None:
    """Every district's catalog from one read of each mart."""
    con = lake.register(duckdb.connect())
    try:
        for rule in rules:
            con.execute(f'create table "{rule.mart}" as {_read(_files(marts, rule.mart, lake.uri))}')
        for code in codes:
            def write(tmp: Path, code: str = code) -> None:
                # 16 KB blocks: a district's share of each mart is small, and 256 KB blocks made 3 MB files of 200 KB
                con.execute(f"attach {_literal(str(tmp))} as district (block_size 16384)")
                con.execute("begin")  # one commit per file, not one per table
                try:
                    con.execute("create schema district.shared")
                    for rule in rules:
                        params = {"code": code} if rule.column else None
                        con.execute(f'create table district.shared."{rule.mart}" as select * from main."{rule.mart}"'
                                    f" where {rule.predicate('district.shared')}", params)
                    con.execute("create table district.main.envlake_publish as select $version as version, "
                                "$code as district_code", {"version": version, "code": code})
                    con.execute("commit")
                except BaseException:
                    con.execute("rollback")
                    raise
                finally:
                    con.execute("detach district")
            _swap(write, district_catalog(catalog, code), version)
    finally:
        con.close()


def write(settings: Settings, version: str, published_at: str, marts: dict[str, Any], meta_views: MetaViews,
          assets: Path = ASSETS) -> Path:
    """Write Superset's catalogs for a published version (``marts`` as in the publish manifest); returns the
    folder. ``meta_views(con, lake, uri)`` creates the lake's record views, naming paths with ``uri``."""
    lake = Lake(settings.lake)
    out = folder(settings.catalog)
    out.mkdir(parents=True, exist_ok=True)
    departments = load_departments(assets)
    codes = [d.code for d in departments.districts]
    _swap(lambda tmp: _write_city(tmp, lake, marts, meta_views), city_catalog(settings.catalog), version)
    _write_districts(settings.catalog, lake, marts, version, codes, district_rules(assets))
    keep = {CITY, ROLES} | {district_catalog(settings.catalog, c).name for c in codes}
    for stale in out.iterdir():  # districts no longer listed, and what a killed write left
        if stale.name not in keep and stale.name.endswith((".duckdb", ".inflight", ".wal")):
            stale.unlink(missing_ok=True)
    roles = {"version": version, "published_at": published_at,
             "city": {"catalog": CITY, "roles": [ADMIN_ROLE, departments.leader_role]},
             "districts": {d.role: district_catalog(settings.catalog, d.code).name for d in departments.districts}}
    _swap(lambda tmp: tmp.write_text(json.dumps(roles, ensure_ascii=False, indent=1), encoding="utf-8"),
          out / ROLES, version)
    return out


def written_version(catalog: Path) -> str | None:
    """The published version Superset's catalogs hold, when all of them are there; else None."""
    try:
        roles = json.loads((folder(catalog) / ROLES).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    names = [roles["city"]["catalog"], *roles["districts"].values()]
    return roles["version"] if all((folder(catalog) / n).exists() for n in names) else None
