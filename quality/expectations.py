"""Great Expectations suites generated from the contracts (landed batches) and from the dbt models (marts).

A contract gives, per field: its type, nullability, allowed values, regex, range and checksum, and the
dataset's key must be unique. A checksum (the unified social credit code's GB 32100 check character) has
no built-in expectation: the batch gets a boolean column ``_checksum_ok__<field>`` computed by our own
checker and the suite expects it true. A mart's suite comes from its YAML: the documented columns
exactly, ``not_null``, ``unique`` and ``accepted_values`` tests, and the format rules of the contract
field a column passes through unchanged (same name, one input).

GX validates pandas DataFrames (its SQL source fails on DuckDB, see STACK.md); ``GX_ANALYTICS_ENABLED``
is switched off before it is imported.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from envlake.kernel.contracts import Contract
from envlake.kernel.identifiers import uscc_valid_mask

PANDAS_TYPES = {
    "string": ["object", "str", "string", "StringDtype", "string[python]", "string[pyarrow]"],
    "integer": ["int64", "Int64", "int32", "Int32"],
    "number": ["float64", "Float64", "float32", "int64", "Int64"],
    "boolean": ["bool", "boolean"],
    "date": ["date", "object", "datetime64[ns]", "datetime64[us]", "datetime64[ms]", "datetime64[s]"],
    "timestamp": ["datetime64[us, UTC]", "datetime64[ns, UTC]", "datetime64[us]", "datetime64[ns]",
                  "datetime64[us, Asia/Shanghai]", "datetime64[ns, Asia/Shanghai]"],
}


@dataclass(frozen=True)
class Spec:
    """One expectation, engine-free: GX class name and keyword arguments."""

    kind: str
    kwargs: dict[str, Any] = field(default_factory=dict)

    @property
    def column(self) -> str | None:
        return self.kwargs.get("column") or (",".join(self.kwargs["column_list"])
                                             if "column_list" in self.kwargs else None)

    @property
    def label(self) -> str:
        return f"{self.kind}({self.column})" if self.column else self.kind


def checksum_column(name: str) -> str:
    return f"_checksum_ok__{name}"


def field_specs(f: Any, types: bool = True) -> list[Spec]:
    specs = []
    if types and f.type in PANDAS_TYPES:
        specs.append(Spec("ExpectColumnValuesToBeInTypeList", {"column": f.name, "type_list": PANDAS_TYPES[f.type]}))
    rules = f.rules or {}
    if "allowed_values" in rules:
        specs.append(Spec("ExpectColumnValuesToBeInSet",
                          {"column": f.name, "value_set": list(rules["allowed_values"])}))
    if "regex" in rules:
        specs.append(Spec("ExpectColumnValuesToMatchRegex", {"column": f.name, "regex": rules["regex"]}))
    if "min" in rules or "max" in rules:
        specs.append(Spec("ExpectColumnValuesToBeBetween",
                          {"column": f.name, "min_value": rules.get("min"), "max_value": rules.get("max")}))
    if "checksum" in rules:
        specs.append(Spec("ExpectColumnValuesToBeInSet", {"column": checksum_column(f.name), "value_set": [True]}))
    return specs


def contract_suite(contract: Contract) -> list[Spec]:
    """The suite of a landed batch of ``contract``'s dataset."""
    specs = [Spec("ExpectTableColumnsToMatchSet",
                  {"column_set": list(contract.field_names), "exact_match": False})]
    for f in contract.fields:
        if not f.nullable:
            specs.append(Spec("ExpectColumnValuesToNotBeNull", {"column": f.name}))
        specs += field_specs(f)
    key = contract.primary_key
    specs.append(Spec("ExpectCompoundColumnsToBeUnique", {"column_list": key}) if len(key) > 1
                 else Spec("ExpectColumnValuesToBeUnique", {"column": key[0]}))
    return specs


def mart_tests(man: dict[str, Any], uid: str) -> dict[str, list[tuple[str, dict[str, Any]]]]:
    """column -> [(test name, its arguments)] of the generic dbt tests attached to node ``uid``."""
    out: dict[str, list[tuple[str, dict[str, Any]]]] = {}
    for node in man["nodes"].values():
        meta = node.get("test_metadata") or {}
        if node["resource_type"] != "test" or node.get("attached_node") != uid or not node.get("column_name"):
            continue
        out.setdefault(node["column_name"], []).append((meta.get("name", ""), meta.get("kwargs") or {}))
    return out


