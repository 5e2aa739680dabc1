"""The Scrapy add-on: ``ADDONS = {"scrapy_proxyerrors.Addon": 0}`` enables it all."""

from __future__ import annotations

import importlib.util
from typing import TYPE_CHECKING, Any

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.misc import load_object

from ._compat import component_dict_with_base, reactor_enabled
from .handler import FALLBACK_SETTING, ProxyErrorsHTTPSDownloadHandler
from .middleware import ProxyErrorsMiddleware

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: Where the middleware goes: RetryMiddleware's place. Its process_request
#: then runs before HttpProxyMiddleware (750) turns proxy credentials into a
#: header, and its process_response after HttpCompression (590) unpacked the body.
MIDDLEWARE_PRIORITY = 550
HTTPS_HANDLER = "scrapy_proxyerrors.handler.ProxyErrorsHTTPSDownloadHandler"
REPORT_EXTENSION = "scrapy_proxyerrors.report.ProxyErrorsReport"
RETRY_MIDDLEWARE = "scrapy.downloadermiddlewares.retry.RetryMiddleware"
#: The cache policy that never stores provider errors (when the package has it).
CACHE_POLICY = "scrapy_proxyerrors.cache.ProviderErrorsCachePolicy"
#: Setting (written here): the project's own HTTPCACHE_POLICY, wrapped by CACHE_POLICY.
CACHE_INNER_SETTING = "PROXYERRORS_HTTPCACHE_INNER_POLICY"

_ADDON = SETTINGS_PRIORITIES["addon"]


def _same(a: Any, b: Any) -> bool:
    """Whether two component references (class or import path) name one class."""
    try:
        return bool(load_object(a) is load_object(b))
    except (ImportError, ValueError, NameError, AttributeError, TypeError):
        return False


def _mentions(components: dict[Any, Any], cls: Any) -> bool:
    return any(_same(key, cls) for key in components)


def _set_keeping_priority(settings: BaseSettings, name: str, value: Any) -> None:
    """Set *name* at its current priority (never below the add-on's), so the
    write is neither ignored nor raised above what the user wrote."""
    priority = max(settings.getpriority(name) or 0, _ADDON)
    settings.set(name, value, priority=priority)


def _enabled(settings: BaseSettings) -> bool:
    """``PROXYERRORS_ENABLED``; a value that is not a boolean counts as on
    here: the middleware rejects it with ``BadSettingError`` when the crawl
    starts (add-ons run earlier on some Scrapy versions, outside the crawl)."""
    try:
        return settings.getbool("PROXYERRORS_ENABLED", True)
    except ValueError:
        return True


class Addon:
    """Registers the middleware (in place of ``RetryMiddleware``), the HTTPS
    download handler that keeps CONNECT errors, and the end-of-crawl report.

    Nothing the user set explicitly is lost: the middleware and the report are
    defaults; the project's ``https`` handler becomes the one the plugin's
    handler builds (``PROXYERRORS_HTTPS_FALLBACK_HANDLER``); a
    ``RetryMiddleware`` the project placed itself stays. With
    ``PROXYERRORS_ENABLED = False`` the add-on changes nothing (stock Scrapy).
    In reactorless mode (``TWISTED_REACTOR_ENABLED = False``) ``https`` is left
    alone: the plugin reads the reactorless handler's errors instead.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        if not _enabled(settings):
            return
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", ProxyErrorsMiddleware, MIDDLEWARE_PRIORITY
        )
        # One retry budget: the plugin's middleware does Scrapy's retries too.
        # Explicitly None (not setdefault_in_component_priority_dict, which on
        # Scrapy 2.13-2.14 sees RetryMiddleware in *_BASE and does nothing),
        # unless the project placed RetryMiddleware itself.
        # The key is written as *_BASE spells it (an import path): Scrapy
        # 2.13-2.14 merge *_BASE by key without resolving paths to classes.
        middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
        if not _mentions(middlewares, RetryMiddleware):
            base = settings.getdict("DOWNLOADER_MIDDLEWARES_BASE")
            keys = [key for key in base if _same(key, RetryMiddleware)] or [RETRY_MIDDLEWARE]
            for key in keys:
                middlewares[key] = None
            _set_keeping_priority(settings, "DOWNLOADER_MIDDLEWARES", middlewares)
        if reactor_enabled(settings):
            self._install_https_handler(settings)
        extensions = settings.getdict("EXTENSIONS")
        if not _mentions(extensions, REPORT_EXTENSION):
            extensions[REPORT_EXTENSION] = 0
            _set_keeping_priority(settings, "EXTENSIONS", extensions)
        self._wrap_cache_policy(settings)

    @staticmethod
    def _install_https_handler(settings: BaseSettings) -> None:
        """Ours for ``https``, whatever else DOWNLOAD_HANDLERS holds; what the
        project had for ``https`` is what our handler builds and intercepts."""
        current = component_dict_with_base(settings, "DOWNLOAD_HANDLERS").get("https")
        if current is None:
            # https disabled by the project: respect it.
            return
        if _same(current, ProxyErrorsHTTPSDownloadHandler):
            return
        if not settings.get(FALLBACK_SETTING):
            settings.set(FALLBACK_SETTING, current, priority="addon")
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        handlers["https"] = HTTPS_HANDLER
        _set_keeping_priority(settings, "DOWNLOAD_HANDLERS", handlers)

    @staticmethod
    def _wrap_cache_policy(settings: BaseSettings) -> None:
        """Wrap the project's HTTP cache policy in one that never stores
        provider errors, if this install has it."""
        try:
            available = importlib.util.find_spec("scrapy_proxyerrors.cache") is not None
        except (ImportError, ValueError):
            available = False
        if not available:
            return
        current = settings.get("HTTPCACHE_POLICY")
        if current is None or _same(current, CACHE_POLICY):
            return
        if not settings.get(CACHE_INNER_SETTING):
            settings.set(CACHE_INNER_SETTING, current, priority="addon")
        _set_keeping_priority(settings, "HTTPCACHE_POLICY", CACHE_POLICY)
