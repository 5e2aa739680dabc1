"""The proxy's reply to a refused CONNECT, from whichever exception carries it.

Three download handlers report a refused CONNECT three ways:

* ``handler``: :class:`~scrapy_proxyerrors.handler.ProxyErrorsHTTPSDownloadHandler`
  raises :class:`~scrapy_proxyerrors.exceptions.ProxyTunnelError` with the whole
  reply (status, reason, headers, capped body);
* ``message``: Scrapy's HTTP/1.1 handler raises ``TunnelError`` whose message
  is the only record: ``Could not open CONNECT tunnel with proxy h:p
  [{'status': 407, 'reason': b'...'}]`` (no headers, no body);
* ``aiohttp``: Scrapy's aiohttp handler raises ``DownloadFailedError`` from an
  ``aiohttp.ClientHttpProxyError`` that has the status, reason and headers (no
  body). Its message holds the proxy URL *with* credentials: log it only
  through :func:`redacted_message`.
* ``httpx``: Scrapy's httpx handler raises ``DownloadConnectionRefusedError``
  from an ``httpx.ProxyError`` whose message is the status and reason
  (``407 Proxy Authentication Required``): no headers, no body.
"""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.http.headers import Headers
from w3lib.http import basic_auth_header

from ._redact import redact_text
from .exceptions import ProxyTunnelError

if TYPE_CHECKING:
    from collections.abc import Iterator

Source = Literal["handler", "message", "aiohttp", "httpx"]

# httpcore's wording for a refused CONNECT: "<status> <reason>".
_HTTPX_MESSAGE = re.compile(r"(?P<status>[1-5]\d\d)(?: (?P<reason>[^\r\n]{0,1000}))?")

# Scrapy's wording (http11._TunnelingTCP4ClientEndpoint.processProxyResponse).
# The reason is the repr() of bytes: b'...' or, when it holds a ', b"...".
_MESSAGE = re.compile(
    r"Could not open CONNECT tunnel with proxy (?P<proxy>\S+) "
    r"\[\{'status': (?P<status>\d{3}), 'reason': "
    r"b(?:'(?P<single>(?:[^'\\\n]|\\.){0,4000})'|\"(?P<double>(?:[^\"\\\n]|\\.){0,4000})\")"
    r"\}\]"
)
# The escapes bytes.__repr__ writes; anything else is not a repr.
_REPR_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|.)", re.S)
_REPR_SIMPLE = {"\\": "\\", "'": "'", '"': '"', "t": "\t", "n": "\n", "r": "\r"}
# Authorization header values, as in a repr() of request headers
# ('Proxy-Authorization': 'Basic ...'); plain words like "Basic auth" stay.
_AUTH_VALUE = re.compile(
    r"(Authorization['\"]?\s*[:=,]\s*['\"]?(?:Basic|Bearer)\s+)[^\s'\",}]+", re.I
)
# How far down __cause__/__context__ to look; exception chains are short.
_CHAIN_LIMIT = 16


@dataclass(frozen=True)
class ConnectReply:
    """A proxy's reply to a refused CONNECT.

    *headers* and *body* are empty when the source could not keep them
    (``message``: neither; ``aiohttp``: no body). *proxy* is ``host:port``,
    never with credentials.
    """

    status: int
    reason: str
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""
    proxy: str = ""
    source: Source = "handler"


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """*exc*, then its causes and contexts, each once."""
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo and len(seen) < _CHAIN_LIMIT:
        current = todo.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        todo += [e for e in (current.__cause__, current.__context__) if e is not None]


def _hostport(proxy: str) -> str:
    """``host:port`` from a proxy address or URL, credentials removed."""
    text = proxy.split("://", 1)[-1]
    text = text.split("/", 1)[0]
    return text.rsplit("@", 1)[-1]


def _unrepr(text: str) -> bytes | None:
    """The bytes whose ``repr()`` body is *text*; ``None`` if it is not one.

    Not ``ast.literal_eval``: that warns (and will fail) on bad escapes, and
    this only needs the escapes ``bytes.__repr__`` writes.
    """
    if not text.isascii():
        return None
    out: list[str] = []
    pos = 0
    for match in _REPR_ESCAPE.finditer(text):
        out.append(text[pos : match.start()])
        escape = match.group(1)
        if escape in _REPR_SIMPLE:
            out.append(_REPR_SIMPLE[escape])
        elif len(escape) == 3:
            out.append(chr(int(escape[1:], 16)))
        else:
            return None
        pos = match.end()
    out.append(text[pos:])
    return "".join(out).encode("latin-1")


