"""The API's docs load nothing from outside: a government network reaches no CDN."""

from __future__ import annotations

import re

import pytest

from tests.security.conftest import QueryApi

pytestmark = pytest.mark.integration
URL = re.compile(r"""(?:src|href)\s*=\s*["']([^"']+)["']|url\s*:\s*['"]([^'"]+)['"]|(https?://[^\s"'<>)]+)""")


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_docs_reference_no_external_host_and_their_assets_are_served(query_api: QueryApi, page: str) -> None:
    response = query_api.client.get(page)
    assert response.status_code == 200 and "text/html" in response.headers["content-type"]
    references = [next(g for g in m.groups() if g) for m in URL.finditer(response.text)]
    assert references, response.text[:500]
    external = [r for r in references if r.startswith(("http:", "https:", "//"))]
    assert not external, f"{page} loads {external}"
    for ref in references:
        asset = query_api.client.get(ref)
        assert asset.status_code == 200 and asset.content, ref
    assert query_api.client.get("/openapi.json").json()["paths"]
