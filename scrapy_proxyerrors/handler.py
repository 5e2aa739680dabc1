"""Keep a proxy's refusal of CONNECT, by intercepting Scrapy's HTTP/1.1 handler.

Through an HTTP proxy, an ``https://`` request starts with ``CONNECT``. When
the proxy refuses, its reply (status, headers such as ``X-SOAX-Error``, body)
is where the provider explains why. Scrapy's HTTP/1.1 handler keeps only the
status line, inside the message of a ``TunnelError``, and leaves the refused
socket open.

This handler *is* Scrapy's handler: ``download_request`` and everything else
run unchanged. One thing differs: its connection pool (Twisted's
``HTTPConnectionPool``, asked for every connection through the public
``getConnection(key, endpoint)``) swaps Scrapy's tunneling endpoint for a
subclass that

* reads a refused reply (status, reason up to 1,000 bytes, headers, body up to
  64 KiB), aborts the socket and fails the request with
  :class:`~scrapy_proxyerrors.exceptions.ProxyTunnelError` (a ``TunnelError``);
* caps the CONNECT reply's header block at 64 KiB, buffered linearly;
* aborts the proxy socket when the request is cancelled (``DOWNLOAD_TIMEOUT``)
  in every state: while connecting, before any reply byte, mid-reply.

Successful tunnels are handed to Scrapy's own code.

Enable it with the add-on, or::

    DOWNLOAD_HANDLERS = {
        "https": "scrapy_proxyerrors.handler.ProxyErrorsHTTPSDownloadHandler",
    }

``PROXYERRORS_HTTPS_FALLBACK_HANDLER`` (set by the add-on from what the
project had for ``https``) names the handler actually built; when it is an
``HTTP11DownloadHandler`` (or subclass) its pool is intercepted the same way,
any other handler (aiohttp, httpx, ...) is returned untouched.

The interception relies on a few private names of Scrapy's ``http11`` module;
:func:`scrapy_internals_problems` checks them when the handler is built. If a
Scrapy release changed them, the handler steps aside with one WARNING: the
crawl runs on Scrapy's handler and the plugin reads the stock ``TunnelError``
(status and reason).
"""

from __future__ import annotations

import inspect
import logging
import re
from typing import TYPE_CHECKING, Any, Literal

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler, TunnelError
from scrapy.http.headers import Headers
from scrapy.utils.misc import build_from_crawler
from twisted.internet.defer import Deferred
from twisted.internet.endpoints import TCP4ClientEndpoint
from twisted.internet.protocol import connectionDone
from twisted.web.client import HTTPConnectionPool

from ._compat import TUNNELING_ENDPOINT
from ._config import DEFAULTS, connect_body_timeout, https_fallback_handler
from ._parse import BODY_LIMIT
from .exceptions import ProxyTunnelError

if TYPE_CHECKING:
    from collections.abc import Hashable

    from scrapy.crawler import Crawler
    from twisted.internet.base import DelayedCall
    from twisted.internet.protocol import Protocol
    from twisted.python.failure import Failure
    from typing_extensions import Self

    _EndpointBase = Any
else:

    class _ConnectHook(TCP4ClientEndpoint):
        """Sits between Scrapy's tunneling endpoint and Twisted's TCP endpoint
        (in the MRO) to keep the TCP connection attempt, so that a cancelled
        request can stop it."""

        def connect(self, protocolFactory):
            self._connecting = super().connect(protocolFactory)
            return self._connecting

    if isinstance(TUNNELING_ENDPOINT, type) and issubclass(TUNNELING_ENDPOINT, TCP4ClientEndpoint):

        class _EndpointBase(TUNNELING_ENDPOINT, _ConnectHook):
            pass

    else:
        # Scrapy renamed or reshaped it: the self-check keeps the subclass
        # from ever being used.
        _EndpointBase = object

logger = logging.getLogger(__name__)

