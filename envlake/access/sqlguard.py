"""The gate in front of a department's own SQL: one SELECT over its views, nothing else. The second wall: the
first is the session itself (``envlake.access.engine``), which can open no file but its views' own.

The text is refused, with the reason in one line, unless all of this holds:

- it is at most ``max_bytes`` long and nested at most ``max_depth`` deep (brackets and CASE), so that no
  parser recurses without end;
- sqlglot (DuckDB dialect) parses it completely into one query (SELECT, set operations, CTEs): no
  ``Command`` fallback, no statement but a query, nothing sqlglot cannot write back for DuckDB;
- every table it names resolves, scope by scope (a CTE covers the query that defines it, its later
  siblings and their children, nothing else), to one of the department's views or to a CTE in scope. CTEs
  are renamed ``envlake_cte_<n>`` and views written as bare quoted names, so that no name the department
  wrote reaches DuckDB as a table: a quoted file path cannot be read as a file, whatever scope it was in;
- DuckDB's own parser, given the text that will run, sees only views and those CTEs as tables, no table
  function, and calls only functions of the allowlist (``envlake.access.functions``), by the name DuckDB resolves
  (lower-case, unquoted, no schema).

What runs is the parsed statement written out again (comments dropped, the row limit applied), never the
text as sent. The columns it reads are resolved through the views (sqlglot's ``qualify``) for the audit;
when they cannot be, every column of each view it reads is counted.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import duckdb
import sqlglot
from sqlglot import exp
from sqlglot.errors import ErrorLevel, OptimizeError, ParseError, SqlglotError, TokenError
from sqlglot.optimizer.qualify import qualify
from sqlglot.optimizer.scope import Scope, build_scope, traverse_scope
from sqlglot.tokens import TokenType

from envlake.access.functions import ALLOWED_FUNCTIONS

logging.getLogger("sqlglot").setLevel(logging.ERROR)  # it warns when it falls back to a Command: we refuse those

MAX_QUERY_BYTES = 65_536
MAX_DEPTH = 32
CTE_PREFIX = "envlake_cte_"
SETTING_BYTES = "ENVLAKE_ACCESS_MAX_QUERY_BYTES"
SETTING_DEPTH = "ENVLAKE_ACCESS_MAX_SQL_DEPTH"

# Nodes refused by name, so that the reason says what was found.
FORBIDDEN_NODES = (exp.Command, exp.Pragma, exp.Set, exp.Attach, exp.Detach, exp.Copy, exp.Install,
                   exp.Insert, exp.Update, exp.Delete, exp.Create, exp.Drop, exp.Alter, exp.Merge, exp.Use,
                   exp.Describe, exp.Summarize, exp.Transaction, exp.Commit, exp.Rollback, exp.Into, exp.Export,
                   exp.Lateral, exp.Pivot, exp.UDTF, exp.Placeholder, exp.Parameter)
OPENING = {TokenType.L_PAREN, TokenType.L_BRACKET, TokenType.L_BRACE, TokenType.CASE}
CLOSING = {TokenType.R_PAREN, TokenType.R_BRACKET, TokenType.R_BRACE, TokenType.END}

# What DuckDB's parser may show of the text that runs (json_serialize_sql): anything else is refused.
DUCKDB_QUERY_NODES = {"SELECT_NODE", "SET_OPERATION_NODE", "RECURSIVE_CTE_NODE", "CTE_NODE"}
DUCKDB_TABLE_REFS = {"BASE_TABLE", "SUBQUERY", "JOIN", "EMPTY", "EXPRESSION_LIST"}
DUCKDB_ORDER_TYPES = {"ASCENDING", "DESCENDING", "ORDER_DEFAULT"}
DUCKDB_EXPRESSIONS = {"BETWEEN", "CASE", "CAST", "COLLATE", "COLUMN_REF", "COMPARISON", "CONJUNCTION", "CONSTANT",
                      "FUNCTION", "LAMBDA", "LAMBDA_REF", "OPERATOR", "POSITIONAL_REFERENCE", "STAR", "SUBQUERY",
                      "TYPE", "WINDOW"}


class SqlRefused(ValueError):
    """The SQL is not allowed; the message says why in one line."""


class SqlTooLarge(SqlRefused):
    """The SQL is longer or nested deeper than the limits: a bad request rather than a forbidden one."""


@dataclass(frozen=True)
class SqlLimits:
    max_bytes: int = MAX_QUERY_BYTES
    max_depth: int = MAX_DEPTH


@dataclass(frozen=True)
class CheckedQuery:
    sql: str  # what will run: the parsed statement, written out again, with the row limit
    datasets: tuple[str, ...]  # the views it reads
    columns: Mapping[str, frozenset[str]]  # per view, the columns it reads (in any clause)
    resolved: bool  # False: the columns could not be resolved, and every column of each view is counted

    @property
    def read(self) -> tuple[str, ...]:
        """``view.column`` of every column read, sorted."""
        return tuple(sorted(f"{v}.{c}" for v, cols in self.columns.items() for c in cols))


def check(sql: str, views: Mapping[str, Sequence[str]] | Iterable[str], max_rows: int,
          limits: SqlLimits = SqlLimits()) -> CheckedQuery:
    """Parse and check ``sql``; ``views``: the department's view names (with their columns, for the audit).
    Raises SqlRefused (SqlTooLarge for size and depth)."""
    columns_of = {str(k).lower(): tuple(v) for k, v in views.items()} if isinstance(views, Mapping) \
        else {str(k).lower(): () for k in views}
    try:
        statement = _one_query(sql, limits)
        _refuse_forbidden(statement)
        datasets = _resolve_tables(statement, set(columns_of))
        columns, resolved = _columns_read(statement, datasets, columns_of)
        limited = _with_limit(statement, max_rows + 1)
        text = limited.sql(dialect="duckdb", comments=False, unsupported_level=ErrorLevel.RAISE)
    except RecursionError:
        raise SqlTooLarge(f"nested too deeply to be checked: at most {limits.max_depth} levels "
                          f"({SETTING_DEPTH})") from None
    except SqlglotError as exc:
        raise SqlRefused(f"not understood completely, so not run: {_first_line(exc)}") from None
    _verify_in_duckdb(text, set(columns_of) | _cte_names(limited))
    return CheckedQuery(text, tuple(sorted(datasets)), columns, resolved)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _one_query(sql: str, limits: SqlLimits) -> exp.Query:
    if not sql or not sql.strip():
        raise SqlRefused("empty query: send one SELECT over your datasets")
    try:
        size = len(sql.encode("utf-8"))
    except UnicodeEncodeError:
        raise SqlRefused("the query is not valid UTF-8 text") from None
    if size > limits.max_bytes:
        raise SqlTooLarge(f"query of {size:,} bytes is above the limit of {limits.max_bytes:,} ({SETTING_BYTES})")
    dialect = sqlglot.Dialect.get_or_raise("duckdb")
    try:
        tokens = dialect.tokenize(sql)
    except TokenError as exc:
        raise SqlRefused(f"not valid SQL: {_first_line(exc)}") from None
    depth = deepest = 0
    for token in tokens:
        if token.token_type in OPENING:
            depth += 1
            deepest = max(deepest, depth)
        elif token.token_type in CLOSING:
            depth -= 1
    if deepest > limits.max_depth:
        raise SqlTooLarge(f"query nested {deepest} deep, above the limit of {limits.max_depth} ({SETTING_DEPTH})")
    try:
        statements = [s for s in dialect.parser(error_level=ErrorLevel.RAISE).parse(tokens, sql) if s is not None]
    except (ParseError, TokenError) as exc:
        raise SqlRefused(f"not valid SQL: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise SqlRefused(f"{len(statements)} statements sent: send exactly one SELECT")
    statement = statements[0]
    if not isinstance(statement, exp.Query):
        kind = str(statement.this).split()[0] if isinstance(statement, exp.Command) else statement.key
        raise SqlRefused(f"only SELECT is allowed, not {kind.upper()}")
    return statement


def _refuse_forbidden(statement: exp.Query) -> None:
    for node in statement.walk():
        if isinstance(node, FORBIDDEN_NODES) and not isinstance(node, exp.Values):
            name = node.key.upper()
            raise SqlRefused(f"{name} is not allowed inside a query" if not isinstance(node, exp.UDTF)
                             else f"table function {_call_name(node)}() is not allowed: read your datasets by name")


def _call_name(node: exp.Expr) -> str:
    if isinstance(node, exp.Anonymous):
        return str(node.name).lower()
    return node.sql_name().lower() if isinstance(node, exp.Func) else node.key


def _lower(identifier: exp.Identifier | None) -> None:
    """DuckDB resolves names case-insensitively, quoted or not: so does the gate."""
    if isinstance(identifier, exp.Identifier):
        identifier.set("this", identifier.name.lower())


def _resolve_tables(statement: exp.Query, views: set[str]) -> set[str]:
    """Each table, resolved in its scope, becomes a view (quoted bare name) or a renamed CTE; returns the
    views read."""
    for node in statement.find_all(exp.Table, exp.CTE):
        if isinstance(node, exp.Table):
            for part in ("this", "db", "catalog"):
                _lower(node.args.get(part))
        elif isinstance(node.args.get("alias"), exp.TableAlias):
            _lower(node.args["alias"].args.get("this"))
    root = build_scope(statement)
    if root is None:
        raise SqlRefused("not understood completely, so not run: no query scope")
    renamed: dict[int, str] = {}
    for cte in statement.find_all(exp.CTE):
        renamed[id(cte)] = f"{CTE_PREFIX}{len(renamed) + 1}"
    datasets: set[str] = set()
    seen: set[int] = set()
    for scope in root.traverse():
        for table in scope.tables:
            seen.add(id(table))
            datasets |= _resolve_table(table, scope, views, renamed)
    for table in statement.find_all(exp.Table):
        if id(table) not in seen:
            raise SqlRefused(f"table {table.sql('duckdb')[:80]} could not be resolved in its scope, so it is not read")
    for cte in statement.find_all(exp.CTE):
        alias = cte.args.get("alias")
        alias.set("this", exp.to_identifier(renamed[id(cte)], quoted=True))
    return datasets


def _resolve_table(table: exp.Table, scope: Scope, views: set[str], renamed: dict[int, str]) -> set[str]:
    if not isinstance(table.this, exp.Identifier):
        raise SqlRefused(f"table function {_call_name(table.this)[:60]}() is not allowed: read your datasets by name")
    name, db, catalog = table.name, table.db, table.catalog
    if not db and not catalog and name in scope.cte_sources:
        source = scope.cte_sources[name]
        cte = source.expression.find_ancestor(exp.CTE) if isinstance(source, Scope) else None
        if cte is None or id(cte) not in renamed:
            raise SqlRefused(f"table {name!r} could not be resolved in its scope, so it is not read")
        if not table.alias:
            table.set("alias", exp.TableAlias(this=exp.to_identifier(name, quoted=True)))
        table.set("this", exp.to_identifier(renamed[id(cte)], quoted=True))
        return set()
    if catalog or (db and db != "shared"):
        raise SqlRefused(f"{table.sql('duckdb')[:80]} is outside your datasets: name a dataset, e.g. "
                         f"{next(iter(sorted(views)), 'dim_enterprise')}")
    if name not in views:
        raise SqlRefused(f"no dataset {name[:80]!r} among yours: GET /datasets lists them")
    table.set("db", None)
    table.set("this", exp.to_identifier(name, quoted=True))
    return {name}


def _cte_names(statement: exp.Query) -> set[str]:
    return {cte.alias for cte in statement.find_all(exp.CTE)}


def _columns_read(statement: exp.Query, datasets: set[str],
                  columns_of: Mapping[str, tuple[str, ...]]) -> tuple[dict[str, frozenset[str]], bool]:
    """Per view read, the columns the query reads anywhere (after * is expanded), through sqlglot's qualify."""
    everything = {d: frozenset(columns_of.get(d, ())) for d in datasets}
    if not all(columns_of.get(d) for d in datasets):
        return everything, False
    schema = {d: {c: "varchar" for c in columns_of[d]} for d in datasets}
    found: dict[str, set[str]] = {d: set() for d in datasets}
    try:
        qualified = qualify(statement.copy(), schema=schema, dialect="duckdb", validate_qualify_columns=True,
                            quote_identifiers=False, identify=False)
        if _unexpanded_star(qualified) or any(True for _ in qualified.find_all(exp.Columns)):
            return everything, False
        for scope in traverse_scope(qualified):
            for column in scope.columns:
                source = scope.sources.get(column.table)
                if source is None and not column.table:
                    return everything, False  # a name qualify could not place: count everything
                if isinstance(source, exp.Table) and source.name in found and column.name in columns_of[source.name]:
                    found[source.name].add(column.name)
    except (OptimizeError, SqlglotError, KeyError, ValueError, AttributeError):
        return everything, False
    return {d: frozenset(c) for d, c in found.items()}, True


