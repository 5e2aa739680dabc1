"""Secrets never leak: proxy passwords, SOAX package keys, API keys.

Real crawls through the emulators go down every path (success, retry, rotate
through the pool and through sessions, slowdown, drop, stop, pass, retries
exhausted, a refused CONNECT through the plugin's HTTPS handler and through
Scrapy's aiohttp handler), with recognisable secrets. Then everything a
person or a program could read afterwards is searched: every log record of
every logger at DEBUG (message and traceback), stats keys and values, what
reaches errbacks, the text report and the JSON report file. The secret, its
percent-encoded form and the base64 ``Proxy-Authorization`` token of every
user:password pair must appear nowhere.

The emulator's own log lines are left out: it is the test's stand-in for a
provider, not part of a crawl.
"""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import threading
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
import pytest_twisted
from scrapy.http import Request

from scrapy_proxyerrors import ProviderErrorDropped
from scrapy_proxyerrors._tunnel import connect_reply
from scrapy_proxyerrors.emulator import Emulator, Reply, RequestRecord
from scrapy_proxyerrors.report import build_report

from .crawling import ListSpider, Outcome, make_crawler

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from pathlib import Path


PROXY_PW = "S3cr3tProxyPw-PQR"
SOAX_KEY = "S3cr3tPackageKey-XYZ"
API_KEY = "S3cr3tApiKey-ABC"
HEADER_KEY = "S3cr3tHeaderKey-DEF"
SECRETS = (PROXY_PW, SOAX_KEY, API_KEY, HEADER_KEY)
AIOHTTP_HANDLER = "scrapy.core.downloader.handlers._aiohttp.AiohttpDownloadHandler"
#: Scrapy's aiohttp handler (and its DownloadFailedError) came in 2.19 / 2.15.
NEEDS_AIOHTTP_HANDLER = pytest.mark.skipif(
    importlib.util.find_spec("scrapy.core.downloader.handlers._aiohttp") is None,
    reason="Scrapy < 2.19 has no aiohttp download handler",
)


class HeaderSpider(ListSpider):
    """ListSpider whose requests may carry headers (``meta["headers"]``)."""

    async def start(self) -> Any:
        for url, meta in self.to_request:
            meta = dict(meta)
            headers = meta.pop("headers", None)
            yield Request(url, meta=meta, headers=headers, callback=self.parse,
                          errback=self.errback, dont_filter=True)


def forms(users: Iterable[str]) -> list[str]:
    """Every form a secret could leak in."""
    found = set()
    for secret in SECRETS:
        found |= {secret, quote(secret, safe=""), secret.lower()}
        for user in users:
            token = base64.b64encode(f"{user}:{secret}".encode()).decode()
            found.add(token)
    return sorted(found)


class Evidence:
    """Everything readable after a crawl, as text, with where it came from."""

    def __init__(self) -> None:
        self.items: list[tuple[str, str]] = []

    def add(self, where: str, text: object) -> None:
        self.items.append((where, str(text)))

    def collect(self, crawler: Any, caplog: pytest.LogCaptureFixture, outcome: Outcome,
                report_file: Path) -> None:
        formatter = logging.Formatter()
        for record in caplog.records:
            if record.name.startswith("scrapy_proxyerrors.emulator"):
                continue
            self.add(f"log {record.name} {record.levelname}", record.getMessage())
            if record.exc_info:
                self.add(f"traceback {record.name}", formatter.formatException(record.exc_info))
        self.add("caplog.text", "\n".join(
            line for line in caplog.text.splitlines() if "scrapy_proxyerrors.emulator" not in line
        ))
        stats = crawler.stats.get_stats()
        for key, value in stats.items():
            self.add("stats key", key)
            self.add(f"stats value {key}", value)
        for failure in outcome.failures:
            self.add("errback message", failure.getErrorMessage())
            self.add("errback repr", repr(failure.value))
            self.add("errback traceback", failure.getTraceback())
            if isinstance(failure.value, ProviderErrorDropped):
                self.add("dropped error", repr(failure.value.error))
        for response in outcome.responses:
            error = response.meta.get("proxyerrors_error")
            if error is not None:
                self.add("meta error", repr(error))
        self.add("text report", build_report(stats).to_text())
        self.add("json report", report_file.read_text())

    def assert_clean(self, users: Iterable[str]) -> None:
        leaks = [
            f"{where}: ...{text[max(0, text.find(form) - 80):text.find(form) + 40]}..."
            for form in forms(users)
            for where, text in self.items
            if form in text
        ]
        assert not leaks, "secrets leaked:\n" + "\n".join(dict.fromkeys(leaks))


