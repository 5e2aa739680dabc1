"""The pure parts of the decision: policy, state, routes, settings."""

from __future__ import annotations

import dataclasses
import math
import random

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings

from scrapy_proxyerrors import Action, classify
from scrapy_proxyerrors._config import Config
from scrapy_proxyerrors._policy import backoff, decide
from scrapy_proxyerrors._routes import (
    Credentials,
    ProxyPool,
    basic_credentials,
    basic_header,
    route_id,
    session_of,
    with_new_session,
)
from scrapy_proxyerrors._state import MemoryState


def _decide(error, attempt=0, **kw):  # type: ignore[no-untyped-def]
    params = {
        "actions": {},
        "backoff_base": 1.0,
        "backoff_max": 8.0,
        "max_wait": 300.0,
        "rng": random.Random(0),
    }
    params.update(kw)
    return decide(error, attempt=attempt, **params)


def test_backoff_grows_and_is_capped_with_jitter() -> None:
    rng = random.Random(1)
    for attempt, step in [(0, 1.0), (1, 2.0), (2, 4.0), (3, 8.0), (9, 8.0)]:
        for _ in range(50):
            value = backoff(attempt, 1.0, 8.0, rng)
            assert step / 2 <= value <= step


def test_retry_after_is_honoured_exactly() -> None:
    error = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED", "Retry-After": "7"},
                     provider="soax")
    decision = _decide(error)
    assert (decision.action, decision.wait) == (Action.SLOWDOWN, 7.0)


def test_documented_minimum_wait() -> None:
    body = b'{"error": "blocked_by_target"}'
    error = classify(
        422,
        {"Retry-After": "1"},
        body,
        transport="api",  # type: ignore[arg-type]
        provider="chocodata",
    )
    assert _decide(error).wait == 60


def test_slowdown_without_wait_backs_off() -> None:
    error = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    assert 0.5 <= _decide(error).wait <= 1.0
    assert 2.0 <= _decide(error, attempt=2).wait <= 4.0


def test_rotate_does_not_wait() -> None:
    error = classify(502, {"X-SOAX-Error": "NODE_UNAVAILABLE"})
    assert _decide(error).wait == 0


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-SOAX-Error": "RATE_LIMIT_EXCEEDED", "Retry-After": "900"}, Action.STOP),  # account
        ({"Proxy-Status": "gw; error=connection_limit_reached", "Retry-After": "900"}, Action.DROP),
    ],
)
def test_long_waits_escalate_by_scope(headers: dict[str, str], expected: Action) -> None:
    # Named: a plain reply found by its signature header alone is capped.
    error = classify(429, headers, provider="soax" if "X-SOAX-Error" in headers else None)
    decision = _decide(error)
    assert decision.action is expected
    assert decision.escalated_from == 900


def test_overrides_by_code_then_status() -> None:
    error = classify(502, {"X-SOAX-Error": "NODE_NOT_FOUND"})
    assert _decide(error, actions={"soax/node_not_found": Action.DROP}).action is Action.DROP
    assert _decide(error, actions={"soax/502": Action.STOP}).action is Action.STOP
    assert (
        _decide(error, actions={"soax/node_not_found": Action.PASS, "soax/502": Action.STOP}).action
        is Action.PASS
    )


def test_memory_state_cooldown_grows_and_resets() -> None:
    state = MemoryState()
    assert state.record_failure("r", 100.0, 10.0) == 110.0
    assert state.record_failure("r", 100.0, 10.0) == 120.0
    assert state.record_failure("r", 100.0, 10.0) == 140.0
    state.record_success("r")
    assert state.record_failure("r", 200.0, 10.0) == 210.0
    assert state.record_failure("x", 0.0, math.inf) == math.inf
    state.pause("acct", 50.0)
    state.pause("acct", 40.0)  # a shorter pause never shortens a longer one
    assert state.paused_until("acct") == 50.0
    assert state.paused_until("other") == 0.0


def test_memory_state_is_bounded() -> None:
    state = MemoryState(max_entries=100)
    for i in range(10_000):
        state.record_failure(f"route-{i}", float(i), 1.0)
        state.pause(f"acct-{i}", float(i) + 1)
    assert len(state) < 1_000


