"""A department's HTTP JSON API: the permit platform, and the monitoring centre's station data.

``GET /api/v1/permits`` and ``GET /api/v1/permit-outlet-limits`` (the permit platform), and
``GET /api/v1/air-hourly`` and ``GET /api/v1/water-sections`` (the monitoring centre) take ``updated_since``
(inclusive, ISO time), ``page`` (from 1) and ``page_size`` (at most 1000) and answer
``{"code": 0, "data": {"items": [...], "page", "page_size", "total", "has_more"}}``.
``POST /_control`` sets the simulated day and tells the server to fail: ``{"day": 3}``,
``{"fail": "http_500" | "slow" | "malformed", "times": 2, "after_pages": 0, "slow_seconds": 5}``.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

from envlake.simulators.departments import Departments, departments
from envlake.simulators.world import World

MAX_PAGE_SIZE = 1000


@dataclass
class Control:
    day: int = 0
    fail: str | None = None
    times: int = 0
    after_pages: int = 0
    slow_seconds: float = 5.0
    pages_served: int = 0
    requests: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def failure_now(self) -> str | None:
        with self.lock:
            self.requests += 1
            if not self.fail or self.times <= 0 or self.pages_served < self.after_pages:
                self.pages_served += 1
                return None
            self.times -= 1
            return self.fail

    def configure(self, body: dict[str, Any]) -> None:
        with self.lock:
            for key in ("day", "fail", "times", "after_pages", "slow_seconds"):
                if key in body:
                    setattr(self, key, body[key])
            if "fail" in body:
                self.pages_served = 0
                if body["fail"] and "times" not in body:
                    self.times = 1_000_000

    def as_dict(self) -> dict[str, Any]:
        return {"day": self.day, "fail": self.fail, "times": self.times, "after_pages": self.after_pages,
                "requests": self.requests, "pages_served": self.pages_served}


class DepartmentApiHandler(BaseHTTPRequestHandler):
    """Serves the worlds in ``endpoints`` at ``control.day``; subclassed per server by ``serve``."""

    endpoints: ClassVar[dict[str, World]] = {}
    control: ClassVar[Control]
    lock: ClassVar[threading.Lock]

    server_version = "PermitPlatform/2.3"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _send(self, status: int, body: bytes, content_type: str = "application/json; charset=utf-8") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode("utf-8"))

    def do_GET(self) -> None:
        url = urlparse(self.path)
        if url.path == "/health":
            return self._json(200, {"status": "ok", "day": self.control.day})
        if url.path == "/_control":
            return self._json(200, self.control.as_dict())
        world = self.endpoints.get(url.path)
        if world is None:
            return self._json(404, {"code": 404, "message": f"no such endpoint {url.path}"})
        return self._page(world, {k: v[-1] for k, v in parse_qs(url.query).items()})

    def _page(self, world: World, query: dict[str, str]) -> None:
        try:
            page = int(query.get("page", "1"))
            size = min(int(query.get("page_size", "500")), MAX_PAGE_SIZE)
        except ValueError:
            return self._json(400, {"code": 400, "message": "page and page_size must be integers"})
        if page < 1 or size < 1:
            return self._json(400, {"code": 400, "message": "page and page_size start at 1"})
        failure = self.control.failure_now()
        if failure == "http_500":
            return self._json(500, {"code": 500, "message": "内部错误：数据库连接超时"})
        if failure == "slow":
            time.sleep(self.control.slow_seconds)
        if failure == "malformed":
            return self._send(200, b'{"code": 0, "data": {"items": [{"permit_no": "9133')
        with self.lock:
            rows = world.records(self.control.day, query.get("updated_since"))
        items = rows[(page - 1) * size: page * size]
        return self._json(200, {"code": 0, "message": "ok", "data": {
            "items": items, "page": page, "page_size": size, "total": len(rows),
            "has_more": page * size < len(rows)}})

    def do_POST(self) -> None:
        if urlparse(self.path).path != "/_control":
            return self._json(404, {"code": 404, "message": "not found"})
        length = int(self.headers.get("Content-Length") or 0)
        try:
            body = json.loads(self.rfile.read(length) or b"{}")
        except json.JSONDecodeError:
            return self._json(400, {"code": 400, "message": "body must be JSON"})
        self.control.configure(body)
        return self._json(200, self.control.as_dict())



def permit_endpoints(depts: Departments) -> dict[str, World]:
    """The bureau's platform: permits and their limits, and the 12369 complaints it receives."""
    return {"/api/v1/permits": depts.permits, "/api/v1/permit-outlet-limits": depts.limits,
            "/api/v1/complaints": depts.complaints}


def station_endpoints(depts: Departments) -> dict[str, World]:
    return {"/api/v1/air-hourly": depts.air, "/api/v1/water-sections": depts.water}


def serve(host: str, port: int, seed: int, start: str, day: int,
          endpoints: Callable[[Departments], dict[str, World]] = permit_endpoints) -> ThreadingHTTPServer:
    """Start a department's API in a background thread and return the server (``shutdown()`` stops it)."""
    control = Control(day=day)
    handler = type("Handler", (DepartmentApiHandler,), {"endpoints": endpoints(departments(seed, start)),
                                                    "control": control, "lock": threading.Lock()})
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name=f"permit-api-{port}", daemon=True).start()
    return server
