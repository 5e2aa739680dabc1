"""Real Scrapy crawls through a real Squid, with the add-on enabled.

Every case runs twice: over plain HTTP (Squid answers the ``GET`` itself) and
over HTTPS (Squid answers the ``CONNECT``; a refusal reaches the middleware
as a :class:`~scrapy_proxyerrors.ProxyTunnelError`). Squid is found by its
``X-Squid-Error`` header: nothing in the settings names it.

What reached Squid is read back from its access log, so "few requests" is
Squid's own count, not the plugin's.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from scrapy.spidermiddlewares.httperror import HttpError

from scrapy_proxyerrors import ProviderErrorDropped, ProxyTunnelError

from . import squid as squid_module
from .crawling import Outcome, make_crawler
from .squid import DENIED_HOST, TARGET_HOST, refused_port

if TYPE_CHECKING:
    from twisted.python.failure import Failure

    from .squid import AccessEntry, SquidProxy, Target

# The session fixtures, bound here so that pytest finds them in this module.
squid_proxy = squid_module.squid_proxy
squid_target = squid_module.squid_target
squid_tls_target = squid_module.squid_tls_target

#: Small waits keep the tests fast; the retry budget is Scrapy's default, explicit.
SETTINGS: dict[str, Any] = {
    "PROXYERRORS_BACKOFF_BASE": 0.01,
    "PROXYERRORS_BACKOFF_MAX": 0.05,
    "RETRY_TIMES": 2,
}


@pytest.fixture(params=["http", "https"])
def target(
    request: pytest.FixtureRequest, squid_target: Target, squid_tls_target: Target
) -> Target:
    """The target behind Squid, once over plain HTTP and once through CONNECT."""
    return squid_target if request.param == "http" else squid_tls_target


def _method(target: Target) -> str:
    """What Squid logs for a request to *target*: ``GET`` or ``CONNECT``."""
    return "CONNECT" if target.scheme == "https" else "GET"


def _stats(crawler: Any) -> dict[str, Any]:
    return dict(crawler.stats.get_stats())


def _provider_keys(stats: dict[str, Any]) -> list[str]:
    return sorted(k for k in stats if k.startswith("proxyerrors/error/"))


def _only(failures: list[Failure]) -> Any:
    assert len(failures) == 1, failures
    return failures[0].value


def _refused(entries: list[AccessEntry], status: int) -> list[AccessEntry]:
    return [e for e in entries if e.status == status]


# ------------------------------------------------------------ (a) wrong password


@pytest_twisted.inlineCallbacks
def test_wrong_password_stops_the_crawl(squid_proxy: SquidProxy, target: Target) -> Any:
    """A 407 from Squid stops the crawl: no more than the in-flight requests reach it."""
    proxy = squid_proxy.url_with(squid_proxy.user, "not-the-password")
    mark = len(squid_proxy.access_log())
    outcome = Outcome()
    # Named: over plain HTTP, a provider found by its header alone is capped
    # at pass/retry/rotate until a CONNECT probe corroborates it (trust boundary).
    crawler = make_crawler({**SETTINGS, "CONCURRENT_REQUESTS": 4, "PROXYERRORS_PROVIDER": "squid"})
    urls = [target.url(f"/page/{i}") for i in range(40)]
    yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in urls], outcome=outcome)
    stats = _stats(crawler)
    seen = stats["proxyerrors/error/squid/ERR_CACHE_ACCESS_DENIED"]
    entries = squid_proxy.access_log(since=mark, at_least=seen)

    assert stats["finish_reason"] == "proxyerrors_auth"
    assert stats["proxyerrors/stop/reason"] == "proxyerrors_auth"
    assert stats["proxyerrors/stop/error"] == "squid/ERR_CACHE_ACCESS_DENIED"
    assert stats["proxyerrors/category/auth"] == seen
    assert stats["proxyerrors/action/stop"] == seen
    # Squid's own count: every request it saw was refused, and there were
    # no more of them than the downloader had in flight when the first 407 came.
    # Over plain HTTP the stop was corroborated by one CONNECT probe, which
    # Squid refused the same way (its reply can only be the proxy's).
    probes = [e for e in entries if e.method == "CONNECT"] if _method(target) != "CONNECT" else []
    entries = [e for e in entries if e not in probes]
    assert len(probes) <= 1 and probes == _refused(probes, 407)
    assert 1 <= len(entries) <= 4
    assert entries == _refused(entries, 407)
    assert {e.method for e in entries} == {_method(target)}
    assert len(entries) == seen
    # The refused requests are kept (for a JOBDIR resume), never handed to the spider.
    assert stats["proxyerrors/stop/requeued"] >= seen
    assert outcome.responses == []
    assert outcome.failures == []
    assert "proxyerrors/retry/count" not in stats


@pytest_twisted.inlineCallbacks
def test_stock_scrapy_keeps_sending_to_a_refusing_squid(
    squid_proxy: SquidProxy, squid_target: Target
) -> Any:
    """The contrast for (a): without the add-on every request reaches Squid."""
    proxy = squid_proxy.url_with(squid_proxy.user, "not-the-password")
    mark = len(squid_proxy.access_log())
    crawler = make_crawler({**SETTINGS, "ADDONS": {}, "CONCURRENT_REQUESTS": 4})
    urls = [squid_target.url(f"/stock/{i}") for i in range(20)]
    yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in urls])
    entries = squid_proxy.access_log(since=mark, at_least=20)
    assert len(_refused(entries, 407)) == 20
    assert crawler.stats.get_value("finish_reason") == "finished"


# ---------------------------------------------------------- (b) refused target


@pytest_twisted.inlineCallbacks
def test_refused_port_is_retried_with_backoff_then_given_up(
    squid_proxy: SquidProxy, target: Target
) -> Any:
    """ERR_CONNECT_FAIL: retried on the plugin's budget with backoff, then handed on."""
    port = refused_port()
    url = f"{target.scheme}://{TARGET_HOST}:{port}/gone"
    mark = len(squid_proxy.access_log())
    outcome = Outcome()
    crawler = make_crawler(SETTINGS)
    yield crawler.crawl(requests=[(url, {"proxy": squid_proxy.url})], outcome=outcome)
    stats = _stats(crawler)
    entries = squid_proxy.access_log(since=mark, at_least=3)

    # One first attempt and RETRY_TIMES=2 retries, each refused by Squid.
    assert [(e.method, e.status) for e in entries] == [(_method(target), 503)] * 3
    assert stats["proxyerrors/error/squid/ERR_CONNECT_FAIL"] == 3
    assert stats["proxyerrors/action/retry"] == 3
    assert stats["proxyerrors/retry/count"] == 2
    assert stats["proxyerrors/retry/reason_count/squid/ERR_CONNECT_FAIL"] == 2
    assert stats["proxyerrors/retry/max_reached"] == 1
    # Backed off before each retry: half of each step is fixed, so the
    # decided waits add up to at least 0.005 + 0.01 seconds.
    assert 0.015 <= stats["proxyerrors/wait_seconds"] <= 0.05
    # Provider retries are not stock retries, and no route was rested:
    # the failure is the target's port, not the proxy.
    assert "retry/count" not in stats
    assert "proxyerrors/route/cooldowns" not in stats
    assert stats["finish_reason"] == "finished"

    # After the last attempt the spider gets Squid's error, classified.
    assert outcome.responses == []
    failure = _only(outcome.failures)
    if target.scheme == "http":
        assert isinstance(failure, HttpError)
        status, headers = failure.response.status, failure.response.headers
    else:
        assert isinstance(failure, ProxyTunnelError)
        status, headers = failure.status, failure.headers
    assert status == 503
    assert (headers.get(b"X-Squid-Error") or b"").startswith(b"ERR_CONNECT_FAIL ")
    # Scrapy puts the request on the failure it hands to the errback.
    request = outcome.failures[0].request  # type: ignore[attr-defined]
    assert request.meta["retry_times"] == 2
    error = request.meta["proxyerrors_error"]
    assert (error.provider, error.code, error.action) == ("squid", "ERR_CONNECT_FAIL", "retry")


