"""bench/results.json: each benchmark writes its figures under its own key, keeping the others'."""

from __future__ import annotations

import json
from pathlib import Path

PATH = Path(__file__).resolve().parent / "results.json"


def record_scaling(key: str, figures: dict) -> None:
    """Figures of one scaling benchmark, under ``scaling.<key>``."""
    previous = json.loads(PATH.read_text()) if PATH.exists() else {}
    previous.setdefault("scaling", {})[key] = figures
    PATH.write_text(json.dumps(previous, ensure_ascii=False, indent=2) + "\n")