def _from_tunnel_message(exc: TunnelError) -> ConnectReply | None:
    try:
        match = _MESSAGE.search(str(exc))
        if match is None:
            return None
        single = match.group("single")
        reason = _unrepr(single if single is not None else match.group("double"))
        if reason is None:
            return None
        return ConnectReply(
            status=int(match.group("status")),
            reason=reason.decode("latin-1").strip(),
            proxy=_hostport(match.group("proxy")),
            source="message",
        )
    except Exception:
        # Whatever the message holds, never fail the caller's error handling.
        return None


def _aiohttp_proxy(exc: BaseException) -> str:
    url: Any = getattr(getattr(exc, "request_info", None), "real_url", None)
    host = getattr(url, "host", None)
    if not host:
        return ""
    port = getattr(url, "port", None)
    return f"{host}:{port}" if port else str(host)


def _from_aiohttp(exc: BaseException) -> ConnectReply | None:
    try:
        status = int(getattr(exc, "status", 0) or 0)
        if not status:
            return None
        raw_headers: Any = getattr(exc, "headers", None)
        headers = Headers(list(raw_headers.items()) if raw_headers is not None else None)
        return ConnectReply(
            status=status,
            reason=str(getattr(exc, "message", "") or ""),
            headers=headers,
            proxy=_aiohttp_proxy(exc),
            source="aiohttp",
        )
    except Exception:
        return None


def _from_httpx(exc: BaseException) -> ConnectReply | None:
    try:
        match = _HTTPX_MESSAGE.fullmatch(str(exc).strip())
        if match is None:
            return None
        return ConnectReply(
            status=int(match.group("status")),
            reason=(match.group("reason") or "").strip(),
            source="httpx",
        )
    except Exception:
        return None


def connect_reply(exc: BaseException) -> ConnectReply | None:
    """The proxy's reply to a refused CONNECT carried by *exc*, or ``None``.

    Looks at *exc* and its ``__cause__``/``__context__`` chain for a
    :class:`~scrapy_proxyerrors.exceptions.ProxyTunnelError` (full reply),
    Scrapy's ``TunnelError`` (status and reason parsed from the message),
    ``aiohttp.ClientHttpProxyError`` (status, reason, headers) or
    ``httpx.ProxyError`` (status and reason parsed from the message). Never raises:
    anything it cannot read gives ``None``.
    """
    for current in _chain(exc):
        if isinstance(current, ProxyTunnelError):
            try:
                return ConnectReply(
                    status=int(current.status),
                    reason=current.reason.decode("latin-1").strip(),
                    headers=current.headers,
                    body=current.body,
                    proxy=_hostport(current.proxy),
                    source="handler",
                )
            except Exception:
                return None
        if isinstance(current, TunnelError):
            return _from_tunnel_message(current)
        if _is_instance(current, "aiohttp", "ClientHttpProxyError"):
            return _from_aiohttp(current)
        if _is_instance(current, "httpx", "ProxyError"):
            return _from_httpx(current)
    return None


def _is_instance(exc: BaseException, module: str, name: str) -> bool:
    """Whether *exc* is *module*'s exception class *name*.

    Looked up where the handler that raises it already imported it: an
    optional client library is never imported for this (httpx alone brings
    click and pygments, thousands of objects every full garbage collection
    then walks), and an exception of a library nobody imported cannot occur.
    """
    cls = getattr(sys.modules.get(module), name, None)
    return isinstance(cls, type) and isinstance(exc, cls)


def _secrets(exc: BaseException) -> list[str]:
    """Credentials the chain itself reveals (the aiohttp error's proxy URL)."""
    found: list[str] = []
    for current in _chain(exc):
        url: Any = getattr(getattr(current, "request_info", None), "real_url", None)
        names = ("user", "password", "raw_user", "raw_password")
        parts = [getattr(url, name, None) for name in names]
        found += [p for p in parts if isinstance(p, str) and p]
        user, password = getattr(url, "user", None), getattr(url, "password", None)
        if isinstance(user, str) and isinstance(password, str):
            # The Proxy-Authorization token, in case a repr() of the request
            # headers ends up in the text: as Scrapy builds it (latin-1,
            # HTTPPROXY_AUTH_ENCODING's default) and as UTF-8.
            for encoding in ("latin-1", "utf-8"):
                try:
                    header = basic_auth_header(user, password, encoding=encoding)
                except UnicodeEncodeError:
                    continue
                found.append(header.split(b" ", 1)[1].decode("ascii"))
    return found


def redacted_message(exc: BaseException) -> str:
    """``str(exc)`` with proxy credentials and key-like parameters masked.

    Scrapy's aiohttp handler puts the proxy URL with ``user:password@`` in
    its message; the user and password are masked wherever they appear, as
    are ``Authorization: Basic/Bearer`` values.
    """
    try:
        text = str(exc)
    except Exception:
        text = f"<unprintable {type(exc).__name__}>"
    text = _AUTH_VALUE.sub(r"\1***", text)
    try:
        return redact_text(text, _secrets(exc))
    except Exception:
        return redact_text(text)
