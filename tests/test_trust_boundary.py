"""The trust boundary for plain HTTP.

Through a gateway, a plain ``http://`` reply may be the target's, forwarded
with any headers the target chose. So:

* a provider that tags every error of its own (``Profile.tagged``: SOAX's
  ``X-SOAX-Error``, helodata's ``X-Helodata-Error-Code``) never claims an
  untagged plain reply: a target's bare ``429`` with ``Retry-After: 3600`` is
  not SOAX's, and cannot pause or stop anything;
* a provider header seen on a plain reply through a proxy that no profile
  names (a generic pool) never makes it a provider that can stop, pause an
  account or drop: the claim is capped at pass/retry/rotate and kept in
  ``error.claimed``;
* an account-wide stop over plain HTTP needs corroboration: a CONNECT probe
  through the same proxy, whose reply can only be the proxy's
  (:mod:`scrapy_proxyerrors._probe`).

The real provider's auth or quota failure still stops: tagged, on its own
host or named, and on CONNECT.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest
import pytest_twisted
from scrapy.http.headers import Headers
from scrapy.utils.defer import deferred_from_coro

from scrapy_proxyerrors import BUILTIN_PROFILES, Action, Scope, Transport, classify
from scrapy_proxyerrors._probe import (
    connect_probe,
    corroborate,
    needs_corroboration,
    parse_connect_reply,
)
from scrapy_proxyerrors._tunnel import ConnectReply
from scrapy_proxyerrors.emulator import Emulator, Reply

from .crawling import Outcome, make_crawler

NOW = 1_714_339_188.0
SOAX_HOST = "http://package-1:key@proxy.soax.com:5000"
HELODATA_HOST = "http://u:p@gw.helodata.com:8000"
REACHING = {Action.STOP, Action.DROP}

TARGET_429 = {"Retry-After": "3600", "Content-Type": "text/html"}


# ------------------------------------------------------------- tagged providers


@pytest.mark.parametrize(("how", "value"), [
    ("provider", "soax"), ("proxy_url", SOAX_HOST),
    ("provider", "helodata"), ("proxy_url", HELODATA_HOST),
])
@pytest.mark.parametrize("status", [400, 403, 407, 429, 502, 503, 504])
def test_a_tagged_provider_never_claims_an_untagged_plain_reply(
    how: str, value: str, status: int
) -> None:
    """The target's own error, forwarded: not the provider's (no stop, no pause)."""
    error = classify(status, TARGET_429, b"<html>slow down</html>", now=NOW, **{how: value})
    assert error is None


def test_a_tagged_provider_still_reads_its_tagged_replies() -> None:
    """The real provider's auth or quota failure still stops (plain and CONNECT)."""
    for transport in (Transport.PLAIN, Transport.CONNECT):
        for status, code, action in [(407, "AUTH_FAILED", Action.STOP),
                                     (407, "PACKAGE_NO_CREDITS", Action.STOP),
                                     (429, "RATE_LIMIT_EXCEEDED", Action.SLOWDOWN)]:
            error = classify(status, {"X-SOAX-Error": code}, proxy_url=SOAX_HOST,
                             transport=transport, now=NOW)
            assert error is not None and (error.code, error.action) == (code, action)
            assert error.claimed is None
        error = classify(407, {"X-Helodata-Error-Code": "auth-failed"}, provider="helodata",
                         transport=transport, now=NOW)
        assert error is not None and error.action is Action.STOP


def test_a_tagged_providers_bare_connect_refusal_is_still_its_own() -> None:
    """On CONNECT the reply can only be the proxy's: status rules apply."""
    error = classify(407, {}, proxy_url=SOAX_HOST, transport=Transport.CONNECT, now=NOW)
    assert error is not None and (error.provider, error.action) == ("soax", Action.STOP)


def test_which_builtin_profiles_are_tagged() -> None:
    tagged = sorted(name for name, p in BUILTIN_PROFILES.items() if p.tagged)
    assert tagged == ["helodata", "soax"]
    for name in tagged:
        assert BUILTIN_PROFILES[name].code_headers


