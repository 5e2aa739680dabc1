"""The HTTPS handler against hostile or silent proxies: bounded memory, no open sockets.

Raw TCP proxies on loopback (``tests/rawproxy.py``) record, per connection,
when the client closed it; "open" below means the proxy has not seen the close.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from scrapy.core.downloader.handlers import http11
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_proxyerrors import _compat as compat
from scrapy_proxyerrors._tunnel import connect_reply
from scrapy_proxyerrors.exceptions import ProxyTunnelError
from scrapy_proxyerrors.handler import CONNECT_HEAD_LIMIT, _ProxyErrorsTunnelingEndpoint

from .rawproxy import RawProxy, Send
from .test_handler import NOTICE, crawl

if TYPE_CHECKING:
    from .rawproxy import Step

URL = "https://example.com/"
STATUS_LINE = b"HTTP/1.1 407 Proxy Authentication Required\r\n"


class BufferSpy:
    """The most bytes the endpoint ever held of a CONNECT reply's header block."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.most = 0
        self.reads = 0
        self.capped = False
        original = _ProxyErrorsTunnelingEndpoint.processProxyResponse
        spy = self

        def processProxyResponse(endpoint: _ProxyErrorsTunnelingEndpoint, data: bytes) -> None:
            original(endpoint, data)
            spy.reads += 1
            spy.most = max(spy.most, len(endpoint._head))

        original_fail = _ProxyErrorsTunnelingEndpoint._failHeadTooLong

        def failHeadTooLong(endpoint: _ProxyErrorsTunnelingEndpoint) -> None:
            # The buffer at its fullest, just before it is let go.
            spy.most = max(spy.most, len(endpoint._head))
            spy.capped = True
            original_fail(endpoint)

        monkeypatch.setattr(
            _ProxyErrorsTunnelingEndpoint, "processProxyResponse", processProxyResponse
        )
        monkeypatch.setattr(_ProxyErrorsTunnelingEndpoint, "_failHeadTooLong", failHeadTooLong)


def _open_connections(proxy: RawProxy) -> int:
    """Connections whose close the proxy has not seen (waiting up to NOTICE
    for its thread to notice a close that already happened)."""
    return sum(not record.client_closed.wait(NOTICE) for record in proxy.records)


@pytest.mark.parametrize(
    "script",
    [
        pytest.param([], id="never-answers"),
        pytest.param([Send(STATUS_LINE + b"X-A: 1\r\n")], id="header-block-never-ends"),
        pytest.param([Send(STATUS_LINE)], id="status-line-only"),
    ],
)
@deferred_f_from_coro_f
async def test_download_timeout_closes_a_silent_proxy_socket(script: list[Step]) -> None:
    """A proxy that accepts the connection and then says nothing (or too
    little): DOWNLOAD_TIMEOUT fails the request as usual and the socket is
    closed, without waiting for the crawl to end."""
    with RawProxy(script) as proxy:
        outcome = await crawl([URL], proxy=proxy, settings={"DOWNLOAD_TIMEOUT": 0.3},
                              close_wait=0)
        assert len(proxy.records) == 1
        open_now = _open_connections(proxy)
    assert isinstance(outcome.error(), compat.TIMEOUT_ERRORS)
    assert open_now == 0
    assert proxy.records[0].close_kind in ("eof", "reset")


@deferred_f_from_coro_f
async def test_stock_handler_leaves_a_silent_proxy_socket_open() -> None:
    """Contrast (the test above can fail): Scrapy's handler times the request
    out but leaves the socket open past the end of the crawl."""
    with RawProxy([]) as proxy:
        outcome = await crawl([URL], proxy=proxy, handler=None,
                              settings={"DOWNLOAD_TIMEOUT": 0.3}, close_wait=0)
        still_open = not proxy.records[0].client_closed.wait(0.5)
    assert isinstance(outcome.error(), compat.TIMEOUT_ERRORS)
    assert still_open


