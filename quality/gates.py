"""The gates a publish must pass: classification, personal-data detection and the marts' GX suites.

Run by the publish step on the build area before anything is exported. Each finding names model, column
and rule. The report (every published column's classification, the findings, the suites' results and the
time each gate took) is written to ``_meta/quality/gates/<version>.json`` whether the gates pass or not;
the suites' rows also go to ``_meta/quality/results/``. The catalogue reads both.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import duckdb

from envlake.kernel.contracts import load_contracts
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from quality import results
from quality.classification import ColumnClass, Violation, classify, violations
from quality.expectations import Outcome, mart_suite, mart_tests, to_frame, validate
from quality.lineage import column_lineage, relation_names, warehouse_columns
from quality.pii import KINDS_ZH, scan

# Above this many rows to check, a mart's suite runs on a repeatable sample of them (dbt's own key tests
# have already run on every row in the build).
GX_MAX_ROWS = int(os.environ.get("ENVLAKE_GX_MAX_ROWS", "100000"))


@dataclass
class GateTarget:
    """A mart about to be published: its node, relation, shared projection and the rows that change."""

    uid: str
    name: str
    relation: str
    shared_relation: str
    where: str = "true"


@dataclass
class GateReport:
    version: str
    violations: list[Violation] = field(default_factory=list)
    expectations: dict[str, list[Outcome]] = field(default_factory=dict)
    classes: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    mart_seconds: dict[str, float] = field(default_factory=dict)  # each mart's suite, for the benchmark

    @property
    def failed_expectations(self) -> list[tuple[str, Outcome]]:
        return [(m, o) for m, outs in self.expectations.items() for o in outs if not o.success]

    @property
    def passed(self) -> bool:
        return not self.violations and not self.failed_expectations

    def summary(self) -> str:
        parts = [str(v) for v in self.violations[:8]]
        parts += [f"{m}: {o.expectation} failed ({o.unexpected_count} unexpected)"
                  for m, o in self.failed_expectations[:8]]
        more = len(self.violations) + len(self.failed_expectations) - len(parts)
        return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")

    def as_dict(self) -> dict[str, Any]:
        return {"version": self.version, "checked_at": datetime.now(UTC).isoformat(), "passed": self.passed,
                "violations": [vars(v) for v in self.violations],
                "expectations": {m: [vars(o) for o in outs] for m, outs in self.expectations.items()},
                "classes": self.classes, "timings": self.timings, "mart_seconds": self.mart_seconds}


def _passthrough(cls: dict[str, dict[str, ColumnClass]], uid: str, contracts: dict[str, Any]) -> dict[str, Any]:
    """column -> the contract field it copies unchanged (one input of the same name, all the way down)."""
    out = {}
    for column in cls.get(uid, {}):
        node, name = uid, column
        while True:
            c = cls.get(node, {}).get(name)
            if c is None or len(c.inputs) != 1 or c.inputs[0].column != name:
                break
            node = c.inputs[0].parent
            if node.startswith("contract:"):
                contract = contracts.get(node.removeprefix("contract:"))
                fld = next((f for f in contract.fields if f.name == name), None) if contract else None
                if fld is not None:
                    out[column] = fld
                break
    return out


def check(settings: Settings, man: dict[str, Any], targets: list[GateTarget], published: set[str],
          version: str) -> GateReport:
    """Every gate on the build area. ``published``: every node with a shared/ projection (a selective
    build publishes some of them, but all stay in shared/ and are classified again)."""
    report = GateReport(version)
    lake = Lake(settings.lake)
    contracts = load_contracts(settings.schemas_dir)
    started = time.perf_counter()
    con = Lake(settings.lake).register(duckdb.connect(str(settings.warehouse)))
    try:
        columns = warehouse_columns(con)
    finally:
        con.close()
    lineage, problems = column_lineage(man, columns, settings)
    report.timings["lineage_s"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    names = relation_names(man)
    relation_of = {uid: rel for rel, uid in names.items()}
    columns_of = {uid: list(columns.get(relation_of.get(uid, ""), {})) for uid in lineage}
    classes = classify(man, lineage, columns_of, contracts)
    model_names = {uid: man["nodes"][uid]["name"] for uid in classes}
    report.violations += violations(classes, published, model_names)
    for uid in published:
        report.classes[model_names[uid]] = [c.as_dict() for c in classes.get(uid, {}).values()]
    for uid, problem in problems.items():
        report.violations.append(Violation(model_names[uid], "*", "unclassified", f"lineage: {problem}"))
    report.timings["classification_s"] = round(time.perf_counter() - started, 3)

    started = time.perf_counter()
    con = Lake(settings.lake).register(duckdb.connect(str(settings.warehouse)))
    try:
        for t in targets:
            texts = [c.column for c in classes.get(t.uid, {}).values()
                     if c.free_text and not (c.effective and c.effective.pii)
                     and "char" in columns.get(relation_of.get(t.uid, ""), {}).get(c.column, "").lower()]
            for finding in scan(con, t.relation, texts, t.where):
                report.violations.append(Violation(t.name, finding.column, "pii_detected",
                                                   f"{KINDS_ZH[finding.kind]} {finding.example} in a column not "
                                                   "flagged pii"))
        report.timings["pii_s"] = round(time.perf_counter() - started, 3)

        started = time.perf_counter()
        for t in targets:
            mart_started = time.perf_counter()
            node = man["nodes"][t.uid]
            built = list(columns.get(relation_of.get(t.uid, ""), {}))
            specs = mart_suite(node, built, _passthrough(classes, t.uid, contracts), mart_tests(man, t.uid))
            rows = con.execute(f"select count(*) from {t.relation} where {t.where}").fetchall()[0][0]
            sample = f" using sample reservoir({GX_MAX_ROWS} rows) repeatable (42)" if rows > GX_MAX_ROWS else ""
            table = con.sql(f"select * from {t.relation} where {t.where}{sample}").to_arrow_table()
            outcomes = validate(t.name, specs, to_frame(table))
            report.expectations[t.name] = outcomes
            batch = f"{table.num_rows} of {rows} rows" + (" (sample)" if sample else "")
            results.write(lake, "mart", t.name, version, batch, outcomes)
            report.mart_seconds[t.name] = round(time.perf_counter() - mart_started, 3)
        report.timings["expectations_s"] = round(time.perf_counter() - started, 3)
    finally:
        con.close()
    lake.write_bytes(json.dumps(report.as_dict(), ensure_ascii=False, indent=1, default=str).encode("utf-8"),
                     lake.path("_meta", "quality", "gates", f"{version}.json"))
    return report
