"""Issue acceptance on real crawls: every action, through the emulator on loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest_twisted

from scrapy_proxyerrors import ProviderErrorDropped
from scrapy_proxyerrors.emulator import Emulator, Reply

from .crawling import Outcome, make_crawler


def _urls(emu: Emulator, n: int, https: bool = False) -> list[str]:
    return [emu.target_url(f"/page/{i}", https=https) for i in range(n)]


@pytest_twisted.inlineCallbacks
def test_soax_auth_failed_stops_after_at_most_concurrent_requests() -> Any:
    with Emulator(provider="soax", scenario="auth_failed") as emu:
        proxy = emu.proxy_url(user="package-1-sessionid-a", password="wrong")
        outcome = Outcome()
        # Named: over plain HTTP, a provider found by its header alone is capped
        # at pass/retry/rotate until a CONNECT probe corroborates it (trust boundary).
        crawler = make_crawler({"CONCURRENT_REQUESTS": 4, "PROXYERRORS_PROVIDER": "soax"})
        yield crawler.crawl(
            requests=[(u, {"proxy": proxy}) for u in _urls(emu, 50)], outcome=outcome
        )
        # One CONNECT probe corroborates the plain-HTTP stop (trust boundary).
        reached = len([r for r in emu.requests if r.kind == "plain"])
        probes = [r for r in emu.requests if r.kind == "connect"]
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "proxyerrors_auth"
    assert 1 <= reached <= 4
    assert len(probes) == 1 and stats["proxyerrors/corroboration/confirmed"] >= 1
    assert stats["proxyerrors/error/soax/AUTH_FAILED"] == reached
    assert stats["proxyerrors/category/auth"] == reached
    assert stats["proxyerrors/action/stop"] == reached
    assert stats["proxyerrors/stop/reason"] == "proxyerrors_auth"
    assert outcome.responses == []


@pytest_twisted.inlineCallbacks
def test_stock_scrapy_sends_every_request_to_a_refusing_proxy() -> Any:
    """The contrast: without the plugin all 50 requests (plus retries of none) go out."""
    with Emulator(provider="soax", scenario="auth_failed") as emu:
        proxy = emu.proxy_url(user="package-1", password="wrong")
        crawler = make_crawler({"ADDONS": {}, "CONCURRENT_REQUESTS": 4})
        yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in _urls(emu, 50)])
        reached = len(emu.requests)
    assert reached == 50
    assert crawler.stats.get_value("finish_reason") == "finished"


@pytest_twisted.inlineCallbacks
def test_proxiesfo_bandwidth_exceeded_stops_with_quota() -> Any:
    with Emulator(provider="proxiesfo", scenario="budget", credits=5) as emu:
        proxy = emu.proxy_url()
        outcome = Outcome()
        crawler = make_crawler({"CONCURRENT_REQUESTS": 1, "PROXYERRORS_PROVIDER": "proxiesfo"})
        yield crawler.crawl(
            requests=[(u, {"proxy": proxy}) for u in _urls(emu, 20)], outcome=outcome
        )
    assert crawler.stats.get_value("finish_reason") == "proxyerrors_quota"
    assert len(outcome.ok_urls) == 5
    assert crawler.stats.get_value("proxyerrors/error/proxiesfo/452") == 1


@pytest_twisted.inlineCallbacks
def test_chocodata_item_not_found_dropped_extraction_failed_retried() -> Any:
    with Emulator(provider="chocodata") as emu:
        calls: dict[str, int] = {}

        def responder(record: Any) -> Reply | None:
            calls[record.url] = calls.get(record.url, 0) + 1
            if "missing" in record.url:
                return emu.error_reply("item_not_found")
            if "flaky" in record.url and calls[record.url] == 1:
                return emu.error_reply("extraction_failed")
            return None

        emu.set_responder(responder)
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_PROVIDER": "chocodata"})  # an API-only crawl
        yield crawler.crawl(
            requests=[
                (emu.api_url("/v1/product?id=missing"), {}),
                (emu.api_url("/v1/product?id=flaky"), {}),
            ],
            outcome=outcome,
        )
    stats = crawler.stats.get_stats()
    assert [c for u, c in calls.items() if "missing" in u] == [1]  # zero retries
    assert [c for u, c in calls.items() if "flaky" in u] == [2]  # one retry, then success
    assert len(outcome.failures) == 1
    dropped = outcome.failures[0].value
    assert isinstance(dropped, ProviderErrorDropped)
    assert (dropped.error.provider, dropped.error.code) == ("chocodata", "item_not_found")
    assert dropped.error.category == "target"
    assert dropped.error.request_id and dropped.error.request_id.startswith("req_")
    assert dropped.error.meaning
    assert outcome.ok_urls == [emu.api_url("/v1/product?id=flaky")]
    assert stats["proxyerrors/dropped"] == 1
    assert stats["proxyerrors/retry/count"] == 1
    assert stats["proxyerrors/retry/reason_count/chocodata/extraction_failed"] == 1
    assert stats["finish_reason"] == "finished"


@pytest_twisted.inlineCallbacks
def test_helodata_never_retries_on_the_ip_that_failed() -> Any:
    with Emulator(provider="helodata", scenario="isp", ips=3, bad_ips={1}) as emu:
        proxies = emu.proxy_urls()
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_PROXIES": proxies, "CONCURRENT_REQUESTS": 4})
        yield crawler.crawl(requests=[(u, {}) for u in _urls(emu, 30)], outcome=outcome)
        records = emu.requests
    bad_route = records and next(r.route for r in records if r.status == 522)
    by_url: dict[str, list[str]] = {}
    for record in sorted(records, key=lambda r: r.seq):
        by_url.setdefault(record.url, []).append(record.route)
    retried = {u: routes for u, routes in by_url.items() if len(routes) > 1}
    assert retried, "the bad IP must have failed at least one request"
    for routes in retried.values():
        assert routes[0] == bad_route
        assert bad_route not in routes[1:]
    assert len(outcome.ok_urls) == 30
    assert crawler.stats.get_value("proxyerrors/route/cooldowns") >= 1
    assert crawler.stats.get_value("proxyerrors/rotate/proxy") == len(retried)


@pytest_twisted.inlineCallbacks
def test_soax_node_unavailable_rotates_the_session() -> Any:
    with Emulator(provider="soax") as emu:
        seen: list[str | None] = []

        def responder(record: Any) -> Reply | None:
            seen.append(record.session)
            return emu.error_reply("NODE_UNAVAILABLE") if len(seen) == 1 else None

        emu.set_responder(responder)
        proxy = emu.proxy_url(user="package-1-sessionid-first-sessionlength-300")
        outcome = Outcome()
        crawler = make_crawler()
        yield crawler.crawl(
            requests=[(emu.target_url("/page/1"), {"proxy": proxy})], outcome=outcome
        )
    assert seen[0] == "first"
    assert len(seen) == 2
    assert seen[1] not in (None, "first")
    assert len(outcome.ok_urls) == 1
    assert crawler.stats.get_value("proxyerrors/rotate/session") == 1


@pytest_twisted.inlineCallbacks
def test_wxapros_retry_after_pauses_only_the_api() -> Any:
    with Emulator(provider="wxapros") as emu:
        first = []

        def responder(record: Any) -> Reply | None:
            if record.kind == "api" and not first:
                first.append(record)
                reply = emu.error_reply("rate_limited")
                headers = [(k, v) for k, v in reply.headers if k.lower() != "retry-after"]
                headers.append(("Retry-After", "2"))
                return Reply(reply.status, headers, reply.body)
            return None

        emu.set_responder(responder)
        # Loopback puts the API and the site on one host name, which Scrapy
        # would share one download slot for; real APIs have their own host.
        api_meta = {"proxyerrors_provider": "wxapros", "download_slot": "api"}
        api = [(emu.api_url(f"/api/v1/vpn/ip/8.8.8.{i}"), api_meta) for i in range(6)]
        site = [(emu.target_url(f"/page/{i}"), {}) for i in range(30)]
        outcome = Outcome()
        crawler = make_crawler(
            {
                "CONCURRENT_REQUESTS": 4,
                "DOWNLOAD_DELAY": 0.1,
                "DOWNLOAD_DELAY_JITTER": 0,
            }
        )
        interleaved = [r for pair in zip(api, site[:6], strict=False) for r in pair] + site[6:]
        yield crawler.crawl(requests=interleaved, outcome=outcome)
        records = emu.requests
    limited = first[0]
    api_after = [r for r in records if r.kind == "api" and r.seq > limited.seq]
    site_during = [
        r
        for r in records
        if r.kind == "target" and r.seq > limited.seq and r.time < limited.time + 2
    ]
    assert api_after, "the limited API calls must be retried"
    assert all(r.time >= limited.time + 2 for r in api_after)
    assert site_during, "the other route kept flowing during the pause"
    assert len(outcome.ok_urls) == 36
    assert crawler.stats.get_value("proxyerrors/wait_seconds") >= 2
    assert crawler.stats.get_value("proxyerrors/action/slowdown") == 1


@pytest_twisted.inlineCallbacks
def test_rate_limit_remaining_zero_pauses_before_a_429() -> Any:
    with Emulator(provider="wxapros", scenario="ratelimit", limit=3, window=1.0) as emu:
        outcome = Outcome()
        crawler = make_crawler({"CONCURRENT_REQUESTS": 1})
        meta = {"proxyerrors_provider": "wxapros"}
        yield crawler.crawl(
            requests=[(emu.api_url(f"/api/v1/vpn/ip/8.8.4.{i}"), meta) for i in range(7)],
            outcome=outcome,
        )
        statuses = [r.status for r in emu.requests]
    assert 429 not in statuses
    assert len(outcome.ok_urls) == 7
    # The first reply's statement (3 per second) paces the account at 2.85/s;
    # a window it still fills up (X-RateLimit-Remaining: 0) pauses it.
    assert crawler.stats.get_value("proxyerrors/ratelimit/preemptive_pauses") >= 1
    assert [v for k, v in crawler.stats.get_stats().items()
            if k.startswith("proxyerrors/pacing/")] == [2.85]


@pytest_twisted.inlineCallbacks
def test_dont_proxyerrors_and_dont_retry_meta() -> Any:
    with Emulator(provider="soax", scenario="auth_failed") as emu:
        proxy = emu.proxy_url(password="wrong")
        outcome = Outcome()
        crawler = make_crawler({"HTTPERROR_ALLOW_ALL": True})
        yield crawler.crawl(
            requests=[(emu.target_url("/page/1"), {"proxy": proxy, "dont_proxyerrors": True})],
            outcome=outcome,
        )
    assert crawler.stats.get_value("finish_reason") == "finished"
    assert [r.status for r in outcome.responses] == [407]
    assert crawler.stats.get_value("proxyerrors/action/stop") is None


def test_body_shape_sanity() -> None:
    """The emulator's chocodata envelope is what the plugin expects."""
    with Emulator(provider="chocodata") as emu:
        reply = emu.error_reply("revoked")
    assert json.loads(reply.body)["error"] == "revoked"