#: Setting: seconds to wait for the body of a refused CONNECT reply after its
#: header block, before failing with the part that arrived.
BODY_TIMEOUT_SETTING = "PROXYERRORS_CONNECT_BODY_TIMEOUT"
DEFAULT_BODY_TIMEOUT: float = DEFAULTS[BODY_TIMEOUT_SETTING]
#: Setting (written by the add-on): the ``https`` handler the project had,
#: which this handler builds and intercepts (default: Scrapy's HTTP/1.1 one).
FALLBACK_SETTING = "PROXYERRORS_HTTPS_FALLBACK_HANDLER"
#: The most body bytes kept from a refused CONNECT reply (what classify() reads).
CONNECT_BODY_LIMIT = BODY_LIMIT
#: The most bytes of a CONNECT reply's header block; a longer one fails the request.
CONNECT_HEAD_LIMIT = 64 * 1024
#: The most bytes of a refused reply's reason phrase kept (as Scrapy 2.19).
REASON_LIMIT = 1000

_STATUS_LINE = re.compile(rb"HTTP/1\.. (?P<status>\d{3})(?P<reason>[^\r\n]{0,%d})" % REASON_LIMIT)

_Framing = Literal["none", "length", "chunked", "close"]


class _RefusedReply:
    """A refused CONNECT reply, fed until its body is complete.

    Body framing follows RFC 9112 section 6.3, leniently: ``Content-Length``,
    chunked, or until the proxy closes; at most *limit* body bytes are kept.
    """

    def __init__(self, head: bytes, status: int, reason: bytes, limit: int) -> None:
        self.status = status
        self.reason = reason
        self.headers = _parse_headers(head)
        self._limit = limit
        self._raw = bytearray()
        self._expected: int | None = None
        self.framing: _Framing = self._framing()

    def _framing(self) -> _Framing:
        if 100 <= self.status < 200 or self.status in (204, 304):
            return "none"
        encodings = b",".join(self.headers.getlist("Transfer-Encoding")).lower()
        if encodings:
            return "chunked" if encodings.rsplit(b",", 1)[-1].strip() == b"chunked" else "close"
        lengths = {v.strip() for v in b",".join(self.headers.getlist("Content-Length")).split(b",")}
        if len(lengths) == 1:
            (value,) = lengths
            if value.isdigit():
                self._expected = int(value)
                return "length"
        return "close"

    def feed(self, data: bytes) -> None:
        # Chunk framing takes room too: keep enough raw bytes to decode *limit*.
        room = self._limit * 2 - len(self._raw)
        if room > 0:
            self._raw += data[:room]

    @property
    def complete(self) -> bool:
        """Whether the body is fully read (or the cap reached)."""
        if self.framing == "none" or len(self._raw) >= self._limit * 2:
            return True
        if self.framing == "length":
            assert self._expected is not None
            return len(self._raw) >= min(self._expected, self._limit)
        if self.framing == "chunked":
            return _dechunk(bytes(self._raw), self._limit)[1]
        return len(self._raw) >= self._limit

    @property
    def body(self) -> bytes:
        """The body read so far, decoded from chunks, capped."""
        if self.framing == "none":
            return b""
        if self.framing == "chunked":
            return _dechunk(bytes(self._raw), self._limit)[0]
        if self.framing == "length":
            assert self._expected is not None
            return bytes(self._raw[: min(self._expected, self._limit)])
        return bytes(self._raw[: self._limit])


def _parse_headers(head: bytes) -> Headers:
    """Headers of a raw header block (status line first); bad lines are skipped."""
    headers = Headers()
    for line in head.split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        name = name.strip()
        if sep and name:
            headers.appendlist(name, value.strip())
    return headers


