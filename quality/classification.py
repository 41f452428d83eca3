"""Classification that follows the data (就高从严), and the gate that keeps shared/ within the rules.

Each contract field carries a security level (L1–L4), a sharing class (无条件/有条件/不予共享) and a ``pii``
flag. A model column inherits the strictest of the columns it is computed from (``quality.lineage``); a
column computed from none (a count, a constant) is L1 and unconditional. A model's YAML may declare a
column's class (``meta: {security_level, sharing_class, pii}``); a declaration lower than what the column
inherits must say why (``meta: {classification_reason: ...}``), e.g. an aggregate or a masked value.
Meta that ``envlake models generate`` copied from a contract (it carries ``contract:``) is documentation,
not a declaration: the contract itself is read.

The gate's rules, each naming model, column and rule:
- ``unclassified``: the column could not be traced and declares nothing;
- ``lowered_without_reason``: declared lower than its inputs with no reason written;
- ``restricted_in_shared``: a 不予共享 or L4 column would reach shared/;
- ``conditional_unmasked``: a 有条件共享 column would reach shared/ in the clear (declare it conditional, or
  give it a ``mask``, so that the shared view masks it; or withhold it with ``shared: false``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from envlake.kernel.contracts import Contract
from quality.lineage import Input, Lineage

LEVELS = ("L1", "L2", "L3", "L4")
SHARING = ("unconditional", "conditional", "none")
SHARING_ZH = {"unconditional": "无条件共享", "conditional": "有条件共享", "none": "不予共享"}
RULES_ZH = {
    "unclassified": "未分类",
    "lowered_without_reason": "降级无理由",
    "restricted_in_shared": "不予共享或L4字段进入共享区",
    "conditional_unmasked": "有条件共享字段未脱敏",
    "pii_detected": "发现未标记的个人信息",
}
SNAPSHOT_COLUMNS = ("dbt_scd_id", "dbt_updated_at", "dbt_valid_from", "dbt_valid_to")


@dataclass(frozen=True)
class Classification:
    security_level: str = "L1"
    sharing_class: str = "unconditional"
    pii: bool = False

    def strictest(self, other: Classification) -> Classification:
        return Classification(max(self.security_level, other.security_level, key=LEVELS.index),
                              max(self.sharing_class, other.sharing_class, key=SHARING.index),
                              self.pii or other.pii)

    def lower_than(self, other: Classification) -> bool:
        return (LEVELS.index(self.security_level) < LEVELS.index(other.security_level)
                or SHARING.index(self.sharing_class) < SHARING.index(other.sharing_class)
                or (other.pii and not self.pii))

    def as_dict(self) -> dict[str, Any]:
        return {"security_level": self.security_level, "sharing_class": self.sharing_class, "pii": self.pii}


@dataclass
class ColumnClass:
    node: str
    column: str
    effective: Classification | None
    derived: Classification | None
    declared: Classification | None = None
    reason: str | None = None
    inputs: list[Input] = field(default_factory=list)
    free_text: bool = False  # some input is a text field with no format rule: the PII detector scans it
    withheld: bool = False  # meta shared: false
    masked: bool = False    # the shared view masks it
    mask: str | None = None

    @property
    def input_names(self) -> list[str]:
        return [f"{i.parent.split('.')[-1]}.{i.column}" for i in self.inputs]

    def as_dict(self) -> dict[str, Any]:
        return {"column": self.column, **(self.effective.as_dict() if self.effective else {"unclassified": True}),
                "derived": self.derived.as_dict() if self.derived else None,
                "declared": self.declared.as_dict() if self.declared else None, "reason": self.reason,
                "inputs": self.input_names,
                "shared": "withheld" if self.withheld else ("masked" if self.masked else "clear"), "mask": self.mask}


@dataclass(frozen=True)
class Violation:
    model: str
    column: str
    rule: str
    detail: str

    def __str__(self) -> str:
        return f"{self.model}.{self.column}: {self.rule} ({self.detail})"


def _declared(meta: dict[str, Any]) -> Classification | None:
    if "contract" in meta or not ({"security_level", "sharing_class", "pii"} & meta.keys()):
        return None
    return Classification(meta.get("security_level", "L1"), meta.get("sharing_class", "unconditional"),
                          bool(meta.get("pii", False)))


FORMAT_RULES = ("regex", "allowed_values", "checksum")


def _contract_class(contracts: dict[str, Contract], dataset: str, column: str) -> tuple[Classification, bool]:
    """The field's classification, and whether it is free text (text with no format rule)."""
    contract = contracts.get(dataset)
    fld = next((f for f in contract.fields if f.name == column), None) if contract else None
    if fld is None:  # lake bookkeeping (_ingested_at, _batch_id, quarantine reasons): about the load, not the data
        return Classification(), False
    free_text = fld.type == "string" and not (FORMAT_RULES & fld.rules.keys())
    return Classification(fld.security_level, fld.sharing_class, bool(fld.pii)), free_text


