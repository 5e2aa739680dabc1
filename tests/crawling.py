"""Helpers to run real Scrapy crawls in tests."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import scrapy
from scrapy.http import Request, Response
from scrapy.utils.test import get_crawler

if TYPE_CHECKING:
    from collections.abc import Iterable

    from twisted.python.failure import Failure

BASE_SETTINGS: dict[str, Any] = {
    "ADDONS": {"scrapy_proxyerrors.Addon": 0},
    "PROXYERRORS_BACKOFF_BASE": 0.01,
    "PROXYERRORS_BACKOFF_MAX": 0.05,
    "DOWNLOAD_TIMEOUT": 10,
    "LOG_LEVEL": "DEBUG",
    "ROBOTSTXT_OBEY": False,
    "COOKIES_ENABLED": False,
}


class Outcome:
    """What happened to every request: callbacks and errbacks, in order."""

    def __init__(self) -> None:
        self.responses: list[Response] = []
        self.failures: list[Failure] = []

    @property
    def ok_urls(self) -> list[str]:
        return [r.url for r in self.responses if r.status < 400]


class ListSpider(scrapy.Spider):
    """Requests a fixed list of (url, meta) and records every outcome."""

    name = "list"

    def __init__(
        self,
        requests: Iterable[tuple[str, dict[str, Any]]] = (),
        outcome: Outcome | None = None,
        dont_filter: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to_request = list(requests)
        self.dont_filter = dont_filter
        self.outcome = outcome if outcome is not None else Outcome()

    async def start(self) -> Any:
        for url, meta in self.to_request:
            yield Request(
                url,
                meta=dict(meta),
                callback=self.parse,
                errback=self.errback,
                dont_filter=self.dont_filter,
            )

    def parse(self, response: Response) -> None:
        self.outcome.responses.append(response)

    def errback(self, failure: Failure) -> None:
        self.outcome.failures.append(failure)


def make_crawler(settings: dict[str, Any] | None = None, spidercls: type = ListSpider) -> Any:
    merged = {**BASE_SETTINGS, **(settings or {})}
    return get_crawler(spidercls, merged)