@pytest_twisted.inlineCallbacks
def test_jobdir_resume_after_quota_fetches_every_url_once(tmp_path: Any) -> Any:
    settings = {
        "JOBDIR": str(tmp_path / "job"),
        "CONCURRENT_REQUESTS": 2,
        "PROXYERRORS_PROVIDER": "proxiesfo",
    }
    with Emulator(provider="proxiesfo", scenario="budget", credits=10) as emu:
        proxy = emu.proxy_url()
        requests = [(u, {"proxy": proxy}) for u in _urls(emu, 30)]
        first, second = Outcome(), Outcome()
        crawler = make_crawler(settings)
        yield crawler.crawl(requests=requests, outcome=first, dont_filter=False)
        assert crawler.stats.get_value("finish_reason") == "proxyerrors_quota"
        assert crawler.stats.get_value("proxyerrors/stop/requeued") >= 1
        emu.refill(1000)
        crawler = make_crawler(settings)
        yield crawler.crawl(requests=requests, outcome=second, dont_filter=False)
        assert crawler.stats.get_value("finish_reason") == "finished"
        served = [r.url for r in emu.requests if r.kind == "plain" and r.status == 200]
    fetched = first.ok_urls + second.ok_urls
    assert sorted(fetched) == sorted(u for u, _ in requests)
    assert sorted(served) == sorted(fetched)  # nothing fetched twice, nothing lost