def _dechunk(raw: bytes, limit: int) -> tuple[bytes, bool]:
    """Decode chunked *raw*: ``(body, done)``; *done* once the last chunk,
    *limit* bytes or malformed framing is reached."""
    body = bytearray()
    pos = 0
    while True:
        eol = raw.find(b"\r\n", pos)
        if eol < 0:
            return bytes(body), False
        size_text = raw[pos:eol].split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            return bytes(body[:limit]), True
        if size < 0:
            return bytes(body[:limit]), True
        if size == 0:
            return bytes(body[:limit]), True
        start = eol + 2
        body += raw[start : start + size]
        if len(body) >= limit:
            return bytes(body[:limit]), True
        if len(raw) < start + size + 2:
            return bytes(body), False
        pos = start + size + 2


class _ProxyErrorsTunnelingEndpoint(_EndpointBase):  # type: ignore[misc]
    """Scrapy's tunneling endpoint, hardened; a refused CONNECT keeps the reply.

    Never constructed directly: :func:`_adopt` turns Scrapy's endpoint into
    one (same attributes), right before the pool connects with it.

    States: ``connecting`` (TCP) -> ``head`` (CONNECT sent, reading the reply's
    header block) -> ``tunnel`` (200: Scrapy's code took over) or ``reading``
    (refused: reading the body) -> ``closing`` (socket aborted) -> ``done``.
    A refusal's errback waits for ``connectionLost``, so whoever hears of the
    failure knows the socket is already closed.
    """

    _bodyTimeout: float
    _state: Literal["connecting", "head", "tunnel", "reading", "closing", "done"]

    def _adopted(self, body_timeout: float) -> None:
        self._bodyTimeout = body_timeout
        self._state = "connecting"
        self._head = bytearray()
        self._refused: _RefusedReply | None = None
        self._refusedError: TunnelError | None = None
        self._bodyTimer: DelayedCall | None = None
        self._connecting: Deferred[Any] | None = None
        # The download timeout cancels this Deferred (Scrapy's has no
        # canceller, so a cancelled request left its socket open).
        self._tunnelReadyDeferred: Deferred[Protocol] = Deferred(self._cancelTunnel)

    def requestTunnel(self, protocol: Protocol) -> Protocol:
        """Scrapy's, then read the reply with :meth:`processProxyResponse`."""
        if self._state == "done":
            # Cancelled while connecting, connected anyway: close at once.
            protocol.transport.abortConnection()  # type: ignore[union-attr]
            return protocol
        self._state = "head"
        result = super().requestTunnel(protocol)
        # Scrapy's requestTunnel points dataReceived at the class's method;
        # make sure it is ours whatever it bound.
        protocol.dataReceived = self.processProxyResponse  # type: ignore[method-assign]
        return result  # type: ignore[no-any-return]

    def processProxyResponse(self, data: bytes) -> None:
        """Read the reply's header block, capped; a 200 goes to Scrapy's code."""
        if self._state == "reading":
            assert self._refused is not None
            self._refused.feed(data)
            if self._refused.complete:
                self._failRefused()
            return
        if self._state != "head":
            return
        # Linear: search only the new bytes (plus 3 for a split terminator),
        # and never hold more than CONNECT_HEAD_LIMIT bytes.
        start = max(len(self._head) - 3, 0)
        room = CONNECT_HEAD_LIMIT - len(self._head)
        self._head += data[:room]
        head_end = self._head.find(b"\r\n\r\n", start)
        if head_end < 0:
            if len(self._head) >= CONNECT_HEAD_LIMIT:
                self._failHeadTooLong()
            return
        head = bytes(self._head[:head_end])
        rest = bytes(self._head[head_end + 4 :]) + data[room:]
        match = _STATUS_LINE.match(head)
        if match is not None and int(match.group("status")) == 200:
            # A tunnel: Scrapy's own code, fed the same bytes in one piece.
            self._state = "tunnel"
            self._head = bytearray()
            super().processProxyResponse(head + b"\r\n\r\n" + rest)
            return
        if match is None:
            # Not an HTTP reply: Scrapy's TunnelError (it quotes the bytes),
            # and the socket is closed.
            self._state = "done"
            self._head = bytearray()
            super().processProxyResponse(head + b"\r\n\r\n" + rest)
            self._abort()
            return
        self._head = bytearray()
        reply = _RefusedReply(
            head, int(match.group("status")), match.group("reason").strip(), CONNECT_BODY_LIMIT
        )
        reply.feed(rest)
        self._startRefused(reply)

    def _startRefused(self, reply: _RefusedReply) -> None:
        self._refused = reply
        self._state = "reading"
        # connectionLost tells us the proxy closed (a body delimited by
        # close) or that our abort went through.
        protocol = self._protocol
        self._protocolConnectionLost = protocol.connectionLost
        protocol.connectionLost = self._refusedConnectionLost
        if reply.complete:
            self._failRefused()
        else:
            self._bodyTimer = self._reactor.callLater(self._bodyTimeout, self._failRefused)

    def _failHeadTooLong(self) -> None:
        """The header block passed the cap: fail with what it said, close."""
        head = bytes(self._head[:CONNECT_HEAD_LIMIT])
        self._head = bytearray()
        match = _STATUS_LINE.match(head)
        if match is None or int(match.group("status")) == 200:
            # Nothing to classify (or a "tunnel" we will not trust).
            self._state = "closing"
            self._refusedError = TunnelError(
                f"Could not open CONNECT tunnel with proxy {self._host}:{self._port} "
                f"[the reply's header block exceeds {CONNECT_HEAD_LIMIT} bytes]"
            )
            self._protocolConnectionLost = self._protocol.connectionLost
            self._protocol.connectionLost = self._refusedConnectionLost
            if not self._abort():
                self._deliverRefused()
            return
        # The status line is the proxy's answer; headers are the complete
        # lines that fit, the body is never reached.
        complete = head[: head.rfind(b"\r\n")] if b"\r\n" in head else head
        reply = _RefusedReply(
            complete, int(match.group("status")), match.group("reason").strip(), 0
        )
        reply.framing = "none"
        self._startRefused(reply)

    def _failRefused(self) -> None:
        """The body is complete, capped or late: close, then errback."""
        if self._state != "reading":
            return
        self._buildRefusedError()
        self._state = "closing"
        if not self._abort():
            self._deliverRefused()

    def _refusedConnectionLost(self, reason: Failure = connectionDone) -> None:
        if self._state == "reading":
            # The proxy closed first: the body is whatever arrived.
            self._buildRefusedError()
        if self._state in ("reading", "closing"):
            self._deliverRefused()
        self._protocolConnectionLost(reason)

    def _buildRefusedError(self) -> None:
        reply = self._refused
        assert reply is not None
        if self._bodyTimer is not None and self._bodyTimer.active():
            self._bodyTimer.cancel()
        proxy = f"{self._host}:{self._port}"
        logger.debug(
            "Proxy %(proxy)s refused CONNECT to %(host)s:%(port)s with %(status)s",
            {
                "proxy": proxy,
                "host": _text(self._tunneledHost),
                "port": self._tunneledPort,
                "status": reply.status,
            },
        )
        self._refusedError = ProxyTunnelError(
            proxy=proxy,
            status=reply.status,
            reason=reply.reason,
            headers=reply.headers,
            body=reply.body,
        )

    def _deliverRefused(self) -> None:
        self._state = "done"
        assert self._refusedError is not None
        if not self._tunnelReadyDeferred.called:
            self._tunnelReadyDeferred.errback(self._refusedError)

    def connectFailed(self, reason: Failure) -> None:
        """Scrapy's, unless the request was already failed (cancelled)."""
        if not self._tunnelReadyDeferred.called:
            super().connectFailed(reason)

    def _abort(self) -> bool:
        """Abort the proxy connection; ``False`` when there is none to abort.

        Abort, not loseConnection: nothing is left to send, unread bytes must
        not keep the socket (and the proxy's connection slot) alive, and a
        graceful close waits for a write-readiness poll, by which time a
        small crawl may already have finished.
        """
        transport = getattr(getattr(self, "_protocol", None), "transport", None)
        if transport is None or getattr(transport, "disconnected", False):
            return False
        abort = getattr(transport, "abortConnection", None)
        if abort is None:
            transport.loseConnection()
        else:
            abort()
        return True

    def _cancelTunnel(self, deferred: Deferred[Protocol]) -> None:
        """The request was cancelled (timeout): close whatever is open."""
        state = self._state
        self._state = "done"
        if self._bodyTimer is not None and self._bodyTimer.active():
            self._bodyTimer.cancel()
        self._head = bytearray()
        if state == "connecting":
            if self._connecting is not None and not self._connecting.called:
                # Stops the TCP attempt; its errback goes to connectFailed,
                # which sees the tunnel Deferred already being cancelled.
                self._connecting.cancel()
            return
        if state in ("head", "reading", "closing"):
            self._abort()