def _unexpanded_star(tree: exp.Expr) -> bool:
    """A * that qualify could not expand (count(*) aside): its columns are not known."""
    for star in tree.find_all(exp.Star):
        parent = star.parent.parent if isinstance(star.parent, exp.Column) else star.parent
        if not isinstance(parent, exp.Func):
            return True
    return False


def _with_limit(statement: exp.Query, rows: int) -> exp.Query:
    """At most ``rows`` rows: the query's own limit when smaller, else ``rows``."""
    if isinstance(statement, exp.Select):
        limit = statement.args.get("limit")
        own = limit.expression if isinstance(limit, exp.Limit) else None
        if isinstance(own, exp.Literal) and own.is_int and int(own.this) <= rows:
            return statement
        return statement.limit(rows, copy=True)
    return exp.select("*").from_(statement.subquery("q")).limit(rows)


# DuckDB's own reading of the text that will run: one connection for the process, used under a lock (a parse
# takes well under a millisecond). Not one per thread: a DuckDB connection left in a worker thread's locals
# aborted the interpreter at exit ("exception not rethrown").
_parser: duckdb.DuckDBPyConnection | None = None
_parser_lock = threading.Lock()


def _duckdb_parse(sql: str) -> dict[str, Any]:
    global _parser
    with _parser_lock:
        if _parser is None:  # only parses, but is locked like any session all the same
            _parser = duckdb.connect(":memory:")
            _parser.execute("set enable_external_access = false")
            _parser.execute("set lock_configuration = true")
        return json.loads(_parser.execute("select json_serialize_sql(?)", [sql]).fetchall()[0][0])


