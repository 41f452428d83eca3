"""The grants database: departments, hashed tokens, the grant lifecycle, every step recorded; on SQLite
(the default) and on PostgreSQL (production)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from envlake.access.store import AccessError, AccessStore

NOW = datetime.now(UTC)


def _lifecycle(store: AccessStore) -> None:
    token = store.add_department("xihu_branch", "西湖分局", "admin")
    assert store.department_for_token(token).code == "xihu_branch"
    assert store.department_for_token(token + "x") is None
    with store.engine.connect() as conn:  # only the digest is kept
        stored = conn.execute(sa.text("select token_sha256 from access_departments")).scalar_one()
    assert token not in stored and len(stored) == 64

    grant = store.apply("xihu_branch", "dim_enterprise", ["contact_phone"], "执法检查联系企业", NOW - timedelta(days=1),
                        NOW + timedelta(days=30), "analyst")
    assert grant.status == "applied" and not store.grants_in_force("xihu_branch")
    store.approve(grant.id, "数据办")
    assert [g.id for g in store.grants_in_force("xihu_branch")] == [grant.id]
    with pytest.raises(AccessError, match="is approved, not applied"):
        store.approve(grant.id, "数据办")
    store.revoke(grant.id, "数据办", note="任务结束")
    assert not store.grants_in_force("xihu_branch")

    expired = store.apply("xihu_branch", "dim_enterprise", ["*"], "历史核查", NOW - timedelta(days=60),
                          NOW - timedelta(days=30), "analyst")
    store.approve(expired.id, "数据办")
    assert store.grant(expired.id).state(NOW) == "expired" and not store.grants_in_force("xihu_branch")

    new_token = store.rotate_token("xihu_branch", "admin")
    assert store.department_for_token(token) is None and store.department_for_token(new_token)
    actions = [s["action"] for s in store.steps("xihu_branch")]
    assert actions == ["department_added", "applied", "approved", "revoked", "applied", "approved", "token_rotated"]
    assert store.steps("xihu_branch")[3]["detail"]["note"] == "任务结束"


def test_grant_lifecycle_on_sqlite(tmp_path: Path) -> None:
    _lifecycle(AccessStore(f"sqlite:///{tmp_path / 'access.sqlite'}"))


@pytest.mark.integration
def test_grant_lifecycle_on_postgresql(postgres_url: str) -> None:
    store = AccessStore(postgres_url)
    try:
        _lifecycle(store)
    finally:
        store.engine.dispose()


def test_bad_steps_say_what_is_wrong(tmp_path: Path) -> None:
    store = AccessStore(f"sqlite:///{tmp_path / 'access.sqlite'}")
    with pytest.raises(AccessError, match="lower-case"):
        store.add_department("Xihu Branch", "西湖", "admin")
    store.add_department("xihu_branch", "西湖分局", "admin")
    with pytest.raises(AccessError, match="exists"):
        store.add_department("xihu_branch", "西湖分局", "admin")
    with pytest.raises(AccessError, match="purpose"):
        store.apply("xihu_branch", "dim_enterprise", ["*"], " ", NOW, NOW + timedelta(days=1), "a")
    with pytest.raises(AccessError, match="before it starts"):
        store.apply("xihu_branch", "dim_enterprise", ["*"], "核查", NOW, NOW - timedelta(days=1), "a")
    with pytest.raises(AccessError, match="no department"):
        store.apply("nobody", "dim_enterprise", ["*"], "核查", NOW, NOW + timedelta(days=1), "a")
    with pytest.raises(AccessError, match="no grant 99"):
        store.revoke(99, "a")
