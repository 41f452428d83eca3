"""Who reads the dashboards (``assets/departments.yaml``): the leaders' role, and one role per district branch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

# The dashboards' definitions (YAML): the departments file below, and the datasets the publish writes
# each district branch's Superset catalog from.
ASSETS = Path(__file__).resolve().parents[1] / "dashboards" / "assets"
ADMIN_ROLE = "Admin"  # Superset's own: the admin deploys the dashboards and has SQL Lab


@dataclass(frozen=True)
class District:
    code: str
    name: str
    username: str

    @property
    def role(self) -> str:
        return f"区县分局-{self.name}"


@dataclass(frozen=True)
class Departments:
    leader_role: str
    leaders: list[dict[str, str]]
    districts: list[District]


def load_departments(folder: Path = ASSETS) -> Departments:
    doc = yaml.safe_load((folder / "departments.yaml").read_text(encoding="utf-8"))
    return Departments(doc["leaders"]["role"], doc["leaders"]["users"],
                       [District(str(d["code"]), d["name"], d["username"]) for d in doc["districts"]])
