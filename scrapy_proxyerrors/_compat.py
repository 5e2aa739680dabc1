"""Every difference between the Scrapy releases this package supports (2.13+).

Nothing else in the package tests Scrapy's version: code that needs an API
whose name or behaviour changed between releases imports the shim from here.
Each shim says which releases differ (see also the README's tested matrix).
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import TYPE_CHECKING, Any, cast

import scrapy
from scrapy.core.downloader.handlers import http11
from scrapy.downloadermiddlewares import retry as _retry
from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy import Request
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings


def _version(text: str) -> tuple[int, int]:
    match = re.match(r"(\d+)\.(\d+)", text)
    return (int(match.group(1)), int(match.group(2))) if match else (0, 0)


#: ``(major, minor)`` of the installed Scrapy.
SCRAPY_VERSION: tuple[int, int] = _version(scrapy.__version__)

# --- timers and sleeping ------------------------------------------------------


def _asyncio_available() -> bool:
    """Whether asyncio code (asyncio.sleep, loop.call_later) can run here."""
    try:
        from scrapy.utils.asyncio import is_asyncio_available  # 2.14+
    except ImportError:
        from scrapy.utils.reactor import is_asyncio_reactor_installed  # 2.13

        return is_asyncio_reactor_installed()
    return is_asyncio_available()


class Timer:
    """A scheduled call: :meth:`cancel` and :meth:`active`, whichever loop runs it.

    Scrapy's own ``call_later`` (2.14+) returns an object without
    ``active()``; this one tracks its state itself.
    """

    def __init__(self, delay: float, func: Callable[..., object], args: tuple[Any, ...]) -> None:
        self._func = func
        self._args = args
        self._pending = True
        self._handle: Any
        if _asyncio_available():
            loop = asyncio.get_event_loop()
            self._handle = loop.call_later(max(delay, 0.0), self._fire)
        else:
            from twisted.internet import reactor

            self._handle = cast("Any", reactor).callLater(max(delay, 0.0), self._fire)

    def _fire(self) -> None:
        self._pending = False
        self._func(*self._args)

    def cancel(self) -> None:
        """Cancel the call if it has not run; harmless afterwards."""
        if self._pending:
            self._pending = False
            self._handle.cancel()

    def active(self) -> bool:
        """Whether the call is still to run."""
        return self._pending


def call_later(delay: float, func: Callable[..., object], *args: Any) -> Timer:
    """Call ``func(*args)`` after *delay* seconds (asyncio loop or reactor)."""
    return Timer(delay, func, args)


async def sleep(seconds: float) -> None:
    """Sleep without blocking the crawl (``scrapy.utils.asyncio.sleep`` is 2.18+)."""
    if _asyncio_available():
        await asyncio.sleep(seconds)
        return
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    await maybe_deferred_to_future(deferLater(reactor, seconds))


# --- engine and downloader ----------------------------------------------------


def close_spider(crawler: Crawler, reason: str) -> None:
    """Schedule closing the spider with *reason*; never waits for it.

    ``engine.close_spider_async(reason=...)`` from 2.14 (``close_spider`` is
    deprecated there); ``engine.close_spider(spider, reason)`` on 2.13.
    Awaiting the close from a middleware would deadlock, so it is scheduled.
    """
    engine = crawler.engine
    if engine is None:
        return
    close_async = getattr(engine, "close_spider_async", None)
    if close_async is not None:
        deferred_from_coro(close_async(reason=reason))
    else:  # Scrapy 2.13
        cast("Any", engine).close_spider(crawler.spider, reason)


def slot_clock() -> float:
    """The clock of the downloader ``Slot.lastseen``.

    ``time.time()`` up to 2.15, ``time.monotonic()`` from 2.16: a pause
    written in the other clock pauses nothing.
    """
    return time.monotonic() if SCRAPY_VERSION >= (2, 16) else time.time()


def get_retry_request(request: Request, **kwargs: Any) -> Request | None:
    """Scrapy's ``get_retry_request``; ``give_up_log_level`` is dropped before
    2.17, which has no such keyword (it then gives up at ERROR, as stock does)."""
    if SCRAPY_VERSION < (2, 17):
        kwargs.pop("give_up_log_level", None)
    return _retry.get_retry_request(request, **kwargs)


def component_dict_with_base(settings: BaseSettings, name: str) -> dict[Any, Any]:
    """A component priority dict merged over its ``*_BASE``
    (``get_component_priority_dict_with_base`` from 2.15, ``getwithbase`` before)."""
    merged = getattr(settings, "get_component_priority_dict_with_base", None)
    if merged is not None:
        return dict(merged(name))
    return dict(settings.getwithbase(name))


def reactor_enabled(settings: BaseSettings) -> bool:
    """Whether the crawl runs a Twisted reactor (reactorless mode is 2.15+)."""
    try:
        return settings.getbool("TWISTED_REACTOR_ENABLED", True)
    except ValueError:
        # Scrapy itself rejects the value when the crawl starts.
        return True


# --- the HTTP/1.1 handler's tunneling endpoint ----------------------------------

#: Scrapy's tunneling endpoint class: ``TunnelingTCP4ClientEndpoint`` up to
#: 2.15, ``_TunnelingTCP4ClientEndpoint`` from 2.16; ``None`` if neither exists.
TUNNELING_ENDPOINT: type[Any] | None = getattr(
    http11, "_TunnelingTCP4ClientEndpoint", None
) or getattr(http11, "TunnelingTCP4ClientEndpoint", None)


def _timeout_errors() -> tuple[type[BaseException], ...]:
    from twisted.internet.error import TimeoutError as TwistedTimeoutError

    try:
        from scrapy.exceptions import DownloadTimeoutError  # 2.15+
    except ImportError:
        return (TwistedTimeoutError,)
    return (DownloadTimeoutError, TwistedTimeoutError)


#: What a request that hit ``DOWNLOAD_TIMEOUT`` fails with: Scrapy's
#: ``DownloadTimeoutError`` from 2.15, Twisted's ``TimeoutError`` before.
TIMEOUT_ERRORS: tuple[type[BaseException], ...] = _timeout_errors()


async def crawl(crawler: Crawler, *args: Any, **kwargs: Any) -> None:
    """Run *crawler* to the end (``Crawler.crawl_async`` from 2.14, the
    ``crawl()`` Deferred before)."""
    crawl_async = getattr(crawler, "crawl_async", None)
    if crawl_async is not None:
        await crawl_async(*args, **kwargs)
    else:  # Scrapy 2.13
        await maybe_deferred_to_future(crawler.crawl(*args, **kwargs))
