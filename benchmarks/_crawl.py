"""Crawl components the benchmark runner loads by import path.

Kept apart from :mod:`benchmarks.runner` (which runs as ``__main__``) so that
Scrapy can load :class:`RoundRobinProxyMiddleware` by its dotted path without
importing the runner twice.
"""

from __future__ import annotations

import itertools
import json
import time
from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals
from scrapy.http import Request

if TYPE_CHECKING:
    from collections.abc import AsyncIterator, Iterator

    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure

#: Scrapy's own ``RetryMiddleware`` priority: the round-robin middleware runs
#: before it on requests (so every retry is re-assigned) and before
#: ``HttpProxyMiddleware`` (750), which turns the URL's credentials into a header.
ROUND_ROBIN_PRIORITY = 540


class RoundRobinProxyMiddleware:
    """"Stock Scrapy" rotation: every request, retries included, gets the next
    proxy of ``BENCH_ROUND_ROBIN_PROXIES``, in order, whatever happened before.

    This is what a user without a rotation plugin writes in five lines.
    """

    def __init__(self, proxies: list[str]) -> None:
        self._cycle: Iterator[str] = itertools.cycle(proxies)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RoundRobinProxyMiddleware:
        return cls(crawler.settings.getlist("BENCH_ROUND_ROBIN_PROXIES"))

    def process_request(self, request: Request) -> None:
        request.meta["proxy"] = next(self._cycle)


#: Last before the download handler on requests, first on exceptions and
#: responses: it sees each attempt as it goes on and comes off the wire.
PROBE_PRIORITY = 990


class AttemptProbe:
    """Records every download attempt: when it went out, when it came back,
    through which proxy, and with what (status or exception class name).

    For faults that no server can count (a refused connection is answered by
    the kernel), this is the count. Written as one JSON list to
    ``BENCH_PROBE_FILE`` when the spider closes; times are
    ``time.monotonic()``, the emulator's clock.
    """

    _SENT = "_bench_sent"

    def __init__(self, path: str) -> None:
        self.path = path
        self.attempts: list[dict[str, Any]] = []

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> AttemptProbe:
        probe = cls(crawler.settings.get("BENCH_PROBE_FILE"))
        crawler.signals.connect(probe.closed, signal=signals.spider_closed)
        return probe

    def process_request(self, request: Request) -> None:
        request.meta[self._SENT] = time.monotonic()

    def _record(self, request: Request, outcome: str) -> None:
        proxy = request.meta.get("proxy") or ""
        # host:port only: HttpProxyMiddleware has moved the credentials to a
        # header by now, and they must not reach a results file anyway.
        where = proxy.partition("://")[2].rpartition("@")[2].rstrip("/")
        self.attempts.append(
            {
                "sent": request.meta.get(self._SENT, 0.0),
                "done": time.monotonic(),
                "proxy": where,
                "url": request.url,
                "outcome": outcome,
            }
        )

    def process_response(self, request: Request, response: Response) -> Response:
        self._record(request, str(response.status))
        return response

    def process_exception(self, request: Request, exception: Exception) -> None:
        self._record(request, type(exception).__name__)

    def closed(self) -> None:
        with open(self.path, "w", encoding="utf-8") as out:
            json.dump(self.attempts, out)


class BenchSpider(scrapy.Spider):
    """Fetches a fixed URL list, or follows the target site's links.

    *urls*: the start requests (one each, ``dont_filter``). *follow*: also
    follow every ``ul.links`` link of each page (the duplicate filter keeps
    one request per page). *proxy*: set as ``meta["proxy"]`` on every request
    (``None``: leave proxies to the middlewares).
    """

    name = "bench"

    def __init__(
        self,
        urls: list[str] | None = None,
        follow: bool = False,
        proxy: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.urls = list(urls or [])
        self.follow = follow
        self.proxy = proxy
        self.ok = 0
        self.failed = 0
        self.ok_urls: list[str] = []
        #: Errback failures by exception class name, to tell apart a
        #: provider's refusal from a bug raising in a middleware.
        self.failure_types: dict[str, int] = {}

    def _meta(self) -> dict[str, Any]:
        return {"proxy": self.proxy} if self.proxy else {}

    async def start(self) -> AsyncIterator[Request]:
        for url in self.urls:
            yield Request(
                url,
                meta=self._meta(),
                callback=self.parse,
                errback=self.errback,
                dont_filter=not self.follow,
            )

    def parse(self, response: Response) -> Iterator[Request]:
        self.ok += 1
        self.ok_urls.append(response.url)
        if not self.follow:
            return
        for href in response.css("ul.links a::attr(href)").getall():
            yield response.follow(
                href, meta=self._meta(), callback=self.parse, errback=self.errback
            )

    def errback(self, failure: Failure) -> None:
        self.failed += 1
        name = type(failure.value).__name__
        self.failure_types[name] = self.failure_types.get(name, 0) + 1
