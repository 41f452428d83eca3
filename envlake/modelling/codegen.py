"""dbt YAML generated from the contracts, so that a field's Chinese name, class and cycle are written once.

``__sources.yml`` per department folder is generated whole: one source table per dataset over the raw
zone (and one over the quarantine zone for datasets whose rows can be held back for a bad credit code),
with ``loaded_at_field`` and freshness from the contract's update cycle. Each staging model's YAML is
merged: the contract's columns get their description and classification ``meta`` from the contract,
while tests and the columns staging adds are kept as written. ``check`` reports files that differ.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from envlake.kernel.contracts import Contract, Field, load_contracts
from envlake.modelling.layout import PLACES, StagingPlace

DUCKDB_TYPES = {"string": "varchar", "integer": "bigint", "number": "double", "boolean": "boolean",
                "date": "date", "timestamp": "timestamp"}
CYCLE_HOURS = {"realtime": 1, "hourly": 1, "daily": 24, "weekly": 168, "monthly": 744, "quarterly": 2208,
               "yearly": 8784}
LINEAGE = {"_run_id": ("varchar", "入湖批次"), "_ingested_at": ("timestamp with time zone", "入湖时间"),
           "_source": ("varchar", "来源"), "_record_hash": ("ubigint", "记录指纹")}
QUARANTINE = {"_rule_id": "违反规则", "_reason": "隔离原因", "_failed_rules": "全部违反规则"}
HEADER = "# Generated from schemas/*.yaml by `envlake models generate`. Edit the contracts, not this file.\n"


def field_meta(f: Field, dataset: str) -> dict[str, Any]:
    meta: dict[str, Any] = {"name_zh": f.name_zh, "security_level": f.security_level,
                            "sharing_class": f.sharing_class, "pii": f.pii, "contract": f"{dataset}.{f.name}"}
    if f.unit:
        meta["unit"] = f.unit
    return meta


def description(f: Field) -> str:
    return f"{f.name_zh}（{f.unit}）" if f.unit else f.name_zh


def freshness(contract: Contract) -> dict[str, Any] | None:
    """Late after one cycle plus grace, an error after two cycles plus grace; no freshness when irregular."""
    cycle = contract.update_cycle["cycle"]
    if cycle not in CYCLE_HOURS:
        return None
    hours, grace = CYCLE_HOURS[cycle], int(contract.update_cycle.get("grace_hours", 0))
    return {"warn_after": {"count": hours + grace, "period": "hour"},
            "error_after": {"count": 2 * hours + grace, "period": "hour"}}


def _source_table(contract: Contract, zone: str) -> dict[str, Any]:
    text = zone == "quarantine"
    partition = "ingest_date" if text or contract.partitioning == "ingest_date" else "event_date"
    columns = [{"name": f.name, "description": description(f),
                "data_type": "varchar" if text else DUCKDB_TYPES[f.type], "meta": field_meta(f, contract.id)}
               for f in contract.fields]
    if text:
        columns += [{"name": n, "description": zh, "data_type": "varchar"} for n, zh in QUARANTINE.items()]
    columns += [{"name": n, "description": zh, "data_type": t} for n, (t, zh) in LINEAGE.items()]
    columns.append({"name": partition, "description": "分区日期", "data_type": "date"})
    table: dict[str, Any] = {
        "name": contract.id,
        "description": f"{contract.name_zh}（{'隔离区' if text else '原始区'}）",
        "meta": {"lake_zone": zone, "dataset": contract.id, "partition_column": partition, "name_zh": contract.name_zh,
                 "owner_department": contract.owner_department["name_zh"],
                 "update_cycle": contract.update_cycle["cycle"]},
        "columns": columns,
    }
    if not text:
        table["loaded_at_field"] = "_ingested_at"
        table["freshness"] = freshness(contract)
    return table


def sources_yaml(folder: str, contracts: dict[str, Contract]) -> dict[str, Any]:
    places = [p for p in PLACES if p.folder == folder]
    owner = contracts[places[0].dataset].owner_department
    sources = [{"name": folder, "description": f"{owner['name_zh']}：原始区数据", "schema": "lake_raw",
                "tables": [_source_table(contracts[p.dataset], "raw") for p in places]}]
    held = [p for p in places if p.identity_fields]
    if held:
        sources.append({"name": f"{folder}_quarantine", "schema": "lake_quarantine",
                        "description": "因信用代码缺失或校验失败而隔离的记录（供企业识别按名称和区县匹配）",
                        "tables": [_source_table(contracts[p.dataset], "quarantine") for p in held]})
    return {"version": 2, "sources": sources}


def key_tests(place: StagingPlace, contract: Contract) -> list[dict[str, Any]]:
    """The contract's primary key as a model test. Facts may carry a resent reading twice (the marts keep the
    newest) and rows read back from quarantine may repeat, so there the test warns instead of failing."""
    if len(contract.primary_key) == 1:
        return []  # a `unique` test on the column instead
    severity = "warn" if contract.kind == "fact" or place.identity_fields else "error"
    columns = [place.column(k) for k in contract.primary_key]
    if contract.kind == "fact" and contract.event_time:
        # a growing fact: each run checks the newest days, not the whole history again
        return [{"unique_combination_recent": {
            "arguments": {"columns": columns, "time_column": place.column(contract.event_time)},
            "config": {"severity": severity}}}]
    return [{"unique_combination": {"arguments": {"columns": columns}, "config": {"severity": severity}}}]


def column_tests(place: StagingPlace, contract: Contract, f: Field) -> list[Any]:
    tests: list[Any] = []
    if len(contract.primary_key) == 1 and f.name == contract.primary_key[0]:
        tests.append("unique")
    if not f.nullable and f.name not in place.identity_fields:
        tests.append("not_null")
    return tests


def staging_yaml(place: StagingPlace, contract: Contract, existing: dict[str, Any] | None) -> dict[str, Any]:
    """The staging model's YAML with the contract's columns brought up to date and everything else kept."""
    model = (existing or {}).get("models", [{}])[0] if existing else {}
    kept = {c["name"]: c for c in model.get("columns", [])}
    columns = []
    for f in contract.fields:
        name = place.column(f.name)
        col = dict(kept.pop(name, {"name": name}))
        col["description"] = description(f)
        col["meta"] = {**col.get("meta", {}), **field_meta(f, contract.id)}
        generated = column_tests(place, contract, f)
        col.pop("data_tests", None)
        if generated:
            col["data_tests"] = generated
        columns.append(col)
    columns += list(kept.values())  # columns staging adds (normalised codes, flags), as written
    tests = key_tests(place, contract)
    out = {"name": place.model,
           "description": model.get("description", f"{contract.name_zh}：类型、编码与单位规范化（{contract.id}）"),
           **{k: v for k, v in model.items() if k not in ("name", "description", "columns", "data_tests")},
           **({"data_tests": tests} if tests else {}),
           "columns": columns}
    return {"version": 2, "models": [out]}


def _dump(doc: dict[str, Any]) -> str:
    return HEADER + yaml.safe_dump(doc, allow_unicode=True, sort_keys=False, width=120)


def _read(path: Path) -> dict[str, Any] | None:
    return yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else None


def rendered(contracts: dict[str, Contract] | None = None) -> dict[Path, str]:
    """Every generated file and the text it should hold."""
    contracts = contracts or load_contracts()
    out: dict[Path, str] = {}
    for folder, directory in {p.folder: p.directory for p in PLACES}.items():
        out[directory / "__sources.yml"] = _dump(sources_yaml(folder, contracts))
    for place in PLACES:
        path = place.directory / f"{place.model}.yml"
        out[path] = _dump(staging_yaml(place, contracts[place.dataset], _read(path)))
    return out


def generate() -> list[Path]:
    """Write the files that differ; returns them."""
    changed = []
    for path, text in rendered().items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
            changed.append(path)
    return changed


def check() -> list[Path]:
    """Files out of date with the contracts (nothing is written)."""
    return [p for p, text in rendered().items() if not p.exists() or p.read_text(encoding="utf-8") != text]