def _text(value: str | bytes) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


# --- interception at the pool ------------------------------------------------


def _adopt(endpoint: Any, body_timeout: float) -> Any:
    """Scrapy's tunneling *endpoint*, turned into ours (other endpoints as they are)."""
    if TUNNELING_ENDPOINT is None or type(endpoint) is not TUNNELING_ENDPOINT:
        return endpoint
    endpoint.__class__ = _ProxyErrorsTunnelingEndpoint
    endpoint._adopted(body_timeout)
    return endpoint


def intercept(pool: HTTPConnectionPool, body_timeout: float) -> None:
    """Make *pool* connect through our tunneling endpoint.

    Wraps the pool's public ``getConnection(key, endpoint)``, through which
    every Twisted agent (Scrapy's tunneling agent included) gets a connection.
    Idempotent.
    """
    if getattr(pool, "_proxyerrors_intercepted", False):
        return
    get_connection = pool.getConnection

    def getConnection(key: Hashable, endpoint: Any) -> Deferred[Any]:
        return get_connection(key, _adopt(endpoint, body_timeout))

    pool.getConnection = getConnection  # type: ignore[method-assign]
    pool._proxyerrors_intercepted = True  # type: ignore[attr-defined]


class ProxyErrorsHTTPSDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, keeping the proxy's reply to a refused CONNECT.

    A refused CONNECT fails the request with
    :class:`~scrapy_proxyerrors.exceptions.ProxyTunnelError` (status, reason,
    headers, body up to 64 KiB) and closes the proxy socket at once. Requests
    without a proxy, and successful tunnels, behave exactly as with Scrapy's
    handler (its ``download_request`` runs unchanged).

    Settings: ``PROXYERRORS_CONNECT_BODY_TIMEOUT`` (seconds, default 2): how
    long to wait for the rest of a refused reply's body before failing with
    what arrived; ``PROXYERRORS_HTTPS_FALLBACK_HANDLER``: the handler to build
    instead of Scrapy's HTTP/1.1 one (the add-on sets it to what the project
    had for ``https``).
    """

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        body_timeout = connect_body_timeout(crawler.settings)
        fallback_cls = https_fallback_handler(crawler.settings)
        handler: Any
        if fallback_cls is None or fallback_cls in (cls, HTTP11DownloadHandler):
            parent = getattr(super(), "from_crawler", None)
            handler = parent(crawler) if parent is not None else cls(crawler)
        else:
            # Another https handler: built as the project asked; intercepted
            # when it is an HTTP/1.1 handler too.
            handler = build_from_crawler(fallback_cls, crawler)
        if isinstance(handler, HTTP11DownloadHandler):
            _install(handler, body_timeout)
        return handler  # type: ignore[no-any-return]


_warned = False


def _install(handler: HTTP11DownloadHandler, body_timeout: float) -> bool:
    """Intercept *handler*'s pool; if Scrapy changed, step aside with a WARNING."""
    global _warned
    problems = scrapy_internals_problems(handler)
    if not problems:
        intercept(handler._pool, body_timeout)
        return True
    if not _warned:
        import scrapy

        _warned = True
        logger.warning(
            "scrapy-proxyerrors cannot keep the proxy's reply to a refused CONNECT on "
            "Scrapy %(version)s (%(problems)s); using Scrapy's HTTPS handler as it is: "
            "refused CONNECTs are classified by their status and reason only.",
            {"version": scrapy.__version__, "problems": "; ".join(problems)},
        )
    return False


