"""Credentials stay with their proxy.

When a request moves from proxy A to proxy B (pool rotation) its retry is a
copy of the request that went to A, ``Proxy-Authorization`` included. B must
get B's credentials, a proxy without credentials must get none, a rotated
sticky session must keep its gateway's password, and the target site must
never see a proxy credential, over plain HTTP and over HTTPS (the CONNECT
request's header). The emulators record exactly what they received.
"""

from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any

import pytest_twisted

from scrapy_proxyerrors.emulator import Emulator, Reply, RequestRecord

from .crawling import Outcome, make_crawler

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

PASSWORDS = {"a": "pw-Alice-111", "b": "pw-Bob-222"}
SETTINGS = {
    "PROXYERRORS_PROVIDER": "soax",
    # Failed routes do not rest: rotation keeps cycling through every proxy.
    "PROXYERRORS_ROUTE_COOLDOWN": 0,
    "CONCURRENT_REQUESTS": 4,
    # A and B refuse their first CONNECTs: one URL may meet A, B and A again
    # before the open proxy; what is tested is where credentials go, not the
    # retry budget.
    "RETRY_TIMES": 8,
}


def _has_proxy_auth(record: RequestRecord) -> bool:
    return any(name.lower() == "proxy-authorization" for name in record.headers)


def _fail_first_attempt(emu: Emulator) -> Callable[[RequestRecord], Reply | None]:
    """NODE_UNAVAILABLE (rotate) for the first request of each URL this proxy sees,
    and for its first few CONNECTs (which name no URL)."""
    lock = threading.Lock()
    seen: set[str] = set()
    connects = itertools.count()

    def responder(record: RequestRecord) -> Reply | None:
        with lock:
            if record.kind == "connect":
                return emu.error_reply("NODE_UNAVAILABLE") if next(connects) < 4 else None
            if record.url in seen:
                return None
            seen.add(record.url)
            return emu.error_reply("NODE_UNAVAILABLE")

    return responder


def _open_proxy(record: RequestRecord) -> Reply | None:
    """A proxy that wants no credentials: answers (or opens the tunnel) itself."""
    if record.kind == "connect":
        return Reply(200, [], b"", "Connection established")
    return Reply(200, [("Content-Type", "text/html")], b"<html>via the open proxy</html>")


def _three_proxies() -> Iterator[tuple[Emulator, Emulator, Emulator]]:
    with Emulator("soax", user="alice", password=PASSWORDS["a"]) as a, \
            Emulator("soax", user="bob", password=PASSWORDS["b"]) as b, \
            Emulator("soax") as open_:
        a.set_responder(_fail_first_attempt(a))
        b.set_responder(_fail_first_attempt(b))
        open_.set_responder(_open_proxy)
        yield a, b, open_


def _assert_each_proxy_got_only_its_own(a: Emulator, b: Emulator, open_: Emulator) -> None:
    for emu, name in ((a, "a"), (b, "b")):
        records = [r for r in emu.requests if r.kind != "target"]
        assert records, f"proxy {name} was never used"
        wrong = {(r.user, r.password) for r in records} - {(emu.user, PASSWORDS[name])}
        assert not wrong, f"proxy {name} received foreign credentials {wrong}"
    open_records = [r for r in open_.requests if r.kind != "target"]
    assert open_records, "the proxy without credentials was never used"
    assert not [r for r in open_records if _has_proxy_auth(r)], "credentials sent to it"
    for emu in (a, b, open_):
        targets = [r for r in emu.requests if r.kind == "target"]
        assert not [r for r in targets if _has_proxy_auth(r)], "the target saw a credential"


@pytest_twisted.inlineCallbacks
def _crawl_pool(https: bool) -> Any:
    for a, b, open_ in _three_proxies():
        proxies = [
            f"http://alice:{PASSWORDS['a']}@127.0.0.1:{a.ports['proxy'][0]}",
            f"http://bob:{PASSWORDS['b']}@127.0.0.1:{b.ports['proxy'][0]}",
            f"http://127.0.0.1:{open_.ports['proxy'][0]}",
        ]
        urls = [a.target_url(f"/page/{i}", https=https) for i in range(24)]
        outcome = Outcome()
        crawler = make_crawler({**SETTINGS, "PROXYERRORS_PROXIES": proxies})
        yield crawler.crawl(requests=[(u, {}) for u in urls], outcome=outcome)
        assert sorted(outcome.ok_urls) == sorted(urls)
        # Each of A and B refused at least once and its request moved on (how
        # many more depends on their cooldowns against the crawl's pace).
        assert crawler.stats.get_value("proxyerrors/rotate/proxy") >= 2
        _assert_each_proxy_got_only_its_own(a, b, open_)
        if not https:
            # The same URL reached several proxies: requests really moved.
            where: dict[str, set[str]] = {}
            for emu, name in ((a, "a"), (b, "b"), (open_, "open")):
                for record in emu.requests:
                    if record.kind == "plain":
                        where.setdefault(record.url, set()).add(name)
            # (Which proxies one URL meets depends on the pool's ring order: a
            # URL refused by one may go straight to the open one, or through
            # the other first.)
            assert any(
                {"a", "open"} <= names or {"b", "open"} <= names for names in where.values()
            )


