"""The access rules in one place, for the HTTP API and the command line alike: who may read what, how it is
read, and the audit row every request leaves (granted, refused or failed, and why).

A request has one deadline (``ENVLAKE_ACCESS_TIMEOUT``) for all of it: checks, filters, the query and
writing the answer. Whatever ends a request, including an error of the service itself, leaves one audit
row naming the query's SHA-256, what it read and why it ended so.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pyarrow as pa

from envlake.access.audit import AuditEvent, AuditLog
from envlake.access.engine import Engine, Limits, QueryFailed, QueryTimeout, SessionUnsafe
from envlake.access.masking import quote
from envlake.access.policy import View, views
from envlake.access.published_datasets import NothingPublished, PublishedCache, as_of
from envlake.access.render import Format, Rendered, ResponseTooLarge, render
from envlake.access.sqlguard import CheckedQuery, SqlRefused, SqlTooLarge, check
from envlake.access.store import AccessStore, Department
from quality.classification import SHARING_ZH

FILTER = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(>=|<=|!=|=|>|<|~)(.*)$", re.DOTALL)
OPERATORS = {"=": "=", "!=": "<>", ">": ">", ">=": ">=", "<": "<", "<=": "<="}
log = logging.getLogger(__name__)


class Unauthorized(PermissionError):
    """No token, or one that names no active department."""


class Refused(PermissionError):
    """Not allowed; the message says why and what to do."""


class NotFound(LookupError):
    """No such dataset among the department's."""


class BadRequest(ValueError):
    """The request itself is wrong (an unknown column, a malformed filter, a value of the wrong type, a query or
    an answer beyond the limits)."""


class InternalError(RuntimeError):
    """The service failed; the audit holds the row and the server's log the traceback."""


@dataclass
class Result:
    table: pa.Table
    truncated: bool
    columns: list[dict[str, Any]]
    clear: list[str]
    rendered: Rendered | None = None  # the answer as asked for (format given), within the byte cap