def _topological(man: dict[str, Any], uids: list[str]) -> list[str]:
    order: list[str] = []
    seen: set[str] = set()

    def visit(uid: str) -> None:
        if uid in seen:
            return
        seen.add(uid)
        for parent in man["nodes"].get(uid, {}).get("depends_on", {}).get("nodes", []):
            if parent in man["nodes"]:
                visit(parent)
        order.append(uid)

    for uid in sorted(uids):
        visit(uid)
    return order


def classify(man: dict[str, Any], lineage: Lineage, columns_of: dict[str, list[str]],
             contracts: dict[str, Contract]) -> dict[str, dict[str, ColumnClass]]:
    """Every column of every model and snapshot (``columns_of``: node -> its columns in the build area)."""
    result: dict[str, dict[str, ColumnClass]] = {}

    def input_class(i: Input) -> tuple[Classification | None, bool]:
        if i.parent.startswith("contract:"):
            return _contract_class(contracts, i.parent.removeprefix("contract:"), i.column)
        parent = man["nodes"].get(i.parent, {})
        if parent.get("resource_type") == "seed":  # unclassified seeds count as the strictest
            meta = parent.get("config", {}).get("meta") or parent.get("meta") or {}
            return Classification(meta.get("security_level", "L4"), meta.get("sharing_class", "none")), False
        cls = result.get(i.parent, {}).get(i.column)
        return (cls.effective, cls.free_text) if cls else (None, False)

    for uid in _topological(man, list(lineage)):
        if uid not in lineage:
            continue
        node = man["nodes"][uid]
        traced = lineage[uid]
        declared_columns = node.get("columns", {})
        out: dict[str, ColumnClass] = {}
        for column in columns_of.get(uid, []):
            meta = (declared_columns.get(column) or {}).get("meta") or {}
            inputs = (traced or {}).get(column)
            derived: Classification | None = None
            free_text = False
            if node["resource_type"] == "snapshot" and column in SNAPSHOT_COLUMNS:
                inputs = []
            if inputs is not None:
                derived = Classification()
                for i in inputs:
                    cls, text = input_class(i)
                    free_text = free_text or text
                    derived = derived.strictest(cls) if cls and derived else None
                    if derived is None:
                        break
            declared = _declared(meta)
            mask = meta.get("mask")
            effective = declared or derived
            out[column] = ColumnClass(
                uid, column, effective, derived, declared, meta.get("classification_reason"), inputs or [],
                free_text=free_text, withheld=meta.get("shared") is False,
                masked=bool(mask) or meta.get("sharing_class") == "conditional", mask=mask)
        result[uid] = out
    return result


def violations(classes: dict[str, dict[str, ColumnClass]], published: set[str],
               names: dict[str, str]) -> list[Violation]:
    """The gate's findings. ``published``: the nodes with a shared/ projection; ``names``: node -> model name."""
    found: list[Violation] = []
    for uid, columns in classes.items():
        model = names[uid]
        for c in columns.values():
            if c.effective is None:
                found.append(Violation(model, c.column, "unclassified",
                                       "its lineage could not be traced: declare security_level and "
                                       "sharing_class in the model's YAML meta"))
                continue
            if c.declared and c.derived and c.declared.lower_than(c.derived) and not c.reason:
                found.append(Violation(model, c.column, "lowered_without_reason",
                                       f"declared {c.declared.security_level}/{c.declared.sharing_class} below "
                                       f"its inputs' {c.derived.security_level}/{c.derived.sharing_class}: "
                                       "write meta.classification_reason"))
            if uid not in published or c.withheld:
                continue
            if c.effective.sharing_class == "none" or c.effective.security_level == "L4":
                found.append(Violation(model, c.column, "restricted_in_shared",
                                       f"{c.effective.security_level}/{SHARING_ZH[c.effective.sharing_class]} "
                                       "would reach shared/ (from "
                                       f"{', '.join(c.input_names)})"))
            elif c.effective.sharing_class == "conditional" and not c.masked:
                found.append(Violation(model, c.column, "conditional_unmasked",
                                       "有条件共享 would reach shared/ in the clear: declare sharing_class "
                                       "conditional (or a mask) in the model's YAML"))
    return found
