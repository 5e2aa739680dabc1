"""An ``https`` download handler that keeps a proxy's refusal of CONNECT.

Through an HTTP proxy, an ``https://`` request starts with ``CONNECT``. When
the proxy refuses, its reply (status, headers such as ``X-SOAX-Error``, body)
is where the provider explains why. Scrapy's HTTP/1.1 handler keeps only the
status line, inside the message of a ``TunnelError``, and never closes the
refused socket. This handler is Scrapy's, with one change on that path: it
reads the whole reply (body capped), closes the socket at once and fails the
request with :class:`~scrapy_proxyerrors.exceptions.ProxyTunnelError`, a
``TunnelError`` subclass carrying the reply. Everything else (successful
tunnels included) runs Scrapy's own code.

Enable it with::

    DOWNLOAD_HANDLERS = {
        "https": "scrapy_proxyerrors.handler.ProxyErrorsHTTPSDownloadHandler",
    }

It extends private classes of ``scrapy.core.downloader.handlers.http11``;
when a Scrapy release changes them, construction raises ``NotConfigured``
naming what changed instead of misbehaving.
"""

from __future__ import annotations

import inspect
import logging
from typing import TYPE_CHECKING, Any, Literal, cast

from scrapy.core.downloader.handlers import http11
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import NotConfigured, ResponseDataLossError
from scrapy.http.headers import Headers
from scrapy.utils._download_handlers import get_dataloss_msg, wrap_twisted_exceptions
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.deprecate import warn_on_deprecated_spider_attribute
from twisted.internet.defer import Deferred
from twisted.internet.protocol import connectionDone

from ._config import DEFAULTS, connect_body_timeout
from ._parse import BODY_LIMIT
from .exceptions import ProxyTunnelError

# mypy sees Scrapy's private classes; at run time a missing one must not break
# the import, so that construction can say what changed (NotConfigured).
if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.core.downloader.handlers.http11 import (
        _ScrapyAgent as _ScrapyAgentBase,
    )
    from scrapy.core.downloader.handlers.http11 import (
        _TunnelingAgent as _TunnelingAgentBase,
    )
    from scrapy.core.downloader.handlers.http11 import (
        _TunnelingTCP4ClientEndpoint as _EndpointBase,
    )
    from scrapy.crawler import Crawler
    from scrapy.http import Response
    from twisted.internet.base import DelayedCall
    from twisted.internet.protocol import Protocol
    from twisted.python.failure import Failure
    from twisted.web.client import URI, Agent
    from twisted.web.iweb import IPolicyForHTTPS
else:
    _EndpointBase = getattr(http11, "_TunnelingTCP4ClientEndpoint", object)
    _TunnelingAgentBase = getattr(http11, "_TunnelingAgent", object)
    _ScrapyAgentBase = getattr(http11, "_ScrapyAgent", object)

logger = logging.getLogger(__name__)

#: Setting: seconds to wait for the body of a refused CONNECT reply after its
#: header block, before failing with the part that arrived.
BODY_TIMEOUT_SETTING = "PROXYERRORS_CONNECT_BODY_TIMEOUT"
DEFAULT_BODY_TIMEOUT: float = DEFAULTS[BODY_TIMEOUT_SETTING]
#: The most body bytes kept from a refused CONNECT reply (what classify() reads).
CONNECT_BODY_LIMIT = BODY_LIMIT

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


