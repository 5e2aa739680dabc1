"""The add-on composes with a project's own settings, on every supported Scrapy."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.settings import Settings
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from scrapy_proxyerrors import _compat as compat
from scrapy_proxyerrors.addon import HTTPS_HANDLER, Addon
from scrapy_proxyerrors.handler import FALLBACK_SETTING
from scrapy_proxyerrors.middleware import ProxyErrorsMiddleware

from .crawling import make_crawler

RETRY = "scrapy.downloadermiddlewares.retry.RetryMiddleware"
HTTP11 = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"


def _settings(project: dict[str, Any]) -> Settings:
    settings = Settings()
    settings.setdict(project, priority="project")
    Addon().update_settings(settings)
    return settings


def _middlewares(settings: Settings) -> list[Any]:
    """The effective downloader middleware classes, in order."""
    merged = compat.component_dict_with_base(settings, "DOWNLOADER_MIDDLEWARES")
    return [load_object(c) for c in build_component_list(merged)]


def test_retry_middleware_is_off_and_ours_on() -> None:
    effective = _middlewares(_settings({}))
    assert RetryMiddleware not in effective
    assert ProxyErrorsMiddleware in effective


def test_a_retry_middleware_the_project_placed_stays() -> None:
    effective = _middlewares(_settings({"DOWNLOADER_MIDDLEWARES": {RETRY: 551}}))
    assert RetryMiddleware in effective
    assert ProxyErrorsMiddleware in effective


@pytest.mark.parametrize("other", [{}, {"s3": None}, {"ftp": None, "http": HTTP11}])
def test_https_handler_is_installed_whatever_else_the_project_sets(
    other: dict[str, Any],
) -> None:
    project = {"DOWNLOAD_HANDLERS": other} if other else {}
    settings = _settings(project)
    handlers = compat.component_dict_with_base(settings, "DOWNLOAD_HANDLERS")
    assert handlers["https"] == HTTPS_HANDLER
    assert {k: v for k, v in settings.getdict("DOWNLOAD_HANDLERS").items() if k != "https"} == other
    assert settings.getpriority("DOWNLOAD_HANDLERS") == (
        20 if other else 15  # kept at the project's priority, else the add-on's
    )


def test_the_projects_https_handler_becomes_the_fallback() -> None:
    custom = "myproject.handlers.MyHTTPSHandler"
    settings = _settings({"DOWNLOAD_HANDLERS": {"https": custom}})
    assert settings.getdict("DOWNLOAD_HANDLERS")["https"] == HTTPS_HANDLER
    assert settings.get(FALLBACK_SETTING) == custom


def test_https_disabled_by_the_project_stays_disabled() -> None:
    settings = _settings({"DOWNLOAD_HANDLERS": {"https": None}})
    assert settings.getdict("DOWNLOAD_HANDLERS")["https"] is None


def test_reactorless_mode_leaves_https_alone() -> None:
    settings = _settings({"TWISTED_REACTOR_ENABLED": False})
    assert "https" not in settings.getdict("DOWNLOAD_HANDLERS")
    assert settings.get(FALLBACK_SETTING) is None


def test_disabled_plugin_changes_nothing() -> None:
    settings = _settings({"PROXYERRORS_ENABLED": False})
    stock = Settings()
    for name in ("DOWNLOADER_MIDDLEWARES", "DOWNLOAD_HANDLERS", "EXTENSIONS", "HTTPCACHE_POLICY"):
        assert settings.get(name) == stock.get(name), name


@pytest.mark.parametrize(
    ("enabled", "expected"),
    [(True, (ProxyErrorsMiddleware, None)), (False, (None, RetryMiddleware))],
)
@pytest_twisted.inlineCallbacks
def test_components_in_a_real_crawl(enabled: bool, expected: tuple[Any, Any]) -> Any:
    """In a crawl (Scrapy 2.13-2.14 included): with the plugin, its middleware
    and no RetryMiddleware; disabled, stock Scrapy's RetryMiddleware and none
    of the plugin."""
    crawler = make_crawler({"PROXYERRORS_ENABLED": enabled,
                            "DOWNLOAD_HANDLERS": {"s3": None}})
    yield crawler.crawl(requests=[("data:,hello", {})])
    classes = [type(m) for m in crawler.engine.downloader.middleware.middlewares]
    ours, retry = expected
    assert (ProxyErrorsMiddleware in classes) is (ours is not None)
    assert (RetryMiddleware in classes) is (retry is not None)
    https = type(crawler.engine.downloader.handlers._get_handler("https")).__name__
    assert (https == "ProxyErrorsHTTPSDownloadHandler") is enabled