# ------------------------------------------------------- signature detection


def test_a_targets_provider_header_does_not_stop_a_generic_pool() -> None:
    """The issue's case: no provider set, a target sends helodata's header."""
    headers = {"X-Helodata-Error-Code": "account-suspended"}
    error = classify(403, headers, proxy_url="http://u:p@10.1.2.3:3128", now=NOW)
    assert error is not None and error.provider == "helodata"
    assert error.action not in REACHING and error.scope in (Scope.REQUEST, Scope.ROUTE)
    assert error.claimed is not None and error.claimed.action is Action.STOP
    # The same header on the proxy's reply to CONNECT is the proxy's own word.
    tunnel = classify(403, headers, proxy_url="http://u:p@10.1.2.3:3128",
                      transport=Transport.CONNECT, now=NOW)
    assert tunnel is not None and tunnel.action is Action.STOP and tunnel.claimed is None


def _signed_replies() -> list[tuple[str, int, dict[str, str]]]:
    """Every rule of every built-in proxy profile, as a reply carrying only the
    profile's signature/code header (what a target could forge)."""
    found = []
    for name, profile in BUILTIN_PROFILES.items():
        if not profile.signature_headers:
            continue
        header = (profile.code_headers or profile.signature_headers)[0]
        for rule in profile.rules:
            code = rule.code[:-1] + "x" if rule.code and rule.is_family else rule.code
            found.append((name, rule.status or 503, {header: code or "x"}))
    return found


@pytest.mark.parametrize(("name", "status", "headers"), _signed_replies())
def test_no_forged_header_on_a_plain_reply_can_stop_pause_or_drop(
    name: str, status: int, headers: dict[str, str]
) -> None:
    """Through a proxy no profile names, whatever a target forges: at most
    pass/retry/rotate, at most the route, with a long Retry-After too."""
    forged = {**headers, "Retry-After": "3600"}
    error = classify(status, forged, proxy_url="http://10.9.8.7:8080", now=NOW)
    if error is None:
        return
    assert error.action not in REACHING, (name, error)
    assert not (error.action is Action.SLOWDOWN and error.scope is Scope.ACCOUNT)
    assert error.scope not in (Scope.ACCOUNT, Scope.CRAWL)
    assert not needs_corroboration(error, Transport.CONNECT)


# ------------------------------------------------------------- corroboration


def _error(headers: dict[str, str], status: int = 407, **kwargs: Any) -> Any:
    error = classify(status, headers, now=NOW, **kwargs)
    assert error is not None
    return error


def test_needs_corroboration() -> None:
    auth = _error({"X-SOAX-Error": "AUTH_FAILED"}, provider="soax")
    rate = _error({"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"}, 429, provider="soax")
    node = _error({"X-SOAX-Error": "NODE_UNAVAILABLE"}, 502, provider="soax")
    capped = _error({"X-SOAX-Error": "AUTH_FAILED"})
    assert needs_corroboration(auth, Transport.PLAIN)
    assert needs_corroboration(rate, "plain")
    assert needs_corroboration(capped, Transport.PLAIN)
    assert not needs_corroboration(node, Transport.PLAIN)
    for transport in (Transport.CONNECT, Transport.API):
        assert not needs_corroboration(auth, transport)


def _reply(status: int, headers: dict[str, str] | None = None) -> ConnectReply:
    return ConnectReply(status, "", Headers(headers or {}), b"", "10.0.0.1:8080")


def test_a_matching_connect_refusal_restores_the_claim() -> None:
    capped = _error({"X-SOAX-Error": "AUTH_FAILED"})
    assert capped.action is not Action.STOP
    confirmed = corroborate(capped, _reply(407, {"X-SOAX-Error": "AUTH_FAILED"}))
    assert (confirmed.action, confirmed.scope, confirmed.claimed) == (
        Action.STOP, Scope.ACCOUNT, None)
    named = _error({"X-SOAX-Error": "PACKAGE_NO_CREDITS"}, provider="soax")
    assert corroborate(named, _reply(407, {"X-SOAX-Error": "PACKAGE_NO_CREDITS"})) == named


