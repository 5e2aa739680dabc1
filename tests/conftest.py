from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, settings

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


# Hypothesis profiles: "ci" (the default) keeps the property tests fast enough
# for every run; HYPOTHESIS_PROFILE=long digs much deeper before a release.
# No deadline in either: loaded CI machines make per-example timing flaky, and
# what the property tests check is behaviour, never speed.
settings.register_profile(
    "ci",
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "long",
    max_examples=5_000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
