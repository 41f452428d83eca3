"""Check a batch against its contract, vectorised: every rule is one Arrow compute call.

A row that breaks a rule is set aside with the first broken rule's id and message and the ids
of every rule it broke; nothing is dropped. Columns the contract does not know are kept as
strings and reported (schema drift); a contract field missing from the source is reported, and
when it is required every row goes to quarantine with that reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from connectors.coercion import coerce
from envlake.kernel.contracts import Contract, Field
from envlake.kernel.identifiers import uscc_valid_mask

RULE_COLUMNS = ("_rule_id", "_reason", "_failed_rules")


@dataclass(frozen=True)
class Rule:
    id: str
    message: str


@dataclass
class ValidationResult:
    valid: pa.Table
    quarantine: pa.Table
    rows_in: int
    new_fields: list[str] = field(default_factory=list)
    missing_fields: list[str] = field(default_factory=list)
    rule_counts: dict[str, int] = field(default_factory=dict)


def _bool(arr: pa.Array | pa.ChunkedArray) -> np.ndarray:
    return np.asarray(pc.fill_null(arr, False).to_numpy(zero_copy_only=False), dtype=bool)


def _on_distinct(arr: pa.Array, check) -> pa.Array:
    """Run a costly string check once per distinct value (codes repeat: device ids, permit numbers)."""
    if len(arr) < 10_000:
        return check(arr)
    encoded = pc.dictionary_encode(arr)
    if len(encoded.dictionary) > len(arr) // 4:
        return check(arr)
    return check(encoded.dictionary).take(encoded.indices)


def _label(f: Field) -> str:
    return f"{f.name} ({f.name_zh})"


def _field_checks(contract: Contract, f: Field, typed: pa.Array) -> list[tuple[Rule, np.ndarray]]:
    rid = f"{contract.id}.{f.name}"
    checks: list[tuple[Rule, np.ndarray]] = []
    if not f.nullable and typed.null_count:
        checks.append((Rule(f"{rid}.not_null", f"{_label(f)} is required but empty"), _bool(typed.is_null())))
    rules = f.rules
    if "allowed_values" in rules:
        allowed = pa.array(rules["allowed_values"]).cast(typed.type)
        bad = _bool(pc.and_(pc.is_valid(typed), pc.invert(pc.is_in(typed, value_set=allowed))))  # null: not_null's job
        shown = "/".join(str(v) for v in rules["allowed_values"])
        checks.append((Rule(f"{rid}.allowed_values", f"{_label(f)} is not one of {shown}"), bad))
    if "regex" in rules:
        bad = _bool(pc.invert(_on_distinct(typed, lambda a: pc.match_substring_regex(a, rules["regex"]))))
        checks.append((Rule(f"{rid}.regex", f"{_label(f)} does not match {rules['regex']}"), bad))
    if "min" in rules:
        bad = _bool(pc.less(typed, rules["min"]))
        checks.append((Rule(f"{rid}.min", f"{_label(f)} is below {rules['min']}"), bad))
    if "max" in rules:
        bad = _bool(pc.greater(typed, rules["max"]))
        checks.append((Rule(f"{rid}.max", f"{_label(f)} is above {rules['max']}"), bad))
    if rules.get("checksum") == "uscc":
        bad = _bool(pc.invert(uscc_valid_mask(typed)))
        message = f"{_label(f)} fails the GB 32100-2015 check characters (unified social credit code)"
        checks.append((Rule(f"{rid}.checksum", message), bad))
    return [(rule, mask) for rule, mask in checks if mask.any()]


def _reason_columns(failures: list[tuple[Rule, np.ndarray]], rows: np.ndarray) -> dict[str, pa.Array]:
    """First broken rule (id and message) and all broken rule ids, for the quarantined rows only."""
    first = np.full(len(rows), -1, dtype=np.int32)
    all_ids: list[list[str]] = [[] for _ in rows]
    for k, (rule, mask) in enumerate(failures):
        hit = mask[rows]
        first[(first == -1) & hit] = k
        for i in np.flatnonzero(hit):
            all_ids[i].append(rule.id)
    ids = pa.array([r.id for r, _ in failures])
    messages = pa.array([r.message for r, _ in failures])
    indices = pa.array(first)
    return {
        "_rule_id": ids.take(indices),
        "_reason": messages.take(indices),
        "_failed_rules": pa.array([",".join(x) for x in all_ids], pa.string()),
    }


def _as_strings(table: pa.Table) -> pa.Table:
    cols = []
    for col in table.columns:
        try:
            cols.append(pc.cast(col, pa.string()))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            cols.append(pa.array([None if v is None else str(v) for v in col.to_pylist()], pa.string()))
    return pa.table(cols, names=table.column_names)


def validate(contract: Contract, batch: pa.Table) -> ValidationResult:
    n = batch.num_rows
    source_names = set(batch.column_names)
    known = set(contract.field_names)
    new_fields = [c for c in batch.column_names if c not in known and not c.startswith("_")]
    missing = [f.name for f in contract.fields if f.name not in source_names]

    failures: list[tuple[Rule, np.ndarray]] = []
    typed_columns: list[pa.Array] = []
    for f in contract.fields:
        if f.name not in source_names:
            typed = pa.nulls(n, f.arrow_type)
            if not f.nullable:
                rule = Rule(f"{contract.id}.{f.name}.missing_field",
                            f"schema drift: required field {_label(f)} is missing from the source")
                failures.append((rule, np.ones(n, dtype=bool)))
                typed_columns.append(typed)
                continue
        else:
            typed, bad_type = coerce(batch.column(f.name), f.type, f.arrow_type)
            if bad_type.any():
                rule = Rule(f"{contract.id}.{f.name}.type", f"{_label(f)} cannot be read as {f.type}")
                failures.append((rule, bad_type))
        typed_columns.append(typed)
        failures.extend(_field_checks(contract, f, typed))

    bad = np.zeros(n, dtype=bool)
    for _, mask in failures:
        bad |= mask
    extra = _as_strings(batch.select(new_fields)) if new_fields else None
    valid = pa.Table.from_arrays(typed_columns, names=contract.field_names)
    if extra is not None:
        for name in new_fields:
            valid = valid.append_column(name, extra.column(name))

    if bad.any():
        rows = np.flatnonzero(bad)
        keep = pa.array(np.flatnonzero(~bad))
        quarantine = _as_strings(batch.take(pa.array(rows)))  # only the bad rows become text
        for name, column in _reason_columns(failures, rows).items():
            quarantine = quarantine.append_column(name, column)
        valid = valid.take(keep)
    else:
        quarantine = _as_strings(batch.slice(0, 0))
        for name in RULE_COLUMNS:
            quarantine = quarantine.append_column(name, pa.array([], pa.string()))

    counts = {rule.id: int(mask.sum()) for rule, mask in failures}
    return ValidationResult(valid, quarantine, n, new_fields, missing, counts)
