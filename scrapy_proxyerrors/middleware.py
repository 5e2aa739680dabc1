"""The downloader middleware: applies the classifier's decisions to a crawl.

It takes the place of Scrapy's ``RetryMiddleware`` (same priority, 550), so a
single retry budget (``retry_times`` / ``max_retry_times`` / ``dont_retry``)
governs every retry, and plain retries of non-provider failures get the same
backoff and ``Retry-After`` handling as provider errors.
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from typing import TYPE_CHECKING, Any, NoReturn

from scrapy.downloadermiddlewares.retry import get_retry_request, retry_logger
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import deferred_from_coro
from scrapy.utils.httpobj import urlparse_cached
from scrapy.utils.misc import build_from_crawler

from . import _stats as S
from ._classifier import ProviderError, classify, rate_limit_wait
from ._compat import call_later, sleep
from ._config import Config
from ._parse import header_text, parse_retry_after
from ._policy import backoff, decide
from ._redact import (
    PLUGIN_LOGGERS,
    SCRAPY_REQUEST_LOGGERS,
    install_filters,
    redact_text,
    remember,
    request_secrets,
)
from ._routes import (
    Credentials,
    ProxyPool,
    basic_credentials,
    basic_header,
    hostport,
    route_id,
    session_of,
    url_credentials,
    with_new_session,
)
from ._state import RouteState
from ._tunnel import ConnectReply, connect_reply, redacted_message
from ._vocabulary import Action, Category, Scope, Transport
from .exceptions import BadSettingError, ProviderErrorDropped, ProxyTunnelError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from ._profile import Profile

logger = logging.getLogger(__name__)

# Public meta keys (documented in the README reference table).
META_PROVIDER = "proxyerrors_provider"
META_DONT = "dont_proxyerrors"
META_ROUTE = "proxyerrors_route"
META_ERROR = "proxyerrors_error"
# Private meta keys: this middleware talks to itself across attempts.
_NOT_BEFORE = "_proxyerrors_not_before"
_AVOID = "_proxyerrors_avoid"
_ASSIGNED = "_proxyerrors_assigned"
_SLOT = "_proxyerrors_slot"

_TINY_DELAY = 0.001
_LEARNED_MAX = 1_000
_CACHE_MAX = 4_096
_SECRETS_MAX = 1_000
_SLOT_OWNERS_MAX = 4_096


class ProxyErrorsMiddleware:
    """Classify every proxy / API reply and retry, rotate, slow down, drop or stop."""

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        try:
            enabled = settings.getbool("PROXYERRORS_ENABLED", True)
        except (TypeError, ValueError):
            raw = settings.get("PROXYERRORS_ENABLED")
            raise BadSettingError(f"PROXYERRORS_ENABLED={raw!r}: expected True or False") from None
        if not enabled:
            raise NotConfigured("PROXYERRORS_ENABLED is False")
        self.crawler = crawler
        try:
            self.config = Config.from_settings(settings)
            self.state: RouteState = self._build_state(crawler)
        except NotConfigured as exc:
            # Scrapy's middleware manager would take NotConfigured as "disable
            # me" and run the crawl without the plugin: a bad value must stop it.
            raise BadSettingError(str(exc)) from None
        assert crawler.stats is not None
        self.stats = crawler.stats
        self.pool: ProxyPool | None = (
            ProxyPool(self.config.proxies, self._pool_route)
            if self.config.proxies
            else None
        )
        self.rng = random.Random()
        self.stopping: str | None = None
        self._warned: set[str] = set()
        self._learned: dict[str, str] = {}  # proxy host:port -> provider seen on it
        self._slot_keys: dict[str, set[str]] = {}  # route/account -> download slots
        # Success-path caches: proxy URL -> profile, (proxy, user, param) -> route.
        self._proxy_profiles: dict[str, Profile | None] = {}
        self._routes: dict[tuple[str, str | None, str | None], str] = {}
        self._request_routes: dict[tuple[str, bytes | None, str | None], str] = {}
        self._last_remembered: tuple[str, str, str] | None = None
        self._secrets: set[str] = set()
        for proxy in self.config.proxies:
            creds = url_credentials(proxy)
            if creds:
                self._keep_secrets((creds.password,))
        # Everything the plugin logs is masked; Scrapy's own request lines
        # (URLs with api_key=...) too, unless PROXYERRORS_REDACT_LOGS is off.
        install_filters(PLUGIN_LOGGERS)
        if self.config.redact_logs:
            install_filters(SCRAPY_REQUEST_LOGGERS)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> ProxyErrorsMiddleware:
        return cls(crawler)

    def _build_state(self, crawler: Crawler) -> RouteState:
        cls = self.config.state_cls
        try:
            state = build_from_crawler(cls, crawler) if hasattr(cls, "from_crawler") else cls()
        except TypeError as exc:  # e.g. a constructor that needs arguments
            raise NotConfigured(
                f"PROXYERRORS_STATE={cls.__module__}.{cls.__qualname__}: cannot build it ({exc})"
            ) from None
        if not isinstance(state, RouteState):
            raise NotConfigured(
                f"PROXYERRORS_STATE={cls.__module__}.{cls.__qualname__}: "
                "does not implement scrapy_proxyerrors.RouteState"
            )
        return state

    # ------------------------------------------------------------------ identity

    def _explicit(self, request: Request) -> str | None:
        name = request.meta.get(META_PROVIDER) or self.config.provider
        if name and name not in self.config.profiles:
            self._warn_once(
                f"meta:{name}",
                "Unknown %(meta)s %(name)r on %(request)s; detecting the provider instead",
                {"meta": META_PROVIDER, "name": name, "request": request},
            )
            return None
        return name or None

    def _profile_for(self, request: Request, proxy: str | None) -> Profile | None:
        name = self._explicit(request)
        if name:
            return self.config.profiles[name]
        if proxy:
            try:
                return self._proxy_profiles[proxy]
            except KeyError:
                found = self._proxy_profile(proxy)
                if len(self._proxy_profiles) >= _CACHE_MAX:
                    self._proxy_profiles.clear()
                self._proxy_profiles[proxy] = found
                return found
        host = urlparse_cached(request).hostname or ""
        for profile in self.config.profiles.values():
            if profile.matches_api_host(host):
                return profile
        return None

    def _proxy_profile(self, proxy: str) -> Profile | None:
        """The profile of a proxy: learned from its replies, else by its host."""
        where = hostport(proxy)
        learned = self._learned.get(where)
        if learned:
            return self.config.profiles.get(learned)
        host = where.rpartition(":")[0]
        for profile in self.config.profiles.values():
            if profile.matches_proxy_host(host):
                return profile
        return None

    def _pool_route(self, proxy: str) -> str:
        """The route id of a pool entry, as ``_route`` would name it."""
        name = self.config.provider
        profile = self.config.profiles[name] if name else self._proxy_profile(proxy)
        creds = url_credentials(proxy)
        return self._route_id(proxy, creds.user if creds else None, profile)

    def _route_id(self, proxy: str, user: str | None, profile: Profile | None) -> str:
        param = profile.session_param if profile else None
        key = (proxy, user, param)
        try:
            return self._routes[key]
        except KeyError:
            route = route_id(proxy, user, param)
            if len(self._routes) >= _CACHE_MAX:
                self._routes.clear()
            self._routes[key] = route
            return route

    def _transport(self, request: Request, profile: Profile | None) -> Transport:
        if request.meta.get("proxy"):
            return (
                Transport.PLAIN if urlparse_cached(request).scheme == "http" else Transport.TARGET
            )
        if profile is not None and profile.kind != "proxy":
            return Transport.API
        return Transport.TARGET

    def _credentials(self, request: Request) -> Credentials | None:
        proxy = request.meta.get("proxy")
        creds = url_credentials(proxy) if proxy else None
        if creds is None:
            creds = basic_credentials(request.headers.get(b"Proxy-Authorization"))
        if creds is not None:
            self._keep_secrets((creds.password,))
        return creds

    def _keep_secrets(self, secrets: Iterable[str]) -> None:
        new = [s for s in secrets if s and s not in self._secrets]
        for secret in new:
            if len(self._secrets) < _SECRETS_MAX:
                self._secrets.add(secret)
        if new:
            remember(new)  # for the log filters

    def _scrub(self, request: Request, error: ProviderError) -> ProviderError:
        """*error* with the request's secrets masked in what the provider said.

        Providers echo keys (``Key abc123 was revoked``); the detail is logged,
        kept in meta and handed to errbacks, so it is masked first.
        """
        self._keep_secrets(request_secrets(request.url, request.headers))
        detail = redact_text(error.detail, self._secrets) if error.detail else error.detail
        rid = redact_text(error.request_id, self._secrets) if error.request_id else error.request_id
        if (detail, rid) == (error.detail, error.request_id):
            return error
        return dataclasses.replace(error, detail=detail, request_id=rid)

    def _route(self, request: Request, profile: Profile | None) -> tuple[str, str]:
        """(route, account) of a request: what pauses and cooldowns apply to."""
        proxy = request.meta.get("proxy")
        if proxy:
            # Cached by what the route depends on, so the success path does
            # not parse the proxy URL or the credentials again.
            key = (
                proxy,
                request.headers.get(b"Proxy-Authorization"),
                profile.name if profile is not None else None,
            )
            route = self._request_routes.get(key)
            if route is None:
                creds = self._credentials(request)
                route = self._route_id(proxy, creds.user if creds else None, profile)
                if len(self._request_routes) >= _CACHE_MAX:
                    self._request_routes.clear()
                self._request_routes[key] = route
        else:
            parsed = urlparse_cached(request)
            port = parsed.port or (443 if parsed.scheme == "https" else 80)
            route = f"{parsed.hostname}:{port}"
        account = profile.name if profile is not None and profile.name != "generic" else route
        return route, account

    # ------------------------------------------------------------------ requests

    async def process_request(self, request: Request) -> Request | Response | None:
        meta = request.meta
        if meta.get(META_DONT):
            return None
        if self.stopping:
            # The crawl is closing: keep the request for a JOBDIR resume
            # instead of sending it to a provider that refuses everything.
            return self._requeue(request)
        now = time.time()
        if self.pool is not None and ("proxy" not in meta or meta.get(_ASSIGNED)):
            self._assign(request, now)
        profile = self._profile_for(request, meta.get("proxy"))
        route, account = self._route(request, profile)
        meta[META_ROUTE] = route
        pause_end = max(self.state.paused_until(route), self.state.paused_until(account))
        not_before = meta.get(_NOT_BEFORE, 0.0)
        if (
            self.config.slot_per_route
            and meta.get(_ASSIGNED)
            and ("download_slot" not in meta or meta.get(_SLOT) == meta.get("download_slot"))
        ):
            # Each pooled route gets its own slot, so pausing one leaves the
            # others flowing (unless the user picked the slot).
            slot = f"{urlparse_cached(request).hostname}|{route}"
            meta["download_slot"] = meta[_SLOT] = slot
        self._remember_slot(request, route, account)
        if pause_end > now:
            # A paused route or account: queue the request behind its paused
            # download slot, which (unlike a sleep here) leaves other slots
            # flowing. Without a slot yet, this request waits by itself.
            if self._pause_slot(request, pause_end):
                not_before = not_before if not_before > pause_end else 0.0
            else:
                not_before = max(not_before, pause_end)
        if not_before > now:
            # A backoff belongs to this request alone: pausing its slot would
            # hold back every other request of the route.
            await sleep(not_before - now)
        return None

    def _assign(self, request: Request, now: float) -> None:
        assert self.pool is not None
        meta = request.meta
        current = meta.get(META_ROUTE) if meta.get(_ASSIGNED) else None
        if current is not None:
            resting = max(self.state.cooling_until(current), self.state.paused_until(current))
            if resting <= now and not meta.get(_AVOID):
                return
        proxy, route = self.pool.pick(self.state, now, avoid=meta.pop(_AVOID, None) or current)
        # The URL carries the credentials; HttpProxyMiddleware (750) turns them
        # into Proxy-Authorization and drops the old proxy's header.
        meta["proxy"] = proxy
        meta[_ASSIGNED] = True
        meta[META_ROUTE] = route

    def _remember_slot(self, request: Request, route: str, account: str) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        key = engine.downloader.get_slot_key(request)
        remembered = (route, account, key)
        if remembered == self._last_remembered:
            return  # the common case: the same route and slot as last time
        self._last_remembered = remembered
        for owner in (route, account):
            # Least recently used first: popped and put back at the end.
            keys = self._slot_keys.pop(owner, None)
            if keys is None:
                keys = set()
                if len(self._slot_keys) >= _SLOT_OWNERS_MAX:
                    # One entry per route would grow with every new sticky
                    # session. A forgotten route loses nothing: a pause still
                    # holds each of its requests back as it arrives.
                    del self._slot_keys[next(iter(self._slot_keys))]
            self._slot_keys[owner] = keys
            if key not in keys:
                if len(keys) > 256:
                    keys.intersection_update(engine.downloader.slots)
                keys.add(key)

    def _pause_slot(self, request: Request, until: float) -> bool:
        engine = self.crawler.engine
        if engine is None:
            return False
        key = engine.downloader.get_slot_key(request)
        if key not in engine.downloader.slots:
            return False
        self._pause_slots({key}, until)
        return True

    def _pause_slots(self, keys: set[str], until: float) -> None:
        engine = self.crawler.engine
        if engine is None:
            return
        wait = until - time.time()
        if wait <= 0:
            return
        mono_until = time.monotonic() + wait
        for key in keys:
            slot = engine.downloader.slots.get(key)
            if slot is None:
                continue
            if slot.delay == 0:
                # The downloader only honours ``lastseen`` for slots with a
                # delay; give it a negligible one and take it back after.
                slot.delay = _TINY_DELAY
                call_later(wait, _restore_delay, slot)
            slot.lastseen = max(slot.lastseen, mono_until)

    # ----------------------------------------------------------------- responses

    def process_response(self, request: Request, response: Response) -> Request | Response:
        meta = request.meta
        if meta.get(META_DONT):
            return self._stock_retry_response(request, response)
        proxy = meta.get("proxy")
        profile = self._profile_for(request, proxy)
        transport = self._transport(request, profile)
        status = response.status
        if status < 400 or transport is Transport.TARGET:
            # The hot path: successes, and replies from the target through a
            # tunnel, which are never provider signals.
            # X-RateLimit-* on a plain proxied reply are the target's own
            # (forwarded): only an API, or a provider that documents them, counts.
            if (
                transport is Transport.API
                or (
                    transport is Transport.PLAIN
                    and profile is not None
                    and profile.rate_limit_headers
                )
            ) and response.headers.get(b"X-RateLimit-Remaining") == b"0":
                self._limit_spent(request, response, profile)
            route = meta.get(META_ROUTE)
            if route is not None and status < 400:
                self.state.record_success(route)
            return self._stock_retry_response(request, response)
        error = classify(
            status,
            response.headers,
            response.body,
            transport=transport,
            request_url=request.url,
            proxy_url=proxy,
            provider=profile,
            profiles=self.config.profiles,
        )
        if error is None:
            return self._stock_retry_response(request, response)
        self._learn(proxy, error)
        result = self._act(request, error)
        return response if result is None else result

    def _limit_spent(self, request: Request, response: Response, profile: Profile | None) -> None:
        wait = rate_limit_wait(response.headers)
        if not wait or wait > self.config.max_wait:
            return
        # The account; for an unknown or generic provider _route() makes it the route.
        _, key = self._route(request, profile)
        self._pause(key, time.time() + wait)
        self.stats.inc_value(S.stat_key("ratelimit", "preemptive_pauses"))
        logger.debug(
            "X-RateLimit-Remaining is 0 on %(key)s: pausing it for %(wait).1f s",
            {"key": key, "wait": wait},
            extra={"spider": self.crawler.spider},
        )

    def _learn(self, proxy: str | None, error: ProviderError) -> None:
        if proxy and error.provider != "generic" and len(self._learned) < _LEARNED_MAX:
            where = hostport(proxy)
            if where not in self._learned:
                self._learned[where] = error.provider
                # Profiles (and so route ids) of this proxy change with it.
                self._proxy_profiles.clear()

    # ---------------------------------------------------------------- exceptions

    def process_exception(
        self, request: Request, exception: Exception
    ) -> Request | Response | None:
        meta = request.meta
        if not meta.get(META_DONT):
            reply = connect_reply(exception)
            if reply is not None:
                proxy = meta.get("proxy")
                error = classify(
                    reply.status,
                    reply.headers,
                    reply.body,
                    transport=Transport.CONNECT,
                    request_url=request.url,
                    proxy_url=proxy,
                    provider=self._profile_for(request, proxy),
                    profiles=self.config.profiles,
                )
                if error is not None:
                    self._learn(proxy, error)
                    result = self._act(request, error)
                    if result is None:
                        clean = self._without_credentials(exception, reply)
                        if clean is not None:
                            # "from": the original (with credentials) stays
                            # out of tracebacks.
                            raise clean from clean.__cause__
                    return result
        if (
            self.config.retry_enabled
            and isinstance(exception, self.config.retry_exceptions)
            and not meta.get("dont_retry", False)
        ):
            return self._plain_retry(request, exception, None)
        return None

    def _without_credentials(self, exception: Exception, reply: ConnectReply) -> Exception | None:
        """A copy of *exception* whose message no longer holds proxy credentials.

        Scrapy's aiohttp handler puts the proxy URL *with* ``user:password`` in
        its error; handed on as it is, it reaches errbacks and Scrapy's "Error
        downloading" line. The copy has the same type and the masked message;
        its cause is a ProxyTunnelError with the proxy's reply, so that
        connect_reply() still finds it. ``None`` when there is nothing to mask.
        """
        try:
            text = str(exception)
        except Exception:
            return None
        clean = redact_text(redacted_message(exception), self._secrets)
        if clean == text:
            return None
        tunnel = ProxyTunnelError(
            reply.proxy, reply.status, reply.reason.encode("latin-1", "replace"),
            reply.headers, reply.body,
        )
        try:
            copy = type(exception)(clean)
        except Exception:  # a constructor that wants other arguments
            return tunnel
        copy.__cause__ = tunnel
        return copy

    # ------------------------------------------------------------------- actions

    def _act(self, request: Request, error: ProviderError) -> Request | None:
        """Apply the decision for *error*; ``None`` hands the reply on."""
        error = self._scrub(request, error)
        stats = self.stats
        stats.inc_value(S.error_key(error.provider, error.code))
        stats.inc_value(S.stat_key("category", error.category))
        attempt = request.meta.get("retry_times", 0)
        decision = decide(
            error,
            attempt=attempt,
            actions=self.config.actions,
            backoff_base=self.config.backoff_base,
            backoff_max=self.config.backoff_max,
            max_wait=self.config.max_wait,
            rng=self.rng,
        )
        action = decision.action
        stats.inc_value(S.stat_key("action", action))
        stats.inc_value(S.stat_key("decision", error.provider, error.code, action))
        request.meta[META_ERROR] = error
        if decision.escalated_from is not None:
            stats.inc_value(S.stat_key("escalated", action))
            logger.warning(
                "%(reason)s asked to wait %(wait).0f s, more than PROXYERRORS_MAX_WAIT "
                "(%(max).0f s): %(action)s instead",
                {
                    "reason": error.reason,
                    "wait": decision.escalated_from,
                    "max": self.config.max_wait,
                    "action": action,
                },
                extra={"spider": self.crawler.spider},
            )
        if action is Action.PASS:
            if error.category is Category.WARNING:
                self._warn_once(
                    error.reason,
                    "%(reason)s: %(meaning)s Fix: %(fix)s",
                    {"reason": error.reason, "meaning": error.meaning, "fix": error.fix},
                )
            return None
        if action is Action.DROP:
            return self._drop(request, error)
        if action is Action.STOP:
            self._stop(request, error, decision.escalated_from)
            return self._requeue(request)
        if request.meta.get("dont_retry", False):
            return None
        retry = self._retry_request(request, error.reason, S.RETRY_BASE, logger)
        if retry is None:
            return None
        now = time.time()
        route, account = self._route(request, self._profile_for(request, request.meta.get("proxy")))
        if action is Action.ROTATE:
            moved = self._rotate(request, retry, error, route, now, decision.wait)
            if not moved and decision.wait:
                retry.meta[_NOT_BEFORE] = now + decision.wait
                self._add_wait(decision.wait)
        elif action is Action.SLOWDOWN:
            key = account if error.scope in (Scope.ACCOUNT, Scope.CRAWL) else route
            until = now + decision.wait
            self._pause(key, until)
            retry.meta[_NOT_BEFORE] = until
            self._add_wait(decision.wait)
            logger.info(
                "%(reason)s: pausing %(key)s for %(wait).1f s (%(meaning)s)",
                {
                    "reason": error.reason,
                    "key": key,
                    "wait": decision.wait,
                    "meaning": error.meaning,
                },
                extra={"spider": self.crawler.spider},
            )
        else:
            retry.meta[_NOT_BEFORE] = now + decision.wait
            self._add_wait(decision.wait)
        return retry

    def _add_wait(self, seconds: float) -> None:
        # Scrapy's stats accept any number; its annotation says int.
        self.stats.inc_value(S.WAIT_SECONDS, seconds)  # type: ignore[arg-type]

    def _pause(self, key: str, until: float) -> None:
        if until <= self.state.paused_until(key):
            return
        self.state.pause(key, until)
        self.stats.inc_value(S.PAUSES)
        keys = self._slot_keys.get(key)
        if keys:
            self._pause_slots(keys, until)

    def _rotate(
        self,
        request: Request,
        retry: Request,
        error: ProviderError,
        route: str,
        now: float,
        wait: float,
    ) -> bool:
        """Point *retry* at another proxy or a new session; True if it moved."""
        cooldown = (
            error.rule.cooldown
            if error.rule.cooldown is not None
            else max(self.config.route_cooldown, wait)
        )
        self.state.record_failure(route, now, cooldown)
        self.stats.inc_value(S.COOLDOWNS)
        if self.pool is not None and len(self.pool) > 1 and request.meta.get(_ASSIGNED):
            retry.meta[_AVOID] = route
            retry.meta[_ASSIGNED] = True
            self.stats.inc_value(S.ROTATE_PROXY)
            return True
        profile = self.config.profiles.get(error.provider)
        param = profile.session_param if profile else None
        creds = basic_credentials(request.headers.get(b"Proxy-Authorization"))
        if param and creds and session_of(creds.user, param):
            fresh = Credentials(with_new_session(creds.user, param), creds.password)
            # Same proxy URL, new username: the header is replaced directly so
            # the credentials never travel in meta.
            retry.headers[b"Proxy-Authorization"] = basic_header(fresh)
            # The retry's route is the new session: a pooled request keeps
            # its proxy (and this header) instead of being reassigned.
            retry.meta[META_ROUTE] = self._route_id(
                request.meta.get("proxy", ""), fresh.user, profile
            )
            self.stats.inc_value(S.ROTATE_SESSION)
            return True
        self.stats.inc_value(S.ROTATE_NONE)
        return False

    def _drop(self, request: Request, error: ProviderError) -> NoReturn:
        self.stats.inc_value(S.DROPPED)
        self._warn_once(
            f"drop:{error.reason}",
            "Dropping requests that get %(reason)s (%(status)s): %(meaning)s Fix: %(fix)s",
            {
                "reason": error.reason,
                "status": error.status,
                "meaning": error.meaning,
                "fix": error.fix,
            },
        )
        logger.debug(
            "Dropped %(request)s: %(reason)s",
            {"request": request, "reason": error.reason},
            extra={"spider": self.crawler.spider},
        )
        raise ProviderErrorDropped(error)

    def _stop(self, request: Request, error: ProviderError, escalated_from: float | None) -> None:
        if self.stopping:
            return
        reason = f"proxyerrors_{error.category}"
        self.stopping = reason
        self.stats.set_value(S.STOPPED, reason)
        self.stats.set_value(S.STOPPED_BY, f"{error.provider}/{error.code}")
        why = (
            f" It asked to wait {escalated_from:.0f} s, longer than PROXYERRORS_MAX_WAIT."
            if escalated_from is not None
            else ""
        )
        logger.error(
            "Stopping the crawl: %(provider)s %(code)s (HTTP %(status)s, %(category)s) on "
            "%(route)s. %(meaning)s%(why)s Fix: %(fix)s%(detail)s%(rid)s Pending requests "
            "are kept for a JOBDIR resume.",
            {
                "provider": error.provider,
                "code": error.code,
                "status": error.status,
                "category": error.category,
                "route": request.meta.get(META_ROUTE, "?"),
                "meaning": error.meaning,
                "why": why,
                "fix": error.fix,
                # Already masked of the request's secrets by _scrub().
                "detail": f" Provider said: {error.detail}." if error.detail else "",
                "rid": f" Request id: {error.request_id}." if error.request_id else "",
            },
            extra={"spider": self.crawler.spider},
        )
        engine = self.crawler.engine
        if engine is not None:
            # Awaiting close_spider_async from inside the downloader would wait
            # for this very request to finish: schedule it instead.
            deferred_from_coro(engine.close_spider_async(reason=reason))

    def _requeue(self, request: Request) -> Request:
        self.stats.inc_value(S.REQUEUED)
        meta = {k: v for k, v in request.meta.items() if k not in (_NOT_BEFORE, META_ERROR)}
        return request.replace(dont_filter=True, meta=meta)

    # ---------------------------------------------------- non-provider failures

    def _stock_retry_response(self, request: Request, response: Response) -> Request | Response:
        if (
            not self.config.retry_enabled
            or request.meta.get("dont_retry", False)
            or response.status not in self.config.retry_http_codes
        ):
            return response
        return self._plain_retry(request, f"{response.status}", response) or response

    def _plain_retry(
        self, request: Request, reason: str | Exception, response: Response | None
    ) -> Request | None:
        wait = None
        if response is not None:
            wait = parse_retry_after(header_text(response.headers, "Retry-After"), time.time())
            if wait is not None and wait > self.config.max_wait:
                self.stats.inc_value(S.stat_key("retry_after", "too_long"))
                return None
        retry = self._retry_request(request, reason)
        if retry is None:
            return None
        if wait is None:
            wait = backoff(
                request.meta.get("retry_times", 0),
                self.config.backoff_base,
                self.config.backoff_max,
                self.rng,
            )
        retry.meta[_NOT_BEFORE] = time.time() + wait
        self._add_wait(wait)
        return retry

    # ------------------------------------------------------------------- helpers

    def _retry_request(
        self,
        request: Request,
        reason: str | Exception,
        stats_base_key: str = "retry",
        log: logging.Logger = retry_logger,
    ) -> Request | None:
        """``get_retry_request`` with the budget every retry shares: the
        request's own meta (as RetryMiddleware reads it), else the settings.

        Non-provider retries keep Scrapy's stats keys and logger, as if
        RetryMiddleware had made them."""
        meta = request.meta
        return get_retry_request(
            request,
            spider=self._spider(),
            reason=reason,
            max_retry_times=meta.get("max_retry_times", self.config.max_retries),
            priority_adjust=meta.get("priority_adjust", self.config.priority_adjust),
            give_up_log_level=meta.get("give_up_log_level", self.config.give_up_log_level),
            stats_base_key=stats_base_key,
            logger=log,
        )

    def _spider(self) -> Spider:
        spider = self.crawler.spider
        assert spider is not None
        return spider

    def _warn_once(self, key: str, message: str, args: dict[str, Any]) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning(message, args, extra={"spider": self.crawler.spider})


def _restore_delay(slot: Any) -> None:
    remaining = slot.lastseen - time.monotonic()
    if remaining > 0:
        # A later pause extended this one: keep the delay until it ends.
        call_later(remaining, _restore_delay, slot)
        return
    if slot.delay == _TINY_DELAY:
        slot.delay = 0.0
