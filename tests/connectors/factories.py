"""Rows that satisfy the contracts, to be broken one way at a time by the tests."""

from __future__ import annotations

import pyarrow as pa

from connectors.sources import records_to_table

GOOD_CODE = "91330100799655058B"


def rating(i: int = 1, **overrides: object) -> dict:
    row = {
        "rating_id": f"CR2025{i:06d}", "credit_code": GOOD_CODE, "enterprise_name": f"杭州测试{i}有限公司",
        "district_code": "330106", "rating_year": 2024, "grade": "蓝色", "score": 82.5,
        "rating_date": "2025-06-28", "evaluating_authority": "杭州市生态环境局", "valid_from": "2025-06-29",
        "valid_to": "2026-06-30", "repair_status": "无需修复", "updated_at": f"2025-06-28T09:{i % 60:02d}:00",
    }
    row.update(overrides)
    return row


def ratings(n: int, **overrides: object) -> pa.Table:
    return records_to_table([rating(i, **overrides) for i in range(1, n + 1)], [])
