"""The governance gates on the modelled lake: a publish passes them, and is refused (the last version kept,
model, column and rule named) when a contract field turns L4 or personal data appears in free text. The
landed batches' suites, and the catalogue in a real headless browser."""

from __future__ import annotations

import dataclasses
import json
import shutil
from collections import Counter
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest
import yaml

from envlake.catalogue.build import write as write_catalogue
from envlake.kernel import load_log
from envlake.kernel.lake import Lake
from envlake.publishing.publish import PublishBlocked, current, publish
from quality.freshness import reference_time
from quality.landed import validate_landed
from tests.modelling.conftest import DAY, ModelledLake
from tests.quality.test_gates_units import ID_NUMBER


def shared_files(lake: Lake, mart: str) -> list[str]:
    return (current(lake) or {})["marts"][mart]["files"]["shared"]


def test_the_publish_passed_every_gate(modelled_lake: ModelledLake) -> None:
    result = modelled_lake.cycle.published
    assert result is not None and {"lineage_s", "classification_s", "pii_s", "expectations_s"} <= result.gates.keys()
    lake = Lake(modelled_lake.settings.lake)
    report = json.loads(lake.read_bytes(lake.path("_meta", "quality", "gates", f"{result.version}.json")))
    assert report["passed"] and report["violations"] == []
    assert set(report["classes"]) == set(result.rows)  # every published dataset classified, column by column
    for mart, columns in report["classes"].items():
        assert columns and all("security_level" in c and "sharing_class" in c for c in columns), mart
    # mart suites ran and their rows are in _meta/quality/results, readable through the catalog
    con = duckdb.connect(str(result.catalog), read_only=True)
    try:
        rows = con.execute("select count(*), count(distinct dataset) from lake_meta.quality_results "
                           "where kind = 'mart' and run = ?", [result.version]).fetchall()[0]
    finally:
        con.close()
    assert rows[0] > 50 and rows[1] == len(result.rows)


def test_conditional_columns_are_masked_in_shared(modelled_lake: ModelledLake) -> None:
    lake = Lake(modelled_lake.settings.lake)
    files = ", ".join(f"'{p}'" for p in shared_files(lake, "dim_enterprise"))
    curated = ", ".join(f"'{p}'" for p in current(lake)["marts"]["dim_enterprise"]["files"]["curated"])
    con = duckdb.connect()
    phones = con.execute(f"select contact_phone, legal_representative from read_parquet([{files}]) "
                         "where contact_phone is not null").fetchall()
    clear = con.execute(f"select count(*) from read_parquet([{curated}]) "
                        "where regexp_matches(contact_phone, '^1[3-9][0-9]{9}$')").fetchall()[0][0]
    assert phones and clear > 0
    assert all("****" in phone and name.endswith("**") for phone, name in phones)


