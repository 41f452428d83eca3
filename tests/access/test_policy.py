"""What a department's views hold, on a small synthetic publish: withheld and 不予共享 columns are never
reachable, even under a grant for every column; conditional ones are masked unless granted."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from envlake.access.engine import Engine, QueryFailed
from envlake.access.policy import views
from envlake.access.published_datasets import load
from envlake.access.sqlguard import check
from envlake.access.store import Grant
from envlake.kernel.lake import Lake
from envlake.kernel.settings import Settings

VERSION = "20260101T000000000000-test00"


@pytest.fixture
def published(env: Settings):
    lake = Lake(env.lake)
    curated = pa.table({"enterprise_key": ["A", "B"], "contact_phone": ["13812345678", "15900001111"],
                        "secret_note": ["内部", "内部"], "blocked": ["x", "y"]})
    shared = pa.table({"enterprise_key": ["A", "B"], "contact_phone": ["138****5678", "159****1111"],
                       "blocked": ["x", "y"]})
    files = {}
    for zone, table in (("curated", curated), ("shared", shared)):
        path = lake.path(zone, "dim_test", f"version={VERSION}", "part-0.parquet")
        lake.write_parquet(table, path)
        files[zone] = [path]
    classes = [{"column": "enterprise_key", "security_level": "L1", "sharing_class": "unconditional",
                "shared": "clear"},
               {"column": "contact_phone", "security_level": "L3", "sharing_class": "conditional", "shared": "masked",
                "mask": "partial"},
               {"column": "secret_note", "security_level": "L3", "sharing_class": "conditional", "shared": "withheld"},
               {"column": "blocked", "security_level": "L4", "sharing_class": "none", "shared": "clear"}]
    lake.write_bytes(json.dumps({"version": VERSION, "marts": {"dim_test": {"rows": 2, "files": files}}}).encode(),
                     lake.path("_meta", "publish", "current.json"))
    lake.write_bytes(json.dumps({"classes": {"dim_test": classes}}).encode(),
                     lake.path("_meta", "quality", "gates", f"{VERSION}.json"))
    return load(env)


def _grant(columns: tuple[str, ...]) -> Grant:
    now = datetime.now(UTC)
    return Grant(1, "d", "dim_test", columns, "核查", "approved", "a", now, now - timedelta(days=1),
                 now + timedelta(days=1), "b", now, None, None, None)


def test_withheld_and_never_shared_columns_are_not_in_any_view(published) -> None:
    for grants in ([], [_grant(("*",))], [_grant(("contact_phone", "secret_note", "blocked"))]):
        view = views(published, grants)["dim_test"]
        assert view.columns == ("enterprise_key", "contact_phone")
    engine = Engine()
    mine = views(published, [_grant(("*",))])
    for column in ("secret_note", "blocked"):
        with pytest.raises(QueryFailed, match=column):
            engine.run(published.version, mine,
                       check(f"select {column} from dim_test", set(mine), 10).sql)
    engine.close()


def test_a_conditional_column_is_clear_only_when_granted(published) -> None:
    engine = Engine()
    for grants, expected in (([], ["138****5678", "159****1111"]),
                             ([_grant(("contact_phone",))], ["13812345678", "15900001111"])):
        mine = views(published, grants)
        table, truncated = engine.run(published.version, mine,
                                      check("select contact_phone from dim_test order by 1", set(mine), 10).sql)
        assert table.column("contact_phone").to_pylist() == expected and not truncated
    engine.close()
