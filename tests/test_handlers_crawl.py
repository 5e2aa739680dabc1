"""Every download handler a project can pick, crawling https through the emulator.

SOAX refuses CONNECT with ``407`` + ``X-SOAX-Error: AUTH_FAILED``: whichever
handler the project uses for ``https`` (Scrapy's HTTP/1.1, aiohttp, httpx), the
add-on's handler builds it and the crawl stops with ``proxyerrors_auth``.
"""

from __future__ import annotations

import importlib.util
from typing import Any

import pytest
import pytest_twisted

from .crawling import Outcome, make_crawler

HTTP11 = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
AIOHTTP = "scrapy.core.downloader.handlers._aiohttp.AiohttpDownloadHandler"
HTTPX = "scrapy.core.downloader.handlers._httpx.HttpxDownloadHandler"


def _available(path: str) -> bool:
    module = path.rsplit(".", 1)[0]
    try:
        return importlib.util.find_spec(module) is not None
    except ImportError:
        return False


@pytest.mark.parametrize(
    ("https_handler", "what"),
    [
        pytest.param(None, "full", id="default-http11"),
        pytest.param(HTTP11, "full", id="http11-explicit"),
        pytest.param(
            AIOHTTP, "headers",
            marks=pytest.mark.skipif(not _available(AIOHTTP), reason="Scrapy < 2.19"),
            id="aiohttp",
        ),
        pytest.param(
            HTTPX, "status",
            marks=pytest.mark.skipif(not _available(HTTPX), reason="Scrapy < 2.15"),
            id="httpx",
        ),
    ],
)
@pytest_twisted.inlineCallbacks
def test_auth_failed_on_connect_stops_the_crawl(
    proxy_emulator: Any, https_handler: str | None, what: str
) -> Any:
    emu = proxy_emulator("soax", scenario="auth_failed")
    settings: dict[str, Any] = {"PROXYERRORS_PROVIDER": "soax", "CONCURRENT_REQUESTS": 1}
    if https_handler is not None:
        # The project's choice, next to an unrelated scheme entry.
        settings["DOWNLOAD_HANDLERS"] = {"https": https_handler, "s3": None}
    crawler = make_crawler(settings)
    proxy = emu.proxy_url(user="package-1-sessionid-abc")
    urls = [emu.target_url(f"/page/{i}", https=True) for i in range(10)]
    outcome = Outcome()
    yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in urls], outcome=outcome)
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "proxyerrors_auth"
    connects = [r for r in emu.requests if r.method == "CONNECT"]
    assert 1 <= len(connects) <= 2
    assert not [r for r in emu.requests if r.kind == "target"]
    if what in ("full", "headers"):
        # The X-SOAX-Error header reached the classifier.
        assert stats.get("proxyerrors/error/soax/AUTH_FAILED", 0) >= 1
    # The handler the project chose is the one that ran.
    handler = crawler.engine.downloader.handlers._handlers["https"]
    expected = "ProxyErrorsHTTPSDownloadHandler" if https_handler in (None, HTTP11) else (
        https_handler.rsplit(".", 1)[1]
    )
    assert type(handler).__name__ == expected