@deferred_f_from_coro_f
async def test_endless_header_block_is_capped_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """A refusal whose header block never ends: at most CONNECT_HEAD_LIMIT
    bytes are held, the request fails at the cap with the status and the
    complete header lines that fit, and the socket is closed before the errback."""
    spy = BufferSpy(monkeypatch)
    padding = b"X-Pad: " + b"a" * (4 * CONNECT_HEAD_LIMIT)  # one line, never ended
    script = [Send(STATUS_LINE + b"X-SOAX-Error: AUTH_FAILED\r\n" + padding)]
    with RawProxy(script) as proxy:
        outcome = await crawl([URL], proxy=proxy, settings={"DOWNLOAD_TIMEOUT": 30})
        open_now = _open_connections(proxy)
    error = outcome.error()
    assert isinstance(error, ProxyTunnelError)
    assert (error.status, error.headers.get("X-SOAX-Error")) == (407, b"AUTH_FAILED")
    assert "X-Pad" not in error.headers
    assert outcome.closed_at_errback == {URL: True}
    assert open_now == 0
    assert spy.capped and spy.most == CONNECT_HEAD_LIMIT
    reply = connect_reply(error)
    assert reply is not None and reply.status == 407


@deferred_f_from_coro_f
async def test_endless_garbage_is_capped_and_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    """No status line at all, and no end: a TunnelError at the cap, socket closed."""
    spy = BufferSpy(monkeypatch)
    with RawProxy([Send(b"\x16" * (4 * CONNECT_HEAD_LIMIT))]) as proxy:
        outcome = await crawl([URL], proxy=proxy, settings={"DOWNLOAD_TIMEOUT": 30})
        open_now = _open_connections(proxy)
    error = outcome.error()
    assert type(error) is http11.TunnelError
    assert f"exceeds {CONNECT_HEAD_LIMIT} bytes" in str(error)
    assert connect_reply(error) is None
    assert outcome.closed_at_errback == {URL: True}
    assert open_now == 0
    assert spy.capped and spy.most == CONNECT_HEAD_LIMIT


@deferred_f_from_coro_f
async def test_header_block_just_under_the_cap_is_read_whole(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The cap is on the header block: a long one that ends in time is read
    like any other refusal (status, headers, body)."""
    spy = BufferSpy(monkeypatch)
    line = b"X-Pad: " + b"b" * 1000 + b"\r\n"
    lines = line * ((CONNECT_HEAD_LIMIT - 200) // len(line))
    head = STATUS_LINE + b"X-SOAX-Error: AUTH_FAILED\r\n" + lines + b"Content-Length: 4\r\n\r\n"
    assert len(head) < CONNECT_HEAD_LIMIT
    with RawProxy([Send(head + b"nope")]) as proxy:
        outcome = await crawl([URL], proxy=proxy)
    error = outcome.error()
    assert isinstance(error, ProxyTunnelError)
    assert (error.status, error.body) == (407, b"nope")
    assert len(error.headers.getlist("X-Pad")) == len(lines) // len(line)
    assert not spy.capped and spy.most <= CONNECT_HEAD_LIMIT


def test_cancel_while_connecting_stops_the_connection_attempt() -> None:
    """Before the TCP connection exists there is no socket to abort: the
    connection attempt itself is stopped (Twisted's in-memory reactor records
    it), and the request fails with ConnectingCancelledError."""
    from twisted.internet.error import ConnectingCancelledError
    from twisted.internet.protocol import Factory, Protocol
    from twisted.internet.testing import MemoryReactorClock
    from twisted.web.client import BrowserLikePolicyForHTTPS

    from scrapy_proxyerrors.handler import _adopt

    assert compat.TUNNELING_ENDPOINT is not None
    reactor = MemoryReactorClock()
    stock = compat.TUNNELING_ENDPOINT(
        reactor, "example.com", 443, ("127.0.0.1", 3128, None), BrowserLikePolicyForHTTPS()
    )
    endpoint = _adopt(stock, 2.0)
    assert type(endpoint) is _ProxyErrorsTunnelingEndpoint
    failures: list[Any] = []
    deferred = endpoint.connect(Factory.forProtocol(Protocol))
    deferred.addErrback(failures.append)
    (connector,) = reactor.connectors
    assert not connector.stoppedConnecting
    deferred.cancel()
    assert connector.stoppedConnecting
    assert len(failures) == 1 and failures[0].check(ConnectingCancelledError)