def _scripted(by_key: dict[str, Callable[[int], Reply | None]]
              ) -> Callable[[RequestRecord], Reply | None]:
    """A responder: the reply for the n-th request whose URL contains a key.

    CONNECT records name ``host:port`` only, so each behaviour gets its own
    target host (the emulator serves any host from its own site).
    """
    lock = threading.Lock()
    attempts: dict[str, int] = {}

    def responder(record: RequestRecord) -> Reply | None:
        with lock:
            attempts[record.url] = attempt = attempts.get(record.url, 0) + 1
        for key, script in by_key.items():
            if key in record.url:
                return script(attempt)
        return None

    return responder


def _first(reply: Reply) -> Callable[[int], Reply | None]:
    return lambda attempt: reply if attempt == 1 else None


def _always(reply: Reply) -> Callable[[int], Reply | None]:
    return lambda attempt: reply


def _settings(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "PROXYERRORS_REPORT_FILE": str(tmp_path / "report.json"),
        "PROXYERRORS_ROUTE_COOLDOWN": 0,
        "PROXYERRORS_ACTIONS": {
            "soax/RETRIES_EXHAUSTED": "drop",
            "soax/BOUND_NODE_FAILED": "pass",
            "chocodata/placeholder_page": "pass",
        },
        "HTTPERROR_ALLOW_ALL": False,
        **extra,
    }


@pytest_twisted.inlineCallbacks
def test_proxy_crawl_every_action_leaks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Any:
    """Pool rotation, session rotation, retry, slowdown, drop, pass and retries
    exhausted through SOAX gateways, plain and CONNECT, with package keys in
    the password and provider details that echo them."""
    caplog.set_level(logging.DEBUG)
    echo = f"Package key {SOAX_KEY} / {PROXY_PW} refused"
    with Emulator("soax", password=SOAX_KEY) as pool_a, \
            Emulator("soax", password=SOAX_KEY) as pool_b, \
            Emulator("soax", password=PROXY_PW) as gateway:
        for emu in (pool_a, pool_b, gateway):
            def err(code: str, emu: Emulator = emu, **kw: Any) -> Reply:
                return emu.error_reply(code, detail=echo, **kw)

            emu.set_responder(_scripted({
                "b1-": _first(err("NODE_NOT_FOUND")),  # retry
                "b2-": _first(err("NODE_UNAVAILABLE")),  # rotate
                "b3-": _first(err("RATE_LIMIT_EXCEEDED", retry_after=0.2)),  # slowdown
                "b4-": _first(err("RETRIES_EXHAUSTED")),  # drop (override)
                "b5-": _first(err("BOUND_NODE_FAILED")),  # pass (override)
                "b6-": _always(err("NODE_NOT_FOUND")),  # gave up retrying
            }))
        pool_users = ["package-1-sessionid-pa", "package-1-sessionid-pb"]
        proxies = [
            f"http://{pool_users[0]}:{SOAX_KEY}@127.0.0.1:{pool_a.ports['proxy'][0]}",
            f"http://{pool_users[1]}:{SOAX_KEY}@127.0.0.1:{pool_b.ports['proxy'][0]}",
        ]
        session_user = "package-1-sessionid-g1-sessionlength-300"
        explicit = gateway.proxy_url(user=session_user)
        requests: list[tuple[str, dict[str, Any]]] = []
        for https in (False, True):
            for n in range(1, 8):  # b7-: success
                url = pool_a.target_url(f"/page/{n}", https=https,
                                        host=f"b{n}-{'s' if https else 'p'}.test")
                requests.append((url, {}))  # the pool
                requests.append((url + "?via=gateway", {"proxy": explicit}))  # sessions
        outcome = Outcome()
        crawler = make_crawler(_settings(tmp_path, PROXYERRORS_PROVIDER="soax",
                                         PROXYERRORS_PROXIES=proxies))
        yield crawler.crawl(requests=requests, outcome=outcome)
    stats = crawler.stats.get_stats()
    for action in ("retry", "rotate", "slowdown", "drop", "pass"):
        assert stats.get(f"proxyerrors/action/{action}"), action
    assert stats.get("proxyerrors/rotate/proxy") and stats.get("proxyerrors/rotate/session")
    assert stats.get("proxyerrors/retry/max_reached")
    evidence = Evidence()
    evidence.collect(crawler, caplog, outcome, tmp_path / "report.json")
    evidence.assert_clean([*pool_users, session_user, "package-1-sessionid-g1"])