@pytest_twisted.inlineCallbacks
def test_pool_rotation_over_http_keeps_credentials_with_their_proxy() -> Any:
    """A to B to an open proxy over http://: each proxy gets its own credentials
    or none, and the target none."""
    yield _crawl_pool(https=False)


@pytest_twisted.inlineCallbacks
def test_pool_rotation_over_https_keeps_credentials_with_their_proxy() -> Any:
    """The same through CONNECT: the CONNECT request's Proxy-Authorization is
    the proxy's own, an open proxy gets none, and nothing reaches the tunnel."""
    yield _crawl_pool(https=True)


@pytest_twisted.inlineCallbacks
def test_session_rotation_keeps_each_gateways_password() -> Any:
    """Two gateways with sticky sessions (no pool): a failed session is replaced
    by a fresh id with the same gateway's password, plain and CONNECT."""
    with Emulator("soax", password=PASSWORDS["a"]) as a, \
            Emulator("soax", password=PASSWORDS["b"]) as b:
        a.set_responder(_fail_first_attempt(a))
        b.set_responder(_fail_first_attempt(b))
        requests = []
        for emu, name in ((a, "a"), (b, "b")):
            for i in range(6):
                proxy = emu.proxy_url(user=f"package-1-sessionid-{name}{i}-sessionlength-300")
                for https in (False, True):
                    page = (0 if name == "a" else 50) + i * 2 + https
                    requests.append((a.target_url(f"/page/{page}", https=https),
                                     {"proxy": proxy}))
        outcome = Outcome()
        crawler = make_crawler({**SETTINGS, "CONCURRENT_REQUESTS": 2})
        yield crawler.crawl(requests=requests, outcome=outcome)
    assert len(outcome.ok_urls) == len(requests)
    assert crawler.stats.get_value("proxyerrors/rotate/session") >= 12
    for emu, name in ((a, "a"), (b, "b")):
        records = [r for r in emu.requests if r.kind != "target"]
        assert {r.password for r in records} == {PASSWORDS[name]}
        sessions = {r.session for r in records}
        originals = {f"{name}{i}" for i in range(6)}
        assert originals <= sessions, "the original sessions were used first"
        assert sessions - originals, "failed sessions were replaced by fresh ids"
        # The rest of the username (package, sessionlength) is kept.
        assert {r.user.replace(r.session or "", "S") for r in records if r.user} == {
            "package-1-sessionid-S-sessionlength-300"
        }
    for record in a.requests:
        if record.kind == "target":
            assert not _has_proxy_auth(record)


@pytest_twisted.inlineCallbacks
def test_every_retry_from_a_credentialed_proxy_to_an_open_one_drops_the_header() -> Any:
    """Two proxies, one at a time: every failure at the credentialed proxy moves
    to the open one, whose copy of the request must not keep the old header."""
    for a, _b, open_ in _three_proxies():
        proxies = [
            f"http://alice:{PASSWORDS['a']}@127.0.0.1:{a.ports['proxy'][0]}",
            f"http://127.0.0.1:{open_.ports['proxy'][0]}",
        ]
        outcome = Outcome()
        crawler = make_crawler({**SETTINGS, "PROXYERRORS_PROXIES": proxies,
                                "CONCURRENT_REQUESTS": 1})
        urls = [a.target_url(f"/page/{i}", https=https) for i in range(4)
                for https in (False, True)]
        yield crawler.crawl(requests=[(u, {}) for u in urls], outcome=outcome)
        assert sorted(outcome.ok_urls) == sorted(urls)
        open_records = [r for r in open_.requests if r.kind != "target"]
        assert open_records and not [r for r in open_records if _has_proxy_auth(r)]
        assert {r.password for r in a.requests if r.kind != "target"} == {PASSWORDS["a"]}
