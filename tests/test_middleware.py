"""The middleware in Scrapy's own test style: get_crawler + build_from_crawler +
hand-built responses, asserting the returned requests, their meta and stats.

The clock is the middleware's own (``mw.clock``), replaced by a fake one: no
test sleeps.
"""

from __future__ import annotations

import inspect
import itertools
from typing import Any

import pytest
from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Request, Response
from scrapy.http.headers import Headers
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from twisted.internet.error import ConnectionRefusedError, TCPTimedOutError

from scrapy_proxyerrors import ProxyErrorsMiddleware
from scrapy_proxyerrors._routes import Credentials, basic_credentials, basic_header
from scrapy_proxyerrors._scheduler import AVOID, INFLIGHT, NOT_BEFORE
from scrapy_proxyerrors._tunnel import ConnectReply
from scrapy_proxyerrors.exceptions import ProviderErrorDropped

SOAX = "http://package-1:Sup3rSecret@proxy.soax.com:5000"
DEAD = "http://package-1-sessionid-dead:Sup3rSecret@proxy.soax.com:5000"


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _mw(settings: dict[str, Any] | None = None) -> tuple[ProxyErrorsMiddleware, Clock]:
    base = {"PROXYERRORS_BACKOFF_BASE": 1.0, "PROXYERRORS_BACKOFF_MAX": 8.0}
    crawler = get_crawler(settings_dict={**base, **(settings or {})})
    crawler.spider = crawler._create_spider("test")
    mw = build_from_crawler(ProxyErrorsMiddleware, crawler)
    clock = Clock()
    mw.clock = clock
    mw.scheduler.clock = clock
    mw.state._clock = clock  # type: ignore[attr-defined]
    return mw, clock


def _connect_says(
    mw: ProxyErrorsMiddleware, status: int, headers: dict[str, str], proxy: str = SOAX,
    category: str = "rate_limit",
) -> None:
    """The proxy's own reply to CONNECT, as the corroborating probe found it:
    a plain-HTTP stop or account pause stands only when it agrees (the trust
    boundary); remembered, so process_response decides at once."""
    reply = ConnectReply(status, "", Headers(headers), b"", "proxy")
    mw.scheduler.corroborator.remember(proxy, reply, topic=category)


def _stat(mw: ProxyErrorsMiddleware, key: str) -> Any:
    return mw.crawler.stats.get_value(key)


def _successes(mw: ProxyErrorsMiddleware, clock: Clock, count: int, step: float) -> None:
    """*count* requests through SOAX, each admitted and answered 200, *step* s apart."""
    for i in range(count):
        r = Request(f"http://example.com/{i}", meta={"proxy": SOAX})
        assert mw.process_request(r) is None
        mw.process_response(r, Response(r.url, status=200, request=r))
        clock.now += step


def _soax(status: int, code: str, request: Request, **headers: str) -> Response:
    return Response(request.url, status=status, headers={"X-SOAX-Error": code, **headers},
                    request=request)


# ------------------------------------------------------------ Scrapy conformance


def test_retry_middleware_attributes_exist_and_are_honoured() -> None:
    mw, _ = _mw({"RETRY_TIMES": 4, "RETRY_HTTP_CODES": [418], "RETRY_PRIORITY_ADJUST": -3})
    assert isinstance(mw, RetryMiddleware)
    assert mw.max_retry_times == 4
    assert mw.retry_http_codes == {418}
    assert mw.priority_adjust == -3
    assert mw.give_up_log_level == "ERROR"
    assert ConnectionRefusedError in mw.exceptions_to_retry or any(
        issubclass(ConnectionRefusedError, e) for e in mw.exceptions_to_retry)
    # Configured after construction, as a subclass or a user would.
    mw.retry_http_codes = {503}
    request = Request("http://example.com/")
    retry = mw.process_response(request, Response(request.url, status=503, request=request))
    assert isinstance(retry, Request)
    assert retry.priority == -3
    mw.max_retry_times = 0
    request = Request("http://example.com/b")
    response = Response(request.url, status=503, request=request)
    assert mw.process_response(request, response) is response


def test_bare_statuses_follow_retry_http_codes() -> None:
    """RETRY_HTTP_CODES = []: a bare 429/503 through an unknown proxy is handed on."""
    mw, _clock = _mw({"RETRY_HTTP_CODES": []})
    for status in (408, 429, 500, 502, 503, 504, 522, 524):
        request = Request("http://example.com/", meta={"proxy": "http://10.0.0.1:3128"})
        assert mw.process_request(request) is None
        response = Response(request.url, status=status, headers={"Retry-After": "30"},
                            request=request)
        assert mw.process_response(request, response) is response
    assert mw.state.paused_until("10.0.0.1:3128") == 0.0
    assert _stat(mw, "retry/count") is None


def test_reason_and_stats_keys_are_scrapys() -> None:
    mw, _ = _mw()
    request = Request("http://example.com/")
    retry = mw.process_response(request, Response(request.url, status=503, request=request))
    assert isinstance(retry, Request)
    assert retry.meta["retry_times"] == 1
    assert _stat(mw, "retry/count") == 1
    assert _stat(mw, "retry/reason_count/503 Service Unavailable") == 1


def test_retry_disabled_means_no_retries_and_no_give_up(caplog: pytest.LogCaptureFixture) -> None:
    mw, _ = _mw({"RETRY_ENABLED": False})
    request = Request("http://example.com/", meta={"proxy": "http://10.0.0.1:3128"})
    response = Response(request.url, status=503, request=request)
    assert mw.process_response(request, response) is response
    assert mw.process_exception(request, TCPTimedOutError()) is None
    assert "Gave up retrying" not in caplog.text
    assert _stat(mw, "retry/max_reached") is None


def test_process_exception_never_raises_on_hostile_proxy_urls() -> None:
    mw, _ = _mw({"RETRY_TIMES": 0})
    request = Request("http://example.com/", meta={"proxy": "A://@", "retry_times": 5})
    assert mw.process_exception(request, TCPTimedOutError()) is None
    assert mw.process_exception(request, ValueError("not retried")) is None


def test_cached_reply_is_never_a_provider_signal() -> None:
    mw, _ = _mw()
    request = Request("http://example.com/", meta={"proxy": SOAX})
    mw.process_request(request)
    response = _soax(407, "AUTH_FAILED", request)
    response.flags.append("cached")
    assert mw.process_response(request, response) is response
    assert mw.scheduler.stopping is None
    assert _stat(mw, "proxyerrors/error/soax/AUTH_FAILED") is None


# ------------------------------------------------------------ identity


def test_account_is_provider_and_fingerprint_never_the_secret() -> None:
    mw, _ = _mw()
    request = Request("http://example.com/", meta={"proxy": SOAX})
    mw.process_request(request)
    route, account = mw.identity.route(request, mw.identity.profile(request))
    assert route == "proxy.soax.com:5000"
    assert account.startswith("soax#")
    assert "Sup3rSecret" not in account and "package-1" not in account
    assert request.meta[INFLIGHT] == account


# ------------------------------------------------------------ throttle budget


