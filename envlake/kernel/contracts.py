"""Data contracts: the one source of truth for a dataset's fields, names, classes and cycle.

A contract is a YAML file in ``schemas/`` checked against ``schemas/_contract.schema.json``.
Errors name the file and the field, so a broken contract is fixed in one look.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pyarrow as pa
import yaml

from envlake.kernel.settings import Settings

CYCLE_ZH = {
    "realtime": "实时",
    "hourly": "每小时",
    "daily": "每日",
    "weekly": "每周",
    "monthly": "每月",
    "quarterly": "每季度",
    "yearly": "每年",
    "irregular": "不定期",
}
SHARING_CLASS_ZH = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}

ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "integer": pa.int64(),
    "number": pa.float64(),
    "boolean": pa.bool_(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us"),
}

SCHEMA_FILE = "_contract.schema.json"


class ContractError(ValueError):
    """A contract file is missing, unreadable or breaks the contract schema."""


@dataclass(frozen=True)
class Field:
    name: str
    name_zh: str
    type: str
    nullable: bool
    security_level: str
    sharing_class: str
    pii: bool
    unit: str | None = None
    description: str | None = None
    rules: dict[str, Any] = field(default_factory=dict)

    @property
    def arrow_type(self) -> pa.DataType:
        return ARROW_TYPES[self.type]


@dataclass(frozen=True)
class Contract:
    id: str
    name_zh: str
    description: str
    kind: str
    owner_department: dict[str, str]
    source: dict[str, str]
    update_cycle: dict[str, Any]
    primary_key: list[str]
    fields: list[Field]
    event_time: str | None = None
    partitioning: str = "ingest_date"
    version: int = 1
    path: str = ""

    @property
    def field_names(self) -> list[str]:
        return [f.name for f in self.fields]

    def field(self, name: str) -> Field:
        for f in self.fields:
            if f.name == name:
                return f
        raise KeyError(f"contract {self.id!r} has no field {name!r}")


@cache
def _schema_validator(schemas_dir: Path) -> jsonschema.Draft202012Validator:
    schema = json.loads((schemas_dir / SCHEMA_FILE).read_text(encoding="utf-8"))
    return jsonschema.Draft202012Validator(schema)


def _where(error: jsonschema.ValidationError, doc: dict[str, Any]) -> str:
    """Name the place of an error: the field's name where the error sits inside a field."""
    path = list(error.absolute_path)
    if len(path) >= 2 and path[0] == "fields" and isinstance(path[1], int):
        fields = doc.get("fields") or []
        name = fields[path[1]].get("name", f"#{path[1]}") if path[1] < len(fields) else f"#{path[1]}"
        rest = ".".join(str(p) for p in path[2:])
        return f"field '{name}'" + (f" ({rest})" if rest else "")
    return "'" + ".".join(str(p) for p in path) + "'" if path else "top level"


def _semantic_errors(doc: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    names = [f["name"] for f in doc["fields"]]
    seen: set[str] = set()
    for name in names:
        if name in seen:
            errors.append(f"field '{name}': defined twice")
        seen.add(name)
    for key in doc["primary_key"]:
        if key not in names:
            errors.append(f"'primary_key': names '{key}', which is not a field")
    event_time = doc.get("event_time")
    if event_time and event_time not in names:
        errors.append(f"'event_time': names '{event_time}', which is not a field")
    cycle = doc["update_cycle"]
    if CYCLE_ZH[cycle["cycle"]] != cycle["name_zh"]:
        errors.append(
            f"'update_cycle.name_zh': '{cycle['name_zh']}' does not match cycle "
            f"'{cycle['cycle']}' (expected '{CYCLE_ZH[cycle['cycle']]}')"
        )
    if doc.get("partitioning") == "event_date" and not event_time:
        errors.append("'partitioning': event_date needs an event_time field")
    for f in doc["fields"]:
        rules = f.get("rules") or {}
        if ("min" in rules or "max" in rules) and f["type"] not in ("integer", "number"):
            errors.append(f"field '{f['name']}': min/max rules need a numeric type, not {f['type']}")
        if ("regex" in rules or "checksum" in rules) and f["type"] != "string":
            errors.append(f"field '{f['name']}': regex/checksum rules need type string")
        if f["pii"] and f["sharing_class"] == "unconditional":
            errors.append(f"field '{f['name']}': personal data (pii) cannot be shared unconditionally")
    return errors


def parse_contract(doc: Any, path: str, schemas_dir: Path) -> Contract:
    if not isinstance(doc, dict):
        raise ContractError(f"{path}: top level: a contract must be a mapping")
    errors = sorted(_schema_validator(schemas_dir).iter_errors(doc), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ContractError(f"{path}: {_where(first, doc)}: {first.message}{more}")
    semantic = _semantic_errors(doc)
    if semantic:
        raise ContractError(f"{path}: {semantic[0]}")
    # The schema admits no other keys, so the document maps onto the dataclasses as it is.
    fields = [Field(**{**f, "rules": dict(f.get("rules") or {})}) for f in doc["fields"]]
    return Contract(**{**doc, "fields": fields, "primary_key": list(doc["primary_key"])}, path=path)


def load_contract_file(path: Path, schemas_dir: Path | None = None) -> Contract:
    schemas_dir = schemas_dir or path.parent
    if not path.exists():
        raise ContractError(f"{path}: no such contract file")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ContractError(f"{path}: not valid YAML: {exc}") from exc
    contract = parse_contract(doc, str(path), schemas_dir)
    if contract.id != path.stem:
        raise ContractError(f"{path}: 'id': '{contract.id}' must match the file name '{path.stem}'")
    return contract


def load_contracts(schemas_dir: Path | None = None) -> dict[str, Contract]:
    schemas_dir = schemas_dir or Settings.from_env().schemas_dir
    contracts = {}
    for path in sorted(schemas_dir.glob("*.yaml")):
        if path.name.startswith("_"):
            continue
        contract = load_contract_file(path, schemas_dir)
        contracts[contract.id] = contract
    return contracts


def load_contract(dataset: str, schemas_dir: Path | None = None) -> Contract:
    schemas_dir = schemas_dir or Settings.from_env().schemas_dir
    path = schemas_dir / f"{dataset}.yaml"
    if not path.exists():
        known = ", ".join(sorted(p.stem for p in schemas_dir.glob("*.yaml") if not p.name.startswith("_")))
        raise ContractError(f"{path}: no contract for dataset '{dataset}' (known: {known})")
    return load_contract_file(path, schemas_dir)
