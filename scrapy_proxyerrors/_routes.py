"""Proxy identities ("routes"), the proxy pool, and sticky-session rotation."""

from __future__ import annotations

import base64
import binascii
import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

    from ._state import RouteState


@dataclass(frozen=True, slots=True)
class Credentials:
    user: str
    password: str


def basic_credentials(header: bytes | None) -> Credentials | None:
    """Decode a ``Proxy-Authorization: Basic ...`` value; ``None`` if it is not one."""
    if not header or header[:6].lower() != b"basic ":
        return None
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("latin-1")
    except (binascii.Error, ValueError):
        return None
    user, sep, password = decoded.partition(":")
    return Credentials(user, password) if sep else None


def basic_header(creds: Credentials, encoding: str = "latin-1") -> bytes:
    raw = f"{creds.user}:{creds.password}".encode(encoding)
    return b"Basic " + base64.b64encode(raw)


def session_of(user: str, param: str | None) -> str | None:
    """The session id in a username such as ``package-1-sessionid-abc``."""
    if not param or not user:
        return None
    match = re.search(rf"(?:^|-){re.escape(param)}-([^-:]+)", user)
    return match.group(1) if match else None


def with_new_session(user: str, param: str, new_id: str | None = None) -> str:
    """*user* with its session id replaced by a fresh random one."""
    fresh = new_id or secrets.token_hex(4)
    return re.sub(
        rf"((?:^|-){re.escape(param)}-)[^-:]+", lambda m: m.group(1) + fresh, user, count=1
    )


def hostport(proxy_url: str) -> str:
    """``host:port`` of a proxy URL: the part of it that is safe to show."""
    if "://" not in proxy_url:
        proxy_url = "http://" + proxy_url
    try:
        parts = urlsplit(proxy_url)
        port = parts.port
    except ValueError:
        return "invalid-proxy"
    host = parts.hostname or ""
    if port is None:
        port = 443 if parts.scheme == "https" else 80
    return f"{host}:{port}"


def route_id(proxy_url: str, user: str | None, session_param: str | None) -> str:
    """A route: the proxy's ``host:port``, plus ``~session`` for sticky sessions.

    Two sessions on one gateway are two routes; the credentials never are
    part of the id, so it can appear in logs and stats.
    """
    route = hostport(proxy_url)
    session = session_of(user or "", session_param)
    return f"{route}~{session}" if session else route


def route_proxy(route: str) -> str:
    """The proxy (``host:port``) of a :func:`route_id`, without its session."""
    return route.partition("~")[0]


def url_credentials(proxy_url: str) -> Credentials | None:
    """``user:password`` from a proxy URL, percent-decoded; ``None`` without a user."""
    try:
        parts = urlsplit(proxy_url if "://" in proxy_url else "http://" + proxy_url)
    except ValueError:
        return None
    if parts.username is None:
        return None
    return Credentials(unquote(parts.username), unquote(parts.password or ""))


class ProxyPool:
    """``PROXYERRORS_PROXIES``: round-robin over the routes that are not resting.

    *route_of* names each proxy's route the way the middleware names the
    routes it records failures on; it is asked at each pick, because a
    provider learned mid-crawl can change the name (sticky sessions).
    """

    def __init__(self, proxies: Sequence[str], route_of: Callable[[str], str]) -> None:
        self._proxies = list(proxies)
        self._route_of = route_of
        self._next = 0

    def __len__(self) -> int:
        return len(self._proxies)

    def pick(self, state: RouteState, now: float, avoid: str | None = None) -> tuple[str, str]:
        """The next healthy proxy URL and its route id.

        Resting (cooling or paused) routes and *avoid* (the route that just
        failed) are skipped; when every route rests, the one that recovers
        first is used, still never *avoid* while another route exists.
        """
        count = len(self._proxies)
        fallback: tuple[float, int, str] | None = None
        avoided: tuple[int, str] | None = None
        for offset in range(count):
            index = (self._next + offset) % count
            route = self._route_of(self._proxies[index])
            if route == avoid and count > 1:
                avoided = (index, route)
                continue
            ready = max(state.cooling_until(route), state.paused_until(route))
            if ready <= now:
                self._next = index + 1
                return self._proxies[index], route
            if fallback is None or ready < fallback[0]:
                fallback = (ready, index, route)
        if fallback is not None:
            index, route = fallback[1], fallback[2]
        elif avoided is not None:
            index, route = avoided
        else:
            index = self._next % count
            route = self._route_of(self._proxies[index])
        self._next = index + 1
        return self._proxies[index], route