def test_sessions() -> None:
    assert session_of("package-1-sessionid-abc-sessionlength-300", "sessionid") == "abc"
    assert session_of("user-session-xyz-country-us", "session") == "xyz"
    assert session_of("user-sessionid-xyz", "session") is None
    fresh = with_new_session("package-1-sessionid-abc-sessionlength-300", "sessionid", "NEW")
    assert fresh == "package-1-sessionid-NEW-sessionlength-300"
    assert route_id("http://u:p@gw.example:9000", "package-1-sessionid-abc", "sessionid") == (
        "gw.example:9000~abc"
    )
    assert "secretpw" not in route_id("http://u:secretpw@gw.example:9000", "u", None)


def test_basic_credentials_round_trip() -> None:
    creds = Credentials("user-session-1", "pa:ss")
    assert basic_credentials(basic_header(creds)) == creds
    assert basic_credentials(b"Basic !!!") is None
    assert basic_credentials(b"Bearer x") is None
    assert basic_credentials(None) is None


def test_pool_skips_resting_and_avoided_routes() -> None:
    pool = ProxyPool(["http://a:1", "http://b:2", "http://c:3"], lambda url: url[7:])
    state = MemoryState()
    assert [pool.pick(state, 0)[1] for _ in range(4)] == ["a:1", "b:2", "c:3", "a:1"]
    state.record_failure("b:2", 0, 100)
    assert [pool.pick(state, 1)[1] for _ in range(3)] == ["c:3", "a:1", "c:3"]
    assert pool.pick(state, 1, avoid="c:3")[1] == "a:1"
    state.record_failure("a:1", 0, 200)
    state.record_failure("c:3", 0, 50)
    # Everything rests: the one that recovers first, but never the avoided one.
    assert pool.pick(state, 1)[1] == "c:3"
    assert pool.pick(state, 1, avoid="c:3")[1] == "b:2"


def _config(**values: object) -> Config:
    return Config.from_settings(Settings(values))


def test_config_defaults() -> None:
    config = _config()
    assert config.max_retries == 2  # RETRY_TIMES
    assert config.proxies == ()
    assert 503 in config.retry_http_codes


def test_retry_enabled_false_means_no_provider_retries_either() -> None:
    assert _config(RETRY_ENABLED=False).max_retries == 0
    assert _config(RETRY_ENABLED=False, PROXYERRORS_MAX_RETRIES=3).max_retries == 3
    assert _config(RETRY_TIMES=5).max_retries == 5


