"""SQL table connector (SQLAlchemy): incremental by a watermark column, read in batches.

Works on PostgreSQL, MariaDB/MySQL and SQLite. After the first run only rows at or after
the watermark are read (``>=``, with the writer dropping rows it already holds).

Values are taken as the database driver gives them, without SQLAlchemy's conversions: SQLite keeps
whatever a row holds whatever the column's declared type, and converting an integer in a DATE column
raised a TypeError that stopped the whole feed. A value of the wrong type now reaches the writer as
text (``column_of``) and quarantines its row with ``<dataset>.<field>.type``; the others land.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pyarrow as pa
import sqlalchemy as sa

from connectors.sources import Extract, SourceError, column_of, concat_batches, max_watermark, redact
from envlake.kernel.contracts import Contract


def normalise_url(url: str) -> str:
    for prefix, driver in (("mariadb://", "mysql+pymysql://"), ("mysql://", "mysql+pymysql://"),
                           ("postgres://", "postgresql://")):
        if url.startswith(prefix):
            return driver + url[len(prefix):]
    return url


def since(column: sa.Column, watermark: str) -> sa.ColumnElement[bool]:
    """Rows at or after the watermark. A column that is not a date or time in the database (times kept
    as text) is compared as text, from the moment written with a space: that sorts at or before the
    other spellings of it, so at worst rows are read again, and the writer drops the rows it holds."""
    try:
        bound = datetime.fromisoformat(watermark)
    except ValueError as exc:
        raise SourceError(f"the load log's watermark {watermark!r} is not a time") from exc
    if isinstance(column.type, sa.Date | sa.DateTime):
        return column >= bound
    return sa.cast(column, sa.String) >= bound.isoformat(sep=" ")


@dataclass
class SqlTableSource:
    url: str
    table: str
    batch_rows: int = 50_000

    @property
    def identity(self) -> str:
        return f"{redact(normalise_url(self.url))}#{self.table}"

    def read(self, contract: Contract, watermark: str | None) -> Extract:
        wm_field = contract.source.get("watermark_field")
        try:
            engine = sa.create_engine(normalise_url(self.url))
        except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError) as exc:
            raise SourceError(f"cannot use database URL {redact(self.url)}: {exc}") from exc
        try:
            with engine.connect() as conn:
                table = sa.Table(self.table, sa.MetaData(), autoload_with=conn)
                query = sa.select(*(sa.type_coerce(c, sa.types.NullType()).label(c.name) for c in table.columns))
                if wm_field and wm_field in table.columns:
                    if watermark:
                        query = query.where(since(table.c[wm_field], watermark))
                    query = query.order_by(table.c[wm_field])
                result = conn.execution_options(stream_results=True, yield_per=self.batch_rows).execute(query)
                names = list(result.keys())
                batches = []
                for rows in result.partitions(self.batch_rows):
                    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
                    batches.append(pa.Table.from_arrays([column_of(list(c)) for c in columns], names=names))
        except sa.exc.NoSuchTableError as exc:
            raise SourceError(f"table '{self.table}' does not exist in {redact(self.url)}") from exc
        except sa.exc.SQLAlchemyError as exc:
            message = str(exc.orig if getattr(exc, "orig", None) else exc).strip().splitlines()[0]
            raise SourceError(f"cannot read {self.identity}: {message}") from exc
        finally:
            engine.dispose()
        empty = pa.table({n: pa.array([], pa.string()) for n in names})
        extracted = concat_batches(batches) if batches else empty
        return Extract(extracted, max_watermark(extracted, wm_field, watermark), pages=len(batches))