@pytest_twisted.inlineCallbacks
def test_refused_port_honours_max_retry_times_meta(
    squid_proxy: SquidProxy, squid_target: Target
) -> Any:
    """The request's own ``max_retry_times`` bounds provider retries too."""
    url = f"http://{TARGET_HOST}:{refused_port()}/once"
    mark = len(squid_proxy.access_log())
    crawler = make_crawler(SETTINGS)
    meta = {"proxy": squid_proxy.url, "max_retry_times": 0}
    yield crawler.crawl(requests=[(url, meta)])
    entries = squid_proxy.access_log(since=mark, at_least=1)
    assert len(entries) == 1
    assert crawler.stats.get_value("proxyerrors/retry/max_reached") == 1
    assert crawler.stats.get_value("proxyerrors/retry/count") is None


# --------------------------------------------------------- (c) denied host


@pytest_twisted.inlineCallbacks
def test_denied_destination_is_dropped(squid_proxy: SquidProxy, target: Target) -> Any:
    """ERR_ACCESS_DENIED: one attempt, then the errback gets ProviderErrorDropped."""
    url = f"{target.scheme}://{DENIED_HOST}:{target.port}/secret"
    mark = len(squid_proxy.access_log())
    outcome = Outcome()
    # Named: found by its header alone, a plain-HTTP drop is capped (trust boundary).
    crawler = make_crawler({**SETTINGS, "PROXYERRORS_PROVIDER": "squid"})
    yield crawler.crawl(requests=[(url, {"proxy": squid_proxy.url})], outcome=outcome)
    stats = _stats(crawler)
    entries = squid_proxy.access_log(since=mark, at_least=1)

    assert [(e.method, e.result, e.status) for e in entries] == [
        (_method(target), "TCP_DENIED", 403)
    ]
    dropped = _only(outcome.failures)
    assert isinstance(dropped, ProviderErrorDropped)
    error = dropped.error
    assert (error.provider, error.code, error.status) == ("squid", "ERR_ACCESS_DENIED", 403)
    assert (error.category, error.action, error.scope) == ("target", "drop", "request")
    assert error.transport == ("connect" if target.scheme == "https" else "plain")
    assert error.meaning and error.fix
    assert outcome.responses == []
    assert stats["proxyerrors/dropped"] == 1
    assert stats["proxyerrors/action/drop"] == 1
    assert _provider_keys(stats) == ["proxyerrors/error/squid/ERR_ACCESS_DENIED"]
    assert "proxyerrors/retry/count" not in stats
    assert stats["finish_reason"] == "finished"


