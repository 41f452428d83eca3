"""The credit department's database: the rating table as it stands at the end of a simulated day.

``sync(url, day)`` creates ``env_credit_rating`` if needed and brings it to that day's state
(inserting new records and updating changed ones), in SQLite, PostgreSQL or MariaDB.
"""

from __future__ import annotations

from datetime import date, datetime

import sqlalchemy as sa

from envlake.simulators.departments import departments

TABLE = "env_credit_rating"


def table_definition(metadata: sa.MetaData, name: str = TABLE) -> sa.Table:
    return sa.Table(
        name, metadata,
        sa.Column("rating_id", sa.String(16), primary_key=True),
        sa.Column("credit_code", sa.String(32)),
        sa.Column("enterprise_name", sa.String(200), nullable=False),
        sa.Column("district_code", sa.String(6)),
        sa.Column("rating_year", sa.Integer, nullable=False),
        sa.Column("grade", sa.String(8), nullable=False),
        sa.Column("score", sa.Float),
        sa.Column("rating_date", sa.Date, nullable=False),
        sa.Column("evaluating_authority", sa.String(100), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=False),
        sa.Column("repair_status", sa.String(16), nullable=False),
        sa.Column("updated_at", sa.DateTime, nullable=False, index=True),
    )


def _typed(record: dict) -> dict:
    row = dict(record)
    for key in ("rating_date", "valid_from", "valid_to"):
        row[key] = date.fromisoformat(row[key])
    row["updated_at"] = datetime.fromisoformat(row["updated_at"])
    return row


def sync(url: str, day: int, seed: int, start: str, table_name: str = TABLE) -> int:
    """Bring the table to the state of ``day``; returns the number of rows inserted or updated."""
    engine = sa.create_engine(url)
    metadata = sa.MetaData()
    table = table_definition(metadata, table_name)
    records = {r["rating_id"]: _typed(r) for r in departments(seed, start).credit.records(day)}
    changed = 0
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            current = dict(conn.execute(sa.select(table.c.rating_id, table.c.updated_at)).all())
            inserts = [r for k, r in records.items() if k not in current]
            updates = [r for k, r in records.items() if k in current and current[k] != r["updated_at"]]
            if inserts:
                conn.execute(table.insert(), inserts)
            for row in updates:
                conn.execute(table.update().where(table.c.rating_id == row["rating_id"]).values(**row))
            changed = len(inserts) + len(updates)
    finally:
        engine.dispose()
    return changed