def _verify_in_duckdb(sql: str, tables: set[str]) -> None:
    try:
        tree = _duckdb_parse(sql)
    except duckdb.Error as exc:
        raise SqlRefused(f"not valid SQL for DuckDB: {_first_line(exc)}") from None
    if tree.get("error"):
        message = str(tree.get("error_message", "unknown error"))
        if "expression depth" in message:
            raise SqlTooLarge(f"query nested deeper than DuckDB parses (1000 levels of expressions): keep it within "
                              f"{SETTING_DEPTH}")
        raise SqlRefused(f"not valid SQL for DuckDB: {message[:300]}")
    if len(tree.get("statements", [])) != 1:
        raise SqlRefused("send exactly one SELECT")
    _walk_duckdb(tree["statements"][0], tables)


def _walk_duckdb(node: Any, tables: set[str]) -> None:
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, list):
            stack.extend(item)
            continue
        if not isinstance(item, dict):
            continue
        cls, kind = item.get("class"), item.get("type")
        if cls is None and isinstance(kind, str):
            _check_duckdb_node(kind, item, tables)
        elif cls is not None and cls not in DUCKDB_EXPRESSIONS:
            raise SqlRefused(f"{str(cls).lower()} expressions are not allowed")
        if "function_name" in item:
            name = str(item["function_name"]).lower()
            if item.get("schema") or item.get("catalog"):
                raise SqlRefused(f"function {item.get('schema')}.{name}() is not allowed: call functions by name")
            if name not in ALLOWED_FUNCTIONS:
                raise SqlRefused(f"function {name}() is not allowed: it is not among the functions a department "
                                 "may call")
        cte_map = item.get("cte_map")
        if isinstance(cte_map, dict):
            for entry in cte_map.get("map", []):
                if str(entry.get("key", "")).lower() not in tables:
                    raise SqlRefused(f"CTE {entry.get('key')!r} was not renamed by the gate")
        stack.extend(item.values())


def _check_duckdb_node(kind: str, item: dict[str, Any], tables: set[str]) -> None:
    if kind.endswith("_NODE"):
        if kind not in DUCKDB_QUERY_NODES:
            raise SqlRefused(f"{kind.lower()} is not allowed")
    elif kind.endswith("_MODIFIER") or kind in DUCKDB_ORDER_TYPES:
        return
    elif kind not in DUCKDB_TABLE_REFS:
        raise SqlRefused(f"{kind.lower().replace('_', ' ')} is not allowed: read your datasets by name")
    elif kind == "BASE_TABLE":
        name = str(item.get("table_name", "")).lower()
        if item.get("catalog_name") or item.get("schema_name") or name not in tables:
            raise SqlRefused(f"table {name[:80]!r} is not among your datasets")