@pytest_twisted.inlineCallbacks
def test_addon_replaces_retry_middleware() -> Any:
    crawler = make_crawler()
    with Emulator(provider="soax") as emu:
        yield crawler.crawl(requests=[(emu.target_url("/page/1"), {})])
    names = [type(m).__name__ for m in crawler.engine.downloader.middleware.middlewares]
    assert "ProxyErrorsMiddleware" in names
    assert "RetryMiddleware" not in names


@pytest_twisted.inlineCallbacks
def test_a_retry_backoff_holds_back_only_its_own_request() -> Any:
    with Emulator(provider="soax") as emu:
        failed: list[Any] = []

        def responder(record: Any) -> Reply | None:
            if record.url.endswith("/page/0") and not failed:
                failed.append(record)
                return emu.error_reply("NODE_NOT_FOUND")  # retry, same route, backoff
            return None

        emu.set_responder(responder)
        proxy = emu.proxy_url()
        outcome = Outcome()
        # RETRY_PRIORITY_ADJUST=10: the retry is dequeued at once, while the
        # route still has plenty of requests to send.
        crawler = make_crawler({"PROXYERRORS_BACKOFF_BASE": 2.0, "PROXYERRORS_BACKOFF_MAX": 2.0,
                                "CONCURRENT_REQUESTS": 2, "DOWNLOAD_DELAY": 0.05,
                                "DOWNLOAD_DELAY_JITTER": 0, "RETRY_PRIORITY_ADJUST": 10})
        yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in _urls(emu, 60)],
                            outcome=outcome)
        records = [r for r in emu.requests if r.kind == "plain"]
    first = failed[0]
    retried = [r for r in records if r.url == first.url and r.seq > first.seq]
    others_meanwhile = [r for r in records if r.seq > first.seq and r.url != first.url
                        and r.time < retried[0].time]
    assert retried[0].time - first.time >= 1.0  # equal jitter: at least half of 2 s
    assert len(others_meanwhile) >= 5, "the route's other requests kept flowing"
    assert len(outcome.ok_urls) == 60


