"""The same walls through the command line: `envlake query --as DEPT` reads no byte outside the department's
files, refuses with a reason, and audits every attempt with the query's hash (channel cli)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from envlake.cli.main import app
from tests.security.conftest import Canaries, QueryApi, sha256
from tests.security.test_query_gate import SETTING_CALLS, STATEMENTS, scope_escapes

pytestmark = pytest.mark.integration
runner = CliRunner()


@pytest.fixture
def cli(query_api: QueryApi, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> QueryApi:
    monkeypatch.setenv("ENVLAKE_LAKE", query_api.lake.settings.lake)
    monkeypatch.setenv("ENVLAKE_ACCESS_DB", query_api.service.store.url)
    return query_api


def _query(department: str, sql: str, *extra: str) -> tuple[int, bytes]:
    result = runner.invoke(app, ["query", "--as", department, *extra, "--", sql])
    return result.exit_code, result.stdout_bytes + (result.stderr_bytes or b"")


def test_escapes_through_the_command_line_are_refused_and_audited(cli: QueryApi, canaries: Canaries,
                                                                  tmp_path: Path) -> None:
    code, _ = cli.department("cli")
    attempts = [*scope_escapes(canaries.curated).values(), *scope_escapes(canaries.meta_parquet).values()][:14]
    attempts += [SETTING_CALLS[k] for k in ("double-quoted", "double-quoted upper", "schema-qualified", "getenv")]
    attempts += [STATEMENTS[k].format(shared=canaries.shared, outside=tmp_path / "x.csv", outside_dir=tmp_path)
                 for k in ("COPY to an allowed file", "ATTACH", "PRAGMA", "SET", "INSTALL", "EXPORT")]
    attempts += ["select " + "(" * 3000 + "1" + ")" * 3000, "select 1 as x, " + "1 + " * 17_000 + "1"]
    refused = []
    for sql in attempts:
        exit_code, output = _query(code, sql, "--json")
        assert canaries.leaked(output) is None, (sql[:100], output[:300])
        if exit_code != 0:
            assert b"refused:" in output and b"Traceback" not in output, (sql[:100], output[:300])
            refused.append(sql)
    assert len(refused) >= len(attempts) - 4  # some CTE spellings are harmless constants, and run
    rows = {r["query_sha256"]: r for r in cli.rows(code) if r["action"] == "query"}
    for sql in refused:
        row = rows[sha256(sql)]
        assert row["outcome"] == "refused" and row["reason"] and row["channel"] == "cli"
    assert not list(tmp_path.glob("x.csv"))


def test_csv_from_the_command_line_is_neutralised_like_the_api(cli: QueryApi) -> None:
    code, _ = cli.department("cli")
    exit_code, output = _query(code, "select '=1+1' as a, '-x' as b, 7 as n", "--csv")
    assert exit_code == 0 and output.decode().splitlines()[1] == "\"'=1+1\",\"'-x\",7"
