"""Who answers a request: its provider profile, its route and its account.

The only place that resolves them. Every table is a bounded
least-recently-used cache (never cleared all at once), so the success path is
one dictionary lookup per request, flat from one route to 100,000. Facts
learned from replies (this proxy is SOAX's) live in the
:class:`~scrapy_proxyerrors._state.RouteState`, so other processes share them.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from typing import TYPE_CHECKING, Generic, TypeVar

from scrapy.utils.httpobj import urlparse_cached

from ._routes import (
    basic_credentials,
    hostport,
    route_id,
    route_proxy,
    session_of,
    url_credentials,
)
from ._vocabulary import Transport

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy import Request

    from ._profile import Profile
    from ._routes import Credentials
    from ._state import RouteState

K = TypeVar("K")
V = TypeVar("V")

#: Entries per cache: a crawl over more routes than this recomputes some.
#: Sized so that a pool of 100,000 routes stays on the cached path; an entry
#: is a few hundred bytes, and exists only for routes the crawl used.
CACHE_MAX = 131_072
_KEY_PARAM = re.compile(r"(?:^|&)[A-Za-z_-]*(?:key|token)=([^&]+)", re.IGNORECASE)
_KEY_HEADERS = (b"X-API-Key", b"Authorization", b"Api-Key")


class LRU(Generic[K, V]):
    """A dict bounded to *size* entries; the least recently used one leaves first."""

    __slots__ = ("_data", "_size")

    def __init__(self, size: int = CACHE_MAX) -> None:
        self._data: OrderedDict[K, V] = OrderedDict()
        self._size = size

    def get(self, key: K) -> V | None:
        data = self._data
        value = data.get(key)
        if value is not None:
            data.move_to_end(key)
        return value

    def put(self, key: K, value: V) -> None:
        data = self._data
        data[key] = value
        data.move_to_end(key)
        if len(data) > self._size:
            data.popitem(last=False)

    def pop(self, key: K) -> None:
        self._data.pop(key, None)

    def __len__(self) -> int:
        return len(self._data)

    def __contains__(self, key: object) -> bool:
        return key in self._data


def fingerprint(secret: str) -> str:
    """A short, stable, one-way name for a credential: never the credential."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()[:10]


def account_user(user: str, session_param: str | None) -> str:
    """*user* without its session id: every session of an account is one account."""
    if not session_param or not session_of(user, session_param):
        return user
    return re.sub(rf"(?:^|-){re.escape(session_param)}-[^-:]+", "", user, count=1)