@pytest.mark.parametrize("https", [False, True], ids=["plain", "connect"])
@pytest_twisted.inlineCallbacks
def test_stop_on_a_bad_key_leaks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, https: bool
) -> Any:
    """AUTH_FAILED whose detail echoes the key: the stop's ERROR line, the
    report and the requeued requests show no key."""
    caplog.set_level(logging.DEBUG)
    with Emulator("soax", password=SOAX_KEY) as emu:
        emu.set_responder(lambda record: emu.error_reply(
            "AUTH_FAILED", detail=f"key {SOAX_KEY} is not valid"))
        user = "package-7-sessionid-s1"
        proxy = emu.proxy_url(user=user)
        outcome = Outcome()
        crawler = make_crawler(_settings(tmp_path, CONCURRENT_REQUESTS=2))
        yield crawler.crawl(
            requests=[(emu.target_url(f"/page/{i}", https=https), {"proxy": proxy})
                      for i in range(6)],
            outcome=outcome,
        )
    assert crawler.stats.get_value("finish_reason") == "proxyerrors_auth"
    assert "Stopping the crawl" in caplog.text
    evidence = Evidence()
    evidence.collect(crawler, caplog, outcome, tmp_path / "report.json")
    evidence.assert_clean([user])


@pytest_twisted.inlineCallbacks
def test_api_crawl_keys_in_query_and_header_leak_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Any:
    """chocodata's api_key= in the query string, wxapros's X-API-Key header:
    success, retry, drop, pass, retries exhausted, slowdown, and a stop on a
    revoked key whose message echoes it."""
    caplog.set_level(logging.DEBUG)
    with Emulator("chocodata", password=API_KEY) as choco, \
            Emulator("wxapros", password=HEADER_KEY) as wx:
        echo = {"message": f"Key {API_KEY} was rotated out"}
        choco.set_responder(_scripted({
            "id=retry": _first(choco.error_reply("extraction_failed", **echo)),
            "id=drop": _first(choco.error_reply("item_not_found", **echo)),
            "id=pass": _first(choco.error_reply("placeholder_page", **echo)),
            "id=exhaust": _always(choco.error_reply("extraction_failed", **echo)),
        }))
        wx.set_responder(_scripted({
            "8.8.8.8": _first(wx.error_reply("rate_limited", retry_after=0.2,
                                             message=f"key {HEADER_KEY} over limit")),
        }))
        # On loopback the API host cannot tell the provider: it is named.
        api_meta = {"download_slot": "api", "proxyerrors_provider": "chocodata"}
        requests = [(choco.api_url(f"/v1/product?id={name}"), dict(api_meta))
                    for name in ("ok", "retry", "drop", "pass", "exhaust")]
        requests += [(wx.api_url(f"/api/v1/vpn/ip/8.8.{i}.8", key=False),
                      {"proxyerrors_provider": "wxapros", "headers": {"X-API-Key": HEADER_KEY}})
                     for i in (8, 4)]
        outcome = Outcome()
        crawler = make_crawler(_settings(tmp_path, CONCURRENT_REQUESTS=2),
                               spidercls=HeaderSpider)
        yield crawler.crawl(requests=requests, outcome=outcome)
    stats = crawler.stats.get_stats()
    for action in ("retry", "drop", "pass", "slowdown"):
        assert stats.get(f"proxyerrors/action/{action}"), action
    assert stats.get("proxyerrors/retry/max_reached")
    evidence = Evidence()
    evidence.collect(crawler, caplog, outcome, tmp_path / "report.json")
    evidence.assert_clean([])


@pytest_twisted.inlineCallbacks
def test_stop_on_a_revoked_api_key_leaks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Any:
    """chocodata 'revoked' whose message echoes the api_key from the query."""
    caplog.set_level(logging.DEBUG)
    with Emulator("chocodata", password=API_KEY) as emu:
        emu.set_responder(lambda record: emu.error_reply(
            "revoked", message=f"Key {API_KEY} was rotated out"))
        outcome = Outcome()
        crawler = make_crawler(_settings(tmp_path, CONCURRENT_REQUESTS=2))
        meta = {"proxyerrors_provider": "chocodata"}
        yield crawler.crawl(
            requests=[(emu.api_url(f"/v1/product?id={i}"), meta) for i in range(5)],
            outcome=outcome,
        )
    assert crawler.stats.get_value("finish_reason") == "proxyerrors_auth"
    evidence = Evidence()
    evidence.collect(crawler, caplog, outcome, tmp_path / "report.json")
    evidence.assert_clean([])


