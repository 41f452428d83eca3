"""The shared-data catalogue (公共数据目录): what is shared, under which class, how fresh, how good.

Generated, never edited: from the contracts (source datasets: owner, cycle, fields and their classes), the
dbt manifest (shared datasets: descriptions, upstream lineage), the last publish (rows, last update), the
last gate report (each shared column's class as it reaches shared/, the marts' suite results), the landed
batches' suite results and the dynamic-update rules (freshness now). A shared dataset is as fresh as its
stalest input feed. Written to ``_meta/catalogue/`` as ``catalogue.json`` and a static HTML site.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pyarrow.compute as pc

from envlake.catalogue.html import render_site
from envlake.kernel.contracts import load_contracts
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings
from envlake.modelling.runner import manifest
from envlake.publishing.export import publishable
from envlake.publishing.reader import current
from quality.classification import LEVELS, SHARING, SHARING_ZH
from quality.completeness import monitoring_completeness
from quality.dynamic_update import COMPLETE_SHARE_REQUIRED
from quality.freshness import assess, reference_time

STATE_RANK = ("fresh", "late", "stale", "never")
STATE_ZH = {"fresh": "正常", "late": "滞后", "stale": "过期", "never": "从未入湖"}
CYCLE_ZH = {"realtime": "实时", "hourly": "每小时", "daily": "每日", "weekly": "每周", "monthly": "每月",
            "quarterly": "每季度", "yearly": "每年"}


def _upstream(man: dict[str, Any], uid: str) -> tuple[list[str], set[str]]:
    """Every upstream node (names, nearest first) and the contracts (datasets) the node is built from."""
    names: list[str] = []
    datasets: set[str] = set()
    queue = list(man["nodes"].get(uid, {}).get("depends_on", {}).get("nodes", []))
    seen: set[str] = set()
    while queue:
        parent = queue.pop(0)
        if parent in seen:
            continue
        seen.add(parent)
        if parent.startswith("source."):
            source = man["sources"][parent]
            datasets.add((source.get("meta") or {}).get("dataset") or source["name"])
            names.append(f"source:{source['source_name']}.{source['name']}")
            continue
        node = man["nodes"].get(parent)
        if node is None:
            continue
        names.append(node["name"])
        queue += node.get("depends_on", {}).get("nodes", [])
    return names, datasets


def _landed_results(lake: Lake) -> dict[str, list[dict[str, Any]]]:
    """The newest landed batch's suite results per dataset."""
    files = lake.files("_meta", "quality", "results", "kind=landed")
    if not files:
        return {}
    table = lake.read_files(files)
    out: dict[str, list[dict[str, Any]]] = {}
    for dataset in set(table.column("dataset").to_pylist()):
        rows = table.filter(pc.equal(table.column("dataset"), dataset))
        newest = max(rows.column("checked_at").to_pylist())
        rows = rows.filter(pc.equal(rows.column("checked_at"), newest))
        out[dataset] = [{k: r[k] for k in ("run", "batch", "expectation", "success", "observed_value",
                                             "unexpected_count")} for r in rows.to_pylist()]
    return out


def _last_publish_attempt(lake: Lake) -> dict[str, Any] | None:
    files = lake.files("_meta", "publish_log")
    if not files:
        return None
    table = lake.read_files(files).sort_by([("published_at", "descending")])
    row = table.slice(0, 1).to_pylist()[0]
    return {"version": row["version"], "status": row["status"], "at": row["published_at"].isoformat(),
            "failed": json.loads(row["failed"] or "[]"), "message": row["message"]}


def _gate_reports(lake: Lake, version: str | None) -> dict[str, Any]:
    """The published version's gate report, completed from earlier reports for the marts a selective publish
    kept as they were (its gates ran on the marts it rebuilt only)."""
    if not version:
        return {}
    folder = lake.path("_meta", "quality", "gates")
    names = sorted((p.rsplit("/", 1)[1] for p in lake.files("_meta", "quality", "gates", suffix=".json")
                    if p.rsplit("/", 1)[1] <= f"{version}.json"), reverse=True)
    merged: dict[str, Any] = {"classes": {}, "expectations": {}}
    for name in names:
        data = lake.read_bytes(f"{folder}/{name}")
        report = json.loads(data.decode("utf-8")) if data else {}
        for key in ("classes", "expectations"):
            for mart, entries in (report.get(key) or {}).items():
                merged[key].setdefault(mart, entries)
    return merged


def _quality_summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    passed = sum(1 for r in results if r["success"])
    return {"expectations": len(results), "passed": passed,
            "pass_rate": round(passed / len(results), 4) if results else None}