@pytest.mark.parametrize("reply", [
    None,
    _reply(200),
    _reply(502, {"X-SOAX-Error": "NODE_UNAVAILABLE"}),
    _reply(403, {"X-Squid-Error": "ERR_ACCESS_DENIED 0"}),
])
def test_no_matching_refusal_caps_the_claim(reply: ConnectReply | None) -> None:
    named = _error({"X-SOAX-Error": "AUTH_FAILED"}, provider="soax")
    assert named.action is Action.STOP
    seen = corroborate(named, reply)
    assert seen.action not in REACHING and seen.scope in (Scope.REQUEST, Scope.ROUTE)
    assert seen.claimed is not None and seen.claimed.action is Action.STOP


def test_parse_connect_reply() -> None:
    data = b"HTTP/1.1 407 Proxy Auth\r\nX-SOAX-Error: AUTH_FAILED\r\nContent-Length: 2\r\n\r\nno"
    reply = parse_connect_reply(data, "h:1")
    assert reply is not None
    assert (reply.status, reply.reason) == (407, "Proxy Auth")
    assert (reply.body, reply.proxy) == (b"no", "h:1")
    assert reply.headers.get("X-SOAX-Error") == b"AUTH_FAILED"
    assert parse_connect_reply(b"SSH-2.0-OpenSSH\r\n\r\n") is None
    assert parse_connect_reply(b"") is None


@pytest_twisted.inlineCallbacks
def test_connect_probe_through_the_emulator() -> Any:
    """The probe carries the proxy's credentials and returns the proxy's reply."""
    with Emulator("soax", password="GoodKey-123") as emu:
        good = emu.proxy_url(user="package-1")
        bad = emu.proxy_url(user="package-1", password="wrong")
        opened = yield deferred_from_coro(connect_probe(good, "example.com"))
        refused = yield deferred_from_coro(connect_probe(bad, "example.com"))
        kinds = [(r.kind, r.url) for r in emu.requests]
    assert opened is not None and opened.status == 200
    assert refused is not None and refused.status == 407
    assert refused.headers.get("X-SOAX-Error") == b"AUTH_FAILED"
    assert kinds == [("connect", "example.com:443")] * 2
    error = _error({"X-SOAX-Error": "AUTH_FAILED"})
    assert corroborate(error, refused).action is Action.STOP
    assert corroborate(error, opened).action is not Action.STOP


@pytest_twisted.inlineCallbacks
def test_connect_probe_to_nothing_is_none() -> Any:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    reply = yield deferred_from_coro(connect_probe(f"http://127.0.0.1:{port}", "example.com"))
    assert reply is None


# ------------------------------------------------------------------- crawls


def _hostile(bad_host: str, reply: Reply) -> Any:
    def responder(record: Any) -> Reply | None:
        return reply if record.kind == "plain" and bad_host in record.url else None
    return responder


@pytest.mark.parametrize("provider", ["soax", "helodata"])
@pytest_twisted.inlineCallbacks
def test_a_hostile_target_cannot_pause_or_stop_a_tagged_providers_crawl(provider: str) -> Any:
    """A multi-site crawl through a named tagged provider: one site answers a
    bare 429 with Retry-After: 3600; every other site is crawled in full."""
    with Emulator(provider) as emu:
        emu.set_responder(_hostile("hostile.test", Reply(429, TARGET_429, b"slow")))
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_PROVIDER": provider, "CONCURRENT_REQUESTS": 4,
                                "RETRY_TIMES": 1})
        urls = [emu.target_url(f"/page/{i}", host=host)
                for i in range(1, 6) for host in ("hostile.test", "a.test", "b.test")]
        yield crawler.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in urls],
                            outcome=outcome)
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert sorted(u for u in outcome.ok_urls if "hostile" not in u) == sorted(
        u for u in urls if "hostile" not in u)
    assert not any(k.startswith(("proxyerrors/stop", "proxyerrors/action/slowdown"))
                   for k in stats)


