"""The gate in front of a department's own SQL: one SELECT over its views, nothing else.

The text is parsed (sqlglot, DuckDB dialect) and refused, with the reason in one line, unless it is a
single query (SELECT, set operations, CTEs) whose tables are all the department's views or its own CTEs,
calling no function that reads files or settings. What runs is the parsed statement written out again (with
the row limit applied), never the text as sent, so a comment cannot smuggle a second statement through.
The session it runs in is locked down as well (``access.engine``): this is the first of two walls.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

MAX_SQL_CHARS = 20_000
logging.getLogger("sqlglot").setLevel(logging.ERROR)  # it warns when it falls back to a Command: we refuse those
# Functions that reach files, the network, the catalogue or settings; any name matching these is refused.
FORBIDDEN_FUNCTIONS = re.compile(
    r"^(read_\w+|\w*_scan|glob|query|query_table|getenv|current_setting|sniff_csv|duckdb_\w+|pragma_\w+|"
    r"parquet_\w+|iceberg_\w+|delta_\w+|sqlite_\w+|postgres_\w+|mysql_\w+|http_\w+|which_secret|load_\w+|"
    r"json_execute_serialized_sql|from_substrait\w*|sql_auto_complete|icu_calendar_names|test_all_types|"
    r"checkpoint|force_checkpoint|enable_\w+|disable_\w+|set_\w+|export_\w+|import_\w+|copy\w*)$",
    re.IGNORECASE)
FORBIDDEN_NODES = (exp.Command, exp.Pragma, exp.Set, exp.Attach, exp.Detach, exp.Copy, exp.Install,
                   exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge, exp.Use,
                   exp.Describe, exp.Summarize, exp.Transaction, exp.Commit, exp.Rollback, exp.Into)
# sqlglot class names of built-in file readers it knows by name
FORBIDDEN_FUNCTION_CLASSES = ("ReadCSV", "ReadParquet", "ReadJSON")


class SqlRefused(ValueError):
    """The SQL is not allowed; the message says why in one line."""


@dataclass(frozen=True)
class CheckedQuery:
    sql: str  # what will run: the parsed statement, written out again, with the row limit
    datasets: tuple[str, ...]  # the views it reads
    star: bool  # it selects * somewhere (every column of what it reads)
    columns: frozenset[str]  # column names it mentions


def _function_name(func: exp.Func) -> str:
    if isinstance(func, exp.Anonymous):
        return str(func.this)
    return func.sql_name()


def _one_statement(sql: str) -> exp.Query:
    if not sql or not sql.strip():
        raise SqlRefused("empty query: send one SELECT over your datasets")
    if len(sql) > MAX_SQL_CHARS:
        raise SqlRefused(f"query longer than {MAX_SQL_CHARS} characters")
    try:
        statements = [s for s in sqlglot.parse(sql, read="duckdb") if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SqlRefused(f"not valid SQL: {first}") from None
    if len(statements) != 1:
        raise SqlRefused(f"{len(statements)} statements sent: send exactly one SELECT")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = str(statement.this).split()[0] if isinstance(statement, exp.Command) else statement.key
        raise SqlRefused(f"only SELECT is allowed, not {kind.upper()}")
    return statement


def _refuse_forbidden(statement: exp.Query) -> None:
    for node in statement.walk():
        if isinstance(node, FORBIDDEN_NODES):
            raise SqlRefused(f"{node.key.upper()} is not allowed inside a query")
        if isinstance(node, exp.Func):
            name = _function_name(node)
            if type(node).__name__ in FORBIDDEN_FUNCTION_CLASSES or FORBIDDEN_FUNCTIONS.match(name):
                raise SqlRefused(f"function {name.lower()}() is not allowed: read only your datasets' views")


def _resolve_tables(statement: exp.Query, allowed: set[str]) -> set[str]:
    """Every table must be one of the department's views (or a CTE); they are rewritten to the bare view."""
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    allowed_lower = {a.lower(): a for a in allowed}
    datasets: set[str] = set()
    for table in statement.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            raise SqlRefused("table functions are not allowed: read from your datasets by name")
        if table.catalog or (table.db and table.db.lower() != "shared"):
            raise SqlRefused(f"{table.sql('duckdb')} is outside your datasets: name a dataset, e.g. "
                             f"{next(iter(sorted(allowed)), 'dim_enterprise')}")
        name = table.name.lower()
        if not table.db and name in ctes:
            continue
        if name not in allowed_lower:
            raise SqlRefused(f"no dataset {table.name!r} among yours: GET /datasets lists them")
        datasets.add(allowed_lower[name])
        table.set("db", None)
        table.set("this", exp.to_identifier(allowed_lower[name], quoted=True))
    return datasets


def check(sql: str, allowed: set[str], max_rows: int) -> CheckedQuery:
    """Parse and check ``sql``; ``allowed``: the department's view names. Raises SqlRefused."""
    statement = _one_statement(sql)
    _refuse_forbidden(statement)
    datasets = _resolve_tables(statement, allowed)
    star = any(True for _ in statement.find_all(exp.Star))
    columns = frozenset(c.name for c in statement.find_all(exp.Column))
    limited = _with_limit(statement, max_rows + 1)
    return CheckedQuery(limited.sql(dialect="duckdb", comments=False), tuple(sorted(datasets)), star, columns)


def _with_limit(statement: exp.Query, rows: int) -> exp.Query:
    """At most ``rows`` rows: the query's own limit when smaller, else ``rows``."""
    if isinstance(statement, exp.Select):
        limit = statement.args.get("limit")
        own = limit.expression if isinstance(limit, exp.Limit) else None
        if isinstance(own, exp.Literal) and own.is_int and int(own.this) <= rows:
            return statement
        return statement.limit(rows, copy=True)
    return exp.select("*").from_(statement.subquery("q")).limit(rows)
