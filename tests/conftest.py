from __future__ import annotations

import pytest

_PROXY_ENV = (
    "http_proxy",
    "https_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "no_proxy",
    "NO_PROXY",
    "all_proxy",
    "ALL_PROXY",
)


@pytest.fixture(autouse=True)
def _no_env_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """Scrapy applies proxy environment variables to requests without a proxy."""
    for name in _PROXY_ENV:
        monkeypatch.delenv(name, raising=False)