def build(settings: Settings | None = None, clock: str | None = None, now: datetime | None = None) -> dict[str, Any]:
    """The catalogue document (also written by ``write``); freshness as of ``now`` (default: the clock)."""
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    contracts = load_contracts(settings.schemas_dir)
    now = now or reference_time(settings, clock)
    freshness = {f.dataset: f for f in assess(settings, now)}
    landed = _landed_results(lake)
    completeness = monitoring_completeness(lake)
    published = current(lake) or {}
    published_gate = _gate_reports(lake, published.get("version"))
    sources = []
    for dataset, c in sorted(contracts.items()):
        f = freshness.get(dataset)
        levels = [x.security_level for x in c.fields]
        classes = [x.sharing_class for x in c.fields]
        sources.append({
            "id": dataset, "kind": "source", "name_zh": c.name_zh, "description": c.description.strip(),
            "owner_department": c.owner_department.get("name_zh"),
            "update_cycle": c.update_cycle["cycle"], "update_cycle_zh": c.update_cycle.get("name_zh"),
            "grace_hours": c.update_cycle.get("grace_hours"),
            "security_level": max(levels, key=LEVELS.index), "sharing_class": max(classes, key=SHARING.index),
            "last_update": f.last_load_at.isoformat() if f and f.last_load_at else None,
            "newest_event": f.newest_event_at.isoformat() if f and f.newest_event_at else None,
            "freshness": f.state if f else "never",
            "columns": [{"name": x.name, "name_zh": x.name_zh, "type": x.type, "security_level": x.security_level,
                         "sharing_class": x.sharing_class, "pii": x.pii} for x in c.fields],
            "quality": {**_quality_summary(landed.get(dataset, [])), "results": landed.get(dataset, [])},
            **({"completeness": {"outlet_days": completeness.outlet_days,
                                 "complete_share": round(completeness.complete_share, 4),
                                 "required_share": COMPLETE_SHARE_REQUIRED,
                                 "incomplete": completeness.complete_share < COMPLETE_SHARE_REQUIRED}}
               if dataset == "monitoring_hourly" and completeness else {}),
        })
    man = manifest()
    shared = []
    for item in publishable(man):
        node = man["nodes"][item.uid]
        lineage, inputs = _upstream(man, item.uid)
        input_states = {d: freshness[d].state if d in freshness else "never" for d in sorted(inputs)}
        state = max(input_states.values(), key=STATE_RANK.index) if input_states else "fresh"
        columns = (published_gate.get("classes") or {}).get(item.name, [])
        reaching = [c for c in columns if c.get("shared") != "withheld" and "security_level" in c]
        docs = node.get("columns", {})
        expectations = (published_gate.get("expectations") or {}).get(item.name, [])
        meta = node.get("config", {}).get("meta", {}) or {}
        cycles = [contracts[d].update_cycle["cycle"] for d in inputs if d in contracts]
        fastest = min(cycles, key=lambda c: list(CYCLE_ZH).index(c) if c in CYCLE_ZH else 99) if cycles else None
        description = item.description or ""
        shared.append({
            "id": item.name, "kind": "shared", "name_zh": description.split("：")[0].split("（")[0] or item.name,
            "description": description, "owner_department": meta.get("owner_department"),
            "update_cycle": fastest, "update_cycle_zh": CYCLE_ZH.get(fastest or "", "随输入更新"),
            "security_level": max((c["security_level"] for c in reaching), key=LEVELS.index, default="L1"),
            "sharing_class": max((c["sharing_class"] for c in reaching), key=SHARING.index, default="unconditional"),
            "last_update": published.get("published_at"),
            "rows": (published.get("models") or {}).get(item.name),
            "freshness": state, "stale_inputs": [d for d, s in input_states.items() if s in ("stale", "never")],
            "inputs": sorted(inputs), "lineage": lineage,
            "columns": [{**c, "description": (docs.get(c["column"]) or {}).get("description", "")}
                        for c in columns],
            "quality": {**_quality_summary(expectations), "results": expectations},
        })
    return {"generated_at": datetime.now(UTC).isoformat(), "reference_time": now.isoformat(),
            "published_version": published.get("version"), "last_publish_attempt": _last_publish_attempt(lake),
            "sharing_classes": SHARING_ZH, "freshness_states": STATE_ZH,
            "shared": shared, "sources": sources}


def write(settings: Settings | None = None, clock: str | None = None,
          now: datetime | None = None) -> tuple[dict[str, Any], str]:
    """Build the catalogue and write it (JSON and HTML) to ``_meta/catalogue/``; returns it and the folder."""
    settings = settings or Settings.from_env()
    lake = Lake(settings.lake)
    doc = build(settings, clock, now)
    folder = lake.path("_meta", "catalogue")
    lake.write_bytes(json.dumps(doc, ensure_ascii=False, indent=1, default=str).encode("utf-8"),
                     f"{folder}/catalogue.json")
    for name, page in render_site(doc).items():
        lake.write_bytes(page.encode("utf-8"), f"{folder}/{name}")
    return doc, folder
