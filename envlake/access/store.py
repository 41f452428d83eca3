"""Departments, their API tokens and their grants for conditional data (有条件共享), with every step recorded.

Kept in a small relational database through SQLAlchemy Core: SQLite beside the lake by default,
PostgreSQL (or any SQLAlchemy URL) through ``ENVLAKE_ACCESS_DB``. Tokens are shown once and stored only as
their SHA-256 digest (they are 256-bit random strings, so a plain digest cannot be reversed by guessing).

A grant moves applied → approved → revoked (or applied → rejected); it lets its department see the named
conditional columns of one shared dataset in the clear, for a stated purpose, between ``valid_from`` and
``valid_to``. Every step is a row of ``access_steps`` (who, when, what), and nothing is ever deleted.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

TOKEN_PREFIX = "elk_"
DEPARTMENT_CODE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")

metadata = sa.MetaData()
departments = sa.Table(
    "access_departments", metadata,
    sa.Column("code", sa.String(40), primary_key=True),
    sa.Column("name_zh", sa.String(100), nullable=False),
    sa.Column("token_sha256", sa.String(64), nullable=False, unique=True),
    sa.Column("active", sa.Boolean, nullable=False, default=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
grants = sa.Table(
    "access_grants", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("department", sa.String(40), sa.ForeignKey("access_departments.code"), nullable=False),
    sa.Column("dataset", sa.String(100), nullable=False),
    sa.Column("columns", sa.Text, nullable=False),  # JSON list of column names
    sa.Column("purpose", sa.Text, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("applied_by", sa.String(100), nullable=False),
    sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("valid_from", sa.DateTime(timezone=True), nullable=False),
    sa.Column("valid_to", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.String(100)),
    sa.Column("decided_at", sa.DateTime(timezone=True)),
    sa.Column("revoked_by", sa.String(100)),
    sa.Column("revoked_at", sa.DateTime(timezone=True)),
    sa.Column("note", sa.Text),
)
steps = sa.Table(
    "access_steps", metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(100), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("department", sa.String(40), nullable=False),
    sa.Column("grant_id", sa.Integer),
    sa.Column("detail", sa.Text, nullable=False),
)


class AccessError(ValueError):
    """A step that cannot be taken, said in one line."""


@dataclass(frozen=True)
class Department:
    code: str
    name_zh: str
    active: bool
    created_at: datetime


@dataclass(frozen=True)
class Grant:
    id: int
    department: str
    dataset: str
    columns: tuple[str, ...]
    purpose: str
    status: str
    applied_by: str
    applied_at: datetime
    valid_from: datetime
    valid_to: datetime
    decided_by: str | None
    decided_at: datetime | None
    revoked_by: str | None
    revoked_at: datetime | None
    note: str | None

    def in_force(self, at: datetime) -> bool:
        return self.status == "approved" and self.valid_from <= at <= self.valid_to

    def state(self, at: datetime) -> str:
        """applied, rejected, revoked, approved (in force), pending (approved, not yet valid) or expired."""
        if self.status != "approved":
            return self.status
        if at < self.valid_from:
            return "pending"
        return "expired" if at > self.valid_to else "approved"

    def as_dict(self, at: datetime | None = None) -> dict[str, Any]:
        doc = {k: getattr(self, k) for k in self.__dataclass_fields__}
        doc["columns"] = list(self.columns)
        doc["state"] = self.state(at or datetime.now(UTC))
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in doc.items()}


def default_url(lake_base: Path) -> str:
    return f"sqlite:///{lake_base / '_meta' / 'access' / 'access.sqlite'}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def _aware(value: datetime | None) -> datetime | None:
    """SQLite gives naive datetimes back: they were written in UTC."""
    return value.replace(tzinfo=UTC) if value is not None and value.tzinfo is None else value


def _grant(row: Any) -> Grant:
    m = row._mapping
    return Grant(m["id"], m["department"], m["dataset"], tuple(json.loads(m["columns"])), m["purpose"],
                 m["status"], m["applied_by"], _aware(m["applied_at"]), _aware(m["valid_from"]),
                 _aware(m["valid_to"]), m["decided_by"], _aware(m["decided_at"]), m["revoked_by"],
                 _aware(m["revoked_at"]), m["note"])


class AccessStore:
    """The grants database. ``url`` is a SQLAlchemy URL; the tables are created when missing."""

    def __init__(self, url: str, on_step: Callable[[str, str, str, int | None, dict[str, Any]], None] | None = None
                 ) -> None:
        """``on_step(actor, action, department, grant_id, detail)`` is called after each step is committed
        (the command line sends it to the lake's audit too)."""
        self.on_step = on_step
        if url.startswith("sqlite:///"):
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.url = url
        self.engine = sa.create_engine(url, pool_pre_ping=True)
        metadata.create_all(self.engine)

    def _step(self, conn: sa.Connection, actor: str, action: str, department: str, grant_id: int | None,
              detail: dict[str, Any]) -> None:
        conn.execute(steps.insert().values(at=datetime.now(UTC), actor=actor, action=action, department=department,
                                           grant_id=grant_id, detail=json.dumps(detail, ensure_ascii=False)))

    def _notify(self, actor: str, action: str, department: str, grant_id: int | None, detail: dict[str, Any]) -> None:
        if self.on_step is not None:
            self.on_step(actor, action, department, grant_id, detail)

    # departments and tokens
    def add_department(self, code: str, name_zh: str, actor: str) -> str:
        """Register a department; returns its new token (shown once, stored hashed)."""
        if not DEPARTMENT_CODE.match(code):
            raise AccessError(f"department code {code!r} is not 2–40 lower-case letters, digits or _")
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            if conn.execute(sa.select(departments.c.code).where(departments.c.code == code)).first():
                raise AccessError(f"department {code} exists: use `envlake access rotate-token {code}` for a new token")
            conn.execute(departments.insert().values(code=code, name_zh=name_zh, token_sha256=token_digest(token),
                                                     active=True, created_at=datetime.now(UTC)))
            self._step(conn, actor, "department_added", code, None, {"name_zh": name_zh})
        self._notify(actor, "department_added", code, None, {"name_zh": name_zh})
        return token

    def rotate_token(self, code: str, actor: str) -> str:
        token = TOKEN_PREFIX + secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            done = conn.execute(departments.update().where(departments.c.code == code)
                                .values(token_sha256=token_digest(token)))
            if not done.rowcount:
                raise AccessError(f"no department {code}: add it with `envlake access add-department`")
            self._step(conn, actor, "token_rotated", code, None, {})
        self._notify(actor, "token_rotated", code, None, {})
        return token

    def department_for_token(self, token: str) -> Department | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(departments).where(departments.c.token_sha256 == token_digest(token),
                                                            departments.c.active.is_(True))).first()
        return None if row is None else Department(row.code, row.name_zh, row.active, _aware(row.created_at))

    def department(self, code: str) -> Department | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(departments).where(departments.c.code == code)).first()
        return None if row is None else Department(row.code, row.name_zh, row.active, _aware(row.created_at))

    def departments(self) -> list[Department]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(departments).order_by(departments.c.code)).all()
        return [Department(r.code, r.name_zh, r.active, _aware(r.created_at)) for r in rows]

    # grants
    def apply(self, department: str, dataset: str, columns: list[str], purpose: str, valid_from: datetime,
              valid_to: datetime, actor: str) -> Grant:
        if self.department(department) is None:
            raise AccessError(f"no department {department}: add it with `envlake access add-department`")
        if not purpose.strip():
            raise AccessError("an application states its purpose (--purpose)")
        if not columns:
            raise AccessError("an application names the conditional columns it asks for (--columns)")
        if valid_to <= valid_from:
            raise AccessError(f"the period ends ({valid_to:%Y-%m-%d}) before it starts ({valid_from:%Y-%m-%d})")
        with self.engine.begin() as conn:
            grant_id = conn.execute(grants.insert().values(
                department=department, dataset=dataset, columns=json.dumps(sorted(set(columns))), purpose=purpose,
                status="applied", applied_by=actor, applied_at=datetime.now(UTC), valid_from=valid_from,
                valid_to=valid_to)).inserted_primary_key[0]
            detail = {"dataset": dataset, "columns": sorted(set(columns)), "purpose": purpose,
                      "valid_from": valid_from.isoformat(), "valid_to": valid_to.isoformat()}
            self._step(conn, actor, "applied", department, grant_id, detail)
        self._notify(actor, "applied", department, grant_id, detail)
        return self.grant(grant_id)

    def _decide(self, grant_id: int, actor: str, action: str, expected: str, values: dict[str, Any],
                note: str | None) -> Grant:
        grant = self.grant(grant_id)
        if grant.status != expected:
            raise AccessError(f"grant {grant_id} is {grant.status}, not {expected}: it cannot be {action}")
        with self.engine.begin() as conn:
            conn.execute(grants.update().where(grants.c.id == grant_id).values(note=note, **values))
            detail = {"dataset": grant.dataset, "columns": list(grant.columns), "note": note or ""}
            self._step(conn, actor, action, grant.department, grant_id, detail)
        self._notify(actor, action, grant.department, grant_id, detail)
        return self.grant(grant_id)

    def approve(self, grant_id: int, actor: str, valid_to: datetime | None = None, note: str | None = None) -> Grant:
        values: dict[str, Any] = {"status": "approved", "decided_by": actor, "decided_at": datetime.now(UTC)}
        if valid_to is not None:
            values["valid_to"] = valid_to
        return self._decide(grant_id, actor, "approved", "applied", values, note)

    def reject(self, grant_id: int, actor: str, note: str | None = None) -> Grant:
        return self._decide(grant_id, actor, "rejected", "applied",
                            {"status": "rejected", "decided_by": actor, "decided_at": datetime.now(UTC)}, note)

    def revoke(self, grant_id: int, actor: str, note: str | None = None) -> Grant:
        return self._decide(grant_id, actor, "revoked", "approved",
                            {"status": "revoked", "revoked_by": actor, "revoked_at": datetime.now(UTC)}, note)

    def grant(self, grant_id: int) -> Grant:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(grants).where(grants.c.id == grant_id)).first()
        if row is None:
            raise AccessError(f"no grant {grant_id}: `envlake access grants` lists them")
        return _grant(row)

    def grants(self, department: str | None = None) -> list[Grant]:
        query = sa.select(grants).order_by(grants.c.id)
        if department:
            query = query.where(grants.c.department == department)
        with self.engine.connect() as conn:
            return [_grant(r) for r in conn.execute(query).all()]

    def grants_in_force(self, department: str, at: datetime | None = None) -> list[Grant]:
        at = at or datetime.now(UTC)
        return [g for g in self.grants(department) if g.in_force(at)]

    def steps(self, department: str | None = None) -> list[dict[str, Any]]:
        query = sa.select(steps).order_by(steps.c.id)
        if department:
            query = query.where(steps.c.department == department)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [{**dict(r._mapping), "at": _aware(r.at).isoformat(), "detail": json.loads(r.detail)} for r in rows]
