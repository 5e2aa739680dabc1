"""Corroborate a plain-HTTP provider error with a CONNECT probe.

The trust boundary: through a gateway, a plain ``http://`` reply may be the
target's, forwarded with whatever headers the target chose. A reply to
``CONNECT`` can only be the proxy's own (the tunnel is not open yet). So before
a plain-HTTP reply may stop the crawl or pause an account
(:func:`needs_corroboration`), the middleware asks the same proxy, with the
same credentials, for a tunnel (:func:`connect_probe`); only a refusal that
says the same thing (:func:`corroborate`) lets the claim stand. A real auth or
quota failure is refused on CONNECT too, so it still stops within a handful of
requests, also in a crawl of one site; a target's forgery is not.

Everything here but :func:`connect_probe` is pure.
"""

from __future__ import annotations

import dataclasses
import time
from base64 import b64encode
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from scrapy.http.headers import Headers
from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet import defer, protocol

from ._classifier import capped, classify
from ._tunnel import ConnectReply
from ._vocabulary import Action, Category, Scope, Transport
from .profiles import BUILTIN_PROFILES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from ._classifier import ProviderError
    from ._profile import Profile

#: The most bytes of a CONNECT reply read: the head and a short error body.
_HEAD_LIMIT = 64 * 1024
_BODY_LIMIT = 4 * 1024
#: Port the probe asks a tunnel to: proxies commonly refuse CONNECT to any
#: other (Squid's ``http_access deny CONNECT !SSL_ports``).
PROBE_PORT = 443


def needs_corroboration(error: ProviderError, transport: Transport | str) -> bool:
    """Whether acting on *error* needs a CONNECT probe first.

    True for a plain-HTTP reply that would stop the crawl, or pause (or, past
    ``PROXYERRORS_MAX_WAIT``, stop) an account or the crawl; also for a reply
    the classifier capped (``error.claimed``), whose claim only a probe can
    restore. Never for CONNECT or API replies, which are the provider's own.
    """
    if Transport(transport) is not Transport.PLAIN:
        return False
    rule = error.claimed or error.rule
    if rule.action is Action.STOP:
        return True
    if rule.category is Category.CONCURRENCY:
        # It lowers the account's concurrency limit and never pauses it (see
        # plan()); and a probe could not tell: it finds a free place as soon
        # as one request of the account ends.
        return False
    return rule.action is Action.SLOWDOWN and rule.scope in (Scope.ACCOUNT, Scope.CRAWL)


def corroborate(
    error: ProviderError,
    reply: ConnectReply | None,
    *,
    proxy_url: str | None = None,
    profiles: Mapping[str, Profile] = BUILTIN_PROFILES,
    now: float | None = None,
) -> ProviderError:
    """*error* as the probe's *reply* lets the crawl act on it.

    When the proxy refused the tunnel with an error of the same provider and
    category, the claim stands (the uncapped rule). Otherwise (no reply, a
    tunnel opened, or a different refusal) the error is capped: at most
    pass/retry/rotate, scope at most the route.
    """
    claimed = error.claimed or error.rule
    if reply is not None and not 200 <= reply.status < 300:
        seen = classify(
            reply.status,
            reply.headers,
            reply.body,
            transport=Transport.CONNECT,
            proxy_url=proxy_url,
            provider=profiles.get(error.provider),
            profiles=profiles,
            now=now,
        )
        if seen is not None and seen.category == error.category:
            return dataclasses.replace(error, rule=claimed, claimed=None)
    if error.claimed is not None:
        return error
    return dataclasses.replace(error, rule=capped(claimed), claimed=claimed)


class _Probe(protocol.Protocol):
    """Sends one CONNECT, keeps the reply's head and a short body, hangs up."""

    def __init__(self, request: bytes) -> None:
        self.request = request
        self.data = b""
        self.done: defer.Deferred[bytes] = defer.Deferred()

    def connectionMade(self) -> None:
        transport: Any = self.transport  # zope interfaces do not type-check
        transport.write(self.request)

    def dataReceived(self, data: bytes) -> None:
        self.data += data
        if _complete(self.data):
            self._finish()

    def connectionLost(self, reason: Any = None) -> None:
        if not self.done.called:
            self.done.callback(self.data)

    def _finish(self) -> None:
        if not self.done.called:
            self.done.callback(self.data)
        transport: Any = self.transport
        if transport is not None:
            transport.loseConnection()