@pytest_twisted.inlineCallbacks
def test_a_hostile_target_cannot_stop_a_generic_pools_crawl() -> Any:
    """No provider set: a target forges helodata's account-suspended header."""
    forged = Reply(403, {"X-Helodata-Error-Code": "account-suspended"}, b"")
    with Emulator("generic") as emu:
        emu.set_responder(_hostile("hostile.test", forged))
        outcome = Outcome()
        crawler = make_crawler({"CONCURRENT_REQUESTS": 2})
        urls = [emu.target_url(f"/page/{i}", host=host)
                for i in range(1, 6) for host in ("hostile.test", "a.test", "b.test")]
        yield crawler.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in urls],
                            outcome=outcome)
    assert crawler.stats.get_value("finish_reason") == "finished"
    assert len([u for u in outcome.ok_urls if "hostile" not in u]) == 10


@pytest_twisted.inlineCallbacks
def test_an_unnamed_providers_auth_failure_stops_a_single_site_crawl() -> Any:
    """The real failure, found by its header alone over plain HTTP, still
    stops a crawl of one site within a handful of requests (today through the
    middleware's learning; once it learns only from trusted replies, through
    the CONNECT probe, which the emulator refuses the same way)."""
    with Emulator("soax", scenario="auth_failed") as emu:
        proxy = emu.proxy_url(user="package-1", password="wrong")
        crawler = make_crawler({"CONCURRENT_REQUESTS": 2})
        urls = [emu.target_url(f"/page/{i}") for i in range(30)]
        yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in urls])
        plain = [r for r in emu.requests if r.kind == "plain"]
    assert crawler.stats.get_value("finish_reason") == "proxyerrors_auth"
    assert len(plain) <= 4


def test_a_user_profile_can_be_tagged() -> None:
    from scrapy_proxyerrors._userprofiles import load_user_profiles

    rule = {"status": 429, "category": "rate_limit", "action": "slowdown", "scope": "account"}
    user = load_user_profiles(
        {"acme": {"code_headers": ["X-Acme-Error"], "tagged": True, "rules": [rule]}},
        BUILTIN_PROFILES,
    )
    profiles = {**BUILTIN_PROFILES, **user}
    assert user["acme"].tagged
    assert classify(429, TARGET_429, provider="acme", profiles=profiles, now=NOW) is None
    own = classify(429, {"X-Acme-Error": "SLOW"}, provider="acme", profiles=profiles, now=NOW)
    assert own is not None and own.action is Action.SLOWDOWN


@pytest_twisted.inlineCallbacks
def test_the_corroborator_shares_and_remembers_probes() -> Any:
    """A burst of refusals costs one CONNECT; after the ttl, a new one."""
    from twisted.internet import defer

    from scrapy_proxyerrors._probe import Corroborator

    now = [100.0]
    with Emulator("soax", scenario="auth_failed") as emu:
        proxy = emu.proxy_url(user="package-1", password="wrong")
        corroborator = Corroborator(ttl=30.0, clock=lambda: now[0])
        claimed = _error({"X-SOAX-Error": "AUTH_FAILED"})
        checks = [deferred_from_coro(corroborator.check(claimed, proxy_url=proxy,
                                                        target_host="example.com"))
                  for _ in range(5)]
        results = yield defer.gatherResults(checks)
        assert corroborator.probes == 1
        assert [r.action for r in results] == [Action.STOP] * 5
        yield deferred_from_coro(corroborator.check(claimed, proxy_url=proxy,
                                                    target_host="example.com"))
        assert corroborator.probes == 1
        now[0] += 31
        yield deferred_from_coro(corroborator.check(claimed, proxy_url=proxy,
                                                    target_host="example.com"))
        connects = [r for r in emu.requests if r.kind == "connect"]
    assert corroborator.probes == 2 and len(connects) == 2