@dataclass
class _Read:
    """What a request read, for its audit row."""
    datasets: str = ""
    columns: str = ""
    masked: str = ""
    clear: str = ""


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

    def _view(self, department: Department, dataset: str, action: str,
              audited: bool = True) -> tuple[Any, dict[str, View], View]:
        published, mine = self._views(department)
        if dataset not in mine:
            if audited:
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
              offset: int = 0, clear: bool = False, *, fmt: Format | None = None) -> Result:
        """Rows of one view; ``fmt``: render the answer (JSON, CSV or Arrow) within the byte cap."""
        started, deadline = time.perf_counter(), self.engine.deadline()
        query = f"fetch {dataset}" + (f" columns={','.join(columns)}" if columns else "") \
            + "".join(f" filter={f}" for f in filters or []) + (f" order_by={','.join(order_by)}" if order_by else "") \
            + f" limit={limit} offset={offset}" + (" clear" if clear else "")
        read = _Read(dataset)

        def attempt() -> Result:
            published, mine, view = self._view(department, dataset, "fetch", audited=False)
            selected = self._selected(view, columns)
            if clear:
                self._require_clear(department, view, selected)
            where, params = self._where(view, filters or [], deadline)
            order = self._order(view, order_by or [])
            used = set(selected) | {m.group(1) for f in filters or [] if (m := FILTER.match(f))} \
                | {o.removeprefix("-") for o in order_by or []}
            read.columns, read.masked, _ = _columns(dataset, view, used)
            read.clear = ",".join(sorted(view.clear & used))  # bare names, as this column always held for a fetch
            max_rows = min(max(limit, 0), self.engine.limits.max_rows)
            sql = (f"select {', '.join(quote(c) for c in selected)} from {quote(dataset)}{where}{order} "
                   f"limit {max_rows + 1} offset {max(offset, 0)}")
            table, truncated = self.engine.run(published.version, mine, sql, params, max_rows, deadline)
            shown_clear = sorted(set(selected) & view.clear)
            described = {c["name"]: c for c in self.describe_view(view)["columns"]}
            return Result(table, truncated, [described[c] for c in selected], shown_clear)

        return self._answer(department, "fetch", query, read, started, deadline, attempt, fmt, {"dataset": dataset})

    def query(self, department: Department, sql: str, clear: bool = False, limit: int | None = None,
              when: datetime | None = None, *, fmt: Format | None = None) -> Result:
        """Run a department's SELECT over its views; ``when``: over what was published then (grants as now);
        ``fmt``: render the answer (JSON, CSV or Arrow) within the byte cap."""
        started, deadline = time.perf_counter(), self.engine.deadline()
        audited = sql if when is None else f"-- as of {when.isoformat()}\n{sql}"
        read = _Read()

        def attempt() -> Result:
            published, mine = self._views(department, when)
            max_rows = min(limit or self.engine.limits.max_rows, self.engine.limits.max_rows)
            checked = check(sql, {n: v.columns for n, v in mine.items()}, max_rows, self.engine.limits.sql)
            read.datasets = ",".join(checked.datasets)
            read.columns, read.masked, read.clear = _query_columns(checked, mine)
            if clear and read.masked:
                raise Refused(f"{read.masked.replace(',', ', ')}: 有条件共享 and no grant in force for "
                              f"{department.code}; apply with `envlake access apply`")
            table, truncated = self.engine.run(published.version, mine, checked.sql, max_rows=max_rows,
                                               deadline=deadline)
            return Result(table, truncated, [{"name": f.name, "type": str(f.type)} for f in table.schema],
                          read.clear.split(",") if read.clear else [])

        return self._answer(department, "query", audited, read, started, deadline, attempt, fmt, {"query": sql})

    def _answer(self, department: Department, action: str, query: str, read: _Read, started: float,
                deadline: float, attempt: Callable[[], Result], fmt: Format | None,
                meta: dict[str, Any]) -> Result:
        """Runs ``attempt`` and renders its rows; every way it can end leaves one audit row."""
        def audit(outcome: str, reason: str = "", result: Result | None = None) -> str:
            return self._audit(department.code, action, outcome, dataset=read.datasets, query=query, reason=reason,
                               rows=result.table.num_rows if result else 0, clear_columns=read.clear,
                               columns_read=read.columns, masked_columns=read.masked, started=started,
                               response_bytes=result.rendered.size if result and result.rendered else 0)
        try:
            result = attempt()
            if fmt is not None:
                body = {**meta, "columns": result.columns, "clear_columns": result.clear,
                        "row_count": result.table.num_rows, "truncated": result.truncated}
                result.rendered = render(result.table, fmt, body, self.engine.limits.max_response_bytes,
                                         lambda: self.engine.check_deadline(deadline))
            self.engine.check_deadline(deadline)
        except (SqlTooLarge, ResponseTooLarge) as exc:
            audit("refused", str(exc))
            raise BadRequest(str(exc)) from None
        except (SqlRefused, Refused) as exc:
            audit("refused", str(exc))
            raise Refused(str(exc)) from None
        except (BadRequest, NotFound) as exc:
            audit("refused", str(exc))
            raise
        except QueryFailed as exc:
            audit("failed", str(exc))
            raise BadRequest(str(exc)) from None
        except (QueryTimeout, NothingPublished, SessionUnsafe) as exc:
            audit("failed", str(exc))
            raise
        except Exception as exc:
            request_id = audit("failed", f"internal error: {type(exc).__name__}")
            log.exception("access request %s failed", request_id)
            raise InternalError(f"internal error (request {request_id}): the audit records it") from None
        audit("granted", result=result)
        return result

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

    def _where(self, view: View, filters: list[str], deadline: float | None = None) -> tuple[str, list[object]]:
        clauses, params = [], []
        for i, text in enumerate(filters):
            if i % 100 == 99:
                self.engine.check_deadline(deadline)
            match = FILTER.match(text)
            if not match:
                raise BadRequest(f"filter {text[:200]!r} is not <column><op><value> with op one of = != > >= < <= ~")
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
               reason: str = "", rows: int = 0, clear_columns: str = "", started: float | None = None,
               columns_read: str = "", masked_columns: str = "", response_bytes: int = 0,
               digest: str | None = None) -> str:
        """Records one request; returns its request id."""
        event = AuditEvent(department or "(unknown)", self.channel, action, outcome, dataset=dataset,
                           reason=reason[:1000], rows=rows, clear_columns=clear_columns,
                           duration_ms=round((time.perf_counter() - started) * 1000, 3) if started else 0.0,
                           columns_read=columns_read, masked_columns=masked_columns, response_bytes=response_bytes)
        self.audit.record(event.with_query(query, digest))
        return event.request_id

    def record_refusal(self, token: str | None, action: str, outcome: str, reason: str, query: str = "",
                       digest: str | None = None) -> str:
        """A request refused or failed before it reached the rules (too large, invalid, a server error): audited
        under the department its token names, if any. Returns the request id."""
        department = self.store.department_for_token(token) if token else None
        return self._audit(department.code if department else "", action, outcome, query=query, reason=reason,
                           digest=digest)


def _columns(dataset: str, view: View, used: set[str]) -> tuple[str, str, str]:
    """(read, read masked, read in the clear by grant) as comma-separated view.column lists."""
    used = used & set(view.columns)
    masked = set(view.masked) & used
    clear = view.clear & used
    return (",".join(f"{dataset}.{c}" for c in sorted(used)), ",".join(f"{dataset}.{c}" for c in sorted(masked)),
            ",".join(f"{dataset}.{c}" for c in sorted(clear)))


def _query_columns(checked: CheckedQuery, mine: dict[str, View]) -> tuple[str, str, str]:
    parts = [_columns(name, mine[name], set(cols)) for name, cols in sorted(checked.columns.items())]
    return tuple(",".join(p[i] for p in parts if p[i]) for i in range(3))  # type: ignore[return-value]


__all__ = ["AccessService", "BadRequest", "InternalError", "NotFound", "NothingPublished", "QueryFailed",
           "QueryTimeout", "Refused", "Result", "SessionUnsafe", "Unauthorized"]
