"""HTTP JSON API connector: pages through ``updated_since`` results with retries and timeouts.

The whole run is read before anything is landed, so a source that fails half-way lands nothing.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass

import httpx

from connectors.sources import Extract, SourceError, max_watermark, records_to_table
from envlake.kernel.contracts import Contract

log = logging.getLogger(__name__)
RETRYABLE = (httpx.TimeoutException, httpx.TransportError)


@dataclass
class HttpApiSource:
    base_url: str
    endpoint: str
    page_size: int = 500
    timeout_s: float = 30.0
    retries: int = 4
    backoff_s: float = 0.5

    @property
    def identity(self) -> str:
        return self.base_url.rstrip("/") + self.endpoint

    def _get_page(self, client: httpx.Client, params: dict[str, str | int]) -> dict:
        last = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff_s * 2 ** (attempt - 1))
            try:
                response = client.get(self.endpoint, params=params)
            except RETRYABLE as exc:
                last = f"{type(exc).__name__}: {exc or 'no answer'}"
                continue
            if response.status_code >= 500 or response.status_code == 429:
                last = f"HTTP {response.status_code}"
                continue
            if response.status_code >= 400:
                raise SourceError(
                    f"{self.identity} refused the request: HTTP {response.status_code} {response.text[:200]}"
                )
            try:
                body = response.json()
                data = body["data"]
                if not isinstance(data["items"], list):
                    raise TypeError("items is not a list")
                return data
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                last = f"malformed page ({type(exc).__name__}: {exc})"
                continue
        raise SourceError(
            f"{self.identity} failed after {self.retries + 1} attempts (last: {last}); nothing was landed"
        )

    def read(self, contract: Contract, watermark: str | None) -> Extract:
        items: list[dict] = []
        page = 1
        with httpx.Client(base_url=self.base_url, timeout=self.timeout_s) as client:
            while True:
                params: dict[str, str | int] = {"page": page, "page_size": self.page_size}
                if watermark:
                    params["updated_since"] = watermark
                data = self._get_page(client, params)
                items.extend(data["items"])
                if not data.get("has_more"):
                    break
                page += 1
        table = records_to_table(items, contract.field_names)
        wm_field = contract.source.get("watermark_field")
        return Extract(table, max_watermark(table, wm_field, watermark), pages=page)