def test_rate_limit_spends_the_throttle_budget_not_retry_times() -> None:
    mw, clock = _mw({"RETRY_TIMES": 2})
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    request = Request("http://example.com/", meta={"proxy": SOAX, "retry_times": 2})
    mw.process_request(request)
    retry = mw.process_response(request, _soax(429, "RATE_LIMIT_EXCEEDED", request))
    assert isinstance(retry, Request)
    assert retry.meta["retry_times"] == 2  # untouched
    assert retry.meta["_proxyerrors_throttled"] == 1
    assert retry.meta[NOT_BEFORE] > clock.now
    assert _stat(mw, "proxyerrors/throttle/count") == 1
    assert _stat(mw, "proxyerrors/retry/count") is None


def test_throttle_budget_gives_up_by_count_and_says_why(
    caplog: pytest.LogCaptureFixture,
) -> None:
    mw, _ = _mw({"PROXYERRORS_THROTTLE_MAX_COUNT": 3})
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    request = Request("http://example.com/", meta={"proxy": SOAX,
                                                   "_proxyerrors_throttled": 3})
    mw.process_request(request)
    response = _soax(429, "RATE_LIMIT_EXCEEDED", request)
    assert mw.process_response(request, response) is response
    assert _stat(mw, "proxyerrors/throttle/gave_up") == 1
    assert "PROXYERRORS_THROTTLE_MAX_COUNT" in caplog.text


@pytest.mark.parametrize(
    ("own", "gives_up", "ignored"),
    [
        (2, True, False),
        (10, False, False),
        # The setting's own rule: "2" and 2.0 are 2; 0, -1, True and words are refused.
        ("2", True, False),
        (2.0, True, False),
        (0, False, True),
        ("lots", False, True),
        (-1, False, True),
        (True, False, True),
    ],
)
def test_a_requests_own_throttle_budget_beats_the_setting(
    own: object, gives_up: bool, ignored: bool, caplog: pytest.LogCaptureFixture,
) -> None:
    """``meta["proxyerrors_throttle_max_count"]`` beats the setting (4), as
    ``max_retry_times`` beats ``RETRY_TIMES``, by the setting's rule; a value
    the setting would refuse is logged and ignored, and the setting applies
    (3 waits spent: not yet)."""
    mw, _ = _mw({"PROXYERRORS_THROTTLE_MAX_COUNT": 4})
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    request = Request("http://example.com/", meta={
        "proxy": SOAX, "_proxyerrors_throttled": 3, "proxyerrors_throttle_max_count": own})
    mw.process_request(request)
    response = _soax(429, "RATE_LIMIT_EXCEEDED", request)
    result = mw.process_response(request, response)
    assert (result is response) is gives_up
    assert _stat(mw, "proxyerrors/throttle/gave_up") == (1 if gives_up else None)
    if gives_up:
        assert "meta proxyerrors_throttle_max_count=2" in caplog.text
    assert ("Ignoring meta proxyerrors_throttle_max_count" in caplog.text) is ignored
    if ignored:
        assert "expected an integer >= 1" in caplog.text


@pytest.mark.parametrize(
    ("own", "gives_up", "ignored"),
    [(0, True, False), ("0", True, False), (float("inf"), False, False),
     (-5, False, True), ("soon", False, True), (False, False, True)],
)
def test_a_requests_own_throttle_time_follows_the_settings_rule(
    own: object, gives_up: bool, ignored: bool, caplog: pytest.LogCaptureFixture,
) -> None:
    """``meta["proxyerrors_throttle_max_time"]`` takes what
    ``PROXYERRORS_THROTTLE_MAX_TIME`` takes: 0 (never wait out a throttle)
    gives up at the first one, ``inf`` never; anything else is logged and
    ignored (the setting, 600 s, applies)."""
    mw, _ = _mw()
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    request = Request("http://example.com/", meta={
        "proxy": SOAX, "proxyerrors_throttle_max_time": own})
    mw.process_request(request)
    response = _soax(429, "RATE_LIMIT_EXCEEDED", request)
    result = mw.process_response(request, response)
    assert (result is response) is gives_up
    assert ("Ignoring meta proxyerrors_throttle_max_time" in caplog.text) is ignored
    if gives_up:
        assert "meta proxyerrors_throttle_max_time=0 s" in caplog.text


def test_a_bad_meta_budget_is_logged_once_per_key(caplog: pytest.LogCaptureFixture) -> None:
    """A spider that sets a bad budget on every request is told once, not at
    every failure of every request; each request still gets the setting's."""
    mw, _ = _mw({"PROXYERRORS_THROTTLE_MAX_COUNT": 4})
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    results = []
    for i in range(3):
        request = Request(f"http://example.com/{i}", meta={
            "proxy": SOAX, "proxyerrors_throttle_max_count": "lots",
            "proxyerrors_rotate_times": -1})
        mw.process_request(request)
        results.append(mw.process_response(request, _soax(429, "RATE_LIMIT_EXCEEDED", request)))
    assert all(isinstance(r, Request) for r in results)  # waits: the setting's budget
    assert caplog.text.count("Ignoring meta proxyerrors_throttle_max_count") == 1
    assert caplog.text.count("Ignoring meta proxyerrors_rotate_times") == 1


def test_throttle_budget_gives_up_by_time() -> None:
    mw, clock = _mw({"PROXYERRORS_THROTTLE_MAX_TIME": 60})
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    request = Request("http://example.com/", meta={
        "proxy": SOAX, "_proxyerrors_throttled": 1,
        "_proxyerrors_throttled_since": clock.now - 59})
    mw.process_request(request)
    response = _soax(429, "RATE_LIMIT_EXCEEDED", request, **{"Retry-After": "5"})
    assert mw.process_response(request, response) is response


# ------------------------------------------------------------ Retry-After pauses


def test_retry_after_pauses_the_account_for_the_whole_window() -> None:
    mw, clock = _mw()
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    first = Request("http://example.com/1", meta={"proxy": SOAX})
    mw.process_request(first)
    account = first.meta[INFLIGHT]
    retry = mw.process_response(first, _soax(429, "RATE_LIMIT_EXCEEDED", first,
                                             **{"Retry-After": "30"}))
    assert isinstance(retry, Request)
    assert retry.meta[NOT_BEFORE] >= clock.now + 30
    assert mw.state.paused_until(account) == clock.now + 30
    # Every other request of the account waits too, spread after the window.
    later = [Request(f"http://example.com/{i}", meta={"proxy": SOAX}) for i in range(5)]
    parked = [mw.process_request(r) for r in later]
    assert all(isinstance(p, Request) and p.dont_filter for p in parked)
    dues = [p.meta[NOT_BEFORE] for p in parked]  # type: ignore[union-attr]
    assert all(d >= clock.now + 30 for d in dues)
    assert len(set(dues)) == 5, "releases are spread, never all at once"
    # Another provider's proxy keeps flowing.
    other = Request("http://example.com/x", meta={"proxy": "http://10.0.0.9:8080"})
    assert mw.process_request(other) is None
    clock.now += 31
    assert mw.process_request(Request("http://example.com/z", meta={"proxy": SOAX})) is None