def scrapy_internals_problems(handler: Any = None) -> list[str]:
    """What changed in the private parts of Scrapy's ``http11`` this relies on.

    Empty when everything is as expected: the tunneling endpoint class and
    the methods and attributes it uses (checked on a throwaway instance fed a
    refused reply over an in-memory transport, no socket), and *handler*'s
    ``_pool``.
    """
    problems: list[str] = []
    if handler is not None:
        pool = getattr(handler, "_pool", None)
        if not isinstance(pool, HTTPConnectionPool):
            problems.append("HTTP11DownloadHandler._pool is not an HTTPConnectionPool")
        elif tuple(inspect.signature(pool.getConnection).parameters) != ("key", "endpoint"):
            problems.append("HTTPConnectionPool.getConnection(key, endpoint) changed")
    if TUNNELING_ENDPOINT is None:
        problems.append("http11 has no TunnelingTCP4ClientEndpoint")
        return problems
    if not issubclass(TUNNELING_ENDPOINT, TCP4ClientEndpoint):
        problems.append(f"{TUNNELING_ENDPOINT.__name__} is no TCP4ClientEndpoint")
        return problems
    for name in ("connect", "requestTunnel", "processProxyResponse", "connectFailed"):
        if not callable(getattr(TUNNELING_ENDPOINT, name, None)):
            problems.append(f"{TUNNELING_ENDPOINT.__name__}.{name} is missing")
    if not problems:
        try:
            problems += _probe()
        except Exception as exc:
            problems.append(f"probing {TUNNELING_ENDPOINT.__name__} failed: {exc!r}")
    return problems


