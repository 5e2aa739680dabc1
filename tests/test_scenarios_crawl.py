"""The plugin against each emulator scenario: the emulator's counters are the truth."""

from __future__ import annotations

from typing import Any

import pytest
import pytest_twisted

from scrapy_proxyerrors.emulator import Emulator

from .crawling import Outcome, make_crawler


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
            emu, 300, {"CONCURRENT_REQUESTS": concurrency}, {"proxy": emu.proxy_url()})
        records = [r for r in emu.requests if r.kind == "plain"]
    served = [r for r in records if r.status == 200]
    refused = [r for r in records if r.code == "PACKAGE_NO_CREDITS"]
    assert len(served) == 100
    assert len(outcome.ok_urls) == 100
    assert 1 <= len(refused) <= concurrency
    assert len(records) <= 100 + concurrency
    assert crawler.stats.get_value("finish_reason") == "proxyerrors_quota"
    assert crawler.stats.get_value("proxyerrors/error/soax/PACKAGE_NO_CREDITS") == len(refused)


@pytest.mark.parametrize("provider", ["soax", "chocodata"])
@pytest_twisted.inlineCallbacks
def test_no_request_reaches_a_rate_limited_account_inside_its_window(provider: str) -> Any:
    with Emulator(provider=provider, scenario="ratelimit", limit=5, window=1.0) as emu:
        if provider == "soax":
            # Named: a plain-HTTP reply found by its header alone is capped.
            meta: dict[str, Any] = {"proxy": emu.proxy_url(), "proxyerrors_provider": "soax"}
            outcome = Outcome()
            crawler = make_crawler({"CONCURRENT_REQUESTS": 4, "PROXYERRORS_MAX_RETRIES": 10})
            urls = [emu.target_url(f"/page/{i}") for i in range(20)]
        else:
            meta = {"proxyerrors_provider": "chocodata"}
            outcome = Outcome()
            crawler = make_crawler({"CONCURRENT_REQUESTS": 4, "PROXYERRORS_MAX_RETRIES": 10})
            urls = [emu.api_url(f"/v1/product?id={i}") for i in range(20)]
        yield crawler.crawl(requests=[(u, dict(meta)) for u in urls], outcome=outcome)
        records = sorted((r for r in emu.requests if r.kind in ("plain", "api")),
                         key=lambda r: r.seq)
    limited = [r for r in records if r.status == 429]
    assert limited, "the scenario must have refused something"
    assert len(outcome.ok_urls) == 20
    for refusal in limited:
        # The emulator's Retry-After is the time until a slot frees, rounded
        # up: at least 1 s. Requests already in flight when the 429 went out
        # may still land; nothing sent after the plugin saw it may.
        later = [r for r in records if r.seq > refusal.seq and r.time > refusal.time + 0.05]
        inside = [r for r in later if r.time < refusal.time + 1.0 - 0.05]
        assert not inside, (refusal, inside)
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
