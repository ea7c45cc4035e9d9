"""/docs and /redoc work on a host without internet: their scripts come from this server."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_the_api_documentation_loads_nothing_from_elsewhere(client: TestClient, page: str) -> None:
    html = client.get(page)
    assert html.status_code == 200 and "text/html" in html.headers["content-type"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', html.text)
    sources += re.findall(r"url: ?'([^']+)'", html.text)
    assert sources, html.text
    for source in sources:
        assert source.startswith("/"), f"{page} loads {source} from elsewhere"
    scripts = [s for s in sources if s.endswith(".js")]
    assert scripts
    for script in scripts:
        served = client.get(script)
        assert served.status_code == 200 and len(served.content) > 100_000, script
    assert client.get("/openapi.json").json()["info"]["title"] == "Clearance"
