"""The layers contract (.importlinter) holds on the code as it is, and fails when a layer imports upward."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("envlake", "connectors", "quality", "bench")


def lint_imports(root: Path) -> subprocess.CompletedProcess[str]:
    lint = Path(sys.executable).with_name("lint-imports")
    return subprocess.run([str(lint), "--no-cache"], cwd=root, capture_output=True, text=True,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


@pytest.fixture
def scratch(tmp_path: Path) -> Path:
    """A copy of the packages and the contract, importable from its own folder before the installed ones."""
    for name in PACKAGES:
        shutil.copytree(REPO / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__", ".venv"))
    shutil.copy(REPO / ".importlinter", tmp_path)
    return tmp_path


def test_the_code_keeps_its_layers(scratch: Path) -> None:
    done = lint_imports(scratch)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


@pytest.mark.parametrize(("module", "upward"), [
    ("envlake/kernel/settings.py", "from envlake.access import audit"),          # kernel -> consumer
    ("connectors/writer.py", "import quality.gates"),                            # connectors -> quality
    ("quality/gates.py", "from envlake.publishing.publish import current"),     # quality -> publishing
    ("envlake/publishing/publish.py", "from envlake.dashboards import bundle"),  # publishing -> consumer
    ("envlake/access/engine.py", "from envlake.orchestration import tasks"),      # consumer -> orchestration
])
def test_an_upward_import_breaks_the_contract(scratch: Path, module: str, upward: str) -> None:
    path = scratch / module
    path.write_text(path.read_text(encoding="utf-8") + f"\n{upward}  # noqa\n", encoding="utf-8")
    done = lint_imports(scratch)
    assert done.returncode != 0
    assert "BROKEN" in done.stdout and upward.split()[1].split(".")[0] in done.stdout


def test_a_function_level_import_is_seen_too(scratch: Path) -> None:
    """An import placed inside a function to dodge a cycle is still an import: the contract sees it."""
    path = scratch / "envlake/kernel/lake.py"
    path.write_text(path.read_text(encoding="utf-8") + "\n\ndef _dodge():\n    from connectors import writer  # noqa\n",
                    encoding="utf-8")
    assert lint_imports(scratch).returncode != 0
