"""The https download handler, in real crawls through a scripted fake proxy.

Every crawl runs on loopback: ``tests/rawproxy.py`` answers CONNECT with raw
bytes and records when the client closed the socket; ``tests/tls.py`` is the
TLS target of successful tunnels.
"""

from __future__ import annotations

import base64
import re
import threading
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import pytest
import scrapy
from scrapy import signals
from scrapy.core.downloader.handlers import http11
from scrapy.exceptions import NotConfigured
from scrapy.http import Request, Response
from scrapy.http.headers import Headers
from scrapy.utils.defer import deferred_f_from_coro_f
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from w3lib.http import basic_auth_header

from scrapy_proxyerrors import Transport, classify
from scrapy_proxyerrors import _compat as compat
from scrapy_proxyerrors._tunnel import connect_reply, redacted_message
from scrapy_proxyerrors.exceptions import ProxyTunnelError
from scrapy_proxyerrors.handler import (
    CONNECT_BODY_LIMIT,
    ProxyErrorsHTTPSDownloadHandler,
    _dechunk,
    _ProxyErrorsTunnelingEndpoint,
    _RefusedReply,
    scrapy_internals_problems,
)

from .provider_docs import PROXY_ROWS, DocRow
from .rawproxy import Close, ConnectRecord, Pipe, RawProxy, Send, Step, Wait, reply
from .tls import TLSServer

if TYPE_CHECKING:
    from collections.abc import Sequence

    from scrapy.crawler import Crawler
    from twisted.python.failure import Failure

HANDLER = "scrapy_proxyerrors.handler.ProxyErrorsHTTPSDownloadHandler"
CREDENTIALS = "user:s3cretpass"
SECRET = "s3cretpass"
# How long a test may wait for the fake proxy's thread to notice a close that
# has already happened (the errback runs after the socket is closed).
NOTICE = 5.0


# ----------------------------------------------------------------- crawl helper


@dataclass
class Outcome:
    """What a crawl produced, and what the proxy had seen at key moments."""

    crawler: Crawler
    responses: list[Response] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    #: url -> whether the proxy had seen the client close when the errback ran.
    closed_at_errback: dict[str, bool] = field(default_factory=dict)
    #: url -> whether the proxy had seen the client close at spider_closed.
    closed_at_spider_close: dict[str, bool] = field(default_factory=dict)

    def error(self, url: str | None = None) -> BaseException:
        """The exception of the (only, or *url*'s) failure."""
        matching = [f for f in self.failures if url is None or f.request.url == url]  # type: ignore[attr-defined]
        assert len(matching) == 1, self.failures
        value = matching[0].value
        assert value is not None
        return value


def _target(url: str) -> str:
    """The ``host:port`` a CONNECT for *url* names."""
    host = url.split("://", 1)[1].split("/", 1)[0]
    return host if ":" in host else f"{host}:443"


def record_for(proxy: RawProxy, url: str) -> ConnectRecord:
    """The proxy's record of the CONNECT made for *url*."""
    target = _target(url)
    for record in proxy.records:
        if record.request_line.split(" ")[1:2] == [target]:
            return record
    raise AssertionError(f"no CONNECT to {target} in {proxy.records}")


