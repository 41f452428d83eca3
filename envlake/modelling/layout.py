"""Where each dataset sits in the dbt project: its department folder and its staging model.

Staging models are named ``stg_<dept>__<entity>``; the folder is the department that serves the feed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from envlake.kernel.settings import REPO_ROOT

DBT_PROJECT_DIR = REPO_ROOT / "dbt_project"


@dataclass(frozen=True)
class StagingPlace:
    dataset: str
    folder: str
    entity: str
    # Fields holding credit codes: rows quarantined only because one of them is missing or fails its
    # checksum are read back by staging, so that enterprise resolution can match them by name and district.
    identity_fields: tuple[str, ...] = ()
    # Contract fields staging gives a clearer name: the column keeps the field's description and class.
    renames: dict[str, str] = field(default_factory=dict)

    def column(self, contract_field: str) -> str:
        return self.renames.get(contract_field, contract_field)

    @property
    def model(self) -> str:
        return f"stg_{self.folder}__{self.entity}"

    @property
    def directory(self) -> Path:
        return DBT_PROJECT_DIR / "models" / "staging" / self.folder


PLACES = [
    StagingPlace("permit", "permits", "permit", ("credit_code",)),
    StagingPlace("permit_outlet_limit", "permits", "outlet_limit",
                 renames={"annual_permitted_quantity": "annual_permitted_quantity_t"}),
    StagingPlace("disposal_licence", "permits", "disposal_licence",
                 renames={"annual_capacity_tonnes": "annual_capacity_t"}),
    StagingPlace("credit_rating", "credit", "rating", ("credit_code",)),
    StagingPlace("monitoring_hourly", "monitoring", "hourly",
                 renames={"cn": "command_code", "st": "system_code", "qn": "request_no", "rtd": "realtime_value",
                          "cou": "cumulative_value", "flag": "data_flag"}),
    StagingPlace("monitoring_daily", "monitoring", "daily",
                 renames={"cn": "command_code", "st": "system_code", "qn": "request_no", "rtd": "realtime_value",
                          "cou": "cumulative_value", "flag": "data_flag"}),
    StagingPlace("air_station_hourly", "stations", "air_hourly"),
    StagingPlace("water_section_reading", "stations", "water_reading", renames={"do": "dissolved_oxygen"}),
    StagingPlace("waste_manifest", "waste", "manifest",
                 ("generator_credit_code", "transporter_credit_code", "receiver_credit_code")),
    StagingPlace("waste_manifest_item", "waste", "manifest_item",
                 renames={"shipped_tonnes": "shipped_t", "received_tonnes": "received_t"}),
    StagingPlace("hw_code", "waste", "hw_code"),
    StagingPlace("complaint", "complaints", "complaint"),
    StagingPlace("enforcement_case_update", "enforcement", "case_update"),
    StagingPlace("district", "reference", "district"),
    StagingPlace("pollutant_code", "reference", "pollutant_code"),
]
PLACE_OF = {p.dataset: p for p in PLACES}
