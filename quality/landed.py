"""Every landed batch checked by its contract's GX suite, once.

A batch is one load run of the load log that wrote files to ``raw/``. Runs already in the results are
skipped, so the quality DAG can run as often as it likes. Rows in ``raw/`` already passed our own
validation at landing; the suite is the second, independent line (and it sees the whole batch, so it
also catches a key repeated across the rows of one batch). A failed expectation raises an alert.
"""

from __future__ import annotations

import json

import pyarrow.compute as pc
import pyarrow.dataset as ds

from envlake.kernel import load_log
from envlake.kernel.alerts import raise_alerts
from envlake.kernel.contracts import load_contracts
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.kernel.transactions import pending_runs
from quality import results
from quality.expectations import contract_frame, contract_suite, validate


def _checked_runs(lake: Lake) -> set[tuple[str, str]]:
    if not lake.exists(lake.path("_meta", "quality", "results", "kind=landed")):
        return set()
    table = ds.dataset(lake.path("_meta", "quality", "results", "kind=landed"), filesystem=lake.fs,
                       format="parquet", partitioning="hive").to_table(columns=["dataset", "run"])
    return set(zip(table.column("dataset").to_pylist(), table.column("run").to_pylist(), strict=True))


def validate_landed(settings: Settings | None = None) -> dict[str, dict]:
    """Validate every landed batch not validated yet; returns {dataset: {batches, failed expectations}}."""
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    contracts = load_contracts(settings.schemas_dir)
    log = load_log.read(lake)
    done = _checked_runs(lake)
    pending = pending_runs(lake)  # committed, files still being moved into place: checked next time, whole
    raw = lake.path("raw") + "/"
    summary: dict[str, dict] = {}
    alerts = []
    if log.num_rows == 0:
        return summary
    log = log.filter(pc.greater(log.column("rows_written"), 0))
    for row in log.to_pylist():
        dataset, run = row["dataset"], row["run_id"]
        if dataset not in contracts or (dataset, run) in done or run in pending:
            continue
        files = [f for f in json.loads(row["files"] or "[]") if f.startswith(raw) and lake.exists(f)]
        if not files:
            continue
        contract = contracts[dataset]
        table = lake.read_files(files)
        outcomes = validate(dataset, contract_suite(contract), contract_frame(contract, table))
        results.write(lake, "landed", dataset, run, f"{len(files)} files, {table.num_rows} rows", outcomes)
        failed = [o for o in outcomes if not o.success]
        entry = summary.setdefault(dataset, {"batches": 0, "failed": []})
        entry["batches"] += 1
        entry["failed"] += [o.expectation for o in failed]
        if failed:
            alerts.append({"dataset": dataset, "rule": "quality", "state": "failed",
                           "message": f"{contract.name_zh}：入湖批次 {run} 未通过 {len(failed)} 项质量校验"
                                      f"（{'、'.join(o.expectation for o in failed[:3])}）"})
    raise_alerts(lake, alerts)
    return summary