class ConnectSpider(scrapy.Spider):
    """Requests ``(url, meta, errback?)`` and records outcomes and closes."""

    name = "connect"

    def __init__(
        self,
        to_request: Sequence[tuple[str, dict[str, Any], bool]] = (),
        outcome: Outcome | None = None,
        proxy: RawProxy | None = None,
        close_wait: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.to_request = list(to_request)
        self.outcome = outcome
        self.proxy = proxy
        self.close_wait = close_wait

    async def start(self) -> Any:
        for url, meta, with_errback in self.to_request:
            yield Request(
                url,
                meta=meta,
                callback=self.parse,
                errback=self.on_error if with_errback else None,
                dont_filter=True,
            )

    def parse(self, response: Response) -> None:
        assert self.outcome is not None
        self.outcome.responses.append(response)

    def on_error(self, failure: Failure) -> None:
        assert self.outcome is not None
        self.outcome.failures.append(failure)
        if self.proxy is not None:
            url = failure.request.url  # type: ignore[attr-defined]
            record = record_for(self.proxy, url)
            # Our handler errbacks only after the socket is closed: the wait
            # only lets the proxy's thread notice. Stock Scrapy never closes.
            self.outcome.closed_at_errback[url] = record.client_closed.wait(self.close_wait)


async def crawl(
    urls: Sequence[str] | Sequence[tuple[str, dict[str, Any], bool]],
    *,
    proxy: RawProxy | None,
    credentials: str | None = None,
    handler: str | None = HANDLER,
    settings: dict[str, Any] | None = None,
    close_wait: float = NOTICE,
) -> Outcome:
    """Crawl *urls* (through *proxy* when given) and return the outcome."""
    to_request: list[tuple[str, dict[str, Any], bool]] = []
    for item in urls:
        if isinstance(item, str):
            meta = {"proxy": proxy.url(credentials)} if proxy is not None else {}
            to_request.append((item, meta, True))
        else:
            to_request.append(item)
    base: dict[str, Any] = {"RETRY_ENABLED": False, "DOWNLOAD_TIMEOUT": 10, "LOG_LEVEL": "DEBUG"}
    if handler is not None:
        base["DOWNLOAD_HANDLERS"] = {"https": handler}
    crawler = get_crawler(ConnectSpider, {**base, **(settings or {})})
    outcome = Outcome(crawler)

    def spider_closed() -> None:
        if proxy is not None:
            for record in proxy.records:
                key = record.request_line
                outcome.closed_at_spider_close[key] = record.client_closed.wait(close_wait)

    crawler.signals.connect(spider_closed, signals.spider_closed)
    await compat.crawl(
        crawler, to_request=to_request, outcome=outcome, proxy=proxy, close_wait=close_wait
    )
    return outcome


# --------------------------------------------------------- documented provider rows


def _row_bytes(row: DocRow) -> bytes:
    try:
        phrase = HTTPStatus(row.status).phrase
    except ValueError:
        phrase = "Proxy Error"
    return reply(row.status, phrase, row.headers, row.body)


def _row_script(record: ConnectRecord) -> list[Step]:
    # CONNECT row-<n>.test:443 selects the row.
    index = int(re.search(r"row-(\d+)\.test", record.request_line).group(1))  # type: ignore[union-attr]
    return [Send(_row_bytes(PROXY_ROWS[index]))]


@deferred_f_from_coro_f
async def test_every_documented_row_reaches_the_errback_whole() -> None:
    """Each provider row refused on CONNECT arrives as ProxyTunnelError with its
    exact status, headers and body, classifies as documented, and the proxy
    socket is closed before the errback runs."""
    urls = [f"https://row-{i}.test/" for i in range(len(PROXY_ROWS))]
    with RawProxy(_row_script) as proxy:
        outcome = await crawl(urls, proxy=proxy)
    assert not outcome.responses
    assert len(outcome.failures) == len(PROXY_ROWS)
    problems: list[str] = []
    for i, row in enumerate(PROXY_ROWS):
        url = urls[i]
        error = outcome.error(url)
        if not isinstance(error, ProxyTunnelError):
            problems.append(f"{row.id}: {error!r}")
            continue
        expected = Headers({**row.headers, "Content-Length": str(len(row.body))})
        got = (error.status, dict(error.headers), error.body, error.proxy)
        want = (row.status, dict(expected), row.body, proxy.address)
        if got != want:
            problems.append(f"{row.id}: got {got!r}, want {want!r}")
        decision = classify(
            error.status,
            error.headers,
            error.body,
            transport=Transport.CONNECT,
            provider="proxiesfo" if row.provider == "proxiesfo" else None,
        )
        if decision is None:
            problems.append(f"{row.id}: not classified")
        elif (decision.provider, decision.code, decision.category, decision.action,
              decision.scope) != (row.provider, row.code, row.category, row.action, row.scope):
            problems.append(f"{row.id}: classified as {decision.reason} {decision.rule}")
        if not outcome.closed_at_errback[url]:
            problems.append(f"{row.id}: proxy socket still open at errback")
    assert not problems, "\n".join(problems)
    assert len(proxy.records) == len(PROXY_ROWS)


# -------------------------------------------------------- closing the proxy socket


@deferred_f_from_coro_f
async def test_refused_connect_socket_is_closed_before_the_spider_closes() -> None:
    """The handler closes a refused CONNECT's socket itself, at once."""
    script = [Send(reply(407, "Proxy Authentication Required", {"X-SOAX-Error": "AUTH_FAILED"}))]
    with RawProxy(script) as proxy:
        outcome = await crawl(["https://example.com/"], proxy=proxy, credentials=CREDENTIALS)
        record = proxy.records[0]
    assert isinstance(outcome.error(), ProxyTunnelError)
    assert outcome.closed_at_errback == {"https://example.com/": True}
    assert outcome.closed_at_spider_close == {record.request_line: True}
    assert record.header("Proxy-Authorization") == basic_auth_header("user", SECRET).decode()
    assert record.extra == b"" and record.received_after_reply == b""


@deferred_f_from_coro_f
async def test_stock_handler_keeps_the_refused_socket_open() -> None:
    """Contrast: Scrapy's own handler keeps only the status line, and leaves the
    refused socket open past the end of the crawl (until the process exits or
    the proxy gives up), holding one of the proxy's connection slots."""
    script = [Send(reply(407, "Proxy Authentication Required", {"X-SOAX-Error": "AUTH_FAILED"}))]
    with RawProxy(script) as proxy:
        outcome = await crawl(["https://example.com/"], proxy=proxy, handler=None, close_wait=0.1)
        record = proxy.records[0]
        still_open_after_crawl = not record.client_closed.wait(0.3)
    error = outcome.error()
    assert type(error) is http11.TunnelError
    assert outcome.closed_at_errback == {"https://example.com/": False}
    assert outcome.closed_at_spider_close == {record.request_line: False}
    assert still_open_after_crawl
    # All the fallback can recover: status and reason, no X-SOAX-Error.
    recovered = connect_reply(error)
    assert recovered is not None
    assert (recovered.source, recovered.status, recovered.reason) == (
        "message",
        407,
        "Proxy Authentication Required",
    )
    assert not recovered.headers and recovered.body == b""


@deferred_f_from_coro_f
async def test_stock_retry_middleware_still_retries_proxy_tunnel_error() -> None:
    """ProxyTunnelError subclasses TunnelError, so RETRY_EXCEPTIONS still match."""
    script = [Send(reply(502, "Bad Gateway", {"X-SOAX-Error": "NODE_UNAVAILABLE"}))]
    with RawProxy(script) as proxy:
        outcome = await crawl(
            ["https://example.com/"],
            proxy=proxy,
            settings={"RETRY_ENABLED": True, "RETRY_TIMES": 1},
        )
        closed = [r.client_closed.wait(NOTICE) for r in proxy.records]
    assert isinstance(outcome.error(), ProxyTunnelError)
    assert closed == [True, True]
    stats = outcome.crawler.stats
    assert stats is not None
    reason = "scrapy_proxyerrors.exceptions.ProxyTunnelError"
    assert stats.get_value(f"retry/reason_count/{reason}") == 1
    assert stats.get_value("retry/max_reached") == 1


# ------------------------------------------------------------------ body framing


class PacketSpy:
    """Counts the packets the endpoint reads; event *i* is set once packet
    *i* has been processed, so a script can send the next one only then
    (proving the handler reassembles replies split across reads)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, count: int) -> None:
        self.packets: list[bytes] = []
        self.events = [threading.Event() for _ in range(count)]
        original = _ProxyErrorsTunnelingEndpoint.processProxyResponse
        spy = self

        def processProxyResponse(endpoint: _ProxyErrorsTunnelingEndpoint, data: bytes) -> None:
            spy.packets.append(data)
            original(endpoint, data)
            if len(spy.packets) <= len(spy.events):
                spy.events[len(spy.packets) - 1].set()

        monkeypatch.setattr(
            _ProxyErrorsTunnelingEndpoint, "processProxyResponse", processProxyResponse
        )


@deferred_f_from_coro_f
async def test_reply_split_across_packets(monkeypatch: pytest.MonkeyPatch) -> None:
    """Status line, headers and body may each arrive in their own read."""
    spy = PacketSpy(monkeypatch, 3)
    script: list[Step] = [
        Send(b"HTTP/1.1 407 Proxy Authentication Required\r\nX-SOAX-Error: AUTH"),
        Wait(spy.events[0]),
        Send(b"_FAILED\r\nContent-Length: 11\r\n\r\nhello"),
        Wait(spy.events[1]),
        Send(b" world"),
    ]
    with RawProxy(script) as proxy:
        outcome = await crawl(["https://example.com/"], proxy=proxy)
    error = outcome.error()
    assert isinstance(error, ProxyTunnelError)
    assert len(spy.packets) == 3
    assert error.headers.get("X-SOAX-Error") == b"AUTH_FAILED"
    assert error.body == b"hello world"
    assert outcome.closed_at_errback == {"https://example.com/": True}


@deferred_f_from_coro_f
async def test_body_is_capped() -> None:
    """Reading stops at CONNECT_BODY_LIMIT bytes even though Content-Length
    promises more and the proxy keeps the connection open (a handler waiting
    for the rest would end in DownloadTimeoutError instead)."""
    body = bytes(range(256)) * (CONNECT_BODY_LIMIT // 256 + 64)
    head = reply(452, "Bandwidth", {"Content-Length": str(10 * len(body))}, content_length=False)
    with RawProxy([Send(head + body)]) as proxy:
        outcome = await crawl(
            ["https://example.com/"],
            proxy=proxy,
            settings={"PROXYERRORS_CONNECT_BODY_TIMEOUT": 60, "DOWNLOAD_TIMEOUT": 5},
        )
    error = outcome.error()
    assert isinstance(error, ProxyTunnelError)
    assert len(body) > CONNECT_BODY_LIMIT
    assert error.body == body[:CONNECT_BODY_LIMIT]
    assert outcome.closed_at_errback == {"https://example.com/": True}


@deferred_f_from_coro_f
async def test_chunked_body_is_decoded() -> None:
    """A chunked reply body is decoded."""
    head = reply(453, "Threads", {"Transfer-Encoding": "chunked"}, content_length=False)
    with RawProxy([Send(head + b"9\r\nexceeded \r\n7;x=1\r\nthreads\r\n0\r\n\r\n")]) as proxy:
        outcome = await crawl(["https://example.com/"], proxy=proxy)
    error = outcome.error()
    assert isinstance(error, ProxyTunnelError)
    assert error.body == b"exceeded threads"


@deferred_f_from_coro_f
async def test_body_without_length_ends_when_the_proxy_closes() -> None:
    """Without Content-Length the body runs until the proxy closes."""
    head = reply(454, "Error", {"Connection": "close"}, content_length=False)
    with RawProxy([Send(head + b"invalid country"), Send(b" code"), Close()]) as proxy:
        outcome = await crawl(["https://example.com/"], proxy=proxy, close_wait=0.0)
    error = outcome.error()
    assert isinstance(error, ProxyTunnelError)
    assert error.body == b"invalid country code"
    assert error.headers.get("Content-Length") is None


@deferred_f_from_coro_f
async def test_late_body_fails_with_what_arrived() -> None:
    """A body that never completes fails after the body timeout, not at the
    download timeout, with the bytes that came; the socket is closed."""
    head = reply(407, "Auth", {"Content-Length": "100"}, content_length=False)
    with RawProxy([Send(head + b"partial")]) as proxy:
        outcome = await crawl(
            ["https://example.com/"],
            proxy=proxy,
            settings={"PROXYERRORS_CONNECT_BODY_TIMEOUT": 0.1, "DOWNLOAD_TIMEOUT": 60},
        )
    error = outcome.error()
    assert isinstance(error, ProxyTunnelError)
    assert error.body == b"partial"
    assert outcome.closed_at_errback == {"https://example.com/": True}


@deferred_f_from_coro_f
async def test_download_timeout_while_reading_the_body_closes_the_socket() -> None:
    """If the download timeout fires first, the request times out as usual and
    the socket is still closed."""
    head = reply(407, "Auth", {"Content-Length": "100"}, content_length=False)
    with RawProxy([Send(head + b"partial")]) as proxy:
        outcome = await crawl(
            ["https://example.com/"],
            proxy=proxy,
            settings={"PROXYERRORS_CONNECT_BODY_TIMEOUT": 60, "DOWNLOAD_TIMEOUT": 0.2},
        )
    assert isinstance(outcome.error(), compat.TIMEOUT_ERRORS)
    assert outcome.closed_at_errback == {"https://example.com/": True}


@deferred_f_from_coro_f
async def test_non_http_reply_keeps_scrapys_error_but_closes() -> None:
    """Garbage instead of a status line: Scrapy's TunnelError quoting it, and
    the socket is closed all the same."""
    with RawProxy([Send(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")]) as proxy:
        outcome = await crawl(["https://example.com/"], proxy=proxy)
    error = outcome.error()
    assert type(error) is http11.TunnelError
    assert "SSH-2.0" in str(error)
    assert connect_reply(error) is None
    assert outcome.closed_at_errback == {"https://example.com/": True}


def _refused(head: bytes, *packets: bytes, limit: int = 10) -> _RefusedReply:
    status = int(head.split(b" ")[1])
    reply = _RefusedReply(head, status, b"", limit)
    for packet in packets:
        reply.feed(packet)
    return reply


@pytest.mark.parametrize(
    ("head", "packets", "framing", "complete", "body"),
    [
        (b"HTTP/1.1 407 A\r\nContent-Length: 3", [b"ab"], "length", False, b"ab"),
        (b"HTTP/1.1 407 A\r\nContent-Length: 3", [b"ab", b"cdef"], "length", True, b"abc"),
        (b"HTTP/1.1 407 A\r\nContent-Length: 0", [], "length", True, b""),
        (b"HTTP/1.1 407 A\r\nContent-Length: 50", [b"x" * 12], "length", True, b"x" * 10),
        # Conflicting or invalid lengths: the body runs until close.
        (b"HTTP/1.1 407 A\r\nContent-Length: 3\r\nContent-Length: 4", [b"abcd"], "close",
         False, b"abcd"),
        (b"HTTP/1.1 407 A\r\nContent-Length: 3, 3", [b"abc"], "length", True, b"abc"),
        (b"HTTP/1.1 407 A\r\nContent-Length: -3", [b"abc"], "close", False, b"abc"),
        (b"HTTP/1.1 407 A", [b"x" * 11], "close", True, b"x" * 10),
        # Transfer-Encoding wins over Content-Length (RFC 9112 6.3).
        (b"HTTP/1.1 407 A\r\nTransfer-Encoding: chunked\r\nContent-Length: 1",
         [b"3\r\nabc\r\n0\r\n\r\n"], "chunked", True, b"abc"),
        (b"HTTP/1.1 407 A\r\nTransfer-Encoding: gzip", [b"abc"], "close", False, b"abc"),
        (b"HTTP/1.1 204 A\r\nContent-Length: 5", [b"abc"], "none", True, b""),
        (b"HTTP/1.1 304 A", [], "none", True, b""),
    ],
)
def test_refused_reply_framing(
    head: bytes, packets: list[bytes], framing: str, complete: bool, body: bytes
) -> None:
    """Body framing of a refused reply, per RFC 9112 6.3, capped at the limit."""
    reply = _refused(head, *packets)
    assert (reply.framing, reply.complete, reply.body) == (framing, complete, body)


def test_refused_reply_headers_skip_bad_lines() -> None:
    """Repeated headers are kept, lines without a name or colon skipped."""
    reply = _refused(b"HTTP/1.1 407 A\r\nX-A: 1\r\nx-a: 2\r\nnonsense\r\n: empty\r\nB:  v ")
    assert reply.headers.getlist("X-A") == [b"1", b"2"]
    assert sorted(reply.headers.keys()) == [b"B", b"X-A"]
    assert reply.headers.getlist("B") == [b"v"]


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (b"", (b"", False)),
        (b"3\r\nab", (b"ab", False)),
        (b"3\r\nabc\r\n", (b"abc", False)),
        (b"3;ext=1\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", (b"abcde", True)),
        (b"A\r\n0123456789\r\n0\r\n", (b"0123456789", True)),
        (b"zz\r\nabc", (b"", True)),  # malformed size: stop
        (b"-3\r\nabc\r\n", (b"", True)),  # negative size: stop, never loop
        (b"8\r\n01234567\r\n8\r\n89abcdef\r\n", (b"0123456789", True)),  # limit
    ],
)
def test_dechunk(raw: bytes, expected: tuple[bytes, bool]) -> None:
    """Chunked decoding: partial input waits, malformed input stops, limit caps."""
    assert _dechunk(raw, 10) == expected


def test_chunked_raw_bytes_are_bounded() -> None:
    """Chunk framing that never yields body (endless extensions) still ends."""
    reply = _refused(b"HTTP/1.1 407 A\r\nTransfer-Encoding: chunked", b"1;" + b"e" * 30)
    assert reply.complete and reply.body == b""


# ---------------------------------------------------------- successful tunnels


@deferred_f_from_coro_f
async def test_successful_tunnel_to_tls_target() -> None:
    """A 200 CONNECT is Scrapy's path: TLS to the target through the tunnel,
    Proxy-Authorization sent to the proxy only."""
    with TLSServer(b"secret page") as target:
        established = b"HTTP/1.1 200 Connection established\r\n\r\n"
        script: list[Step] = [Send(established), Pipe("127.0.0.1", target.port)]
        with RawProxy(script) as proxy:
            urls = [target.url("/a"), target.url("/b")]
            outcome = await crawl(urls, proxy=proxy, credentials=CREDENTIALS, close_wait=0.0)
        seen = list(target.requests)
    assert not outcome.failures
    assert sorted(r.url for r in outcome.responses) == urls
    assert all(r.status == 200 and r.body == b"secret page" for r in outcome.responses)
    assert all(r.certificate is not None for r in outcome.responses)
    assert sorted(path for path, _ in seen) == ["/a", "/b"]
    assert all("Proxy-Authorization" not in headers for _, headers in seen)
    assert proxy.records and all(
        r.request_line == f"CONNECT 127.0.0.1:{target.port} HTTP/1.1"
        and r.header("Proxy-Authorization") == basic_auth_header("user", SECRET).decode()
        for r in proxy.records
    )


@pytest.mark.parametrize("handler", [None, HANDLER], ids=["stock", "ours"])
@deferred_f_from_coro_f
async def test_bytes_after_a_200_header_block_match_stock(handler: str | None) -> None:
    """Bytes after the 200 header block are handled exactly as Scrapy does
    (it drops them rather than feed them to TLS), so the tunnel still works."""
    with TLSServer(b"ok") as target:
        script: list[Step] = [
            Send(b"HTTP/1.1 200 OK\r\nProxy-Agent: test\r\n\r\nstray bytes"),
            Pipe("127.0.0.1", target.port),
        ]
        with RawProxy(script) as proxy:
            outcome = await crawl([target.url()], proxy=proxy, handler=handler, close_wait=0.0)
    assert not outcome.failures
    assert [r.body for r in outcome.responses] == [b"ok"]


@deferred_f_from_coro_f
async def test_requests_without_proxy_use_scrapys_path() -> None:
    """No proxy, no CONNECT: the handler is Scrapy's."""
    with TLSServer(b"direct") as target:
        outcome = await crawl([target.url()], proxy=None)
    assert [r.body for r in outcome.responses] == [b"direct"]


# ------------------------------------------------------------------- credentials


@deferred_f_from_coro_f
async def test_credentials_never_reach_logs_or_messages(caplog: pytest.LogCaptureFixture) -> None:
    """Proxy credentials appear in no log line (Scrapy's own error log of an
    unhandled failure included) and in no exception message."""
    token = base64.b64encode(CREDENTIALS.encode()).decode()
    script = [Send(reply(407, "Auth", {"X-SOAX-Error": "AUTH_FAILED"}, b"denied for user"))]
    caplog.set_level("DEBUG")
    with RawProxy(script) as proxy:
        meta = {"proxy": proxy.url(CREDENTIALS)}
        outcome = await crawl(
            [("https://a.test/", meta, True), ("https://b.test/", meta, False)],
            proxy=proxy,
        )
        sent = [r.header("Proxy-Authorization") for r in proxy.records]
    assert sent == [f"Basic {token}"] * 2
    error = outcome.error("https://a.test/")
    assert isinstance(error, ProxyTunnelError)
    assert "Error downloading <GET https://b.test/>" in caplog.text
    assert "ProxyTunnelError" in caplog.text
    for text in (caplog.text, str(error), repr(error), redacted_message(error)):
        assert SECRET not in text
        assert token not in text
    assert redacted_message(error) == str(error)


# ------------------------------------------------------ Scrapy internals tripwire


def test_self_check_passes_and_the_pool_is_intercepted() -> None:
    """On the installed Scrapy the private names the handler relies on are
    there, its pool is intercepted, and Scrapy's download_request is not
    overridden."""
    crawler = get_crawler(scrapy.Spider)
    handler = build_from_crawler(ProxyErrorsHTTPSDownloadHandler, crawler)
    assert scrapy_internals_problems(handler) == []
    assert handler._pool._proxyerrors_intercepted is True
    assert "download_request" not in vars(ProxyErrorsHTTPSDownloadHandler)


class _NotAnEndpoint:
    pass


def test_self_check_notices_a_renamed_endpoint(monkeypatch: pytest.MonkeyPatch) -> None:
    """A Scrapy without the tunneling endpoint, or with a different one, is reported."""
    import scrapy_proxyerrors.handler as handler_module

    monkeypatch.setattr(handler_module, "TUNNELING_ENDPOINT", None)
    assert scrapy_internals_problems() == ["http11 has no TunnelingTCP4ClientEndpoint"]
    monkeypatch.setattr(handler_module, "TUNNELING_ENDPOINT", _NotAnEndpoint)
    assert scrapy_internals_problems() == ["_NotAnEndpoint is no TCP4ClientEndpoint"]


def test_self_check_notices_a_changed_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe feeds Scrapy's endpoint a refusal: if it no longer fails with
    TunnelError, the check says so."""
    assert compat.TUNNELING_ENDPOINT is not None
    monkeypatch.setattr(compat.TUNNELING_ENDPOINT, "processProxyResponse", lambda self, data: None)
    assert scrapy_internals_problems() == [
        "processProxyResponse no longer fails a refusal with TunnelError"
    ]


@deferred_f_from_coro_f
async def test_self_check_failing_steps_aside_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """If the self-check fails, the handler is Scrapy's, untouched: one
    WARNING for the crawl, and a refusal is Scrapy's TunnelError, whose status
    and reason the plugin still reads."""
    import scrapy_proxyerrors.handler as handler_module

    monkeypatch.setattr(handler_module, "scrapy_internals_problems", lambda *a: ["probe failed"])
    monkeypatch.setattr(handler_module, "_warned", False)
    script = [Send(reply(407, "Proxy Authentication Required", {"X-SOAX-Error": "AUTH_FAILED"}))]
    urls = ["https://a.example/", "https://b.example/"]
    with RawProxy(script) as proxy:
        outcome = await crawl(urls, proxy=proxy, close_wait=0)
    errors = [outcome.error(u) for u in urls]
    assert [type(e) for e in errors] == [http11.TunnelError] * 2
    replies = [connect_reply(e) for e in errors]
    assert [(r.status, r.reason, r.source) for r in replies if r is not None] == [
        (407, "Proxy Authentication Required", "message")
    ] * 2
    warnings = [
        r for r in caplog.records
        if r.levelname == "WARNING" and r.name == "scrapy_proxyerrors.handler"
    ]
    assert len(warnings) == 1
    assert "probe failed" in warnings[0].getMessage()


@pytest.mark.parametrize("value", ["soon", 0, -1])
def test_bad_body_timeout_setting(value: object) -> None:
    """A bad PROXYERRORS_CONNECT_BODY_TIMEOUT names the setting and the value."""
    crawler = get_crawler(scrapy.Spider, {"PROXYERRORS_CONNECT_BODY_TIMEOUT": value})
    with pytest.raises(NotConfigured, match=rf"PROXYERRORS_CONNECT_BODY_TIMEOUT.*{value!r}"):
        build_from_crawler(ProxyErrorsHTTPSDownloadHandler, crawler)