def test_config_proxies_from_file(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "proxies.txt"
    path.write_text("# comment\nhttp://u:p@127.0.0.1:8001\n\n127.0.0.1:8002\n")
    assert _config(PROXYERRORS_PROXIES=str(path)).proxies == (
        "http://u:p@127.0.0.1:8001",
        "http://127.0.0.1:8002",
    )


@pytest.mark.parametrize(
    ("setting", "value", "fragment"),
    [
        ("PROXYERRORS_PROVIDER", "nosuch", "PROXYERRORS_PROVIDER='nosuch'"),
        ("PROXYERRORS_ACTIONS", {"soax/NODE_UNAVAILABLE": "explode"}, "unknown action"),
        ("PROXYERRORS_ACTIONS", {"nosuch/x": "drop"}, "PROXYERRORS_ACTIONS"),
        ("PROXYERRORS_ACTIONS", {"soax/NOT_A_CODE": "drop"}, "soax has no code"),
        ("PROXYERRORS_ACTIONS", {"soax": "drop"}, "provider/code"),
        ("PROXYERRORS_MAX_RETRIES", -1, "PROXYERRORS_MAX_RETRIES"),
        ("PROXYERRORS_MAX_RETRIES", "many", "PROXYERRORS_MAX_RETRIES"),
        ("PROXYERRORS_BACKOFF_BASE", -1, "PROXYERRORS_BACKOFF_BASE"),
        ("PROXYERRORS_BACKOFF_MAX", 0.1, "PROXYERRORS_BACKOFF_MAX"),
        ("PROXYERRORS_MAX_WAIT", "forever", "PROXYERRORS_MAX_WAIT"),
        ("PROXYERRORS_MAX_WAIT", float("nan"), "PROXYERRORS_MAX_WAIT"),
        ("PROXYERRORS_ROUTE_COOLDOWN", -5, "PROXYERRORS_ROUTE_COOLDOWN"),
        ("PROXYERRORS_PROXIES", "/nonexistent/proxies.txt", "cannot read the proxy file"),
        ("PROXYERRORS_PROXIES", ["ftp://127.0.0.1:21"], "expected http://"),
        ("PROXYERRORS_PROXIES", ["http://u:hunter22@127.0.0.1"], "needs a port"),
        ("PROXYERRORS_PROXIES", ["http://127.0.0.1:99999"], "malformed proxy URL"),
        ("PROXYERRORS_PROXIES", 42, "PROXYERRORS_PROXIES"),
        ("PROXYERRORS_STATE", "no.such.Thing", "PROXYERRORS_STATE"),
    ],
)
def test_bad_settings_name_the_setting(setting: str, value: object, fragment: str) -> None:
    with pytest.raises(NotConfigured) as info:
        _config(**{setting: value})
    message = str(info.value)
    assert setting in message
    assert fragment in message
    assert "hunter22" not in message


def test_long_failure_streaks_do_not_overflow() -> None:
    state = MemoryState()
    for _ in range(2_000):
        until = state.record_failure("r", 0.0, 1.0)
    assert until == MemoryState.MAX_GROWTH


# ------------------------------------------------------------------ plans

from scrapy_proxyerrors._policy import (  # noqa: E402
    Attempt,
    Budget,
    PauseOn,
    PolicyConfig,
    plan,
    plan_plain,
    stated_rate,
)

_CFG = PolicyConfig(backoff_base=1.0, backoff_max=8.0, max_wait=300.0, route_cooldown=30.0,
                    throttle_max_time=600.0, throttle_max_count=10)
_NOW = 1_000.0


def _plan(error, attempt=None, cfg=_CFG, now=_NOW, **kw):  # type: ignore[no-untyped-def]
    return plan(error, attempt=attempt or Attempt(), now=now, cfg=cfg, rng=random.Random(0), **kw)


def test_plan_rate_limit_is_throttling_with_an_account_pause() -> None:
    error = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED", "Retry-After": "7"},
                     provider="soax")
    p = _plan(error, Attempt(retries=5))
    assert p.action is Action.SLOWDOWN
    assert p.budget is Budget.THROTTLE
    assert (p.pause_on, p.pause, p.wait) == (PauseOn.ACCOUNT, 7.0, 7.0)
    assert p.give_up is None


def test_plan_retry_after_zero_waits_at_least_the_backoff() -> None:
    error = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED", "Retry-After": "0"})
    for throttled in range(4):
        p = _plan(error, Attempt(throttled=throttled))
        step = min(8.0, 2.0**throttled)
        assert step / 2 <= p.wait <= step
        assert p.pause == p.wait


def test_plan_throttle_budget_gives_up_by_count_and_by_time() -> None:
    error = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED", "Retry-After": "7"})
    p = _plan(error, Attempt(throttled=10))
    assert p.give_up is not None and "PROXYERRORS_THROTTLE_MAX_COUNT" in p.give_up
    p = _plan(error, Attempt(throttled=1, throttled_since=_NOW - 595))
    assert p.give_up is not None and "PROXYERRORS_THROTTLE_MAX_TIME" in p.give_up
    assert _plan(error, Attempt(throttled=1, throttled_since=_NOW - 500)).give_up is None


def test_plan_a_requests_own_budgets_beat_the_settings() -> None:
    """``proxyerrors_throttle_max_count`` / ``_max_time`` / ``proxyerrors_rotate_times``
    in meta (carried by the Attempt) beat the settings, both ways, and the
    give-up names the meta key."""
    error = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED", "Retry-After": "7"})
    p = _plan(error, Attempt(throttled=2, throttle_max_count=2))
    assert p.give_up == "throttled 2 times (meta proxyerrors_throttle_max_count=2)"
    assert _plan(error, Attempt(throttled=10, throttle_max_count=50)).give_up is None
    p = _plan(error, Attempt(throttled=1, throttled_since=_NOW - 5, throttle_max_time=10.0))
    assert p.give_up == "throttled for 12 s (meta proxyerrors_throttle_max_time=10 s)"
    since = _NOW - 5_000
    assert _plan(error, Attempt(throttled=1, throttled_since=since,
                                throttle_max_time=math.inf)).give_up is None
    node = classify(502, {"X-SOAX-Error": "NODE_UNAVAILABLE"})
    assert _plan(node, Attempt(rotated=1, rotate_times=1)).budget is Budget.RETRY
    assert _plan(node, Attempt(rotated=7, rotate_times=8)).budget is Budget.ROTATE
    assert _plan(node, Attempt(rotate_times=0)).budget is Budget.RETRY