class Identity:
    """Resolves profile, route and account of requests, with bounded caches.

    *warn* is called with ``(key, message, args)`` for an unknown
    ``proxyerrors_provider``, once per name; *on_password* with each proxy
    password met (so that the crawl can mask it).
    """

    def __init__(
        self,
        profiles: Mapping[str, Profile],
        provider: str | None,
        state: RouteState,
        warn: Callable[[str, str, dict[str, object]], None],
        meta_provider: str = "proxyerrors_provider",
        on_password: Callable[[str], None] | None = None,
    ) -> None:
        self.profiles = profiles
        self.provider = provider
        self.state = state
        self._warn = warn
        self._meta_provider = meta_provider
        self._on_password = on_password
        # proxy URL -> profile name ("" for none); host:port -> proxy URLs cached
        self._proxy_profiles: LRU[str, str] = LRU()
        self._by_hostport: LRU[str, set[str]] = LRU()
        # (proxy, Proxy-Authorization, profile name) -> (route, account)
        self._routes: LRU[tuple[str, bytes | None, str | None], tuple[str, str]] = LRU()

    # profiles -------------------------------------------------------------
    def explicit(self, request: Request) -> str | None:
        name = request.meta.get(self._meta_provider) or self.provider
        if name and name not in self.profiles:
            self._warn(
                f"meta:{name}",
                "Unknown %(meta)s %(name)r on %(request)s; detecting the provider instead",
                {"meta": self._meta_provider, "name": name, "request": request},
            )
            return None
        return name or None

    def profile(self, request: Request) -> Profile | None:
        """The profile whose errors this request can receive, or ``None``."""
        name = self.explicit(request)
        if name:
            return self.profiles[name]
        proxy = request.meta.get("proxy")
        if proxy:
            return self.proxy_profile(proxy)
        host = urlparse_cached(request).hostname or ""
        for profile in self.profiles.values():
            if profile.matches_api_host(host):
                return profile
        return None

    def proxy_profile(self, proxy: str) -> Profile | None:
        """The profile of a proxy: learned from its replies, else by its host."""
        name = self._proxy_profiles.get(proxy)
        if name is None:
            where = hostport(proxy)
            name = self._resolve(where)
            self._proxy_profiles.put(proxy, name)
            urls = self._by_hostport.get(where)
            if urls is None:
                urls = set()
                self._by_hostport.put(where, urls)
            if len(urls) < 64:
                urls.add(proxy)
        return self.profiles.get(name) if name else None

    def _resolve(self, where: str) -> str:
        learned = self.state.learned(where)
        if learned and learned in self.profiles:
            return learned
        host = where.rpartition(":")[0]
        for profile in self.profiles.values():
            if profile.matches_proxy_host(host):
                return profile.name
        return ""

    def learn(self, proxy: str | None, provider: str) -> bool:
        """*proxy* answered as *provider*: later requests through it use its
        profile. ``True`` when this is news (route ids of the proxy change)."""
        if not proxy or provider == "generic":
            return False
        where = hostport(proxy)
        if self.state.learned(where) == provider:
            return False
        self.state.learn(where, provider)
        self.forget(where)
        self._proxy_profiles.pop(proxy)
        # Route ids are cached under the profile name, so requests resolved
        # with the new profile miss the old entries: nothing else to drop.
        return True

    def forget(self, where: str) -> None:
        """The profile of proxy ``host:port`` *where* changed (learned here or
        by another process): only its cached entries go."""
        for url in self._by_hostport.get(where) or ():
            self._proxy_profiles.pop(url)

    # routes and accounts -----------------------------------------------------
    def credentials(self, request: Request) -> Credentials | None:
        proxy = request.meta.get("proxy")
        creds = url_credentials(proxy) if proxy else None
        if creds is None:
            creds = basic_credentials(request.headers.get(b"Proxy-Authorization"))
        return creds

    def route(self, request: Request, profile: Profile | None) -> tuple[str, str]:
        """``(route, account)`` of a request: what pauses and cooldowns apply to."""
        proxy = request.meta.get("proxy")
        name = profile.name if profile is not None else None
        if proxy:
            key = (proxy, request.headers.get(b"Proxy-Authorization"), name)
            found = self._routes.get(key)
            if found is None:
                creds = self.credentials(request)
                if creds is not None and creds.password and self._on_password is not None:
                    # Seen once per route: providers echo it in error details.
                    self._on_password(creds.password)
                found = self._proxy_route(proxy, creds, profile)
                self._routes.put(key, found)
            return found
        parsed = urlparse_cached(request)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        route = f"{parsed.hostname}:{port}"
        if profile is None or profile.name == "generic":
            return route, route
        return route, f"{profile.name}#{self._api_key_print(request)}"

    def route_of_proxy(self, proxy: str) -> tuple[str, str]:
        """``(route, account)`` of a pool entry, as :meth:`route` names them."""
        name = self.provider
        profile = self.profiles[name] if name else self.proxy_profile(proxy)
        return self._proxy_route(proxy, url_credentials(proxy), profile)

    def _proxy_route(
        self, proxy: str, creds: Credentials | None, profile: Profile | None
    ) -> tuple[str, str]:
        param = profile.session_param if profile else None
        user = creds.user if creds else None
        route = route_id(proxy, user, param)
        if profile is None or profile.name == "generic":
            # A generic pool: each proxy is its own account.
            return route, route_proxy(route)
        who = fingerprint(account_user(user, param)) if user else hostport(proxy)
        return route, f"{profile.name}#{who}"

    @staticmethod
    def _api_key_print(request: Request) -> str:
        query = urlparse_cached(request).query
        if query:
            found = _KEY_PARAM.search(query)
            if found:
                return fingerprint(found.group(1))
        for name in _KEY_HEADERS:
            value = request.headers.get(name)
            if value:
                return fingerprint(value.decode("latin-1"))
        return "-"

    @staticmethod
    def site_key(account: str, request: Request) -> str:
        """The state key of "this target site through this account" (``Scope.SITE``)."""
        return f"{account}|{urlparse_cached(request).hostname or ''}"

    @staticmethod
    def transport(request: Request, profile: Profile | None) -> Transport:
        if request.meta.get("proxy"):
            # Scrapy normalises URLs (lower-case scheme): no parse needed.
            return Transport.PLAIN if request.url.startswith("http:") else Transport.TARGET
        if profile is not None and profile.kind != "proxy":
            return Transport.API
        return Transport.TARGET
