"""The demo's first requests to the shared data, through the same service, checks and audit as any
department's: the demo's analyst department lists its datasets, reads an unconditional one, reads
enterprises with their conditional columns masked, is refused them in the clear, and is refused a query
that tries to read a file. The audit then has something to show on the 数据健康 dashboard.
"""

from __future__ import annotations

from dataclasses import dataclass

from envlake.access.config import build_service
from envlake.access.service import Refused
from envlake.kernel.settings import Settings

DEMO_DEPARTMENT = ("demo_analyst", "市生态环境数据中心（演示）")


@dataclass
class Walkthrough:
    department: str
    granted: int
    refused: int
    masked_sample: dict[str, object]


def run(settings: Settings) -> Walkthrough:
    service = build_service(settings, channel="cli")
    code, name_zh = DEMO_DEPARTMENT
    if service.store.department(code) is None:
        service.store.add_department(code, name_zh, "envlake demo")  # its token is not needed: rotate-token gives one
    department = service.department(code)
    granted = refused = 0
    service.list_datasets(department)
    service.fetch(department, "fct_exceedance_event", limit=100)
    sample = service.fetch(department, "dim_enterprise", ["enterprise_name", "legal_representative", "contact_phone"],
                           ["contact_phone~****"], limit=1).table.to_pylist()
    service.query(department, "select district_name, count(*) as enterprises from dim_enterprise group by 1")
    granted += 4
    for attempt in (lambda: service.fetch(department, "dim_enterprise", ["contact_phone"], limit=1, clear=True),
                    lambda: service.query(department, "select * from read_csv('/etc/passwd')")):
        try:
            attempt()
        except Refused:
            refused += 1
    service.engine.close()
    return Walkthrough(code, granted, refused, sample[0] if sample else {})