class _ProxyErrorsTunnelingEndpoint(_EndpointBase):
    """Scrapy's tunneling endpoint; a refused CONNECT keeps the proxy's reply.

    A refusal goes ``reading`` (body) -> ``closing`` (socket aborted, error
    built) -> ``done`` (errback). The errback waits for ``connectionLost`` so
    that whoever hears of the failure knows the socket is already closed.
    """

    def __init__(self, *args: Any, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._bodyTimeout = body_timeout
        self._refused: _RefusedReply | None = None
        self._refusedState: Literal["none", "reading", "closing", "done"] = "none"
        self._refusedError: ProxyTunnelError | None = None
        self._bodyTimer: DelayedCall | None = None
        # The download timeout cancels this Deferred; while a refused reply is
        # being read, that must also close the socket. In any other state the
        # canceller does nothing, which is what Scrapy's (no canceller) does.
        self._tunnelReadyDeferred = Deferred(self._cancelTunnel)

    def processProxyResponse(self, data: bytes) -> None:
        """Scrapy's, except when the header block is complete and not ``200``."""
        if self._refused is not None:
            if self._refusedState == "reading":
                self._refused.feed(data)
                if self._refused.complete:
                    self._failRefused()
            return
        buffered = bytes(self._connectBuffer) + data
        head_end = buffered.find(b"\r\n\r\n")
        match = self._responseMatcher.match(buffered)
        if head_end < 0 or (match is not None and int(match.group("status")) == 200):
            # Headers incomplete, or a tunnel: Scrapy's own code, unchanged.
            super().processProxyResponse(data)
            return
        if match is None:
            # Not an HTTP reply: keep Scrapy's TunnelError (it quotes the
            # bytes), but do not leave the socket open.
            super().processProxyResponse(data)
            self._abort()
            return
        self._connectBuffer += data
        reply = _RefusedReply(
            buffered[:head_end],
            int(match.group("status")),
            match.group("reason").strip(),
            CONNECT_BODY_LIMIT,
        )
        reply.feed(buffered[head_end + 4 :])
        self._refused = reply
        self._refusedState = "reading"
        # dataReceived stays ours (Scrapy hands it back to the HTTP client
        # protocol here): the body is the proxy's, not a response to a
        # request. connectionLost tells us the proxy closed (a body delimited
        # by close) or that our abort went through.
        protocol = self._protocol
        self._protocolConnectionLost = protocol.connectionLost
        protocol.connectionLost = self._refusedConnectionLost  # type: ignore[method-assign]
        if reply.complete:
            self._failRefused()
        else:
            self._bodyTimer = self._reactor.callLater(self._bodyTimeout, self._failRefused)

    def _failRefused(self) -> None:
        """The body is complete, capped or late: close, then errback."""
        if self._refusedState != "reading":
            return
        self._buildRefusedError()
        self._refusedState = "closing"
        if not self._abort():
            self._deliverRefused()

    def _refusedConnectionLost(self, reason: Failure = connectionDone) -> None:
        if self._refusedState == "reading":
            # The proxy closed first: the body is whatever arrived.
            self._buildRefusedError()
        if self._refusedState in ("reading", "closing"):
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
        self._refusedState = "done"
        assert self._refusedError is not None
        if not self._tunnelReadyDeferred.called:
            self._tunnelReadyDeferred.errback(self._refusedError)

    def _abort(self) -> bool:
        """Abort the proxy connection; ``False`` when there is none to abort.

        Abort, not loseConnection: nothing is left to send, unread bytes must
        not keep the socket (and the proxy's connection slot) alive, and a
        graceful close waits for a write-readiness poll, by which time a
        small crawl may already have finished.
        """
        transport = getattr(self._protocol, "transport", None)
        if transport is None or getattr(transport, "disconnected", False):
            return False
        abort = getattr(transport, "abortConnection", None)
        if abort is None:
            transport.loseConnection()
        else:
            abort()
        return True

    def _cancelTunnel(self, deferred: Deferred[Protocol]) -> None:
        if self._refusedState in ("reading", "closing"):
            self._refusedState = "done"
            if self._bodyTimer is not None and self._bodyTimer.active():
                self._bodyTimer.cancel()
            self._abort()


def _text(value: str | bytes) -> str:
    return value.decode("ascii", "replace") if isinstance(value, bytes) else value


class _ProxyErrorsTunnelingAgent(_TunnelingAgentBase):
    """Scrapy's tunneling agent, building :class:`_ProxyErrorsTunnelingEndpoint`."""

    def __init__(self, *, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bodyTimeout = body_timeout

    def _getEndpoint(self, uri: URI) -> _ProxyErrorsTunnelingEndpoint:
        # Same arguments as Scrapy's _getEndpoint, plus the body timeout.
        return _ProxyErrorsTunnelingEndpoint(
            reactor=self._reactor,
            host=uri.host,
            port=uri.port,
            proxyConf=self._proxyConf,
            contextFactory=self._contextFactory,
            timeout=self._endpointFactory._connectTimeout,
            bindAddress=self._endpointFactory._bindAddress,
            body_timeout=self._bodyTimeout,
        )


class _ProxyErrorsScrapyAgent(_ScrapyAgentBase):
    """Scrapy's agent; where it would tunnel, it tunnels with ours."""

    def __init__(self, *, body_timeout: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._bodyTimeout = body_timeout

    def _get_agent(self, request: Request, timeout: float) -> Agent:
        agent = super()._get_agent(request, timeout)
        if type(agent) is not _TunnelingAgentBase:
            return agent
        # Scrapy parsed the proxy, its credentials and the bind address; reuse
        # its decisions rather than re-deriving them.
        return _ProxyErrorsTunnelingAgent(
            reactor=agent._reactor,
            proxyConf=agent._proxyConf,
            contextFactory=agent._contextFactory,
            connectTimeout=timeout,
            bindAddress=agent._endpointFactory._bindAddress,
            pool=agent._pool,
            body_timeout=self._bodyTimeout,
        )


class ProxyErrorsHTTPSDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler, keeping the proxy's reply to a refused CONNECT.

    A refused CONNECT fails the request with
    :class:`~scrapy_proxyerrors.exceptions.ProxyTunnelError` (status, reason,
    headers, body up to 64 KiB) and closes the proxy socket at once. Requests
    without a proxy, and successful tunnels, behave exactly as with Scrapy's
    handler.

    Settings: ``PROXYERRORS_CONNECT_BODY_TIMEOUT`` (seconds, default 2): how
    long to wait for the rest of a refused reply's body before failing with
    what arrived.
    """

    def __init__(self, crawler: Crawler) -> None:
        problems = scrapy_internals_problems()
        if problems:
            _refuse(problems)
        super().__init__(crawler)
        missing = [name for name in _HANDLER_ATTRIBUTES if not hasattr(self, name)]
        if missing:
            _refuse([f"HTTP11DownloadHandler has no attribute {name}" for name in missing])
        self._body_timeout = connect_body_timeout(crawler.settings)

    async def download_request(self, request: Request) -> Response:
        """Scrapy's ``download_request``, with our agent for proxied requests."""
        if not request.meta.get("proxy"):
            # No CONNECT is possible: Scrapy's code path, untouched.
            return await super().download_request(request)
        # From here on, HTTP11DownloadHandler.download_request with another
        # agent class: Scrapy builds _ScrapyAgent inline, so it cannot be
        # swapped without repeating these lines.
        spider = self._crawler.spider
        if hasattr(spider, "download_maxsize"):  # pragma: no cover
            warn_on_deprecated_spider_attribute("download_maxsize", "DOWNLOAD_MAXSIZE")
        if hasattr(spider, "download_warnsize"):  # pragma: no cover
            warn_on_deprecated_spider_attribute("download_warnsize", "DOWNLOAD_WARNSIZE")
        agent = _ProxyErrorsScrapyAgent(
            contextFactory=self._contextFactory,
            bindAddress=self._bind_address,
            pool=self._pool,
            maxsize=getattr(spider, "download_maxsize", self._default_maxsize),
            warnsize=getattr(spider, "download_warnsize", self._default_warnsize),
            fail_on_dataloss=self._fail_on_dataloss,
            crawler=self._crawler,
            tls_verbose_logging=self._tls_verbose_logging,
            body_timeout=self._body_timeout,
        )
        try:
            with wrap_twisted_exceptions():
                return await maybe_deferred_to_future(agent.download_request(request))
        except ResponseDataLossError:
            if not self._fail_on_dataloss_warned:
                logger.warning(get_dataloss_msg(request.url))
                self._fail_on_dataloss_warned = True
            raise


# What the handler relies on in Scrapy's http11 module: names, the parameters
# it passes or overrides, and attributes it reads. Checked at construction.
_SIGNATURES: dict[str, dict[str, tuple[str, ...]]] = {
    "_TunnelingTCP4ClientEndpoint": {
        "__init__": (
            "self",
            "reactor",
            "host",
            "port",
            "proxyConf",
            "contextFactory",
            "timeout",
            "bindAddress",
        ),
        "processProxyResponse": ("self", "data"),
        "requestTunnel": ("self", "protocol"),
        "connect": ("self", "protocolFactory"),
    },
    "_TunnelingAgent": {
        "__init__": (
            "self",
            "reactor",
            "proxyConf",
            "contextFactory",
            "connectTimeout",
            "bindAddress",
            "pool",
        ),
        "_getEndpoint": ("self", "uri"),
    },
    "_ScrapyAgent": {
        "__init__": (
            "self",
            "contextFactory",
            "connectTimeout",
            "bindAddress",
            "pool",
            "maxsize",
            "warnsize",
            "fail_on_dataloss",
            "crawler",
            "tls_verbose_logging",
        ),
        "_get_agent": ("self", "request", "timeout"),
        "download_request": ("self", "request"),
    },
}
_ENDPOINT_ATTRIBUTES = (
    "_connectBuffer",
    "_tunnelReadyDeferred",
    "_tunneledHost",
    "_tunneledPort",
    "_contextFactory",
    "_host",
    "_port",
    "_reactor",
)
_AGENT_ATTRIBUTES = ("_reactor", "_proxyConf", "_contextFactory", "_pool", "_endpointFactory")
_HANDLER_ATTRIBUTES = (
    "_crawler",
    "_contextFactory",
    "_bind_address",
    "_pool",
    "_default_maxsize",
    "_default_warnsize",
    "_fail_on_dataloss",
    "_fail_on_dataloss_warned",
    "_tls_verbose_logging",
)


def scrapy_internals_problems() -> list[str]:
    """What changed in Scrapy's private ``http11`` internals this handler extends.

    Empty when everything is as expected. Checks class and method names,
    parameter names, and the attributes the handler reads (on throwaway
    instances, which open no connection).
    """
    problems: list[str] = []
    for class_name, methods in _SIGNATURES.items():
        cls = getattr(http11, class_name, None)
        if not isinstance(cls, type):
            problems.append(f"http11.{class_name} is missing")
            continue
        for method_name, expected in methods.items():
            method = getattr(cls, method_name, None)
            if method is None or not callable(method):
                problems.append(f"http11.{class_name}.{method_name} is missing")
                continue
            params = tuple(inspect.signature(method).parameters)
            if params != expected:
                problems.append(
                    f"http11.{class_name}.{method_name}{params} != expected {expected}"
                )
    endpoint_cls = getattr(http11, "_TunnelingTCP4ClientEndpoint", None)
    matcher = getattr(endpoint_cls, "_responseMatcher", None)
    if matcher is None or "status" not in matcher.groupindex or "reason" not in matcher.groupindex:
        problems.append("http11._TunnelingTCP4ClientEndpoint._responseMatcher changed")
    if not problems:
        problems += _instance_problems()
    return problems


def _instance_problems() -> list[str]:
    from twisted.internet import reactor
    from twisted.web.client import BrowserLikePolicyForHTTPS

    problems: list[str] = []
    policy = cast("IPolicyForHTTPS", BrowserLikePolicyForHTTPS())  # type: ignore[no-untyped-call]
    endpoint = http11._TunnelingTCP4ClientEndpoint(
        reactor,
        "probe.invalid",
        443,
        ("127.0.0.1", 9, None),
        policy,
    )
    problems += [
        f"_TunnelingTCP4ClientEndpoint instances lack {name}"
        for name in _ENDPOINT_ATTRIBUTES
        if not hasattr(endpoint, name)
    ]
    agent = http11._TunnelingAgent(
        reactor=reactor,
        proxyConf=("127.0.0.1", 9, None),
        contextFactory=policy,
    )
    problems += [
        f"_TunnelingAgent instances lack {name}"
        for name in _AGENT_ATTRIBUTES
        if not hasattr(agent, name)
    ]
    factory = getattr(agent, "_endpointFactory", None)
    problems += [
        f"_TunnelingAgent._endpointFactory lacks {name}"
        for name in ("_connectTimeout", "_bindAddress")
        if not hasattr(factory, name)
    ]
    return problems


def _refuse(problems: list[str]) -> None:
    import scrapy

    message = (
        f"ProxyErrorsHTTPSDownloadHandler does not support Scrapy {scrapy.__version__}: "
        f"the private http11 internals it extends changed ({'; '.join(problems)}). "
        "Remove it from DOWNLOAD_HANDLERS to use Scrapy's handler (CONNECT errors "
        "then carry only the status and reason), or use a supported Scrapy version."
    )
    logger.error("%(message)s", {"message": message})
    raise NotConfigured(message)
