"""The masks of shared/ as DuckDB expressions, for a department that reads from curated/ because a grant
lets it see some conditional columns in the clear: every other conditional column is masked exactly as the
shared view masks it (dbt_project/macros/shared_view.sql, ``default__mask_value``). A test reads both and
compares them value by value, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

METHODS = ("hash", "partial", "redact")


def quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def default_method(duckdb_type: str) -> str:
    """The macro's default: text is hashed (joins still work), anything else redacted."""
    return "hash" if "char" in duckdb_type.lower() else "redact"


def mask_sql(column: str, duckdb_type: str, method: str | None) -> str:
    col = quote(column)
    method = method or default_method(duckdb_type)
    if method == "hash":
        return f"case when {col} is not null then left(md5('envlake:' || cast({col} as varchar)), 16) end"
    if method == "partial":
        text = f"cast({col} as varchar)"
        return (f"case when {col} is null then null "
                f"when regexp_matches({text}, '^1[3-9][0-9]{{9}}$') then left({text}, 3) || '****' || right({text}, 4) "
                f"else left({text}, 1) || '**' end")
    if method == "redact":
        return f"cast(null as {duckdb_type})"
    raise ValueError(f"unknown mask method {method!r} for {column}: use one of {', '.join(METHODS)}")
