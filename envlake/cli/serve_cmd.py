"""envlake serve: the departments' query API on 127.0.0.1 (FastAPI under uvicorn)."""

from __future__ import annotations

from typing import Annotated

import typer

from envlake.access.config import AccessSettings
from envlake.cli.output import console
from envlake.kernel.settings import Settings


def serve(host: Annotated[str | None, typer.Option(help="Address (ENVLAKE_ACCESS_HOST, 127.0.0.1)")] = None,
          port: Annotated[int | None, typer.Option(help="Port (ENVLAKE_ACCESS_PORT, 8780)")] = None,
          workers: Annotated[int, typer.Option(help="uvicorn worker processes")] = 1) -> None:
    """Serve the shared datasets to departments: list, fetch rows, run their own SELECT; every request audited."""
    import uvicorn

    access = AccessSettings.from_env(Settings.from_env())
    host, port = host or access.host, port or access.port
    console.print(f"共享数据查询服务 on http://{host}:{port} — OpenAPI at /openapi.json, docs at /docs; "
                  f"grants in {access.db_url.split('://')[0]}", highlight=False)
    uvicorn.run("envlake.access.asgi:create", factory=True, host=host, port=port, workers=workers, log_level="warning")
