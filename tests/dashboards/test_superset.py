"""The dashboards in a real Superset: deployed as code, every chart with rows, row-level security by
district, SQL Lab locked to the published zones, and both dashboards rendered in headless Chromium."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from envlake.dashboards.bundle import ASSETS, chart_uuids, load_definitions
from envlake.dashboards.client import SupersetAPIError
from envlake.dashboards.deploy import deploy
from tests.dashboards.conftest import ARTIFACTS, DeployedSuperset

pytestmark = pytest.mark.integration


def inventory(d: DeployedSuperset) -> dict[str, list]:
    with d.client() as c:
        return {r: sorted((x["id"], x.get("slice_name") or x.get("dashboard_title") or x.get("table_name"))
                          for x in c.get(f"/api/v1/{r}/", q="(page_size:100)")["result"])
                for r in ("chart", "dashboard", "dataset", "database")} | {
            "rls": sorted(x["name"] for x in c.get("/api/v1/rowlevelsecurity/", q="(page_size:100)")["result"]),
            "params": sorted((x["id"], x["params"]) for x in c.get(
                "/api/v1/chart/", q="(columns:!(id,params),page_size:100)")["result"])}


def definition(title: str) -> dict:
    _, dashboards = load_definitions()
    return next(d for d in dashboards if d["title"] == title)


def chart_id(d: DeployedSuperset, title: str) -> int:
    with d.client() as c:
        return c.find("chart", "slice_name", title)[0]["id"]


def test_every_chart_answers_with_rows(deployed: DeployedSuperset) -> None:
    titles = set(chart_uuids().values())
    with deployed.client() as c:
        charts = [x for x in c.get("/api/v1/chart/", q="(page_size:100)")["result"] if x["slice_name"] in titles]
        assert len(charts) == len(titles) == deployed.report.charts
        for chart in charts:
            result = c.chart_data(chart["id"])["result"][0]
            assert result["error"] is None and result["rowcount"] > 0, chart["slice_name"]


def test_a_second_deploy_changes_and_duplicates_nothing(deployed: DeployedSuperset) -> None:
    before = inventory(deployed)
    with deployed.client() as c:
        deploy(c, deployed.catalog)
    assert inventory(deployed) == before


def test_editing_a_charts_yaml_changes_that_chart(deployed: DeployedSuperset, tmp_path: Path) -> None:
    folder = tmp_path / "assets"
    shutil.copytree(ASSETS, folder)
    doc = yaml.safe_load((folder / "health.yaml").read_text(encoding="utf-8"))
    doc["rows"][1][0]["title"] = "各数据源隔离行数（按数据集）"
    (folder / "health.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    old = chart_id(deployed, "各数据源隔离行数")
    try:
        with deployed.client() as c:
            deploy(c, deployed.catalog, folder)
            assert c.get(f"/api/v1/chart/{old}")["result"]["slice_name"] == "各数据源隔离行数（按数据集）"
            assert len(c.get("/api/v1/chart/", q="(page_size:100)")["result"]) == deployed.report.charts
    finally:
        with deployed.client() as c:
            deploy(c, deployed.catalog)


def test_a_district_user_sees_its_district_only_and_the_leader_all(deployed: DeployedSuperset) -> None:
    scorecard = chart_id(deployed, "区县环境质量综合排名")
    events = chart_id(deployed, "各区县超标事件趋势")
    with deployed.client("xihu", "envlake-demo") as xihu:
        rows = xihu.chart_data(scorecard)["result"][0]["data"]
        assert [r["district_name"] for r in rows] == ["西湖区"]
        assert {r.get("district_name") for r in xihu.chart_data(events)["result"][0]["data"]} <= {"西湖区"}
    with deployed.client("leader", "envlake-demo") as leader:
        assert len(leader.chart_data(scorecard)["result"][0]["data"]) == 13


def test_sql_lab_cannot_read_other_files(deployed: DeployedSuperset) -> None:
    with deployed.client() as c:
        database = c.find("database", "database_name", "envlake 共享数据湖")[0]["id"]
        ok = c.post("/api/v1/sqllab/execute/", {"database_id": database, "sql": "select count(*) as n from "
                                               "shared.mart_district_scorecard", "runAsync": False})
        assert ok["data"][0]["n"] == 13
        for sql in ("select * from read_csv('/etc/passwd')", "attach '/tmp/envlake-escape.duckdb' as x",
                    "set enable_external_access = true"):
            with pytest.raises(SupersetAPIError) as refused:
                c.post("/api/v1/sqllab/execute/", {"database_id": database, "sql": sql, "runAsync": False})
            assert "root:" not in str(refused.value)


@pytest.mark.parametrize("title", ["生态环境综合驾驶舱", "数据健康"])
def test_the_dashboard_renders_in_headless_chromium(deployed: DeployedSuperset, title: str) -> None:
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    dashboard = deployed.report.dashboards[title]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
            "--disable-component-update", "--disable-sync"])
        page = browser.new_page(viewport={"width": 1600, "height": 1200}, locale="zh-CN")
        page.goto(f"{deployed.superset.url}/login/")
        page.fill("[data-test=username-input]", "leader")
        page.fill("[data-test=password-input]", "envlake-demo")
        page.click("[data-test=login-button]")
        # generous waits: on two busy cores (the other xdist worker may be building a lake) Superset answers slowly
        page.wait_for_url(lambda url: "/login" not in url, timeout=180_000)
        page.goto(f"{deployed.superset.url}/superset/dashboard/{dashboard}/?standalone=1")
        charts = [c["title"] for row in definition(title)["rows"] for c in row]
        # Every chart drawn with its title and nothing loading, all at one moment; waited for twice, 1.5 s
        # apart. In CI the grid once vanished after the titles had shown (the page then held the header and
        # the loaded filter bar only); six loaded runs here did not reproduce it, so the read waits it out.
        drawn = ("titles => document.querySelectorAll('[data-test-chart-id]').length >= titles.length"
                 " && document.querySelectorAll('.loading, [data-test=\"loading-indicator\"]').length === 0"
                 " && titles.every(t => document.body.innerText.includes(t))")
        for wait in (0, 1500):
            page.wait_for_timeout(wait)
            try:
                page.wait_for_function(drawn, arg=charts, timeout=180_000)
            except PlaywrightTimeout:  # keep what the page showed, for whoever reads the failure
                page.screenshot(path=str(ARTIFACTS / f"dashboard-{dashboard}-timeout.png"), full_page=True)
                pytest.fail(f"charts not drawn after {wait} ms; the page held: {page.inner_text('body')[:500]!r}")
        errors = page.locator(".alert-danger, [data-test=\"chart-error\"], .ant-alert-error").count()
        text = page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / f"dashboard-{dashboard}.png"), full_page=True)
        browser.close()
    assert errors == 0
    for chart_title in charts:  # every chart's Chinese title is on the page
        assert chart_title in text, chart_title
    assert (ARTIFACTS / f"dashboard-{dashboard}.png").stat().st_size > 20_000


def test_superset_keeps_its_metadata_in_postgresql_when_told(postgres_url: str, tmp_path: Path) -> None:
    import subprocess

    import sqlalchemy as sa

    from envlake.dashboards.service import Superset

    superset = Superset(tmp_path / "home", 0)
    superset.install()
    env = {**superset.env(), "SUPERSET_DATABASE_URI": postgres_url}
    done = subprocess.run([superset.executable("superset"), "db", "upgrade"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            tables = set(conn.execute(sa.text(
                "select table_name from information_schema.tables where table_schema = 'public'")).scalars())
    finally:
        engine.dispose()
    assert {"dashboards", "slices", "tables", "row_level_security_filters", "ab_user"} <= tables
    assert not (tmp_path / "home" / "superset.db").exists()  # nothing went to the SQLite default
