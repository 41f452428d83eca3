"""A thin client of Superset's REST API (``/api/v1``): login, CSRF, and the calls the deploy needs.

Not ``superset-client``: that package breaks on Superset 6.1 (STACK.md). A session keeps the cookie;
every write sends the bearer token, the CSRF token and a Referer, as Superset 6.1 wants.
"""

from __future__ import annotations

import json
from typing import Any

import httpx


class SupersetAPIError(RuntimeError):
    """Superset answered a call with an error."""


class SupersetClient:
    def __init__(self, url: str, username: str, password: str, timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self.http = httpx.Client(base_url=self.url, timeout=timeout, follow_redirects=True)
        response = self.http.post("/api/v1/security/login", json={
            "username": username, "password": password, "provider": "db", "refresh": True})
        if response.status_code != 200:
            raise SupersetAPIError(f"login to {self.url} as {username} failed ({response.status_code})")
        self.http.headers["Authorization"] = f"Bearer {response.json()['access_token']}"
        self.http.headers["Referer"] = self.url
        self.http.headers["X-CSRFToken"] = self._get("/api/v1/security/csrf_token/")["result"]

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> SupersetClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _check(self, response: httpx.Response, what: str) -> Any:
        if response.status_code >= 400:
            raise SupersetAPIError(f"{what}: {response.status_code} {response.text[:500]}")
        return response.json() if response.content else {}

    def _get(self, path: str, **params: Any) -> Any:
        return self._check(self.http.get(path, params=params), f"GET {path}")

    def get(self, path: str, **params: Any) -> Any:
        return self._get(path, **params)

    def post(self, path: str, payload: dict[str, Any]) -> Any:
        return self._check(self.http.post(path, json=payload), f"POST {path}")

    def put(self, path: str, payload: dict[str, Any]) -> Any:
        return self._check(self.http.put(path, json=payload), f"PUT {path}")

    def delete(self, path: str) -> Any:
        return self._check(self.http.delete(path), f"DELETE {path}")

    def find(self, resource: str, column: str, value: str) -> list[dict[str, Any]]:
        """Rows of ``/api/v1/<resource>/`` whose ``column`` equals ``value``."""
        query = {"filters": [{"col": column, "opr": "eq", "value": value}], "page_size": 100}
        return self._get(f"/api/v1/{resource}/", q=_rison(query)).get("result", [])

    def import_assets(self, bundle: bytes, passwords: dict[str, str] | None = None) -> None:
        """``/api/v1/assets/import/``: overwrites every asset of the bundle (matched by UUID)."""
        files = {"bundle": ("bundle.zip", bundle, "application/zip")}
        data = {"passwords": json.dumps(passwords or {})}
        self._check(self.http.post("/api/v1/assets/import/", files=files, data=data), "importing the asset bundle")

    def chart_data(self, chart_id: int) -> dict[str, Any]:
        return self._get(f"/api/v1/chart/{chart_id}/data/")


def _rison(value: Any) -> str:
    """Rison encoding (Superset's ``q=`` parameter) of dicts, lists, strings, numbers and booleans."""
    if isinstance(value, dict):
        return "(" + ",".join(f"{k}:{_rison(v)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "!(" + ",".join(_rison(v) for v in value) + ")"
    if isinstance(value, bool):
        return "!t" if value else "!f"
    if value is None:
        return "!n"
    if isinstance(value, int | float):
        return str(value)
    text = str(value).replace("!", "!!").replace("'", "!'")
    return f"'{text}'"
