"""The command line: `envlake access` steps and `envlake query --as`, through the same checks and audit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envlake.access.audit import read_audit
from envlake.cli.main import app
from envlake.kernel.lake import Lake
from tests.modelling.conftest import ModelledLake

pytestmark = pytest.mark.integration
runner = CliRunner()


def envlake(*args: str, ok: bool = True) -> str:
    result = runner.invoke(app, list(args))
    assert (result.exit_code == 0) == ok, (args, result.output)
    return result.output


def test_apply_approve_query_and_refusals_from_the_command_line(
        catalogued: ModelledLake, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVLAKE_LAKE", catalogued.settings.lake)
    monkeypatch.setenv("ENVLAKE_ACCESS_DB", f"sqlite:///{tmp_path / 'access.sqlite'}")
    assert json.loads(envlake("access", "add-department", "cli_dept", "--name-zh", "命令行部门", "--json"))["token"]
    assert "no conditional column" in envlake("access", "apply", "--department", "cli_dept", "--dataset",
                                              "fct_exceedance_event", "--purpose", "核查", ok=False)
    assert "not conditional columns" in envlake("access", "apply", "--department", "cli_dept", "--dataset",
                                                "dim_enterprise", "--columns", "enterprise_name", "--purpose", "核查",
                                                ok=False)
    sql = "select enterprise_key, contact_phone from dim_enterprise where contact_phone is not null order by 1 limit 3"
    masked = json.loads(envlake("query", "--as", "cli_dept", sql, "--json"))
    assert all("****" in r["contact_phone"] for r in masked["rows"])
    assert "refused:" in envlake("query", "--as", "cli_dept", "--clear", sql, ok=False)

    grant = json.loads(envlake("access", "apply", "--department", "cli_dept", "--dataset", "dim_enterprise",
                               "--columns", "contact_phone", "--purpose", "核查", "--to", "2099-12-31", "--json"))
    assert grant["state"] == "applied"
    envlake("access", "approve", str(grant["id"]), "--by", "数据办")
    clear = json.loads(envlake("query", "--as", "cli_dept", "--clear", sql, "--json"))
    assert clear["clear_columns"] == ["dim_enterprise.contact_phone"]
    assert all("****" not in r["contact_phone"] for r in clear["rows"])
    [listed] = json.loads(envlake("access", "grants", "--department", "cli_dept", "--json"))["grants"]
    assert listed["state"] == "approved" and listed["decided_by"] == "数据办"

    escape = envlake("query", "--as", "cli_dept", "select 1; attach '/tmp/x.duckdb'", ok=False)
    assert "2 statements" in escape
    assert "no active department" in envlake("query", "--as", "nobody", "select 1", ok=False)
    rows = read_audit(Lake(catalogued.settings.lake), "cli_dept").to_pylist()
    assert [(r["action"], r["outcome"]) for r in rows] == [
        ("department_added", "recorded"), ("query", "granted"), ("query", "refused"), ("applied", "recorded"),
        ("approved", "recorded"), ("query", "granted"), ("query", "refused")]
    assert all(r["channel"] == "cli" for r in rows)
    table = envlake("access", "audit", "--department", "cli_dept")
    assert "访问审计" in table and "refused" in table
