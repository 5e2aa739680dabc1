"""Version shims for the Scrapy releases the plugin supports (minimal set).

Helper code that needs one of these imports it from here, so that a single
module knows how each supported Scrapy release spells it.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from scrapy.utils.defer import deferred_from_coro

try:
    from scrapy.utils.asyncio import call_later as _call_later
except ImportError:  # Scrapy < 2.14
    _call_later = None  # type: ignore[assignment]

if TYPE_CHECKING:
    from collections.abc import Callable

    from scrapy.crawler import Crawler


class _Timer:
    """A delayed call with ``cancel()`` and ``active()`` on every reactor
    (Scrapy's own ``CallLaterResult`` has no ``active()``)."""

    __slots__ = ("_active", "_handle")

    def __init__(self, delay: float, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._active = True
        if _call_later is not None:
            self._handle: Any = _call_later(delay, self._fire, func, args)
        else:
            from twisted.internet import reactor

            self._handle = reactor.callLater(delay, self._fire, func, args)

    def _fire(self, func: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self._active = False
        func(*args)

    def active(self) -> bool:
        return self._active

    def cancel(self) -> None:
        if self._active:
            self._active = False
            self._handle.cancel()


def call_later(delay: float, func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func(*args)`` in *delay* seconds; the result has ``cancel()`` and ``active()``."""
    return _Timer(max(delay, 0.0), func, args)


def close_spider(crawler: Crawler, reason: str) -> None:
    """Schedule the engine's close (never awaited: awaiting it from inside the
    downloader would wait for the very request that asked for it)."""
    try:
        engine = crawler.engine
    except RuntimeError:  # Scrapy 2.19: no engine before the crawl starts
        return
    if engine is None or getattr(engine, "spider", None) is None:
        return
    deferred_from_coro(engine.close_spider_async(reason=reason))


def slot_clock() -> float:
    """The clock of the downloader's ``Slot.lastseen``."""
    return time.monotonic()
