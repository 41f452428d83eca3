import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from connectors.files import decode_text
from connectors.sources import SourceError
from connectors.waste_drops import drop_folder, ingest_drops
from envlake.kernel.lake import Lake
from envlake.simulators.departments import departments
from envlake.simulators.waste import ANOMALIES, export_rows, planted_manifests, receivers, write_exports
from tests.conftest import SEED, START


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> list[Path]:
    return write_exports(tmp_path_factory.mktemp("drops"), departments(SEED, START).permits, SEED,
                         date.fromisoformat(START), 3)


def envlake_json(*args: str) -> object:
    out = subprocess.run([sys.executable, "-m", "envlake.cli.main", *args, "--json"], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_csv_is_gb18030_with_chinese_headers(exports) -> None:
    blob = exports[0].read_bytes()
    with pytest.raises(UnicodeDecodeError):
        blob.decode("utf-8")
    assert decode_text(blob, "x").startswith("联单编号,联单状态,移出人名称")
    with pytest.raises(SourceError, match="neither UTF-8 nor GB18030"):
        decode_text(b"\xff\xfe\x00\xd8\x00", "x")


def test_csv_and_xlsx_land_manifests_and_items_once(env, exports) -> None:
    """Acceptance: ingest from the GB18030 CSV, then the XLSX of the same export, then the CSV again."""
    csv_path, xlsx_path = exports
    first = {r["dataset"]: r for r in envlake_json("ingest", "waste_manifest", "--from", str(csv_path))}
    assert set(first) == {"waste_manifest", "waste_manifest_item"}
    for r in first.values():
        assert r["rows_in"] == r["rows_landed"] + r["rows_quarantined"] and r["rows_written"] > 0
    assert set(first["waste_manifest"]["quarantine_reasons"]) <= {
        "waste_manifest.generator_credit_code.checksum", "waste_manifest.generator_credit_code.not_null",
        "waste_manifest.created_at.type"}
    assert set(first["waste_manifest_item"]["quarantine_reasons"]) <= {
        "waste_manifest_item.shipped_tonnes.min", "waste_manifest_item.waste_code.regex"}
    lake = Lake(env.lake)
    counts = {d: lake.read_table("raw", d).num_rows for d in first}
    xlsx = {r["dataset"]: r for r in envlake_json("ingest", "waste_manifest", "--from", str(xlsx_path))}
    assert all(r["status"] == "success" and r["rows_written"] == 0 for r in xlsx.values())
    again = envlake_json("ingest", "waste_manifest", "--from", str(csv_path))
    assert [r["status"] for r in again] == ["skipped", "skipped"]
    assert {d: lake.read_table("raw", d).num_rows for d in first} == counts
    rows = export_rows(departments(SEED, START).permits, SEED, date.fromisoformat(START), 3)
    assert counts["waste_manifest_item"] + first["waste_manifest_item"]["rows_quarantined"] == len(rows)


def test_about_four_percent_of_manifests_carry_an_anomaly_and_the_rows_show_it() -> None:
    rows = export_rows(departments(SEED, START).permits, SEED, date.fromisoformat(START), 20)
    planted = {p["manifest_no"]: p for p in planted_manifests(departments(SEED, START).permits, SEED,
                                                                date.fromisoformat(START), 20) if p["anomaly"]}
    manifests = {r["联单编号"] for r in rows}
    # open manifests stay in the export longer (the overdue ones), so the share is a little above 4%
    assert 0.02 < len(planted) / len(manifests) < 0.08
    assert {p["anomaly"] for p in planted.values()} == set(ANOMALIES)
    licences = {r["licence_no"]: set(r["categories"].split(",")) for r in receivers(SEED)}
    for r in rows:
        kind = planted.get(r["联单编号"], {}).get("anomaly")
        shipped, received = r["移出量"], r["接收量"]
        if kind == "quantity" and r["明细序号"] == 1 and received is not None and shipped > 0:
            assert abs(received - shipped) / shipped > 0.10
        if kind == "licence" and r["明细序号"] == 1:
            assert r["废物类别"] not in licences[r["接受人经营许可证编号"]]
        if kind == "unknown_receiver":
            assert r["接受人经营许可证编号"] not in licences
        if kind is None and received is not None and shipped > 0:
            assert abs(received - shipped) / shipped <= 0.10


def test_drops_are_landed_then_archived(env, exports) -> None:
    folder = drop_folder(env)
    folder.mkdir(parents=True)
    (folder / exports[0].name).write_bytes(exports[0].read_bytes())
    records = ingest_drops(settings=env)
    assert [r.dataset for r in records] == ["waste_manifest", "waste_manifest_item"]
    assert not list(folder.glob("*.csv")) and (folder / "archive" / exports[0].name).exists()
    assert ingest_drops(settings=env) == []