@NEEDS_AIOHTTP_HANDLER
@pytest_twisted.inlineCallbacks
def test_aiohttp_handler_refused_connect_leaks_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Any:
    """Scrapy's aiohttp handler puts the proxy URL *with* credentials in its
    error message: rotated, passed on and given up, none of it may leak."""
    caplog.set_level(logging.DEBUG)
    with Emulator("soax", password=SOAX_KEY) as emu:
        def err(code: str) -> Reply:
            return emu.error_reply(code, detail="no")

        emu.set_responder(_scripted({
            "r0-": _first(err("NODE_UNAVAILABLE")),  # rotate (session), then through
            "r1-": _always(err("BOUND_NODE_FAILED")),  # pass: the failure goes on
            "r2-": _always(err("NODE_NOT_FOUND")),  # gave up retrying
            "r3-": _always(err("RETRIES_EXHAUSTED")),  # drop
        }))
        user = "package-1-sessionid-aio"
        proxy = emu.proxy_url(user=user)
        outcome = Outcome()
        crawler = make_crawler(_settings(
            tmp_path, CONCURRENT_REQUESTS=1, DOWNLOAD_HANDLERS={"https": AIOHTTP_HANDLER}))
        yield crawler.crawl(
            requests=[(emu.target_url(f"/page/{i}", https=True, host=f"r{i}-s.test"),
                       {"proxy": proxy}) for i in range(4)],
            outcome=outcome,
        )
    stats = crawler.stats.get_stats()
    for action in ("rotate", "pass", "drop"):
        assert stats.get(f"proxyerrors/action/{action}"), action
    assert stats.get("proxyerrors/retry/max_reached")
    assert len(outcome.responses) + len(outcome.failures) == 4
    # Passed on and given up: still Scrapy's exception type, and the proxy's
    # reply is still readable from it.
    from scrapy.exceptions import DownloadFailedError  # Scrapy 2.15+

    handed_on = [f.value for f in outcome.failures if isinstance(f.value, DownloadFailedError)]
    assert len(handed_on) == 2
    assert sorted(connect_reply(e).status for e in handed_on) == [502, 503]  # type: ignore[union-attr]
    evidence = Evidence()
    evidence.collect(crawler, caplog, outcome, tmp_path / "report.json")
    evidence.assert_clean([user, "package-1-sessionid"])


class NoErrbackSpider(ListSpider):
    """No errbacks: Scrapy logs failures itself ("Error downloading",
    "Ignoring response")."""

    async def start(self) -> Any:
        for url, meta in self.to_request:
            yield Request(url, meta=dict(meta), callback=self.parse, dont_filter=True)


@NEEDS_AIOHTTP_HANDLER
@pytest_twisted.inlineCallbacks
def test_scrapys_own_error_lines_leak_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Any:
    """Without errbacks Scrapy logs every failure itself: a refused CONNECT passed
    on and given up (aiohttp), a drop, and a target's 503 retried by Scrapy's
    retry logger until it gives up, the URL carrying api_key=."""
    caplog.set_level(logging.DEBUG)
    with Emulator("soax", password=SOAX_KEY) as emu:
        emu.set_responder(_scripted({
            "e1-": _always(emu.error_reply("BOUND_NODE_FAILED")),  # pass
            "e2-": _always(emu.error_reply("NODE_NOT_FOUND")),  # gave up
            "e3-": _always(emu.error_reply("RETRIES_EXHAUSTED")),  # drop
        }))
        user = "package-2-sessionid-e"
        proxy = emu.proxy_url(user=user)
        requests = [(emu.target_url("/page/1", https=True, host=f"e{i}-s.test"),
                     {"proxy": proxy}) for i in (1, 2, 3)]
        requests += [
            (emu.target_url(f"/status/503?api_key={API_KEY}", https=True, host="t-s.test"),
             {"proxy": proxy}),
            (emu.target_url(f"/status/503?token={HEADER_KEY}", host="t-p.test"),
             {"proxy": proxy}),
        ]
        outcome = Outcome()
        crawler = make_crawler(_settings(
            tmp_path, CONCURRENT_REQUESTS=2, DOWNLOAD_HANDLERS={"https": AIOHTTP_HANDLER}),
            spidercls=NoErrbackSpider)
        yield crawler.crawl(requests=requests, outcome=outcome)
    text = caplog.text
    for line in ("Error downloading", "Gave up retrying", "Ignoring response",
                 "?api_key=***> (failed 1 times)"):  # masked, the request's repr intact
        assert line in text, line
    evidence = Evidence()
    evidence.collect(crawler, caplog, outcome, tmp_path / "report.json")
    evidence.assert_clean([user])