def test_the_account_is_held_from_the_moment_a_probe_is_needed() -> None:
    """A plain-HTTP 429 with no remembered CONNECT verdict: process_response
    returns an awaitable (the probe), and the account is held *before* it is
    awaited. (Scrapy 2.13 starts that coroutine one event-loop turn later; a
    request admitted in that turn was sent into the rate limit.)"""
    mw, clock = _mw()
    probes: list[str] = []

    async def check(error: Any, **kwargs: Any) -> Any:
        probes.append(kwargs["proxy_url"])
        return error  # the proxy's CONNECT reply agreed

    mw.scheduler.corroborator.check = check  # type: ignore[method-assign]
    first = Request("http://example.com/1", meta={"proxy": SOAX})
    mw.process_request(first)
    account = first.meta[INFLIGHT]
    pending = mw.process_response(first, _soax(429, "RATE_LIMIT_EXCEEDED", first))
    assert inspect.iscoroutine(pending)
    second = Request("http://example.com/2", meta={"proxy": SOAX})
    parked = mw.process_request(second)
    assert isinstance(parked, Request)
    assert parked.meta[NOT_BEFORE] > clock.now
    assert parked.meta["_proxyerrors_wait_on"] == f"corroborate:{account}"
    assert probes == []  # nothing awaited yet
    # Scrapy awaits it: the probe runs, the verdict holds, the retry waits.
    with pytest.raises(StopIteration) as done:
        pending.send(None)
    assert probes == [SOAX]
    retry = done.value.value
    assert isinstance(retry, Request) and retry.meta[NOT_BEFORE] > clock.now
    assert _stat(mw, "proxyerrors/corroboration/confirmed") == 1
    third = Request("http://example.com/3", meta={"proxy": SOAX})
    later = mw.process_request(third)
    assert isinstance(later, Request)
    assert "_proxyerrors_wait_on" not in later.meta, "the probe's hold is over"