def test_a_field_turned_l4_blocks_the_publish_naming_model_and_column(modelled_lake: ModelledLake,
                                                                      tmp_path: Path) -> None:
    settings = modelled_lake.settings
    schemas = tmp_path / "schemas"
    shutil.copytree(settings.schemas_dir, schemas)
    doc = yaml.safe_load((schemas / "permit.yaml").read_text(encoding="utf-8"))
    next(f for f in doc["fields"] if f["name"] == "address")["security_level"] = "L4"
    (schemas / "permit.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    lake = Lake(settings.lake)
    before = current(lake)["version"]
    with pytest.raises(PublishBlocked) as blocked:
        publish(dataclasses.replace(settings, schemas_dir=schemas))
    assert "dim_enterprise.address: restricted_in_shared" in str(blocked.value)
    assert current(lake)["version"] == before  # shared/ keeps its previous version
    log = lake.read_table("_meta", "publish_log").sort_by([("published_at", "descending")]).to_pylist()[0]
    assert log["status"] == "blocked" and "dim_enterprise.address: restricted_in_shared" in log["failed"]


def test_an_id_number_planted_in_free_text_is_caught(modelled_lake: ModelledLake) -> None:
    settings = modelled_lake.settings
    lake = Lake(settings.lake)
    before = current(lake)["version"]
    con = duckdb.connect(str(settings.warehouse))
    key, address = con.execute("select enterprise_key, address from marts.dim_enterprise "
                               "where address is not null order by enterprise_key limit 1").fetchall()[0]
    con.execute("update marts.dim_enterprise set address = ? where enterprise_key = ?",
                [f"{address}（经办人身份证号{ID_NUMBER}）", key])
    con.close()
    try:
        with pytest.raises(PublishBlocked) as blocked:
            publish(settings)
        assert "dim_enterprise.address: pii_detected" in str(blocked.value)
        assert ID_NUMBER not in str(blocked.value)
        assert current(lake)["version"] == before
        for path in shared_files(lake, "dim_enterprise"):
            assert ID_NUMBER.encode() not in Path(path).read_bytes()
    finally:
        con = duckdb.connect(str(settings.warehouse))
        con.execute("update marts.dim_enterprise set address = ? where enterprise_key = ?", [address, key])
        con.close()


def test_every_landed_batch_is_validated_once(modelled_lake: ModelledLake) -> None:
    """Whatever ran before on this lake (the dashboards' fixture validates too): afterwards every landed batch
    has its results once, and another pass finds nothing to do."""
    settings = modelled_lake.settings
    validate_landed(settings)
    lake = Lake(settings.lake)
    log = load_log.read(lake).to_pylist()
    landed = {(r["dataset"], r["run_id"]) for r in log if r["status"] == "success" and r["rows_written"] > 0}
    assert {"permit", "credit_rating", "monitoring_hourly", "waste_manifest"} <= {d for d, _ in landed}
    checked = lake.read_table("_meta", "quality", "results", "kind=landed",
                              columns=["dataset", "run", "expectation", "success"]).to_pylist()
    per_expectation = Counter((r["dataset"], r["run"], r["expectation"]) for r in checked)
    assert landed <= {(d, run) for d, run, _ in per_expectation}
    assert set(per_expectation.values()) == {1}
    assert all(r["success"] for r in checked if (r["dataset"], r["run"]) in landed)
    assert validate_landed(settings) == {}


def test_the_catalogue_marks_a_stale_feed_and_its_shared_datasets(modelled_lake: ModelledLake) -> None:
    settings = dataclasses.replace(modelled_lake.settings, sim_day=DAY)
    now = reference_time(settings, "simulated")
    doc, _ = write_catalogue(settings, now=now)
    assert {d["id"]: d for d in doc["sources"]}["air_station_hourly"]["freshness"] == "fresh"
    doc, _ = write_catalogue(settings, now=now + timedelta(hours=30))  # the hourly feeds stopped 30 h ago
    sources = {d["id"]: d for d in doc["sources"]}
    shared = {d["id"]: d for d in doc["shared"]}
    assert sources["air_station_hourly"]["freshness"] == "stale"
    assert shared["fct_air_quality_daily"]["freshness"] == "stale"
    assert "air_station_hourly" in shared["fct_air_quality_daily"]["stale_inputs"]
    assert set(shared) == set(current(Lake(settings.lake))["models"])
    assert sources["monitoring_hourly"]["completeness"]["outlet_days"] > 0  # completeness shown beside freshness
    for d in shared.values():
        assert d["name_zh"] and d["owner_department"] and d["sharing_class"] and d["security_level"]
        assert d["columns"] and d["lineage"] and d["quality"]["results"]


def test_the_catalogue_opens_in_headless_chromium(modelled_lake: ModelledLake, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    from envlake.cli.catalog_cmd import handler_for
    from tests.conftest import free_port

    settings = dataclasses.replace(modelled_lake.settings, sim_day=DAY)
    doc, folder = write_catalogue(settings, now=reference_time(settings, "simulated") + timedelta(hours=30))
    import threading
    from http.server import ThreadingHTTPServer

    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), handler_for(Lake(settings.lake), folder))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path="/usr/bin/chromium", headless=True,
                args=["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                      "--disable-background-networking", "--disable-component-update", "--disable-sync"])
            # launch() gives Chromium a fresh temporary profile itself (it refuses --user-data-dir)
            page = browser.new_page()
            page.goto(f"http://127.0.0.1:{port}/")
            assert page.title() == "杭州市生态环境公共数据目录"
            total = page.locator("tr.dataset").count()
            assert total == len(doc["shared"]) + len(doc["sources"])
            page.fill("#search", "空气质量")
            visible = page.locator("tr.dataset:visible")
            assert 0 < visible.count() < total
            page.click("text=空气质量日报")
            assert page.locator("#name").inner_text() == "空气质量日报"
            assert page.locator(".state").first.inner_text() == "过期"
            assert page.locator("#columns tr").count() > 10
            page.screenshot(path=str(tmp_path / "catalogue.png"), full_page=True)
            browser.close()
    finally:
        server.shutdown()
    assert (tmp_path / "catalogue.png").stat().st_size > 10_000