def _complete(data: bytes) -> bool:
    """Whether *data* holds the whole head, and the body up to what is kept."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        return len(data) >= _HEAD_LIMIT
    head = data[:end].decode("latin-1")
    status = head.split(" ", 2)[1] if head.count(" ") >= 1 else ""
    if status.startswith("2"):
        return True  # a tunnel: nothing more belongs to the proxy
    length = 0
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length" and value.strip().isdigit():
            length = int(value.strip())
    return len(data) - end - 4 >= min(length, _BODY_LIMIT)


def parse_connect_reply(data: bytes, proxy: str = "") -> ConnectReply | None:
    """A proxy's raw reply to CONNECT; ``None`` if it is not an HTTP reply."""
    head, sep, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if not sep or len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
        return None
    headers = Headers()
    for line in lines[1:]:
        name, colon, value = line.partition(":")
        if colon and name.strip():
            headers.appendlist(name.strip(), value.strip())
    return ConnectReply(
        status=int(parts[1]),
        reason=parts[2] if len(parts) > 2 else "",
        headers=headers,
        body=body[:_BODY_LIMIT],
        proxy=proxy,
        source="handler",
    )


def _authorization(proxy_url: str, given: bytes | None) -> bytes | None:
    if given:
        return given
    parts = urlsplit(proxy_url)
    if parts.username is None:
        return None
    creds = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
    return b"Basic " + b64encode(creds.encode("latin-1", "replace"))


async def connect_probe(
    proxy_url: str,
    target_host: str,
    target_port: int = PROBE_PORT,
    *,
    proxy_authorization: bytes | None = None,
    timeout: float = 10.0,
) -> ConnectReply | None:
    """Ask the proxy at *proxy_url* for a tunnel to *target_host*, with the
    same credentials (from the URL, or *proxy_authorization*, the request's
    ``Proxy-Authorization`` value), and return its reply; the connection is
    closed as soon as the reply is read (a tunnel is never used).

    ``None`` when the proxy cannot be reached, answers with something that is
    not HTTP, or does not answer within *timeout* seconds. Works under any
    Twisted reactor (Scrapy's asyncio one included). Never raises for network
    failures.
    """
    from twisted.internet import reactor as installed
    from twisted.internet.endpoints import HostnameEndpoint, connectProtocol, wrapClientTLS
    from twisted.internet.ssl import CertificateOptions

    reactor: Any = installed
    if "://" not in proxy_url:
        proxy_url = "http://" + proxy_url
    try:
        parts = urlsplit(proxy_url)
        host, port = parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return None
    if not host:
        return None
    where = f"{target_host}:{target_port}"
    lines = [f"CONNECT {where} HTTP/1.1", f"Host: {where}"]
    request = "\r\n".join(lines).encode("latin-1", "replace") + b"\r\n"
    auth = _authorization(proxy_url, proxy_authorization)
    if auth:
        request += b"Proxy-Authorization: " + auth + b"\r\n"
    request += b"\r\n"

    endpoint: Any = HostnameEndpoint(reactor, host, port, timeout=timeout)
    if parts.scheme == "https":
        # Not verified, as Scrapy does not verify proxies' certificates either.
        options: Any = CertificateOptions()
        endpoint = wrapClientTLS(options, endpoint)
    probe = _Probe(request)
    timer = reactor.callLater(timeout, _give_up, probe)
    try:
        await maybe_deferred_to_future(connectProtocol(endpoint, probe))  # type: ignore[no-untyped-call]
        data = await maybe_deferred_to_future(probe.done)
    except Exception:  # refused, unreachable, TLS failure: no reply to read
        return None
    finally:
        if timer.active():
            timer.cancel()
    return parse_connect_reply(data, f"{host}:{port}")


def _give_up(probe: _Probe) -> None:
    transport: Any = probe.transport
    if transport is not None:
        transport.abortConnection()
    if not probe.done.called:
        probe.done.callback(b"")


