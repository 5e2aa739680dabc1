"""Issue 15's providers in real crawls over loopback, against the emulator's
modes for them: errors inside a 2xx (Crawlbase), a per-site limit behind an API
(Zyte API proxy mode) and a zone error in ``Proxy-Status`` only (Bright Data).
Counts, stats, errbacks and finish reasons only: never timings."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
import pytest_twisted

from scrapy_proxyerrors import MemoryState, ProviderErrorDropped
from scrapy_proxyerrors._stats import error_key
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


# --- Zyte API proxy mode: a limit of one target site --------------------------------


class RecordingState(MemoryState):
    """The default state, noting every key the crawl paused and paced."""

    paused: list[str] = []
    paced: list[str] = []

    def pause(self, key: str, until: float) -> None:
        self.paused.append(key)
        super().pause(key, until)

    def set_rate(self, key: str, rate: float, until: float, window: float = 0.0) -> None:
        self.paced.append(key)
        super().set_rate(key, rate, until, window)


@pytest_twisted.inlineCallbacks
def test_zyte_api_over_domain_limit_holds_back_that_site_only() -> Any:
    RecordingState.paused, RecordingState.paced = [], []
    with Emulator("zyte_api", "site_limit", limit=2, window=1.0, sites=["slow.test"],
                  password="zkey") as emu:
        slow = [emu.target_url(f"/page/{i}", host="slow.test") for i in range(1, 7)]
        fast = [emu.target_url(f"/page/{i}", host="fast.test") for i in range(1, 31)]
        # Interleaved, so that the limited site's requests meet the limit while
        # the other site's are still to be sent.
        urls = [u for group in zip(slow, [fast[i::6] for i in range(6)], strict=True)
                for u in (group[0], *group[1])]
        crawler, outcome = yield _crawl(
            {"CONCURRENT_REQUESTS": 4, "RETRY_TIMES": 2,
             "PROXYERRORS_PROVIDER": "zyte_api",
             "PROXYERRORS_STATE": RecordingState},
            [(u, {"proxy": emu.proxy_url()}) for u in urls])
        records = _provider_records(emu)
        scenario = emu.counters["scenario"]
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    # Every URL of both sites was fetched, once.
    assert sorted(r.url for r in outcome.responses) == sorted(urls)
    assert outcome.failures == []
    slow_records = [r for r in records if "slow.test" in r.url]
    fast_records = [r for r in records if "fast.test" in r.url]
    # The other site was never refused, and each of its URLs went once.
    assert len(fast_records) == len(fast)
    assert all(r.status == 200 for r in fast_records)
    # The limited site was refused, but few times: after the first refusal its
    # requests waited out the pause instead of hammering the limit.
    refused = scenario["refused_by_site"]["slow.test"]
    assert 1 <= refused <= 4
    assert scenario["requests_by_site"]["slow.test"] == len(slow) + refused
    assert scenario["refused"] == refused
    assert [r.code for r in slow_records].count("/limits/over-domain-limit") == refused
    assert stats[error_key("zyte_api", "/limits/over-domain-limit")] == refused
    # The other site flowed during the limited site's pause: some of its
    # requests arrived between the first refusal and the limited site's next
    # admitted request.
    first = min(r.seq for r in slow_records if r.status == 429)
    resumed = min(r.seq for r in slow_records if r.status == 200 and r.seq > first)
    assert [r for r in fast_records if first < r.seq < resumed]
    # Only the site key "<account>|slow.test" was paused or paced: never the
    # API account (every site) and never the other site.
    assert RecordingState.paused, "the limit must have paused something"
    assert all(key.endswith("|slow.test") for key in RecordingState.paused), \
        RecordingState.paused
    assert all(key.endswith("|slow.test") for key in RecordingState.paced), \
        RecordingState.paced
    assert stats["proxyerrors/route/pauses"] == len(RecordingState.paused)
    # A site's pace is counted, not given a rate stat of its own.
    assert not [k for k in stats if k.startswith("proxyerrors/pacing/")
                and k != "proxyerrors/pacing/sites"]
    assert stats.get("proxyerrors/pacing/sites", 0) == (1 if RecordingState.paced else 0)
    assert stats.get("proxyerrors/retry/count") is None  # the throttle budget


# --- Bright Data: a zone error in Proxy-Status only ----------------------------------


class SentAfterStop:
    """A downloader middleware just before the download handler: notes every
    request handed to the downloader once the plugin has stopped the crawl
    (its stop stat is set when it decides to stop), in the crawl's own order
    of events, whatever the machine's load."""

    seen: list[str] = []
    sent: list[str] = []

    def __init__(self, crawler: Any) -> None:
        self.stats = crawler.stats

    @classmethod
    def from_crawler(cls, crawler: Any) -> SentAfterStop:
        return cls(crawler)

    # ``spider=None``: Scrapy 2.13 passes it; 2.14+ does not (and does not warn).
    def process_request(self, request: Any, spider: Any = None) -> None:
        self.seen.append(request.url)
        if self.stats.get_value("proxyerrors/stop/reason") is not None:
            self.sent.append(request.url)


