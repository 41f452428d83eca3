import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from connectors.files import decode_text
from connectors.lakefs import Lake
from connectors.sources import SourceError
from connectors.waste_drops import drop_folder, ingest_drops
from simulators.departments import departments
from simulators.waste import export_rows, receivers, write_exports
from tests.conftest import SEED, START


@pytest.fixture(scope="module")
def exports(tmp_path_factory) -> list[Path]:
    return write_exports(tmp_path_factory.mktemp("drops"), departments(SEED, START).permits, SEED,
                         date.fromisoformat(START), 3)


def envlake_json(*args: str) -> object:
    out = subprocess.run([sys.executable, "-m", "envlake_cli.main", *args, "--json"], capture_output=True, text=True)
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


def test_about_three_percent_of_manifests_carry_an_anomaly() -> None:
    rows = export_rows(departments(SEED, START).permits, SEED, date.fromisoformat(START), 20)
    licences = {r["licence_no"]: set(r["categories"].split(",")) for r in receivers(SEED)}
    manifests: dict[str, set[str]] = {}
    for r in rows:
        found = manifests.setdefault(r["联单编号"], set())
        shipped, received = r["移出量"], r["接收量"]
        if received is not None and shipped > 0 and abs(received - shipped) / shipped > 0.10:
            found.add("quantity")
        if r["废物类别"] not in licences[r["接受人经营许可证编号"]]:
            found.add("licence")
        if r["接收时间"] and r["起运时间"] and r["接收时间"] < r["起运时间"]:
            found.add("order")
    share = sum(1 for v in manifests.values() if v) / len(manifests)
    assert 0.005 < share < 0.06
    assert {"quantity", "licence", "order"} <= set().union(*manifests.values())


def test_drops_are_landed_then_archived(env, exports) -> None:
    folder = drop_folder(env)
    folder.mkdir(parents=True)
    (folder / exports[0].name).write_bytes(exports[0].read_bytes())
    records = ingest_drops(settings=env)
    assert [r.dataset for r in records] == ["waste_manifest", "waste_manifest_item"]
    assert not list(folder.glob("*.csv")) and (folder / "archive" / exports[0].name).exists()
    assert ingest_drops(settings=env) == []