# ------------------------------------------------------------ (d) good target


@pytest_twisted.inlineCallbacks
def test_good_target_succeeds(squid_proxy: SquidProxy, target: Target) -> Any:
    mark = len(squid_proxy.access_log())
    outcome = Outcome()
    crawler = make_crawler(SETTINGS)
    urls = [target.url(f"/hello/{i}") for i in range(3)]
    yield crawler.crawl(requests=[(u, {"proxy": squid_proxy.url}) for u in urls], outcome=outcome)
    stats = _stats(crawler)
    # One line per request, or per tunnel: Scrapy may reuse a connection.
    entries = squid_proxy.access_log(since=mark, at_least=1)

    assert sorted(outcome.ok_urls) == sorted(urls)
    assert {r.body for r in outcome.responses} == {
        f"target says 200 for /hello/{i}\n".encode() for i in range(3)
    }
    assert outcome.failures == []
    assert {(e.method, e.status) for e in entries} == {(_method(target), 200)}
    assert not any(k.startswith("proxyerrors/") for k in stats), stats
    assert stats["finish_reason"] == "finished"


@pytest_twisted.inlineCallbacks
def test_everything_at_once(squid_proxy: SquidProxy, target: Target) -> Any:
    """One crawl mixing the cases: each request gets its own outcome, the crawl finishes."""
    good = target.url("/mixed/ok")
    denied = f"{target.scheme}://{DENIED_HOST}:{target.port}/mixed/denied"
    refused = f"{target.scheme}://{TARGET_HOST}:{refused_port()}/mixed/refused"
    outcome = Outcome()
    # Named: found by its header alone, a plain-HTTP drop is capped (trust boundary).
    crawler = make_crawler({**SETTINGS, "CONCURRENT_REQUESTS": 3, "PROXYERRORS_PROVIDER": "squid"})
    meta = {"proxy": squid_proxy.url}
    yield crawler.crawl(requests=[(good, meta), (denied, meta), (refused, meta)], outcome=outcome)
    stats = _stats(crawler)
    assert outcome.ok_urls == [good]
    failed = {f.request.url: type(f.value) for f in outcome.failures}  # type: ignore[attr-defined]
    given_up = ProxyTunnelError if target.scheme == "https" else HttpError
    assert failed == {denied: ProviderErrorDropped, refused: given_up}
    assert stats["proxyerrors/dropped"] == 1
    assert stats["proxyerrors/retry/max_reached"] == 1
    assert stats["finish_reason"] == "finished"


# ------------------------------------------------------- the trust boundary


@pytest_twisted.inlineCallbacks
def test_target_errors_through_a_tunnel_are_not_squids(
    squid_proxy: SquidProxy, squid_tls_target: Target
) -> Any:
    """A 503 the target sends through the tunnel is the target's: stock retries only."""
    outcome = Outcome()
    crawler = make_crawler(SETTINGS)
    url = squid_tls_target.url("/status/503")
    yield crawler.crawl(requests=[(url, {"proxy": squid_proxy.url})], outcome=outcome)
    stats = _stats(crawler)
    assert stats["retry/count"] == 2
    assert stats["retry/max_reached"] == 1
    assert _provider_keys(stats) == []
    assert "proxyerrors/retry/count" not in stats
    failure = _only(outcome.failures)
    assert isinstance(failure, HttpError) and failure.response.status == 503
    assert stats["finish_reason"] == "finished"