def mart_suite(node: dict[str, Any], columns: list[str], passthrough: dict[str, Any],
               tests: dict[str, list[tuple[str, dict[str, Any]]]]) -> list[Spec]:
    """The suite of a mart: ``columns`` as built, ``passthrough``: column -> the contract field it copies,
    ``tests``: its dbt generic tests per column (``mart_tests``)."""
    documented = list(node.get("columns", {}))
    specs = [Spec("ExpectTableColumnsToMatchSet", {"column_set": documented, "exact_match": True})]
    for name, attached in sorted(tests.items()):
        if name not in columns:
            continue
        for test_name, args in attached:
            if test_name == "not_null":
                specs.append(Spec("ExpectColumnValuesToNotBeNull", {"column": name}))
            elif test_name == "unique":
                specs.append(Spec("ExpectColumnValuesToBeUnique", {"column": name}))
            elif test_name == "accepted_values" and "values" in args:
                specs.append(Spec("ExpectColumnValuesToBeInSet", {"column": name, "value_set": list(args["values"])}))
    for name, fld in passthrough.items():
        if name in columns:
            specs += [s for s in field_specs(fld, types=False) if not s.kwargs["column"].startswith("_checksum")]
    return specs


@cache
def _context() -> Any:
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("TQDM_DISABLE", "1")  # GX's per-validation progress bars are noise in task logs
    import great_expectations as gx
    from great_expectations.data_context.types.base import ProgressBarsConfig

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
    return context


@dataclass
class Outcome:
    expectation: str
    column: str | None
    success: bool
    observed_value: str
    unexpected_count: int | None
    element_count: int | None


def validate(name: str, specs: list[Spec], frame: Any) -> list[Outcome]:
    """Run ``specs`` as one GX suite on a pandas DataFrame (one checkpoint per kind of batch)."""
    import json

    import great_expectations as gx
    import great_expectations.expectations as gxe

    context = _context()
    suite_name = f"envlake.{name}"
    with contextlib.suppress(Exception):
        context.suites.delete(suite_name)
    suite = context.suites.add(gx.ExpectationSuite(
        name=suite_name, expectations=[getattr(gxe, s.kind)(**s.kwargs) for s in specs]))
    source_name = f"frames.{name}"
    try:
        batch_definition = context.data_sources.get(source_name).get_asset(name).get_batch_definition(name)
    except Exception:
        batch_definition = (context.data_sources.add_pandas(source_name).add_dataframe_asset(name)
                            .add_batch_definition_whole_dataframe(name))
    result = batch_definition.get_batch(batch_parameters={"dataframe": frame}).validate(suite)
    spec_of = {e.id: spec for e, spec in zip(suite.expectations, specs, strict=True)}
    outcomes = []
    for r in result.results:
        spec = spec_of[r.expectation_config.id]
        res = r.result or {}
        observed = res.get("observed_value")
        if observed is None and res.get("partial_unexpected_list") is not None:
            observed = res["partial_unexpected_list"][:5]
        outcomes.append(Outcome(spec.label, spec.column, bool(r.success),
                                json.dumps(observed, ensure_ascii=False, default=str)[:500],
                                res.get("unexpected_count"), res.get("element_count")))
    return outcomes


def contract_frame(contract: Contract, table: Any) -> Any:
    """A landed batch (Arrow) as the DataFrame its suite expects: checksum flags added."""
    import pyarrow.compute as pc

    for f in contract.fields:
        if (f.rules or {}).get("checksum") == "uscc" and f.name in table.column_names:
            column = table.column(f.name).combine_chunks()
            valid = pc.if_else(pc.is_null(column), None, uscc_valid_mask(column))
            table = table.append_column(checksum_column(f.name), valid)
    return to_frame(table)


def to_frame(table: Any) -> Any:
    """Arrow to pandas for GX: text as Python objects (GX's type check does not know pandas 3's ``str``),
    decimals as floats (Python ``Decimal`` objects make every check an order of magnitude slower)."""
    import pyarrow as pa

    for i, column_type in enumerate(table.schema.types):
        if pa.types.is_decimal(column_type):
            table = table.set_column(i, table.column_names[i], table.column(i).cast(pa.float64()))
    frame = table.to_pandas()
    for name, column_type in zip(table.column_names, table.schema.types, strict=True):
        if pa.types.is_string(column_type) or pa.types.is_large_string(column_type):
            frame[name] = frame[name].astype(object)
    return frame