@pytest_twisted.inlineCallbacks
def test_warning_passes_the_response_and_is_logged_once(caplog: Any) -> Any:
    with Emulator(provider="helodata") as emu:
        emu.set_responder(lambda record: emu.error_reply("batch-grace-period"))
        outcome = Outcome()
        crawler = make_crawler({"HTTPERROR_ALLOW_ALL": True})
        yield crawler.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in _urls(emu, 5)],
                            outcome=outcome)
    warnings = [r for r in caplog.records
                if r.name == "scrapy_proxyerrors.middleware" and "batch-grace-period" in r.message]
    assert len(warnings) == 1
    assert "Renew" in warnings[0].message
    assert len(outcome.responses) == 5
    assert all(r.meta["proxyerrors_error"].category == "warning" for r in outcome.responses)
    stats = crawler.stats.get_stats()
    assert stats["proxyerrors/action/pass"] == 5
    assert stats.get("proxyerrors/retry/count") is None


@pytest_twisted.inlineCallbacks
def test_session_rotation_sticks_in_a_one_proxy_pool() -> Any:
    """The fresh session is not undone by the pool putting its URL back."""
    with Emulator(provider="soax") as emu:
        seen: list[Any] = []

        def responder(record: Any) -> Reply | None:
            seen.append(record)
            # The first reply teaches the plugin the provider (and so the
            # session in the route); the second fails on a sticky node.
            if len(seen) in (1, 2):
                return emu.error_reply("NODE_UNAVAILABLE")
            return None

        emu.set_responder(responder)
        pool = [emu.proxy_url(user="package-1-sessionid-first")]
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_PROXIES": pool, "CONCURRENT_REQUESTS": 1})
        yield crawler.crawl(requests=[(emu.target_url("/page/1"), {})], outcome=outcome)
        sessions = [r.session for r in emu.requests if r.kind == "plain"]
    assert sessions[0] == "first"
    assert len(sessions) == 3
    assert sessions[1] not in (None, "first")
    assert sessions[2] not in (None, "first", sessions[1])
    assert len(outcome.ok_urls) == 1
    assert crawler.stats.get_value("proxyerrors/rotate/session") == 2


@pytest_twisted.inlineCallbacks
def test_a_targets_rate_limit_headers_through_a_proxy_pause_nothing() -> Any:
    """On plain HTTP the proxy forwards the target's headers: not a provider signal."""
    with Emulator(provider="soax") as emu:
        emu.set_responder(lambda record: Reply(
            200, [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "60")], b"<html></html>"))
        outcome = Outcome()
        crawler = make_crawler()
        yield crawler.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in _urls(emu, 3)],
                            outcome=outcome)
    assert len(outcome.ok_urls) == 3
    assert crawler.stats.get_value("proxyerrors/ratelimit/preemptive_pauses") is None
    assert crawler.stats.get_value("proxyerrors/route/pauses") is None
