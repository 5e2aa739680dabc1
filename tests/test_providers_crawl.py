"""Issue 15's providers in real crawls over loopback, against the emulator's
modes for them: errors inside a 2xx (Crawlbase), a per-site limit behind an API
(Zyte API proxy mode) and a zone error in ``Proxy-Status`` only (Bright Data).
Counts, stats, errbacks and finish reasons only: never timings."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest_twisted

from scrapy_proxyerrors import ProviderErrorDropped
from scrapy_proxyerrors.emulator import Emulator

from .crawling import Outcome, make_crawler


def _crawl(settings: dict[str, Any], requests: list[tuple[str, dict[str, Any]]]) -> Any:
    outcome = Outcome()
    crawler = make_crawler(settings)
    d = crawler.crawl(requests=requests, outcome=outcome)
    d.addCallback(lambda _: (crawler, outcome))
    return d


def _provider_records(emu: Emulator) -> list[Any]:
    return sorted((r for r in emu.requests if r.kind in ("plain", "api", "connect")),
                  key=lambda r: r.seq)


def _crawlbase_url(emu: Emulator, target: str) -> str:
    return emu.api_url(f"/?url={quote(target, safe='')}")


# --- Crawlbase: the crawl's outcome in pc_status on a 200 ----------------------------


@pytest_twisted.inlineCallbacks
def test_crawlbase_pc_503_in_a_200_is_retried_until_fetched() -> Any:
    # Half the attempts are a 200 whose pc_status is 503 (a CAPTCHA page); the
    # fault is a function of the seed, the URL and the attempt number, so the
    # same attempts fail on every run.
    with Emulator("crawlbase", "flaky", rate=0.5, codes=["pc_status:503"]) as emu:
        urls = [_crawlbase_url(emu, f"http://shop.test/page/{i}") for i in range(1, 11)]
        crawler, outcome = yield _crawl(
            {"CONCURRENT_REQUESTS": 4, "RETRY_TIMES": 10},
            [(u, {"proxyerrors_provider": "crawlbase"}) for u in urls])
        records = _provider_records(emu)
        refused = emu.counters["scenario"]["refused"]
    stats = crawler.stats.get_stats()
    # Every URL was eventually fetched, with the real page, once.
    assert sorted(r.url for r in outcome.responses) == sorted(urls)
    assert all(r.status == 200 and r.headers.get("pc_status") == b"200"
               for r in outcome.responses)
    assert outcome.failures == []
    # The 200s carrying pc_status 503 were read as errors and retried, each one.
    assert refused > 0, "the flaky scenario must have faulted"
    assert [r.code for r in records].count("pc_status:503") == refused
    assert len(records) == len(urls) + refused
    assert stats["proxyerrors/error/crawlbase/pc_status:503"] == refused
    assert stats["proxyerrors/retry/count"] == refused
    assert stats.get("proxyerrors/dropped") is None
    assert stats["finish_reason"] == "finished"


@pytest_twisted.inlineCallbacks
def test_crawlbase_terminal_pc_status_in_a_200_is_dropped() -> Any:
    with Emulator("crawlbase") as emu:
        good = [_crawlbase_url(emu, f"http://shop.test/page/{i}") for i in range(1, 6)]
        gone = [_crawlbase_url(emu, f"http://shop.test/status/404?n={i}") for i in range(3)]
        crawler, outcome = yield _crawl(
            {"CONCURRENT_REQUESTS": 4, "RETRY_TIMES": 3},
            [(u, {"proxyerrors_provider": "crawlbase"}) for u in good + gone])
        records = _provider_records(emu)
    stats = crawler.stats.get_stats()
    assert sorted(r.url for r in outcome.responses) == sorted(good)
    # Each terminal one reached its errback as ProviderErrorDropped, after one attempt.
    assert len(outcome.failures) == len(gone)
    assert all(f.check(ProviderErrorDropped) for f in outcome.failures)
    assert sorted(f.request.url for f in outcome.failures) == sorted(gone)
    assert [r.code for r in records].count("pc_status:404") == len(gone)
    assert len(records) == len(good) + len(gone)
    assert stats["proxyerrors/dropped"] == len(gone)
    assert stats["proxyerrors/error/crawlbase/pc_status:404"] == len(gone)
    assert stats.get("proxyerrors/retry/count") is None
    assert stats["finish_reason"] == "finished"