# ------------------------------------------------------------ RedactingFilter


def test_redacting_filter_masks_messages_args_and_tracebacks() -> None:
    """The filter rewrites a record's message (args merged) and traceback text."""
    from scrapy_proxyerrors import RedactingFilter

    flt = RedactingFilter([PROXY_PW])
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "Crawled %(url)s with %(pw)s",
        ({"url": f"https://api.example/v1?api_key={API_KEY}&id=1", "pw": PROXY_PW},),
        None,
    )
    try:
        raise RuntimeError(f"http://user:{PROXY_PW}@proxy:8000 refused")
    except RuntimeError:
        import sys

        record.exc_info = sys.exc_info()
    assert flt.filter(record)
    text = record.getMessage() + (record.exc_text or "")
    assert API_KEY not in text and PROXY_PW not in text
    assert "api_key=***" in text and "id=1" in text
    assert "refused" in (record.exc_text or "")


def test_redacting_filter_leaves_clean_records_alone() -> None:
    from scrapy_proxyerrors import RedactingFilter

    flt = RedactingFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "Crawled %s", ("<GET /a>",),
                               None)
    assert flt.filter(record)
    assert (record.msg, record.args) == ("Crawled %s", ("<GET /a>",))


def test_redacting_filter_survives_a_broken_record() -> None:
    """A record whose args do not fit its message is passed on untouched."""
    from scrapy_proxyerrors import RedactingFilter

    flt = RedactingFilter()
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "%d %d", ("a",), None)
    assert flt.filter(record)


def test_install_filters_once_per_logger() -> None:
    """Installing twice (two crawls in one process) leaves one filter."""
    from scrapy_proxyerrors import RedactingFilter
    from scrapy_proxyerrors._redact import install_filters

    name = "tests.secrets.install-once"
    install_filters([name])
    install_filters([name])
    target = logging.getLogger(name)
    assert sum(isinstance(f, RedactingFilter) for f in target.filters) == 1


def test_the_middleware_filters_scrapys_request_loggers_by_default() -> None:
    """The Add-on's middleware puts the filter on Scrapy's request loggers while
    its crawl runs (from engine_started to engine_stopped), and only then."""
    from scrapy import signals
    from scrapy.utils.misc import build_from_crawler

    from scrapy_proxyerrors import ProxyErrorsMiddleware, RedactingFilter
    from scrapy_proxyerrors._redact import PLUGIN_LOGGERS, SCRAPY_REQUEST_LOGGERS

    crawler = make_crawler()
    middleware = build_from_crawler(ProxyErrorsMiddleware, crawler)

    def ours() -> list[bool]:
        return [
            any(getattr(f, "redactor", None) is not None and isinstance(f, RedactingFilter)
                for f in logging.getLogger(name).filters)
            for name in (*PLUGIN_LOGGERS, *SCRAPY_REQUEST_LOGGERS)
        ]

    crawler.signals.send_catch_log(signals.engine_started)
    assert all(ours())
    crawler.signals.send_catch_log(signals.engine_stopped)
    assert not any(ours())
    del middleware


def test_request_secrets() -> None:
    """Key-like query values and key headers, bearer tokens without their scheme."""
    from scrapy.http.headers import Headers

    from scrapy_proxyerrors._redact import request_secrets

    basic = base64.b64encode(b"me:" + PROXY_PW.encode()).decode()
    found = request_secrets(
        f"https://api.example/v1?id=7&api_key={API_KEY}&token={HEADER_KEY}&q=abc",
        Headers({"X-API-Key": SOAX_KEY, "Authorization": f"Basic {basic}"}),
    )
    assert sorted(found) == sorted([API_KEY, HEADER_KEY, SOAX_KEY, PROXY_PW])
    bearer = request_secrets("http://h/", Headers({"Authorization": "Bearer tok-123456"}))
    assert bearer == ["tok-123456"]
    assert request_secrets("http://[::1/?key=x", Headers()) == []


def test_json_report_is_valid_json(tmp_path: Path) -> None:
    """(The report file the crawls above search is real JSON.)"""
    path = tmp_path / "r.json"
    path.write_text(json.dumps(build_report({"finish_reason": "finished"}).to_json()))
    assert json.loads(path.read_text())["finish_reason"] == "finished"