def test_plan_longer_than_max_wait_escalates() -> None:
    error = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED", "Retry-After": "3600"},
                     provider="soax")
    p = _plan(error)
    assert p.action is Action.STOP  # an account-wide wait
    assert p.escalated_from == 3600.0


def test_plan_rotate_rests_the_route_and_does_not_wait() -> None:
    error = classify(502, {"X-SOAX-Error": "NODE_UNAVAILABLE"})
    p = _plan(error)
    assert p.action is Action.ROTATE
    assert p.wait == 0.0
    assert p.cooldown == 30.0
    assert p.pause_on is None


def test_plan_rotate_off_a_failed_route_has_its_own_budget() -> None:
    """The provider says the route failed (route scope): moving off it spends
    the rotation budget; once that is spent, RETRY_TIMES. A rotate rule of
    request scope is a retry of the page."""
    node = classify(502, {"X-SOAX-Error": "NODE_UNAVAILABLE"})
    assert _plan(node).budget is Budget.ROTATE
    assert _plan(node, Attempt(retries=2, rotated=4)).budget is Budget.ROTATE
    assert _plan(node, Attempt(rotated=5)).budget is Budget.RETRY
    cfg = dataclasses.replace(_CFG, rotate_times=0)
    assert _plan(node, cfg=cfg).budget is Budget.RETRY
    request_scoped = classify(502, {"X-SOAX-Error": "NODE_NOT_FOUND"})
    assert _plan(request_scoped).budget is Budget.RETRY


def test_plan_stated_rate_paces_with_a_margin() -> None:
    error = classify(
        429,
        {"X-RateLimit-Limit": "60", "X-RateLimit-Window": "60", "X-RateLimit-Remaining": "0",
         "Retry-After": "2"},
        b'{"error": "rate_limited"}',
        transport="api",  # type: ignore[arg-type]
        provider="wxapros",
    )
    p = _plan(error)
    assert p.rate == pytest.approx(0.95)
    no_headers = classify(429, {"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"})
    assert _plan(no_headers).rate is None
    # A documented rate paces from the first request (the scheduler's): the
    # margin is the same.
    assert stated_rate(None, None, 10.0) == pytest.approx(9.5)
    assert stated_rate(0, 60.0, 10.0) == pytest.approx(9.5)
    assert stated_rate(None, None, None) is None


def test_plan_concurrency_lowers_the_limit_and_internal_is_an_outage() -> None:
    p = _plan(classify(453, {}, b"", provider="proxiesfo"))
    assert p.lower_concurrency and p.budget is Budget.THROTTLE
    # The first refusal waits for a place under the lowered limit only: no
    # backoff, no pause of the account.
    assert (p.wait, p.pause_on, p.pause) == (0.0, None, 0.0)
    # A second refusal of the same request backs off; the account is never
    # paused for it (a forwarded reply could do that, unprobed).
    again = _plan(classify(453, {}, b"", provider="proxiesfo"), attempt=Attempt(throttled=1))
    assert again.wait > 0 and again.pause == 0.0 and again.pause_on is None
    p = _plan(classify(500, {}, b'{"error": "internal_error"}', transport="api",  # type: ignore[arg-type]
                       provider="chocodata"))
    assert p.outage and p.budget is Budget.RETRY


def test_plan_plain_honours_retry_after_and_backoff() -> None:
    p = plan_plain(503, "20", attempt=Attempt(), now=_NOW, cfg=_CFG, rng=random.Random(0))
    assert (p.action, p.wait, p.budget) == (Action.RETRY, 20.0, Budget.RETRY)
    p = plan_plain(503, "0", attempt=Attempt(retries=2), now=_NOW, cfg=_CFG,
                   rng=random.Random(0))
    assert 2.0 <= p.wait <= 4.0
    p = plan_plain(503, "3600", attempt=Attempt(), now=_NOW, cfg=_CFG, rng=random.Random(0))
    assert p.action is Action.PASS
    p = plan_plain(None, None, attempt=Attempt(), now=_NOW, cfg=_CFG, rng=random.Random(0),
                   route_failure=True)
    assert (p.action, p.cooldown) == (Action.ROTATE, 30.0)