@pytest.mark.parametrize("https", [False, True], ids=["plain", "connect"])
@pytest_twisted.inlineCallbacks
def test_brightdata_zone_error_in_proxy_status_only_stops_the_crawl(https: bool) -> Any:
    SentAfterStop.seen, SentAfterStop.sent = [], []
    concurrency = 4
    # CONNECT tunnels are kept alive and reused: only the first few requests
    # open one, so the zone breaks after 2 of them.
    served_before = 2 if https else 8
    with Emulator("brightdata", "revoked", after=served_before, code="client_10060",
                  proxy_status_only=True, user="brd-customer-c1-zone-z1") as emu:
        # The refusal names its code in Proxy-Status only, no x-brd-* header.
        sample = emu.error_reply("client_10060")
        assert not [n for n, _ in sample.header_items() if n.lower().startswith("x-brd")]
        assert 'details="client-10060: ' in (sample.header("Proxy-Status") or "")
        proxy = emu.proxy_url(user="brd-customer-c1-zone-z1")
        urls = [emu.target_url(f"/page/{i}", https=https) for i in range(1, 41)]
        crawler, outcome = yield _crawl(
            {"CONCURRENT_REQUESTS": concurrency, "PROXYERRORS_PROVIDER": "brightdata",
             "DOWNLOADER_MIDDLEWARES": {SentAfterStop: 990}},
            [(u, {"proxy": proxy}) for u in urls])
        records = sorted(emu.requests, key=lambda r: r.seq)
        scenario = emu.counters["scenario"]
    stats = crawler.stats.get_stats()
    # client_10060 (zone setup) read from Proxy-Status alone: a stop.
    assert stats["finish_reason"] == "proxyerrors_validation"
    assert stats["proxyerrors/stop/reason"] == "proxyerrors_validation"
    assert stats["proxyerrors/stop/error"] == "brightdata/client_10060"
    # Over plain HTTP, the stop was corroborated by a CONNECT probe through
    # the same proxy (refused the same way).
    probes = [] if https else [r for r in records if r.kind == "connect"]
    assert https or [r.code for r in probes] == ["client_10060"]
    refused = [r for r in records if r.code == "client_10060" and r not in probes]
    assert refused and scenario["refused"] == len(refused) + len(probes)
    assert [r.kind for r in refused] == ["connect" if https else "plain"] * len(refused)
    assert stats[error_key("brightdata", "client_10060")] == len(refused)
    # Nothing was handed to the downloader after the stop...
    assert len(SentAfterStop.seen) >= served_before + 1  # it watched the crawl
    assert SentAfterStop.sent == []
    # ...so only what was in flight around the first refusal reached the
    # emulator after it (through the proxy or, over CONNECT, inside a tunnel
    # already open): a few slots' worth, not the 30-odd URLs left.
    wire = {"connect", "target"} if https else {"plain"}
    after = [r for r in records if r.kind in wire and r.seq > refused[0].seq]
    assert len(after) <= 2 * concurrency, after
    assert stats["proxyerrors/stop/requeued"] >= 1
    # What was fetched came before the stop, and no URL was fetched twice.
    assert len(outcome.ok_urls) == len(set(outcome.ok_urls)) < len(urls)
    if not https:
        assert len(outcome.ok_urls) == served_before
    # No refusal was retried as if it were transient.
    assert stats.get("proxyerrors/retry/count") is None
    assert stats.get("retry/count") is None
