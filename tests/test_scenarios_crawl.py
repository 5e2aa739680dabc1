"""The plugin against each emulator scenario: the emulator's counters are the truth."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from scrapy.core.downloader import Downloader

from scrapy_proxyerrors.emulator import Emulator

from .crawling import Outcome, make_crawler

if TYPE_CHECKING:
    from scrapy.http import Request, Response


def _crawl(emu: Emulator, n: int, settings: dict[str, Any], meta: dict[str, Any]) -> Any:
    outcome = Outcome()
    crawler = make_crawler(settings)
    urls = [emu.target_url(f"/page/{i}") for i in range(n)]
    d = crawler.crawl(requests=[(u, dict(meta)) for u in urls], outcome=outcome)
    d.addCallback(lambda _: (crawler, outcome))
    return d


@pytest_twisted.inlineCallbacks
def test_budget_is_never_overdrawn_by_more_than_the_concurrency() -> Any:
    concurrency = 8
    with Emulator(provider="soax", scenario="budget", credits=100) as emu:
        crawler, outcome = yield _crawl(
            emu, 300, {"CONCURRENT_REQUESTS": concurrency, "PROXYERRORS_PROVIDER": "soax"},
            {"proxy": emu.proxy_url()})
        records = [r for r in emu.requests if r.kind == "plain"]
    served = [r for r in records if r.status == 200]
    refused = [r for r in records if r.code == "PACKAGE_NO_CREDITS"]
    assert len(served) == 100
    assert len(outcome.ok_urls) == 100
    assert 1 <= len(refused) <= concurrency
    assert len(records) <= 100 + concurrency
    assert crawler.stats.get_value("finish_reason") == "proxyerrors_quota"
    assert crawler.stats.get_value("proxyerrors/error/soax/PACKAGE_NO_CREDITS") == len(refused)


_SENT = "_window_watch_sent"


class SendStampingDownloader(Downloader):
    """Scrapy's downloader noting when each request leaves its download slot's
    queue: the moment it is sent, past the slot's delays and the plugin's
    pauses. (Not when the handler starts: under load that may come after the
    reply that freed the slot has been through the middlewares.) Relies on
    Scrapy's private ``_process_queue``; ``watch.sent`` being filled is
    asserted, so a Scrapy change shows up as a failure, not a silent pass.
    Its arguments are ``(slot)`` from 2.14, ``(spider, slot)`` on 2.13: the
    slot is the last one either way."""

    def _process_queue(self, *args: Any) -> None:
        slot = args[-1]
        queued = [request for request, _ in slot.queue]
        super()._process_queue(*args)
        left = {id(request) for request, _ in slot.queue}
        now = time.monotonic()
        for request in queued:
            if id(request) not in left:
                request.meta[_SENT] = now


class WindowWatch:
    """A downloader middleware that checks causally, with one clock, that no
    request is sent while a 429 the plugin has seen still holds the account.

    Placed just outside the plugin (priority 560 > 550), its
    ``process_response`` sees each reply immediately before the plugin does,
    in the same call chain: from then on until the reply's ``Retry-After``
    ends, no request may be sent (:class:`SendStampingDownloader` notes when
    each one is). Requests sent before the plugin saw the 429 were in flight,
    whatever the machine's load makes their arrival time at the emulator: the
    old check compared arrival times with a 50 ms slack, and failed about one
    run in four on a loaded machine.
    """

    def __init__(self) -> None:
        self.windows: list[tuple[float, float]] = []  # (seen, until)
        self.sent: list[tuple[str, float]] = []

    # ``spider=None``: Scrapy 2.13 passes it; 2.14+ does not (and does not warn).
    def process_response(
        self, request: Request, response: Response, spider: Any = None
    ) -> Response:
        sent = request.meta.pop(_SENT, None)
        if sent is not None:
            self.sent.append((request.url, sent))
        if response.status == 429:
            wait = float(response.headers.get(b"Retry-After", b"0") or 0)
            now = time.monotonic()
            self.windows.append((now, now + wait))
        return response

    def violations(self) -> list[tuple[str, float]]:
        """Requests sent inside a window, with how long the window had left."""
        return [
            (url, until - sent)
            for url, sent in self.sent
            for seen, until in self.windows
            if seen < sent < until
        ]


@pytest.mark.parametrize("provider", ["soax", "chocodata"])
@pytest_twisted.inlineCallbacks
def test_no_request_reaches_a_rate_limited_account_inside_its_window(provider: str) -> Any:
    settings = {"CONCURRENT_REQUESTS": 4, "PROXYERRORS_MAX_RETRIES": 10,
                "DOWNLOADER_MIDDLEWARES": {WindowWatch: 560},
                "DOWNLOADER": SendStampingDownloader}
    with Emulator(provider=provider, scenario="ratelimit", limit=5, window=1.0) as emu:
        if provider == "soax":
            # Named: a plain-HTTP reply found by its header alone is capped.
            meta: dict[str, Any] = {"proxy": emu.proxy_url(), "proxyerrors_provider": "soax"}
            urls = [emu.target_url(f"/page/{i}") for i in range(20)]
        else:
            meta = {"proxyerrors_provider": "chocodata"}
            urls = [emu.api_url(f"/v1/product?id={i}") for i in range(20)]
        outcome = Outcome()
        crawler = make_crawler(settings)
        yield crawler.crawl(requests=[(u, dict(meta)) for u in urls], outcome=outcome)
        [watch] = [m for m in crawler.engine.downloader.middleware.middlewares
                   if isinstance(m, WindowWatch)]
        limited = [r for r in emu.requests if r.kind in ("plain", "api") and r.status == 429]
    assert limited, "the scenario must have refused something"
    assert len(outcome.ok_urls) == 20
    assert len(watch.windows) == len(limited)
    assert len(watch.sent) >= 20 + len(limited)
    assert watch.violations() == []
    assert crawler.stats.get_value("proxyerrors/action/slowdown") == len(limited)


@pytest_twisted.inlineCallbacks
def test_sticky_sessions_whose_node_dies_get_a_new_session() -> Any:
    with Emulator(provider="soax", scenario="sticky", node_lifetime=5) as emu:
        crawler, outcome = yield _crawl(
            emu, 40, {"CONCURRENT_REQUESTS": 1},
            {"proxy": emu.proxy_url(user="package-1-sessionid-start")})
        records = [r for r in emu.requests if r.kind == "plain"]
    dead = [r for r in records if r.code == "NODE_UNAVAILABLE"]
    sessions = {r.session for r in records}
    assert len(outcome.ok_urls) == 40
    assert dead
    # One failure per dead node: the retry always comes with a fresh session.
    assert len(sessions) == len(dead) + 1
    assert crawler.stats.get_value("proxyerrors/rotate/session") == len(dead)


@pytest_twisted.inlineCallbacks
def test_flaky_gateway_stats_match_the_emulator() -> Any:
    with Emulator(provider="soax", scenario="flaky", rate=0.3, seed=3) as emu:
        crawler, outcome = yield _crawl(
            emu, 100, {"PROXYERRORS_MAX_RETRIES": 10}, {"proxy": emu.proxy_url()})
        counters = emu.counters
    stats = crawler.stats.get_stats()
    assert len(outcome.ok_urls) == 100
    by_status = counters["by_status"]
    for (status, code), count in by_status.items():
        if code:
            assert stats[f"proxyerrors/error/soax/{code}"] == count, (status, code)
    errors = sum(c for (s, code), c in by_status.items() if code)
    assert stats["proxyerrors/retry/count"] == errors


@pytest_twisted.inlineCallbacks
def test_concurrency_limit_slows_down_and_completes() -> Any:
    with Emulator(provider="proxiesfo", scenario="concurrency", max_concurrent=2,
                  delay=0.02) as emu:
        crawler, outcome = yield _crawl(
            emu, 40, {"CONCURRENT_REQUESTS": 8, "PROXYERRORS_PROVIDER": "proxiesfo",
                      "PROXYERRORS_MAX_RETRIES": 20}, {"proxy": emu.proxy_url()})
        records = [r for r in emu.requests if r.kind == "plain"]
    assert len(outcome.ok_urls) == 40
    refused = [r for r in records if r.status == 453]
    assert crawler.stats.get_value("proxyerrors/error/proxiesfo/453") == len(refused)
    assert crawler.stats.get_value("finish_reason") == "finished"