def _forgeable_claims() -> list[Any]:
    """Per built-in proxy profile with a signature header: one rule that would
    stop the crawl or pause the account, as a reply a target could forge."""
    found = []
    for name, profile in sorted(BUILTIN_PROFILES.items()):
        if profile.kind != "proxy" or not profile.signature_headers:
            continue
        header = (profile.code_headers or profile.signature_headers)[0]
        for rule in profile.rules:
            reaching = rule.action is Action.STOP or (
                rule.action is Action.SLOWDOWN and rule.scope in (Scope.ACCOUNT, Scope.CRAWL))
            if reaching and rule.code and not rule.is_family:
                found.append(pytest.param(rule.status or 403, {header: rule.code}, id=name))
                break
    return found


@pytest.mark.parametrize(("status", "headers"), _forgeable_claims())
@pytest_twisted.inlineCallbacks
def test_a_hostile_target_cannot_stop_or_pause_a_multi_site_crawl(
    status: int, headers: dict[str, str]
) -> Any:
    """No provider set, a generic pool: one site forges a provider's stop or
    account-pause reply over plain HTTP. The CONNECT probe through the same
    proxy opens a tunnel, so the claim stays capped: every other site is
    crawled in full, nothing stops, nothing pauses the account."""
    forged = Reply(status, {**headers, "Retry-After": "3600"}, b"")
    with Emulator("generic") as emu:
        emu.set_responder(_hostile("hostile.test", forged))
        outcome = Outcome()
        crawler = make_crawler({"CONCURRENT_REQUESTS": 4, "RETRY_TIMES": 1})
        urls = [emu.target_url(f"/page/{i}", host=host)
                for i in range(1, 6) for host in ("hostile.test", "a.test", "b.test")]
        yield crawler.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in urls],
                            outcome=outcome)
        probes = [r for r in emu.requests if r.kind == "connect"]
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert sorted(u for u in outcome.ok_urls if "hostile" not in u) == sorted(
        u for u in urls if "hostile" not in u)
    assert not any(k.startswith(("proxyerrors/stop", "proxyerrors/action/slowdown",
                                 "proxyerrors/action/stop", "proxyerrors/action/drop"))
                   for k in stats), stats
    # The forgery was seen, probed, and not confirmed.
    assert probes and stats["proxyerrors/corroboration/refuted"] >= 1
    assert "proxyerrors/corroboration/confirmed" not in stats


def test_a_capped_claims_long_wait_never_escalates_to_drop_or_stop() -> None:
    """A forged Retry-After: 3600 on a capped claim is handed on (as stock
    Scrapy would), never turned into a drop or a stop."""
    import random

    from scrapy_proxyerrors._policy import Attempt, PolicyConfig, plan

    forged = {"X-Helodata-Error-Code": "account-suspended", "Retry-After": "3600"}
    error = classify(403, forged, proxy_url="http://10.9.8.7:8080", now=NOW)
    assert error is not None and error.claimed is not None
    decided = plan(error, attempt=Attempt(), now=NOW, cfg=PolicyConfig(max_wait=300.0),
                   rng=random.Random(0))
    assert decided.action not in REACHING


def test_a_remembered_probe_judges_only_claims_of_its_category() -> None:
    """A tunnel opened a moment ago for a rate-limit claim says nothing about
    a credits claim: that one needs its own probe (``known`` is ``None``)."""
    from scrapy_proxyerrors._probe import Corroborator

    corroborator = Corroborator(clock=lambda: 100.0)
    corroborator.remember(SOAX_HOST, _reply(200), topic="rate_limit")
    rate = _error({"X-SOAX-Error": "RATE_LIMIT_EXCEEDED"}, 429, provider="soax")
    credits = _error({"X-SOAX-Error": "PACKAGE_NO_CREDITS"}, provider="soax")
    judged = corroborator.known(rate, proxy_url=SOAX_HOST)
    assert judged is not None and judged.claimed is not None
    assert corroborator.known(credits, proxy_url=SOAX_HOST) is None
    corroborator.remember(SOAX_HOST, _reply(407, {"X-SOAX-Error": "PACKAGE_NO_CREDITS"}),
                          topic=str(credits.category))
    confirmed = corroborator.known(credits, proxy_url=SOAX_HOST)
    assert confirmed is not None and confirmed.action is Action.STOP
