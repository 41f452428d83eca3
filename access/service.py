"""The access rules in one place, for the HTTP API and the command line alike: who may read what, how it is
read, and the audit row every request leaves (granted, refused or failed, and why).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from access.audit import AuditEvent, AuditLog
from access.engine import Engine, Limits, QueryFailed, QueryTimeout
from access.masking import quote
from access.policy import View, views
from access.published import NothingPublished, PublishedCache, as_of
from access.sqlguard import SqlRefused, check
from access.store import AccessStore, Department
from quality.classification import SHARING_ZH

FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<|~)(.*)$", re.DOTALL)
OPERATORS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}


class Unauthorized(PermissionError):
    """No token, or one that names no active department."""


class Refused(PermissionError):
    """Not allowed; the message says why and what to do."""


class NotFound(LookupError):
    """No such dataset among the department's."""


class BadRequest(ValueError):
    """The request itself is wrong (an unknown column, a malformed filter, a value of the wrong type)."""


@dataclass
class Result:
    table: pa.Table
    truncated: bool
    columns: list[dict[str, Any]]
    clear: list[str]


class AccessService:
    def __init__(self, settings: Any, store: AccessStore, audit: AuditLog, limits: Limits | None = None,
                 channel: str = "api") -> None:
        self.settings = settings
        self.store = store
        self.audit = audit
        self.published = PublishedCache(settings)
        self.engine = Engine(limits)
        self.channel = channel

    # who is asking
    def authenticate(self, token: str | None) -> Department:
        if not token:
            self._audit("", "auth", "refused", reason="no token: send Authorization: Bearer <token>")
            raise Unauthorized("no token: send Authorization: Bearer <token>")
        department = self.store.department_for_token(token)
        if department is None:
            self._audit("", "auth", "refused", reason="unknown or revoked token")
            raise Unauthorized("unknown or revoked token: ask the data office for a new one")
        return department

    def department(self, code: str) -> Department:
        department = self.store.department(code)
        if department is None or not department.active:
            self._audit(code, "auth", "refused", reason="no such active department")
            raise Unauthorized(f"no active department {code}: `envlake access departments` lists them")
        return department

    # what it may see
    def _views(self, department: Department, when: datetime | None = None) -> tuple[Any, dict[str, View]]:
        published = self.published.get() if when is None else as_of(self.settings, when)
        return published, views(published, self.store.grants_in_force(department.code, datetime.now(UTC)))

    def _view(self, department: Department, dataset: str, action: str) -> tuple[Any, dict[str, View], View]:
        published, mine = self._views(department)
        if dataset not in mine:
            self._audit(department.code, action, "refused", dataset=dataset, reason="no such shared dataset")
            raise NotFound(f"no shared dataset {dataset!r}: GET /datasets lists yours")
        return published, mine, mine[dataset]

    def describe_view(self, view: View) -> dict[str, Any]:
        d = view.dataset
        columns = []
        for name in view.columns:
            c = d.column(name)
            sharing = c.sharing_class if c else "unconditional"
            columns.append({"name": name, "type": c.type if c else "",
                            "security_level": c.security_level if c else "L1", "sharing_class": sharing,
                            "sharing_class_zh": SHARING_ZH.get(sharing), "access": view.access(name)})
        entry = {k: v for k, v in d.entry.items() if k not in ("columns", "quality")}
        return {"id": d.name, "name_zh": d.name_zh, "description": d.description, "rows": d.rows,
                "catalogue": entry, "columns": columns, "granted_columns": sorted(view.clear),
                "masked_columns": view.masked}

    def list_datasets(self, department: Department) -> dict[str, Any]:
        started = time.perf_counter()
        published, mine = self._views(department)
        doc = {"department": department.code, "published_version": published.version,
               "datasets": [self.describe_view(v) for _, v in sorted(mine.items())]}
        self._audit(department.code, "list", "granted", rows=len(mine), started=started)
        return doc

    def describe(self, department: Department, dataset: str) -> dict[str, Any]:
        started = time.perf_counter()
        _, _, view = self._view(department, dataset, "describe")
        self._audit(department.code, "describe", "granted", dataset=dataset, started=started)
        return self.describe_view(view)

    # reading
    def fetch(self, department: Department, dataset: str, columns: list[str] | None = None,
              filters: list[str] | None = None, order_by: list[str] | None = None, limit: int = 1000,
              offset: int = 0, clear: bool = False) -> Result:
        started = time.perf_counter()
        published, mine, view = self._view(department, dataset, "fetch")
        query = f"fetch {dataset}" + (f" columns={','.join(columns)}" if columns else "") \
            + "".join(f" filter={f}" for f in filters or []) + (f" order_by={','.join(order_by)}" if order_by else "") \
            + f" limit={limit} offset={offset}" + (" clear" if clear else "")
        try:
            selected = self._selected(view, columns)
            if clear:
                self._require_clear(department, view, selected)
            where, params = self._where(view, filters or [])
            order = self._order(view, order_by or [])
            max_rows = min(max(limit, 0), self.engine.limits.max_rows)
            sql = (f"select {', '.join(quote(c) for c in selected)} from {quote(dataset)}{where}{order} "
                   f"limit {max_rows + 1} offset {max(offset, 0)}")
            table, truncated = self.engine.run(published.version, published.allowed_dirs, mine, sql, params, max_rows)
        except (Refused, BadRequest, SqlRefused) as exc:
            self._audit(department.code, "fetch", "refused", dataset=dataset, query=query, reason=str(exc),
                        started=started)
            raise
        except (QueryFailed, QueryTimeout) as exc:
            self._audit(department.code, "fetch", "failed", dataset=dataset, query=query, reason=str(exc),
                        started=started)
            if isinstance(exc, QueryFailed):
                raise BadRequest(str(exc)) from None
            raise
        shown_clear = sorted(set(selected) & view.clear)
        self._audit(department.code, "fetch", "granted", dataset=dataset, query=query, rows=table.num_rows,
                    clear_columns=",".join(shown_clear), started=started)
        described = {c["name"]: c for c in self.describe_view(view)["columns"]}
        return Result(table, truncated, [described[c] for c in selected], shown_clear)

    def query(self, department: Department, sql: str, clear: bool = False, limit: int | None = None,
              when: datetime | None = None) -> Result:
        """Run a department's SELECT over its views; ``when``: over what was published then (grants as now)."""
        started = time.perf_counter()
        audited = sql if when is None else f"-- as of {when.isoformat()}\n{sql}"
        try:
            published, mine = self._views(department, when)
            max_rows = min(limit or self.engine.limits.max_rows, self.engine.limits.max_rows)
            checked = check(sql, set(mine), max_rows)
            mentioned: set[str] = set()
            for name in checked.datasets:
                view = mine[name]
                asked = set(view.masked) if checked.star else set(view.masked) & checked.columns
                mentioned |= {f"{name}.{c}" for c in asked}
            if clear and mentioned:
                raise Refused(f"{', '.join(sorted(mentioned))}: 有条件共享 and no grant in force for "
                              f"{department.code}; apply with `envlake access apply`")
            table, truncated = self.engine.run(published.version, published.allowed_dirs, mine, checked.sql,
                                               max_rows=max_rows)
        except (SqlRefused, Refused) as exc:
            self._audit(department.code, "query", "refused", query=audited, reason=str(exc), started=started)
            raise Refused(str(exc)) from None
        except (QueryFailed, QueryTimeout) as exc:
            self._audit(department.code, "query", "failed", query=audited, reason=str(exc), started=started)
            raise
        granted = sorted({f"{n}.{c}" for n in checked.datasets for c in mine[n].clear
                          if checked.star or c in checked.columns})
        self._audit(department.code, "query", "granted", dataset=",".join(checked.datasets), query=audited,
                    rows=table.num_rows, clear_columns=",".join(granted), started=started)
        return Result(table, truncated, [{"name": f.name, "type": str(f.type)} for f in table.schema], granted)

    # helpers
    def _selected(self, view: View, columns: list[str] | None) -> list[str]:
        if not columns:
            return list(view.columns)
        unknown = [c for c in columns if c not in view.columns]
        if unknown:
            raise BadRequest(f"no column {', '.join(unknown)} in {view.dataset.name}: "
                             f"it has {', '.join(view.columns)}")
        return list(dict.fromkeys(columns))

    def _require_clear(self, department: Department, view: View, selected: list[str]) -> None:
        masked = [c for c in selected if c in view.masked]
        if masked:
            raise Refused(f"{view.dataset.name}.{', '.join(masked)}: 有条件共享 and no grant in force for "
                          f"{department.code}; apply with `envlake access apply --dataset {view.dataset.name}`")

    def _where(self, view: View, filters: list[str]) -> tuple[str, list[object]]:
        clauses, params = [], []
        for text in filters:
            match = FILTER.match(text)
            if not match:
                raise BadRequest(f"filter {text!r} is not <column><op><value> with op one of = != > >= < <= ~")
            column, op, value = match.groups()
            if column not in view.columns:
                raise BadRequest(f"no column {column} in {view.dataset.name} to filter on")
            col = view.dataset.column(column)
            if op == "~":
                clauses.append(f"cast({quote(column)} as varchar) ilike ?")
                params.append(value if "%" in value else f"%{value}%")
            else:
                clauses.append(f"{quote(column)} {OPERATORS[op]} cast(? as {col.type if col else 'varchar'})")
                params.append(value)
        return (" where " + " and ".join(clauses) if clauses else ""), params

    def _order(self, view: View, order_by: list[str]) -> str:
        parts = []
        for item in order_by:
            column, descending = item.removeprefix("-"), item.startswith("-")
            if column not in view.columns:
                raise BadRequest(f"no column {column} in {view.dataset.name} to order by")
            parts.append(f"{quote(column)}{' desc' if descending else ''}")
        return " order by " + ", ".join(parts) if parts else ""

    def _audit(self, department: str, action: str, outcome: str, *, dataset: str = "", query: str = "",
               reason: str = "", rows: int = 0, clear_columns: str = "", started: float | None = None) -> None:
        self.audit.record(AuditEvent(department or "(unknown)", self.channel, action, outcome, dataset, query[:4000],
                                     reason[:1000], rows, clear_columns,
                                     round((time.perf_counter() - started) * 1000, 3) if started else 0.0))


__all__ = ["AccessService", "BadRequest", "NotFound", "NothingPublished", "QueryFailed", "QueryTimeout",
           "Refused", "Result", "Unauthorized"]
