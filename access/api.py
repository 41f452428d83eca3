"""The departments' query API (``envlake serve``): their datasets, rows of one, or their own SQL, over HTTP.

Every call but ``/health`` carries ``Authorization: Bearer <token>`` (``envlake access add-department``
prints it). Rows come as JSON, CSV or Arrow IPC. The OpenAPI spec is at ``/openapi.json``, the docs at
``/docs``.
"""

from __future__ import annotations

import io
import json
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

import pyarrow as pa
import pyarrow.csv as pacsv
from fastapi import Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from access.engine import QueryFailed, QueryTimeout
from access.published import NothingPublished
from access.service import AccessService, BadRequest, NotFound, Refused, Result, Unauthorized
from access.store import Department

ARROW_MEDIA_TYPE = "application/vnd.apache.arrow.stream"
Format = Literal["json", "csv", "arrow"]


class Problem(BaseModel):
    detail: str


class QueryRequest(BaseModel):
    sql: str = Field(description="One SELECT over your datasets (GET /datasets lists them)", max_length=20_000)
    clear: bool = Field(False, description="Refuse, rather than mask, conditional columns you hold no grant for")
    limit: int | None = Field(None, ge=1, description="At most this many rows (the service's own limit caps it)")
    format: Format = "json"


ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "The request is wrong: unknown column, malformed filter, bad value"},
    401: {"model": Problem, "description": "No token, or a wrong one"},
    403: {"model": Problem, "description": "Refused: no grant in force, or SQL that is not allowed"},
    404: {"model": Problem, "description": "No such dataset among yours"},
    422: {"model": Problem, "description": "The query ran past its time limit, or the parameters are invalid"},
    503: {"model": Problem, "description": "Nothing is published yet"},
}
ROWS = {200: {"description": "Rows as JSON, CSV or Arrow IPC stream",
              "content": {"application/json": {}, "text/csv": {}, ARROW_MEDIA_TYPE: {}}}}


def _respond(result: Result, fmt: Format, meta: dict[str, Any]) -> Response:
    headers = {"X-Envlake-Rows": str(result.table.num_rows), "X-Envlake-Truncated": str(result.truncated).lower()}
    if fmt == "csv":
        sink = io.BytesIO()
        pacsv.write_csv(result.table, sink)
        return Response(sink.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
    if fmt == "arrow":
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, result.table.schema) as writer:
            writer.write_table(result.table)
        return Response(sink.getvalue().to_pybytes(), media_type=ARROW_MEDIA_TYPE, headers=headers)
    body = {**meta, "columns": result.columns, "clear_columns": result.clear, "row_count": result.table.num_rows,
            "truncated": result.truncated, "rows": result.table.to_pylist()}
    return Response(json.dumps(body, ensure_ascii=False, default=str).encode("utf-8"),
                    media_type="application/json", headers=headers)


bearer = HTTPBearer(auto_error=False, description="The department's token from `envlake access add-department`")


def current_department(request: Request,
                       credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]) -> Department:
    service: AccessService = request.app.state.service
    return service.authenticate(credentials.credentials if credentials else None)


Dept = Annotated[Department, Depends(current_department)]


def create_app(service: AccessService) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI):
        service.audit.start()
        yield
        service.audit.stop()
        service.engine.close()

    app = FastAPI(title="envlake 共享数据查询服务", version="1.0",
                  description="Shared eco-environment datasets for Hangzhou's departments: 无条件共享 columns for "
                              "all, 有条件共享 columns in the clear only under an approved grant, every request "
                              "audited.", lifespan=lifespan)
    app.state.service = service

    def problem(status: int, exc: Exception, headers: dict[str, str] | None = None) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=status, headers=headers)

    app.add_exception_handler(Unauthorized, lambda r, e: problem(401, e, {"WWW-Authenticate": "Bearer"}))
    app.add_exception_handler(Refused, lambda r, e: problem(403, e))
    app.add_exception_handler(NotFound, lambda r, e: problem(404, e))
    app.add_exception_handler(BadRequest, lambda r, e: problem(400, e))
    app.add_exception_handler(QueryFailed, lambda r, e: problem(400, e))
    app.add_exception_handler(QueryTimeout, lambda r, e: problem(422, e))
    app.add_exception_handler(NothingPublished, lambda r, e: problem(503, e))

    @app.get("/health", summary="Is the service up, and which version is published")
    def health() -> dict[str, Any]:
        try:
            return {"status": "ok", "published_version": service.published.get().version}
        except NothingPublished:
            return {"status": "ok", "published_version": None}

    @app.get("/me", summary="The calling department and its grants", responses=ERRORS)
    def me(dept: Dept) -> dict[str, Any]:
        return {"department": dept.code, "name_zh": dept.name_zh,
                "grants": [g.as_dict() for g in service.store.grants(dept.code)]}

    @app.get("/datasets", summary="The shared datasets this department may read, with their catalogue entries",
             responses=ERRORS)
    def datasets(dept: Dept) -> dict[str, Any]:
        return service.list_datasets(dept)

    @app.get("/datasets/{dataset}", summary="One dataset: catalogue entry and each column's access",
             responses=ERRORS)
    def dataset(dept: Dept, dataset: str) -> dict[str, Any]:
        return service.describe(dept, dataset)

    @app.get("/datasets/{dataset}/rows", summary="Rows of a shared dataset", responses={**ROWS, **ERRORS},
             response_class=Response)
    def rows(dept: Dept, dataset: str,
             columns: Annotated[list[str] | None,
                                Query(description="Columns to return (repeat, or comma-separated)")] = None,
             filter: Annotated[list[str] | None, Query(description="<column><op><value>, op one of = != > >= < <= ~ "
                                                                   "(~ is a case-insensitive contains)")] = None,
             order_by: Annotated[list[str] | None,
                                 Query(description="Columns to sort by, -column for descending")] = None,
             limit: Annotated[int, Query(ge=1, le=1_000_000)] = 1000,
             offset: Annotated[int, Query(ge=0, le=2**62)] = 0,
             format: Format = "json",
             clear: Annotated[bool, Query(description="Refuse rather than mask conditional columns "
                                                      "without a grant")] = False) -> Response:
        split = [c.strip() for item in columns or [] for c in item.split(",") if c.strip()]
        result = service.fetch(dept, dataset, split or None, filter, order_by, limit, offset, clear)
        return _respond(result, format, {"dataset": dataset})

    @app.post("/query", summary="Run one read-only SELECT over this department's datasets",
              responses={**ROWS, **ERRORS}, response_class=Response)
    def query(dept: Dept, body: QueryRequest) -> Response:
        result = service.query(dept, body.sql, body.clear, body.limit)
        return _respond(result, body.format, {"query": body.sql})

    @app.exception_handler(ValueError)
    async def value_error(request: Request, exc: ValueError) -> JSONResponse:
        return problem(400, exc)

    return app