class Corroborator:
    """Probes shared and remembered: what the middleware calls.

    One probe per proxy and credentials at a time (concurrent callers share
    it) and its reply kept for *ttl* seconds, so a burst of refusals costs
    one CONNECT, not one per reply::

        if needs_corroboration(error, transport):
            error = await self.corroborator.check(
                error, proxy_url=proxy, target_host=host,
                proxy_authorization=request.headers.get("Proxy-Authorization"))
    """

    def __init__(
        self,
        profiles: Mapping[str, Profile] = BUILTIN_PROFILES,
        *,
        ttl: float = 30.0,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.profiles = profiles
        self.ttl = ttl
        self.timeout = timeout
        self.clock = clock
        self.probes = 0  #: CONNECT probes sent (for stats and tests)
        # (proxy, credentials, topic) -> (when, reply); topic: the claim's category
        self._replies: dict[tuple[str, bytes | None, str], tuple[float, ConnectReply | None]] = {}
        self._pending: dict[tuple[str, bytes | None, str], list[defer.Deferred[Any]]] = {}

    async def check(
        self,
        error: ProviderError,
        *,
        proxy_url: str,
        target_host: str,
        proxy_authorization: bytes | None = None,
    ) -> ProviderError:
        """*error* as a (shared, remembered) CONNECT probe lets the crawl act on it."""
        reply = await self.probe(proxy_url, target_host, proxy_authorization, error.category)
        return corroborate(error, reply, proxy_url=proxy_url, profiles=self.profiles)

    def known(
        self, error: ProviderError, *, proxy_url: str, proxy_authorization: bytes | None = None
    ) -> ProviderError | None:
        """*error* as a remembered (fresh) probe lets the crawl act on it, at
        once; ``None`` when no reply is remembered (a probe must go out)."""
        key = (_where(proxy_url), _authorization(proxy_url, proxy_authorization), error.category)
        known = self._replies.get(key)
        if known is None or self.clock() - known[0] >= self.ttl:
            return None
        return corroborate(error, known[1], proxy_url=proxy_url, profiles=self.profiles)

    def remember(
        self,
        proxy_url: str,
        reply: ConnectReply | None,
        proxy_authorization: bytes | None = None,
        topic: str = "",
    ) -> None:
        """Keep *reply* as the proxy's answer to CONNECT for claims of *topic*
        (an error category), as a probe would."""
        key = (_where(proxy_url), _authorization(proxy_url, proxy_authorization), str(topic))
        if len(self._replies) >= 1_000:
            self._replies.clear()
        self._replies[key] = (self.clock(), reply)

    async def probe(
        self,
        proxy_url: str,
        target_host: str,
        proxy_authorization: bytes | None = None,
        topic: str = "",
    ) -> ConnectReply | None:
        """The proxy's reply to CONNECT, probed at most once per *ttl* and
        *topic*: a reply remembered for one kind of claim (a rate limit, seen
        a minute ago) does not judge another (the credits just ran out)."""
        key = (_where(proxy_url), _authorization(proxy_url, proxy_authorization), str(topic))
        now = self.clock()
        known = self._replies.get(key)
        if known is not None and now - known[0] < self.ttl:
            return known[1]
        waiters = self._pending.get(key)
        if waiters is not None:
            waiter: defer.Deferred[Any] = defer.Deferred()
            waiters.append(waiter)
            result: ConnectReply | None = await maybe_deferred_to_future(waiter)
            return result
        self._pending[key] = []
        self.probes += 1
        reply: ConnectReply | None = None
        try:
            reply = await connect_probe(
                proxy_url, target_host, proxy_authorization=proxy_authorization,
                timeout=self.timeout,
            )
        finally:
            # Also when cancelled: nobody waits forever on a probe that ended.
            self.remember(proxy_url, reply, proxy_authorization, topic)
            for waiter in self._pending.pop(key, []):
                waiter.callback(reply)
        return reply


def _where(proxy_url: str) -> str:
    """``scheme://host:port`` of a proxy URL, credentials left out."""
    try:
        parts = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
        return f"{parts.scheme}://{parts.hostname}:{parts.port}"
    except ValueError:
        return proxy_url.rsplit("@", 1)[-1]