def test_a_first_429_paces_at_what_the_account_served_the_second_before() -> None:
    """A one-second window (Retry-After: 1, no stated limit): the successes of
    the second before the first 429 are what the limit lets through."""
    mw, clock = _mw()
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    _successes(mw, clock, 20, 0.05)
    refused = Request("http://example.com/x", meta={"proxy": SOAX})
    mw.process_request(refused)
    account = refused.meta[INFLIGHT]
    mw.process_response(refused, _soax(429, "RATE_LIMIT_EXCEEDED", refused,
                                       **{"Retry-After": "1"}))
    rate = _stat(mw, f"proxyerrors/pacing/{account}/rate")
    assert rate == pytest.approx(20 * 0.95, rel=0.1)
    # Not when the window is longer than a second: the next 429 teaches it.
    mw2, clock2 = _mw()
    _connect_says(mw2, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    _successes(mw2, clock2, 20, 0.05)
    refused = Request("http://example.com/x", meta={"proxy": SOAX})
    mw2.process_request(refused)
    mw2.process_response(refused, _soax(429, "RATE_LIMIT_EXCEEDED", refused,
                                        **{"Retry-After": "60"}))
    assert _stat(mw2, f"proxyerrors/pacing/{account}/rate") is None


def test_retry_after_zero_waits_at_least_the_backoff() -> None:
    mw, clock = _mw({"PROXYERRORS_BACKOFF_BASE": 2.0})
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    request = Request("http://example.com/", meta={"proxy": SOAX})
    mw.process_request(request)
    retry = mw.process_response(request, _soax(429, "RATE_LIMIT_EXCEEDED", request,
                                               **{"Retry-After": "0"}))
    assert isinstance(retry, Request)
    assert retry.meta[NOT_BEFORE] - clock.now >= 1.0  # half of the first step


def test_one_info_line_per_pause(caplog: pytest.LogCaptureFixture) -> None:
    mw, _ = _mw()
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    caplog.set_level("DEBUG", logger="scrapy_proxyerrors.middleware")
    for i in range(4):
        request = Request(f"http://example.com/{i}", meta={"proxy": SOAX})
        mw.process_request(request)
        mw.process_response(request, _soax(429, "RATE_LIMIT_EXCEEDED", request,
                                           **{"Retry-After": "30"}))
    pauses = [r for r in caplog.records if "pausing" in r.getMessage()]
    assert [r.levelname for r in pauses].count("INFO") == 1
    assert len(pauses) >= 2


# ------------------------------------------------------------ route failures


def test_connection_failure_rests_the_route_and_rotates() -> None:
    mw, clock = _mw({"PROXYERRORS_PROXIES": ["http://10.0.0.1:3128", "http://10.0.0.2:3128"]})
    request = Request("http://example.com/")
    assert mw.process_request(request) is None
    first = request.meta["proxy"]
    route = request.meta["proxyerrors_route"]
    retry = mw.process_exception(request, ConnectionRefusedError())
    assert isinstance(retry, Request)
    assert retry.meta[AVOID] == route
    assert NOT_BEFORE not in retry.meta  # another route serves it now
    assert mw.state.cooling_until(route) > clock.now
    assert mw.process_request(retry) is None
    assert retry.meta["proxy"] != first
    # New requests avoid the resting route too.
    for i in range(4):
        fresh = Request(f"http://example.com/{i}")
        mw.process_request(fresh)
        assert fresh.meta["proxy"] != first
    assert _stat(mw, "proxyerrors/rotate/proxy") == 1
    assert _stat(mw, "retry/count") == 1


@pytest.mark.parametrize("retry_enabled", [True, False])
def test_a_requests_own_rotation_budget_retries_nothing_when_retries_are_off(
    retry_enabled: bool,
) -> None:
    """``RETRY_ENABLED = False`` means no retry of any kind, the moves off a
    failed route included: meta ``proxyerrors_rotate_times`` cannot turn them
    back on (with retries on, it is this request's budget)."""
    mw, _ = _mw({
        "RETRY_ENABLED": retry_enabled, "PROXYERRORS_PROVIDER": "helodata",
        "PROXYERRORS_PROXIES": ["http://10.0.0.1:3128", "http://10.0.0.2:3128"],
    })
    request = Request("http://example.com/", meta={"proxyerrors_rotate_times": 3})
    assert mw.process_request(request) is None
    response = Response(request.url, status=522, request=request,
                        headers={"X-Helodata-Error-Code": "upstream-timeout"})
    result = mw.process_response(request, response)
    assert isinstance(result, Request) is retry_enabled
    assert _stat(mw, "proxyerrors/rotate/budget") == (1 if retry_enabled else None)


def test_a_bare_retry_after_in_a_pool_holds_that_site_on_that_proxy_only() -> None:
    """A 503 with Retry-After and no provider signal (the proxy's or the
    target's): spends RETRY_TIMES as Scrapy does, but the retry moves to
    another proxy at once, and that proxy takes no request for that site
    inside the window; other sites still use it."""
    mw, clock = _mw({"PROXYERRORS_PROXIES": ["http://10.0.0.1:3128", "http://10.0.0.2:3128"]})
    request = Request("http://example.com/")
    assert mw.process_request(request) is None
    first, route = request.meta["proxy"], request.meta["proxyerrors_route"]
    response = Response(request.url, status=503, headers={"Retry-After": "5"}, request=request)
    retry = mw.process_response(request, response)
    assert isinstance(retry, Request)
    assert NOT_BEFORE not in retry.meta and retry.meta[AVOID] == route
    assert _stat(mw, "retry/count") == 1
    assert mw.state.paused_until(route) == 0.0  # the proxy itself is not paused
    assert mw.state.paused_until(f"{route}|example.com") == clock.now + 5
    assert mw.process_request(retry) is None and retry.meta["proxy"] != first
    # (A proxy of the pool serves one request at a time until it answered.)
    mw.process_response(retry, Response(retry.url, status=200, request=retry))
    same_site = [Request(f"http://example.com/{i}") for i in range(4)]
    for r in same_site:
        assert mw.process_request(r) is None
    assert all(r.meta["proxy"] != first for r in same_site)
    other_site = [Request(f"http://other.example/{i}") for i in range(4)]
    for r in other_site:
        assert mw.process_request(r) is None
    assert any(r.meta["proxy"] == first for r in other_site)
    clock.now += 6
    later = [Request(f"http://example.com/later{i}") for i in range(4)]
    for r in later:
        assert mw.process_request(r) is None
    assert any(r.meta["proxy"] == first for r in later)


def test_a_bare_retry_after_without_a_pool_waits_and_holds_the_site() -> None:
    mw, clock = _mw()
    proxy = "http://10.0.0.1:3128"
    request = Request("http://example.com/", meta={"proxy": proxy})
    assert mw.process_request(request) is None
    response = Response(request.url, status=429, headers={"Retry-After": "5"}, request=request)
    retry = mw.process_response(request, response)
    assert isinstance(retry, Request) and retry.meta[NOT_BEFORE] >= clock.now + 5
    same = Request("http://example.com/2", meta={"proxy": proxy})
    parked = mw.process_request(same)
    assert isinstance(parked, Request) and parked.meta[NOT_BEFORE] >= clock.now + 5
    other = Request("http://other.example/", meta={"proxy": proxy})
    assert mw.process_request(other) is None


def test_a_proxy_of_the_pool_serves_one_request_until_it_answers() -> None:
    """A dead or hanging proxy costs one request, not a round of them: until a
    route of the pool has answered once, it carries one request at a time;
    the others wait (parked) or go to routes that answered."""
    proxies = ["http://10.0.0.1:3128", "http://10.0.0.2:3128", "http://10.0.0.3:3128"]
    mw, _ = _mw({"PROXYERRORS_PROXIES": proxies})
    first = [Request(f"http://example.com/{i}") for i in range(3)]
    for r in first:
        assert mw.process_request(r) is None
    assert len({r.meta["proxy"] for r in first}) == 3
    waiting = Request("http://example.com/wait")
    parked = mw.process_request(waiting)
    assert isinstance(parked, Request) and parked.meta["_proxyerrors_wait_on"].startswith("warm:")
    # The first answers; the second proxy refuses its connection.
    mw.process_response(first[0], Response(first[0].url, status=200, request=first[0]))
    retry = mw.process_exception(first[1], ConnectionRefusedError())
    assert isinstance(retry, Request)
    more = [Request(f"http://example.com/more{i}") for i in range(4)]
    for r in more:
        assert mw.process_request(r) is None
    # All to the proxy that answered: the refused one rests, the third has
    # its first request still out.
    assert {r.meta["proxy"] for r in more} == {first[0].meta["proxy"]}


def test_a_fresh_session_on_a_proxy_that_answered_is_not_held_back() -> None:
    """A pool's proxy that answered carries many requests; its dead sticky
    session's replacement is the same proxy with a new exit node, so the
    requests that move to it do not wait for its first answer."""
    mw, clock = _mw({"PROXYERRORS_PROXIES": [DEAD]})
    first = Request("http://example.com/0")
    assert mw.process_request(first) is None
    mw.process_response(first, Response(first.url, status=200, request=first))
    flying = [Request(f"http://example.com/{i}") for i in range(1, 4)]
    assert [mw.process_request(r) for r in flying] == [None] * 3
    dead = flying[0]
    dead.headers[b"Proxy-Authorization"] = basic_header(
        Credentials("package-1-sessionid-dead", "Sup3rSecret"))
    retry = mw.process_response(dead, _soax(502, "NODE_UNAVAILABLE", dead))
    assert isinstance(retry, Request)
    creds = basic_credentials(retry.headers[b"Proxy-Authorization"])
    assert creds is not None and "dead" not in creds.user
    clock.now += 1
    more = [Request(f"http://example.com/n{i}") for i in range(4)]
    assert [mw.process_request(r) for r in [retry, *more]] == [None] * 5
    fresh = retry.meta["proxyerrors_route"]
    assert fresh != dead.meta["proxyerrors_route"]
    assert {r.meta["proxyerrors_route"] for r in more} == {fresh}


def test_a_pool_proxy_stays_warm_when_its_provider_is_learnt() -> None:
    """On loopback (or any host no profile names) the provider is learnt from
    its first error: the pool's routes are renamed with their session, but
    the proxy that answered is still the same proxy, not a cold one."""
    proxy = "http://package-1-sessionid-abc:pw@10.0.0.1:8080"
    mw, clock = _mw({"PROXYERRORS_PROXIES": [proxy]})
    first = Request("http://example.com/0")
    assert mw.process_request(first) is None
    before = first.meta["proxyerrors_route"]
    mw.process_response(first, Response(first.url, status=200, request=first))
    second = Request("http://example.com/1")
    assert mw.process_request(second) is None
    _connect_says(mw, 502, {"X-SOAX-Error": "NODE_NOT_FOUND"}, proxy=proxy, category="node")
    mw.process_response(second, _soax(502, "NODE_NOT_FOUND", second))
    clock.now += 1
    more = [Request(f"http://example.com/n{i}") for i in range(3)]
    assert [mw.process_request(r) for r in more] == [None] * 3
    assert more[0].meta["proxyerrors_route"] != before  # renamed: it names the session now


def test_a_dead_sticky_session_is_replaced_once() -> None:
    mw, _ = _mw()
    requests = [Request(f"http://example.com/{i}", meta={"proxy": DEAD}) for i in range(3)]
    for r in requests:
        assert mw.process_request(r) is None
    sessions = set()
    for r in requests:
        # HttpProxyMiddleware moved the credentials into the header.
        r.headers[b"Proxy-Authorization"] = basic_header(
            Credentials("package-1-sessionid-dead", "Sup3rSecret"))
        retry = mw.process_response(r, _soax(502, "NODE_UNAVAILABLE", r))
        assert isinstance(retry, Request)
        creds = basic_credentials(retry.headers[b"Proxy-Authorization"])
        assert creds is not None
        sessions.add(creds.user)
    assert len(sessions) == 1
    assert "dead" not in next(iter(sessions))
    # A new request that still carries the dead session in meta["proxy"] moves too.
    late = Request("http://example.com/late", meta={"proxy": DEAD})
    assert mw.process_request(late) is None
    assert next(iter(sessions)) in late.meta["proxy"]
    assert "Sup3rSecret" in late.meta["proxy"]
    assert _stat(mw, "proxyerrors/session/replaced") == 1
    # The rest of the queue moves the same way; the URL is rewritten once.
    rewritten = len(mw.scheduler._moved_urls)
    later = [Request(f"http://example.com/later{i}", meta={"proxy": DEAD}) for i in range(50)]
    for r in later:
        assert mw.process_request(r) is None
    assert {r.meta["proxy"] for r in later} == {late.meta["proxy"]}
    assert len(mw.scheduler._moved_urls) == rewritten
    assert _stat(mw, "proxyerrors/session/moved") == 51


def test_moves_off_a_failed_route_spend_the_rotation_budget_not_retry_times() -> None:
    """SOAX says the node failed (route scope): each move to a fresh session
    spends PROXYERRORS_ROTATE_TIMES, and RETRY_TIMES only once that is spent;
    with no other route to move to, the same route again is a retry."""
    mw, clock = _mw({"RETRY_TIMES": 1, "PROXYERRORS_ROTATE_TIMES": 2})
    request = Request("http://example.com/p", meta={"proxy": DEAD})
    seen = []
    for _ in range(4):
        assert mw.process_request(request) is None
        user = request.meta["proxy"].split("//")[1].split(":")[0]
        request.headers[b"Proxy-Authorization"] = basic_header(Credentials(user, "Sup3rSecret"))
        retry = mw.process_response(request, _soax(502, "NODE_UNAVAILABLE", request))
        if not isinstance(retry, Request):
            break
        seen.append((retry.meta.get("retry_times", 0), retry.meta["_proxyerrors_rotated"]))
        request = retry
        clock.now += 1
    # Two free moves, then one on RETRY_TIMES = 1, then given up; each one
    # a retry's priority lower (RETRY_PRIORITY_ADJUST), as Scrapy's retries.
    assert seen == [(0, 1), (0, 2), (1, 2)]
    assert request.priority == -3
    assert _stat(mw, "proxyerrors/rotate/budget") == 2
    assert _stat(mw, "proxyerrors/retry/max_reached") == 1
    # A proxy without sessions or a pool: nowhere else to go, a plain retry.
    fixed, _ = _mw({"RETRY_TIMES": 1})
    lone = Request("http://example.com/q", meta={"proxy": SOAX})
    assert fixed.process_request(lone) is None
    again = fixed.process_response(lone, _soax(502, "NODE_UNAVAILABLE", lone))
    assert isinstance(again, Request)
    assert again.meta["retry_times"] == 1 and "_proxyerrors_rotated" not in again.meta
    assert _stat(fixed, "proxyerrors/rotate/same_route") == 1
    # RETRY_ENABLED = False: no move of any kind.
    off, _ = _mw({"RETRY_ENABLED": False})
    dead = Request("http://example.com/r", meta={"proxy": DEAD})
    assert off.process_request(dead) is None
    reply = _soax(502, "NODE_UNAVAILABLE", dead)
    assert off.process_response(dead, reply) is reply


# ------------------------------------------------------------ stop, drop


def test_a_stop_requeues_everything_after_it() -> None:
    mw, _ = _mw()
    _connect_says(mw, 407, {"X-SOAX-Error": "AUTH_FAILED"}, category="auth")
    request = Request("http://example.com/", meta={"proxy": SOAX})
    mw.process_request(request)
    kept = mw.process_response(request, _soax(407, "AUTH_FAILED", request))
    assert isinstance(kept, Request) and kept.dont_filter
    assert mw.scheduler.stopping == "proxyerrors_auth"
    assert mw.state.stopped() is not None
    later = Request("http://example.com/2", meta={"proxy": "http://10.0.0.9:8080"})
    assert isinstance(mw.process_request(later), Request)
    # A stopped scheduler parks whatever the engine schedules (flushed at close).
    with pytest.raises(IgnoreRequest):
        mw.scheduler._on_scheduled(Request("http://example.com/3"))
    assert mw.scheduler.parked == 1


def test_drop_raises_the_plugins_exception() -> None:
    mw, _ = _mw()
    request = Request("http://example.com/", meta={"proxy": "http://u:p@10.0.0.1:8080",
                                                   "proxyerrors_provider": "proxiesfo"})
    mw.process_request(request)
    with pytest.raises(ProviderErrorDropped):
        mw.process_response(request, Response(request.url, status=400, request=request))


# ------------------------------------------------------------ concurrency, breaker


def _proxiesfo_in_flight(
    count: int,
) -> tuple[ProxyErrorsMiddleware, dict[str, Any], list[Request]]:
    """A proxies.fo gateway with *count* requests admitted at once: the
    middleware, their meta, and the requests (in the order they were sent)."""
    mw, _ = _mw()
    # (No CONNECT verdict to remember: a concurrency error needs none.)
    meta = {"proxy": "http://u:p@10.0.0.1:8080", "proxyerrors_provider": "proxiesfo"}
    flying = [Request(f"http://example.com/{i}", meta=dict(meta)) for i in range(count)]
    for r in flying:
        assert mw.process_request(r) is None
    return mw, meta, flying


def test_concurrency_errors_lower_the_accounts_limit() -> None:
    """A 453 for a request sent with 5 of the account's requests in flight: the
    provider serves at most 5 at once, and the account's limit is 5 at once
    (later refusals of the same burst, sent with more in flight, change
    nothing). The retry waits for a place under the limit, not a backoff, and
    the account is not paused."""
    mw, meta, flying = _proxiesfo_in_flight(8)
    account = flying[0].meta[INFLIGHT]
    retries = [
        mw.process_response(r, Response(r.url, status=453, request=r))
        for r in (flying[5], flying[7], flying[6])
    ]
    assert all(isinstance(r, Request) and NOT_BEFORE not in r.meta for r in retries)
    assert _stat(mw, f"proxyerrors/concurrency/{account}/limit") == 5
    assert _stat(mw, "proxyerrors/concurrency/decreases") == 1
    assert mw.state.paused_until(account) == 0.0
    for r in flying[:5]:
        mw.process_response(r, Response(r.url, status=200, request=r))
    admitted = []
    for i in range(8):
        r = Request(f"http://example.com/n{i}", meta=dict(meta))
        admitted.append(mw.process_request(r) is None)
    # Successes do not raise it back to the level the provider refused.
    assert admitted.count(True) == mw.scheduler.concurrency_limit(account) == 5
    # A retry waits for a place under the limit.
    assert isinstance(mw.process_request(retries[0]), Request)


def test_a_limit_held_below_a_refusal_tries_one_more_after_many_successes() -> None:
    mw, meta, flying = _proxiesfo_in_flight(3)
    account = flying[0].meta[INFLIGHT]
    mw.process_response(flying[2], Response(flying[2].url, status=453, request=flying[2]))
    assert mw.scheduler.concurrency_limit(account) == 2
    mw.process_response(flying[0], Response(flying[0].url, status=200, request=flying[0]))
    mw.process_response(flying[1], Response(flying[1].url, status=200, request=flying[1]))

    def succeed(name: str) -> None:
        r = Request(f"http://example.com/{name}", meta=dict(meta))
        assert mw.process_request(r) is None
        mw.process_response(r, Response(r.url, status=200, request=r))

    # 100 successes per unit of the limit (200 here), counting the two above.
    for i in range(197):
        succeed(f"s{i}")
    assert mw.scheduler.concurrency_limit(account) == 2
    succeed("200th")
    assert mw.scheduler.concurrency_limit(account) == 2  # raised by 1/limit: 2.5
    succeed("201st")
    assert mw.scheduler.concurrency_limit(account) == 2  # 2.9
    succeed("202nd")
    assert mw.scheduler.concurrency_limit(account) == 3


def test_a_first_burst_refusal_out_of_order_is_corrected_by_its_successes() -> None:
    """The first burst reaches the provider in any order: the third request
    sent (two in flight) may arrive after the fourth and be refused, which
    guesses a limit of 2. The burst's three successes, all out at once, show
    the provider served 3 together: the limit is 3 at once, not after the
    many successes a held ceiling waits for."""
    mw, meta, flying = _proxiesfo_in_flight(6)
    account = flying[0].meta[INFLIGHT]
    clock = mw.clock
    clock.now += 0.01  # type: ignore[attr-defined]
    for r in (flying[2], flying[4], flying[5]):
        mw.process_response(r, Response(r.url, status=453, request=r))
    assert mw.scheduler.concurrency_limit(account) == 2
    for r in (flying[0], flying[1]):
        mw.process_response(r, Response(r.url, status=200, request=r))
    assert mw.scheduler.concurrency_limit(account) == 2
    mw.process_response(flying[3], Response(flying[3].url, status=200, request=flying[3]))
    assert mw.scheduler.concurrency_limit(account) == 3
    assert _stat(mw, f"proxyerrors/concurrency/{account}/limit") == 3
    # Successes of requests sent after the first refusal came back are no
    # burst's: they raise the limit only as additive increase does.
    admitted = [mw.process_request(Request(f"http://example.com/n{i}", meta=dict(meta)))
                for i in range(5)]
    assert admitted.count(None) == 3


def test_a_first_burst_refused_a_step_at_a_time_still_counts_its_successes() -> None:
    """Measured: a burst of 16 under a limit of 3 came back refused as sent
    with 6, 5, 2, 1 (then the rest). Steps of one are the one-step rule's
    pattern after a burst, not within it: the burst's three successes still
    set the limit to 3 at once (before, the step rule dropped their count and
    the crawl ran at 1 until a probe, twice as long)."""
    mw, _meta, flying = _proxiesfo_in_flight(16)
    account = flying[0].meta[INFLIGHT]
    mw.clock.now += 0.01  # type: ignore[attr-defined]
    served = {0, 3, 4}
    for i in (6, 5, 2, 1, *(i for i in range(7, 16))):
        mw.process_response(flying[i], Response(flying[i].url, status=453, request=flying[i]))
    assert mw.scheduler.concurrency_limit(account) == 1
    for i in sorted(served):
        mw.process_response(flying[i], Response(flying[i].url, status=200, request=flying[i]))
    assert mw.scheduler.concurrency_limit(account) == 3
    assert _stat(mw, f"proxyerrors/concurrency/{account}/limit") == 3


def test_breaker_opens_after_consecutive_outages_and_probes_once() -> None:
    mw, clock = _mw({"PROXYERRORS_BREAKER_THRESHOLD": 3, "PROXYERRORS_BREAKER_RECOVERY": 30})
    url = "https://api.chocodata.com/v1/product?api_key=K&id={}"

    def call(i: int) -> Any:
        r = Request(url.format(i), meta={"proxyerrors_provider": "chocodata"})
        return r, mw.process_request(r)

    def fail(r: Request) -> Any:
        return mw.process_response(r, Response(r.url, status=500, request=r,
                                               body=b'{"error": "internal_error"}'))

    for i in range(3):
        r, gate = call(i)
        assert gate is None
        fail(r)
    assert _stat(mw, "proxyerrors/breaker/opened") == 1
    _, gate = call(10)
    assert isinstance(gate, Request) and gate.meta[NOT_BEFORE] >= clock.now + 30
    clock.now += 31
    probe, gate = call(11)
    assert gate is None
    _, held = call(12)
    assert isinstance(held, Request), "one probe at a time"
    fail(probe)  # the probe failed: open again, longer
    clock.now += 31
    assert isinstance(call(13)[1], Request)
    clock.now += 60
    probe, gate = call(14)
    assert gate is None
    mw.process_response(probe, Response(probe.url, status=200, request=probe))
    assert call(15)[1] is None
    assert _stat(mw, "proxyerrors/breaker/outages") == 1


def test_a_breaker_probe_held_back_by_a_pause_still_goes_after_it() -> None:
    """The recovery time is over but the account is paused (a Retry-After
    longer than it): the request held back is not the probe; after the
    pause one probe goes, and its success closes the breaker."""
    mw, clock = _mw({"PROXYERRORS_BREAKER_THRESHOLD": 2, "PROXYERRORS_BREAKER_RECOVERY": 30})
    url = "https://api.chocodata.com/v1/product?api_key=K&id={}"

    def call(i: int) -> Any:
        r = Request(url.format(i), meta={"proxyerrors_provider": "chocodata"})
        return r, mw.process_request(r)

    for i in range(2):
        r, gate = call(i)
        assert gate is None
        mw.process_response(r, Response(r.url, status=500, request=r,
                                         body=b'{"error": "internal_error"}'))
    assert _stat(mw, "proxyerrors/breaker/opened") == 1
    account = r.meta["_proxyerrors_account"]
    mw.scheduler.pause(account, clock.now + 100)
    clock.now += 31
    _, held = call(10)
    assert isinstance(held, Request), "held by the pause"
    assert _stat(mw, "proxyerrors/breaker/probes") is None
    clock.now += 100
    probe, gate = call(11)
    assert gate is None, "the probe goes once the pause is over"
    assert isinstance(call(12)[1], Request), "one probe at a time"
    mw.process_response(probe, Response(probe.url, status=200, request=probe))
    assert call(13)[1] is None


def test_key_values_in_urls_stay_with_the_crawl() -> None:
    """A key seen in a URL masks that crawl's provider text, but is not made a
    process-wide log secret (which cost every later log line of every crawl)."""
    from scrapy_proxyerrors import _redact

    mw, _ = _mw()
    key = "Zq9UniqueKeyValue77"
    request = Request(f"https://api.chocodata.com/v1/p?api_key={key}&id=1",
                      meta={"proxyerrors_provider": "chocodata"})
    mw.process_request(request)
    body = b'{"error": "invalid_params", "message": "key Zq9UniqueKeyValue77 bad"}'
    with pytest.raises(ProviderErrorDropped) as dropped:
        mw.process_response(request, Response(request.url, status=400, body=body,
                                              request=request))
    assert key not in (dropped.value.error.detail or "")
    assert key not in _redact._PROCESS.secrets
    assert key not in _redact.Redactor.for_crawler(mw.crawler).secrets


# A user profile whose 429 is a per-site limit (Scope.SITE).
_SITE_LIMITED = {"nimbus": {
    "title": "Nimbus", "kind": "proxy", "proxy_hosts": ["*.nimbus.example"],
    "signature_headers": ["X-Nimbus-Error"], "code_headers": ["X-Nimbus-Error"],
    "rules": [{"status": 429, "code": "SITE_LIMIT", "category": "rate_limit",
               "action": "slowdown", "scope": "site",
               "meaning": "Too many requests to this site.", "fix": "Slow down."}],
}}


def test_a_site_scoped_limit_holds_back_only_that_site_through_that_account() -> None:
    """Scope.SITE: "this target site through this account" pauses the key
    ``<account>|<host>``; other sites of the account keep flowing."""
    mw, clock = _mw({"PROXYERRORS_PROVIDERS": _SITE_LIMITED})
    proxy = "http://cust:pw@gw.nimbus.example:7000"
    first = Request("http://shop.example/1", meta={"proxy": proxy})
    assert mw.process_request(first) is None
    response = Response(first.url, status=429, request=first,
                        headers={"X-Nimbus-Error": "SITE_LIMIT", "Retry-After": "20"})
    retry = mw.process_response(first, response)
    assert isinstance(retry, Request)
    account = mw.identity.route(first, mw.config.profiles["nimbus"])[1]
    assert mw.state.paused_until(f"{account}|shop.example") == clock.now + 20
    assert mw.state.paused_until(account) == 0.0
    held = mw.process_request(Request("http://shop.example/2", meta={"proxy": proxy}))
    assert isinstance(held, Request) and held.meta[NOT_BEFORE] >= clock.now + 20
    assert mw.process_request(Request("http://other.example/", meta={"proxy": proxy})) is None


def test_a_pool_of_two_accounts_serves_a_site_paused_on_one_through_the_other() -> None:
    """A site is paused per account (``<account>|<host>``): in a pool holding
    two accounts of one provider, that site's requests go to the other account
    at once instead of waiting out the pause on the paused one."""
    mw, _ = _mw({
        "PROXYERRORS_PROVIDERS": _SITE_LIMITED,
        "PROXYERRORS_PROXIES": ["http://alice:pw@gw1.nimbus.example:7000",
                                "http://bob:pw@gw2.nimbus.example:7000"],
    })
    first = Request("http://shop.example/1")
    assert mw.process_request(first) is None
    paused_proxy = first.meta["proxy"]
    mw.process_response(first, Response(
        first.url, status=429, request=first,
        headers={"X-Nimbus-Error": "SITE_LIMIT", "Retry-After": "20"}))
    sent = []
    for i in range(4):
        request = Request(f"http://shop.example/n{i}")
        assert mw.process_request(request) is None  # none parked for the pause
        sent.append(request.meta["proxy"])
        # (answered: a proxy carries one request until its first answer)
        mw.process_response(request, Response(request.url, request=request))
    assert paused_proxy not in sent
    # Other sites still use the paused account.
    others = [Request(f"http://other.example/{i}") for i in range(4)]
    assert [mw.process_request(r) for r in others] == [None] * 4
    assert paused_proxy in {r.meta["proxy"] for r in others}


def test_repeated_site_limits_pace_that_site_never_the_account() -> None:
    """A Scope.SITE rate limit met again learns a rate for ``<account>|<host>``
    only: pacing the account would slow every other site behind the API."""
    mw, clock = _mw({"PROXYERRORS_PROVIDERS": _SITE_LIMITED})
    proxy = "http://cust:pw@gw.nimbus.example:7000"
    for i in range(2):  # a second 429 after the first pause: a repeat
        clock.now += 30
        request = Request(f"http://shop.example/{i}", meta={"proxy": proxy})
        assert mw.process_request(request) is None
        mw.process_response(request, Response(
            request.url, status=429, request=request,
            headers={"X-Nimbus-Error": "SITE_LIMIT", "Retry-After": "20"}))
    account = mw.identity.route(request, mw.config.profiles["nimbus"])[1]
    assert mw.state.rate(f"{account}|shop.example") > 0
    assert mw.state.rate(account) == 0.0
    others = [mw.process_request(Request(f"http://other.example/{i}", meta={"proxy": proxy}))
              for i in range(5)]
    assert others == [None] * 5
    # ... and the site's rate is kept: after its pause, its requests are spaced.
    clock.now += 60
    shop = [mw.process_request(Request(f"http://shop.example/n{i}", meta={"proxy": proxy}))
            for i in range(3)]
    assert shop[0] is None
    assert all(isinstance(r, Request) and r.meta[NOT_BEFORE] > clock.now for r in shop[1:])


def test_a_probe_that_meets_another_error_lets_the_next_probe_go() -> None:
    mw, clock = _mw({"PROXYERRORS_BREAKER_THRESHOLD": 2, "PROXYERRORS_BREAKER_RECOVERY": 10})
    url = "https://api.chocodata.com/v1/product?api_key=K&id={}"
    meta = {"proxyerrors_provider": "chocodata"}
    outage = b'{"error": "internal_error"}'
    for i in range(2):
        r = Request(url.format(i), meta=dict(meta))
        assert mw.process_request(r) is None
        mw.process_response(r, Response(r.url, status=500, request=r, body=outage))
    clock.now += 11
    probe = Request(url.format(5), meta=dict(meta))
    assert mw.process_request(probe) is None
    with pytest.raises(ProviderErrorDropped):  # neither a success nor an outage
        mw.process_response(probe, Response(probe.url, status=400, request=probe,
                                            body=b'{"error": "invalid_params"}'))
    nxt = Request(url.format(6), meta=dict(meta))
    assert mw.process_request(nxt) is None, "the next request is the next probe"


def test_a_paced_account_gives_each_waiting_request_its_own_slot() -> None:
    mw, clock = _mw()
    first = Request("http://example.com/0", meta={"proxy": SOAX})
    assert mw.process_request(first) is None
    account = first.meta[INFLIGHT]
    mw.scheduler.learn_rate(account, 2.0, 1.0, clock.now, limited=True)
    results = [mw.process_request(Request(f"http://example.com/{i}", meta={"proxy": SOAX}))
               for i in range(1, 6)]
    assert results[0] is None  # the first token
    parked = results[1:]
    assert all(isinstance(p, Request) for p in parked)
    dues = [p.meta[NOT_BEFORE] for p in parked]  # type: ignore[union-attr]
    gaps = [b - a for a, b in itertools.pairwise(dues)]
    assert all(gap == pytest.approx(0.5) for gap in gaps)  # 1 / rate, in order
    # Each one, handed back at its time, goes (no queueing behind the others).
    for request, due in zip(parked, dues, strict=True):
        clock.now = due
        del request.meta[NOT_BEFORE]  # what the engine's release does
        assert mw.process_request(request) is None


def test_a_learned_provider_renames_the_pool_routes_of_that_proxy() -> None:
    proxy = "http://package-1-sessionid-abc:pw@10.0.0.1:8080"
    mw, _ = _mw({"PROXYERRORS_PROXIES": [proxy]})
    before = Request("http://example.com/1")
    mw.process_request(before)
    assert before.meta["proxyerrors_route"] == "10.0.0.1:8080"
    # A SOAX error through it teaches the plugin whose proxy it is.
    retry = mw.process_response(before, _soax(502, "NODE_UNAVAILABLE", before))
    assert mw.state.learned("10.0.0.1:8080") == "soax"
    assert isinstance(retry, Request)
    assert mw.scheduler.pool.route(0) == "10.0.0.1:8080~abc"
    # The session abc is resting: a new request goes to its one replacement.
    after = Request("http://example.com/2")
    mw.process_request(after)
    assert after.meta["proxyerrors_route"].startswith("10.0.0.1:8080~")
    assert after.meta["proxyerrors_route"] != "10.0.0.1:8080~abc"


def test_a_documented_rate_paces_the_account_from_its_first_request() -> None:
    """``rate_limit_rps`` (here a user's SOAX package limit, 10/s): before
    any reply, the account sends at most 10 per second and a bit (the 95 %
    margin widens the window): a window's worth at once, the next ones
    together a window later, in order."""
    profiles = {"soax": {"extends": "soax", "rate_limit_rps": 10}}
    mw, clock = _mw({"PROXYERRORS_PROVIDERS": profiles})
    start = clock.now
    burst = [Request(f"http://example.com/{i}", meta={"proxy": SOAX}) for i in range(25)]
    results = [mw.process_request(r) for r in burst]
    assert results[:10] == [None] * 10
    account = burst[0].meta[INFLIGHT]
    assert _stat(mw, f"proxyerrors/pacing/{account}/rate") == pytest.approx(9.5)
    dues = [r.meta[NOT_BEFORE] for r in results[10:]]  # type: ignore[union-attr]
    window = 1 / 0.95
    assert dues == pytest.approx([start + window] * 10 + [start + 2 * window] * 5)
    # Handed back early (the burst before it went late), a request keeps
    # its turn: it waits for the pace, not behind the others.
    early = results[10]
    clock.now = dues[0] - 0.1
    del early.meta[NOT_BEFORE]  # type: ignore[union-attr]
    again = mw.process_request(early)  # type: ignore[arg-type]
    assert isinstance(again, Request) and again.meta[NOT_BEFORE] < dues[-1]
    # Each one, handed back at its time, goes.
    for request, due in zip(results[10:20], dues, strict=False):
        request = again if request is early else request
        clock.now = due
        del request.meta[NOT_BEFORE]  # type: ignore[union-attr]  # the engine's release
        assert mw.process_request(request) is None  # type: ignore[arg-type]
    # Without the documented rate, the same burst goes at once.
    plain, _ = _mw()
    assert [plain.process_request(Request(f"http://example.com/{i}", meta={"proxy": SOAX}))
            for i in range(25)] == [None] * 25


def test_a_windows_allowance_beyond_the_concurrency_goes_at_once() -> None:
    """40 per second under CONCURRENT_REQUESTS = 16: the whole allowance is
    admitted at once (Scrapy's downloader takes each one as a place frees, so
    each is admitted when it leaves), the next one a widened window later."""
    profiles = {"soax": {"extends": "soax", "rate_limit_rps": 40}}
    mw, clock = _mw({"PROXYERRORS_PROVIDERS": profiles, "CONCURRENT_REQUESTS": 16})
    start = clock.now
    results = [mw.process_request(Request(f"http://example.com/{i}", meta={"proxy": SOAX}))
               for i in range(45)]
    assert results[:40] == [None] * 40
    dues = [r.meta[NOT_BEFORE] for r in results[40:]]  # type: ignore[union-attr]
    assert dues == pytest.approx([start + 1 / 0.95] * 5)


def test_replies_bring_the_next_windows_requests_forward() -> None:
    """40 per second: the 41st to 45th wait a window and its margin. Replies
    to the first five, 20 ms after they went, free their places a window
    after the replies (the provider counted them before it answered); a
    download error frees none early."""
    profiles = {"soax": {"extends": "soax", "rate_limit_rps": 40}}
    mw, clock = _mw({"PROXYERRORS_PROVIDERS": profiles, "CONCURRENT_REQUESTS": 16})
    start = clock.now
    sent = [Request(f"http://example.com/{i}", meta={"proxy": SOAX}) for i in range(40)]
    assert [mw.process_request(r) for r in sent] == [None] * 40
    parked = [mw.process_request(Request(f"http://example.com/w{i}", meta={"proxy": SOAX}))
              for i in range(5)]
    for request in parked:
        assert isinstance(request, Request)
        with pytest.raises(IgnoreRequest):  # Scrapy's scheduler hands it over: held
            mw.scheduler._on_scheduled(request)
    assert [r.meta[NOT_BEFORE] for r in parked] == pytest.approx([start + 1 / 0.95] * 5)  # type: ignore[union-attr]
    clock.now = start + 0.02
    mw.process_exception(sent[0], TCPTimedOutError())
    for request in sent[1:5]:
        reply = Response(request.url, status=200, request=request)
        assert mw.process_response(request, reply) is reply
    dues = [r.meta[NOT_BEFORE] for r in parked]  # type: ignore[union-attr]
    assert dues == pytest.approx([start + 1.02] * 4 + [start + 1 / 0.95])
    clock.now = start + 1.02
    for request in parked[:4]:
        del request.meta[NOT_BEFORE]  # type: ignore[union-attr]  # the engine's release
        assert mw.process_request(request) is None  # type: ignore[arg-type]
    if mw.scheduler._timer is not None:
        mw.scheduler._timer.cancel()


def test_a_limit_stated_on_every_reply_is_read_before_a_burst() -> None:
    """A provider that states its limit on every reply (wxapros'
    ``X-RateLimit-*``): the account's first request goes alone, and the
    limit its reply states paces the rest."""
    mw, clock = _mw()
    meta = {"proxyerrors_provider": "wxapros"}
    api = "https://wxaintel.wxapros.com/api/v1/vpn/ip/8.8.8."
    first = Request(api + "1", meta=dict(meta))
    assert mw.process_request(first) is None
    account = first.meta[INFLIGHT]
    waiting = [Request(api + f"{i}", meta=dict(meta)) for i in range(2, 5)]
    parked = [mw.process_request(r) for r in waiting]
    assert all(isinstance(p, Request) for p in parked)
    assert {p.meta["_proxyerrors_wait_on"] for p in parked} == {f"warm:{account}"}  # type: ignore[union-attr]
    reply = Response(first.url, status=200, request=first, headers={
        "X-RateLimit-Limit": "60", "X-RateLimit-Remaining": "59", "X-RateLimit-Window": "60"})
    assert mw.process_response(first, reply) is reply
    assert _stat(mw, f"proxyerrors/pacing/{account}/rate") == pytest.approx(0.95)
    # Answered: the account is warm, and the next requests are paced: 60 per
    # 60 s window (widened by the margin), a window's worth at once.
    again = [Request(api + f"{i}", meta=dict(meta)) for i in range(5, 66)]
    assert [mw.process_request(r) for r in again[:60]] == [None] * 60
    paced = mw.process_request(again[60])
    assert isinstance(paced, Request)
    assert paced.meta[NOT_BEFORE] == pytest.approx(clock.now + 60 / 0.95)
    # A malformed statement states nothing (and breaks nothing).
    bad = Response(again[0].url, status=200, request=again[0], headers={
        "X-RateLimit-Limit": "lots", "X-RateLimit-Window": "60"})
    assert mw.process_response(again[0], bad) is bad
    huge = Response(again[1].url, status=200, request=again[1], headers={
        "X-RateLimit-Limit": "1" + "0" * 400, "X-RateLimit-Window": "60"})
    assert mw.process_response(again[1], huge) is huge
    assert _stat(mw, f"proxyerrors/pacing/{account}/rate") == pytest.approx(0.95)


def test_a_429_under_a_documented_rate_learns_a_lower_one() -> None:
    """A documented rate that is too high (the plan changed): a 429 under it
    is not answered by the same rate again; repeated, the rate drops."""
    profiles = {"soax": {"extends": "soax", "rate_limit_rps": 10}}
    mw, clock = _mw({"PROXYERRORS_PROVIDERS": profiles})
    _connect_says(mw, 429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    rates = []
    for _ in range(3):
        _successes(mw, clock, 3, 1.2)
        refused = Request("http://example.com/x", meta={"proxy": SOAX})
        assert mw.process_request(refused) is None
        account = refused.meta[INFLIGHT]
        mw.process_response(refused, _soax(429, "RATE_LIMIT_EXCEEDED", refused,
                                           **{"Retry-After": "1"}))
        rates.append(_stat(mw, f"proxyerrors/pacing/{account}/rate"))
        clock.now += 10.0  # past the pause
    # The first 429 keeps the documented pace; the next ones learn lower
    # rates, which the documented one (written again per request) does not undo.
    assert rates[0] == pytest.approx(9.5)
    assert rates[2] < rates[1] < 9.5
