"""Crawl a few hundred pages through a faulty provider and show what happened."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import scrapy
from scrapy import signals

from scrapy_proxyerrors import ProviderErrorDropped

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.python.failure import Failure


class _RateLimitEvery:
    """Every n-th request through the gateway is refused with a 1-second
    Retry-After, so the demo shows the plugin pausing the account."""

    def __init__(self, emulator: Any, every: int) -> None:
        self.emulator = emulator
        self.every = every
        self.count = 0
        self.limited_until = 0.0

    def __call__(self, record: Any) -> Any:
        import time

        from scrapy_proxyerrors.emulator import Reply

        now = time.monotonic()
        if record.kind == "connect":
            # The limit holds for the whole Retry-After window, for CONNECT
            # too: the plugin's corroborating probe sees it, as it would live.
            if now >= self.limited_until:
                return None
        else:
            self.count += 1
            if self.count % self.every:
                return None
            self.limited_until = now + 1.0
        reply = self.emulator.error_reply("RATE_LIMIT_EXCEEDED")
        return Reply(reply.status, [*reply.headers, ("Retry-After", "1")], reply.body)


class DemoSpider(scrapy.Spider):
    """Follows /page/N links up to DEMO_PAGES pages.

    With no DEMO_PROXY it starts :class:`scrapy_proxyerrors.emulator.Emulator`
    in this process: a SOAX-like gateway that loses nodes, rate-limits and
    times out, plus a site to crawl and a scraping API that knows only some
    of the products.
    """

    name = "demo"

    @classmethod
    def from_crawler(cls, crawler: Crawler, *args: Any, **kwargs: Any) -> DemoSpider:
        spider: DemoSpider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._closed, signal=signals.spider_closed)
        spider.emulators = []
        return spider

    async def start(self) -> Any:
        settings = self.crawler.settings
        self.max_pages = settings.getint("DEMO_PAGES")
        proxy = settings.get("DEMO_PROXY")
        start_url = settings.get("DEMO_START_URL")
        self.api_url = None
        if not proxy:
            from scrapy_proxyerrors.emulator import Emulator

            gateway = Emulator(
                provider=settings.get("DEMO_PROVIDER"), scenario=settings.get("DEMO_SCENARIO"),
                seed=7, pages=self.max_pages,
            ).start()
            gateway.set_responder(_RateLimitEvery(gateway, 60))
            api = Emulator(provider="chocodata", scenario="ok", seed=7).start()
            api.set_responder(
                lambda rec: api.error_reply("item_not_found") if rec.url.endswith("7") else None
            )
            self.emulators = [gateway, api]
            proxy = gateway.proxy_url(user="package-1-sessionid-demo-sessionlength-600")
            start_url = gateway.target_url("/page/0")
            self.api_url = api.api_url
            self.logger.info("Crawling the emulator's site through an emulated gateway")
        self.proxy = proxy
        self.seen = 0
        yield scrapy.Request(start_url, meta={"proxy": proxy}, callback=self.parse)

    def parse(self, response: Response) -> Any:
        self.seen += 1
        yield {"url": response.url, "title": response.css("title::text").get()}
        if self.api_url is not None:
            number = response.url.rstrip("/").rsplit("/", 1)[-1]
            yield scrapy.Request(
                self.api_url(f"/v1/product?id={number}"), callback=self.parse_product,
                errback=self.product_missing, meta={"proxyerrors_provider": "chocodata"},
            )
        for href in response.css("a::attr(href)").getall():
            url = response.urljoin(href)
            number = url.rstrip("/").rsplit("/", 1)[-1]
            if number.isdigit() and int(number) < self.max_pages:
                yield scrapy.Request(url, meta={"proxy": self.proxy}, callback=self.parse)

    def parse_product(self, response: Response) -> Any:
        yield {"product": response.url, "size": len(response.body)}

    def product_missing(self, failure: Failure) -> None:
        if failure.check(ProviderErrorDropped):
            error = failure.value.error
            self.logger.debug("No product: %(code)s (%(rid)s)",
                              {"code": error.code, "rid": error.request_id})

    def _closed(self, spider: scrapy.Spider, reason: str) -> None:
        for emulator in self.emulators:
            emulator.stop()