class _Sink:
    """The transport the probe's protocol writes its CONNECT to: the probe
    reads nothing back from it. Not ``twisted.internet.testing``'s
    ``StringTransport``, which imports ``twisted.trial``, ``unittest`` and
    ``pdb`` into every crawl (about 4,000 objects that each full garbage
    collection then walks)."""

    def write(self, data: bytes) -> None:
        pass

    def writeSequence(self, data: list[bytes]) -> None:
        pass

    def loseConnection(self) -> None:
        pass

    def abortConnection(self) -> None:
        pass


def _probe() -> list[str]:
    from twisted.internet import reactor
    from twisted.internet.protocol import Protocol
    from twisted.web.client import BrowserLikePolicyForHTTPS

    assert TUNNELING_ENDPOINT is not None
    policy = BrowserLikePolicyForHTTPS()  # type: ignore[no-untyped-call]
    endpoint = TUNNELING_ENDPOINT(reactor, "probe.invalid", 443, ("127.0.0.1", 9, None), policy)
    problems = [
        f"{TUNNELING_ENDPOINT.__name__} instances lack {name}"
        for name in ("_tunnelReadyDeferred", "_tunneledHost", "_tunneledPort", "_host", "_port")
        if not hasattr(endpoint, name)
    ]
    if problems:
        return problems
    failures: list[Failure] = []
    endpoint._tunnelReadyDeferred.addErrback(failures.append)
    protocol = Protocol()
    protocol.makeConnection(_Sink())  # type: ignore[no-untyped-call]
    endpoint.requestTunnel(protocol)
    if getattr(endpoint, "_protocol", None) is not protocol:
        problems.append("requestTunnel no longer records _protocol")
    endpoint.processProxyResponse(b"HTTP/1.1 407 Probe\r\n\r\n")
    if not failures or not failures[0].check(TunnelError):  # type: ignore[no-untyped-call]
        problems.append("processProxyResponse no longer fails a refusal with TunnelError")
    return problems
