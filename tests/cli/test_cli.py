import json
import subprocess
import sys

import pytest
import typer.main

from envlake.cli.main import app


def envlake(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "envlake.cli.main", *args], capture_output=True, text=True, env=env)


def all_commands(command, path: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = [path]
    if hasattr(command, "commands"):
        for name, sub in command.commands.items():
            found += all_commands(sub, (*path, name))
    return found


def test_every_subcommand_has_help() -> None:
    from typer.testing import CliRunner

    commands = all_commands(typer.main.get_command(app))
    assert ("ingest",) in commands and ("simulate", "credit-db") in commands and ("demo",) in commands
    runner = CliRunner()
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage" in result.output


def test_unreadable_source_is_one_clear_line_and_non_zero(env) -> None:
    result = envlake("ingest", "permit", "--from", "http://127.0.0.1:9")
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "error: permit: http://127.0.0.1:9/api/v1/permits failed after" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_dataset(env) -> None:
    result = envlake("ingest", "nosuch", "--from", "x.csv")
    assert result.returncode == 1 and "no contract for dataset 'nosuch'" in result.stderr


def test_ingest_file_json_and_lake_status(env, tmp_path) -> None:
    from envlake.simulators.filedrops import write_filedrops

    write_filedrops(tmp_path / "drops")
    result = envlake("ingest", "district", "--from", str(tmp_path / "drops" / "district.csv"), "--json")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["rows_in"], summary["rows_landed"], summary["rows_quarantined"]) == (17, 17, 0)
    status = json.loads(envlake("lake", "status", "--json").stdout)
    assert status == [{"dataset": "district", "raw_rows": 17, "quarantine_rows": 0, "raw_files": 1}]
    log = json.loads(envlake("lake", "log", "--json").stdout)
    assert log[-1]["dataset"] == "district" and log[-1]["status"] == "success"


@pytest.mark.parametrize("args", [["contracts", "check"], ["contracts", "list", "--json"]])
def test_contract_commands(args) -> None:
    result = envlake(*args)
    assert result.returncode == 0, result.stderr
    if "--json" in args:
        assert {c["id"] for c in json.loads(result.stdout)} >= {"permit", "credit_rating"}


def test_models_generate_check_passes_on_a_clean_checkout() -> None:
    result = envlake("models", "generate", "--check")
    assert result.returncode == 0, result.stderr
    assert "matches the contracts" in result.stdout


def test_models_status_without_a_publish_is_one_clear_line(env) -> None:
    result = envlake("models", "status")
    assert result.returncode == 1
    assert "nothing has been published yet" in result.stderr and "Traceback" not in result.stderr
