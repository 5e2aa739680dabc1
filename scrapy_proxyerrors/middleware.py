"""The downloader middleware: a thin adapter over identity, classifier, policy
and scheduler.

It takes the place of Scrapy's ``RetryMiddleware`` (same priority, 550) and
subclasses it: for every reply and exception that carries no provider signal
it behaves as ``RetryMiddleware`` does (``RETRY_HTTP_CODES``, reasons, stats
keys, log lines, ``RETRY_ENABLED``, public attributes), plus the documented
backoff and ``Retry-After``, which park the request instead of sleeping.

Each call goes: identity (who answered: profile, route, account) ->
classifier (what they said) -> policy (the plan) -> scheduler (when and where
the next attempt goes).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import math
import random
import time
from typing import TYPE_CHECKING, Any, NoReturn, TypeVar

import scrapy.exceptions as _scrapy_exceptions
from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request, retry_logger
from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.response import response_status_message
from twisted.internet.error import (
    ConnectError,
    ConnectionDone,
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.web.client import ResponseFailed

from . import _stats as S
from ._classifier import ProviderError, classify, rate_limit_wait
from ._config import Config, rotate_times, throttle_max_count, throttle_max_time
from ._identity import Identity
from ._parse import header_text
from ._policy import (
    Attempt,
    Budget,
    PauseOn,
    PolicyConfig,
    plan,
    plan_plain,
    preemptive_pause,
    stated_rate,
)
from ._probe import needs_corroboration
from ._redact import (
    PLUGIN_LOGGERS,
    SCRAPY_REQUEST_LOGGERS,
    install_filters,
    redact_text,
    remember,
    request_secrets,
)
from ._routes import url_credentials
from ._scheduler import (
    ACCOUNT,
    ASSIGNED,
    META_ROUTE,
    NOT_BEFORE,
    SENT,
    SENT_WITH,
    Scheduler,
    SchedulerConfig,
)
from ._state import RouteState
from ._tunnel import ConnectReply, connect_reply, redacted_message
from ._vocabulary import Action, Category, Transport
from .exceptions import BadSettingError, ProviderErrorDropped, ProxyTunnelError

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Iterable

    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

    from ._policy import Plan
    from ._profile import Profile

logger = logging.getLogger(__name__)

_T = TypeVar("_T")

# Public meta keys (documented in the README reference table).
META_PROVIDER = "proxyerrors_provider"
META_DONT = "dont_proxyerrors"
# META_ROUTE ("proxyerrors_route") is the scheduler's: it sets it.
META_ERROR = "proxyerrors_error"
#: A request's own budgets, beating PROXYERRORS_THROTTLE_MAX_TIME,
#: PROXYERRORS_THROTTLE_MAX_COUNT and PROXYERRORS_ROTATE_TIMES (as
#: ``max_retry_times`` beats RETRY_TIMES).
META_THROTTLE_MAX_TIME = "proxyerrors_throttle_max_time"
META_THROTTLE_MAX_COUNT = "proxyerrors_throttle_max_count"
META_ROTATE_TIMES = "proxyerrors_rotate_times"
# Private meta keys: the throttle and rotation budgets a request has spent.
_THROTTLED = "_proxyerrors_throttled"
_ROTATED = "_proxyerrors_rotated"
_THROTTLED_SINCE = "_proxyerrors_throttled_since"

_SECRETS_MAX = 1_000
#: get_retry_request() takes give_up_log_level from Scrapy 2.14 on.
_GIVE_UP_LEVEL = "give_up_log_level" in inspect.signature(get_retry_request).parameters
#: Failures that say "this proxy (route) did not work", not "the target failed":
#: Twisted's, and Scrapy 2.14+'s own download exceptions where they exist.
_CONNECTION_FAILURES: tuple[type[BaseException], ...] = (
    ConnectError,  # refused, DNS at the proxy, no route, TCP timeout...
    ConnectionDone,
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
    ResponseFailed,
    OSError,
    *(
        getattr(_scrapy_exceptions, name)
        for name in (
            "CannotResolveHostError",
            "DownloadConnectionRefusedError",
            "DownloadFailedError",
            "DownloadTimeoutError",
            "ResponseDataLossError",
        )
        if hasattr(_scrapy_exceptions, name)
    ),
)


class ProxyErrorsMiddleware(RetryMiddleware):
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
        # Meta budget keys whose bad value was logged (once per key).
        self._ignored_meta: set[str] = set()
        try:
            self.config = Config.from_settings(settings)
            self.state: RouteState = self._build_state(crawler)
        except NotConfigured as exc:
            # Scrapy's middleware manager would take NotConfigured as "disable
            # me" and run the crawl without the plugin: a bad value must stop it.
            raise BadSettingError(str(exc)) from None
        config = self.config
        # RetryMiddleware's public attributes, honoured as it honours them.
        self.max_retry_times = settings.getint("RETRY_TIMES")
        self.retry_http_codes = set(config.retry_http_codes)
        self.priority_adjust = config.priority_adjust
        self.give_up_log_level = config.give_up_log_level
        self.exceptions_to_retry = config.retry_exceptions
        assert crawler.stats is not None
        self.stats = crawler.stats
        self.rng = random.Random()
        self.clock = time.time
        self.policy = PolicyConfig(
            actions=config.actions,
            backoff_base=config.backoff_base,
            backoff_max=config.backoff_max,
            max_wait=config.max_wait,
            route_cooldown=config.route_cooldown,
            throttle_max_time=config.throttle_max_time,
            throttle_max_count=config.throttle_max_count,
            rotate_times=config.rotate_times,
        )
        self._warned: set[str] = set()
        # The spider Scrapy 2.13 passes to process_*: stock RetryMiddleware
        # retries for it there, and a caller driving the middleware by hand
        # (Scrapy's own tests) may have no crawler.spider.
        self._given_spider: Spider | None = None
        self._secrets: set[str] = set()
        self.identity = Identity(
            config.profiles,
            config.provider,
            self.state,
            self._warn_once,
            on_password=lambda password: self._keep_secrets((password,), shared=True),
        )
        self.scheduler = Scheduler(
            crawler,
            self.state,
            self.identity,
            SchedulerConfig(
                slot_per_route=config.slot_per_route,
                breaker_threshold=config.breaker_threshold,
                breaker_recovery=config.breaker_recovery,
            ),
            config.proxies,
            clock=self.clock,
            rng=self.rng,
        )
        passwords = []
        for proxy in config.proxies:
            creds = url_credentials(proxy)
            if creds and creds.password:
                passwords.append(creds.password)
        self._keep_secrets(passwords, shared=True)
        # Everything the plugin logs is masked; Scrapy's own request lines
        # (URLs with api_key=...) too, unless PROXYERRORS_REDACT_LOGS is off.
        # This crawler's filters: removed, with its secrets, when it stops.
        install_filters(PLUGIN_LOGGERS, crawler)
        if config.redact_logs:
            install_filters(SCRAPY_REQUEST_LOGGERS, crawler)

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

    # Kept for callers of the previous layout (report, tests).
    @property
    def stopping(self) -> str | None:
        return self.scheduler.stopping

    @stopping.setter
    def stopping(self, value: str | None) -> None:
        self.scheduler.stopping = value

    @property
    def pool(self) -> Any:
        return self.scheduler.pool

    # ------------------------------------------------------------------ requests

    # ``spider`` is optional and unused: Scrapy 2.13 passes it, 2.14+ does not
    # (and warns only about a *required* one).
    def process_request(
        self, request: Request, spider: Spider | None = None
    ) -> Request | Response | None:
        meta = request.meta
        if meta.get(META_DONT):
            return None
        scheduler = self.scheduler
        if scheduler.stopping:
            # The crawl is closing: keep the request for a JOBDIR resume
            # instead of sending it to a provider that refuses everything.
            return self._requeue(request)
        now = self.clock()
        not_before = meta.get(NOT_BEFORE)
        if not_before is not None and not_before > now:
            # Not due yet (a caller that bypassed the engine's scheduling).
            return scheduler.park(request, not_before)
        if scheduler.pool is not None and ("proxy" not in meta or meta.get(ASSIGNED)):
            scheduler.assign(request, now)
        identity = self.identity
        profile = identity.profile(request)
        route, account = identity.route(request, profile)
        if scheduler.sticky(request, route, now):
            route, account = identity.route(request, profile)
        meta[META_ROUTE] = route
        site = identity.site_key(account, request) if scheduler.site_pauses else None
        # A limit the provider states is kept from the first request: one it
        # states on every reply is read off the first reply before any burst;
        # a documented one (for any other provider) paces the account at once.
        first_reply = profile is not None and profile.rate_limit_headers
        if not first_reply and profile is not None and profile.rate_limit_rps:
            documented = stated_rate(None, None, profile.rate_limit_rps)
            if documented:
                # Requests per second: counted per second.
                scheduler.pace_stated(account, documented, now, 1.0)
        due, wait_on = scheduler.admit(request, route, account, site, now, first_reply=first_reply)
        if due:
            return scheduler.park(request, due, wait_on)
        return None

    # ----------------------------------------------------------------- responses

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if spider is not None:
            self._given_spider = spider
        scheduler = self.scheduler
        account = scheduler.done(request, answered=True)
        meta = request.meta
        if meta.get(META_DONT) or "cached" in response.flags:
            # A reply from Scrapy's HTTP cache is no live provider signal.
            return self._stock_response(request, response)
        identity = self.identity
        profile = identity.profile(request)
        transport = identity.transport(request, profile)
        status = response.status
        if transport is Transport.TARGET or (status < 400 and not self._status_headers(profile)):
            # The hot path: successes, and replies from the target through a
            # tunnel, which are never provider signals.
            if status < 400:
                route = meta.get(META_ROUTE)
                if route is not None:
                    scheduler.succeeded(route, account, meta.get(SENT))
                if (
                    transport is Transport.API
                    or (
                        transport is Transport.PLAIN
                        and profile is not None
                        and profile.rate_limit_headers
                    )
                ):
                    # X-RateLimit-* on a plain proxied reply are the target's own
                    # (forwarded): only an API, or a provider that documents them, counts.
                    if response.headers.get(b"X-RateLimit-Remaining") == b"0":
                        self._limit_spent(request, response, profile)
                    if account is not None and profile is not None and profile.rate_limit_headers:
                        self._limit_stated(account, response)
            return self._stock_response(request, response)
        error = classify(
            status,
            response.headers,
            response.body,
            transport=transport,
            request_url=request.url,
            proxy_url=meta.get("proxy"),
            provider=profile,
            profiles=self.config.profiles,
        )
        if error is None or self._bare(error, transport):
            route = meta.get(META_ROUTE)
            if status < 400 and route is not None:
                scheduler.succeeded(route, account, meta.get(SENT))
            return self._stock_response(request, response)
        if meta.get("proxy") and needs_corroboration(error, transport):
            # Maybe the target's reply, forwarded: a CONNECT probe through the
            # same proxy decides. Only when a probe must go out is the result
            # awaitable (Scrapy awaits what process_response returns); every
            # other path stays synchronous, as RetryMiddleware's callers expect.
            known = scheduler.corroborated(request, error)
            if known is None:
                # The account's hold starts now; the probe when Scrapy awaits.
                probe = scheduler.corroborate(request, error)
                return self._corroborated(request, response, probe)  # type: ignore[return-value]
            error = known
        return self._decided(request, response, error)

    async def _corroborated(
        self,
        request: Request,
        response: Response,
        probe: Coroutine[Any, Any, ProviderError],
    ) -> Request | Response:
        return self._decided(request, response, await probe)

    def _decided(
        self, request: Request, response: Response, error: ProviderError
    ) -> Request | Response:
        self._learn(request.meta.get("proxy"), error)
        result = self._act(request, error)
        return response if result is None else result

    def _learn(self, proxy: str | None, error: ProviderError) -> None:
        if error.claimed is not None:
            # A capped claim (a header anyone could send) names no provider.
            return
        if self.identity.learn(proxy, error.provider) and self.scheduler.pool is not None:
            # Pool entries of that proxy are named after the new profile.
            self.scheduler.pool.forget_routes()

    @staticmethod
    def _bare(error: ProviderError, transport: Transport) -> bool:
        """A plain-HTTP reply only the generic profile matched, by its status
        alone: it may be the target's, forwarded. Handled as Scrapy would
        (``RETRY_HTTP_CODES``), except a 407, which only a proxy sends."""
        return (
            error.provider == "generic"
            and transport is Transport.PLAIN
            and error.code == str(error.status)
            and error.status != 407
        )

    @staticmethod
    def _status_headers(profile: Profile | None) -> bool:
        """Whether 2xx replies of *profile* can carry an error (contract 3)."""
        return profile is not None and bool(getattr(profile, "status_headers", None))

    def _limit_spent(self, request: Request, response: Response, profile: Profile | None) -> None:
        wait = preemptive_pause(rate_limit_wait(response.headers), self.policy)
        if wait is None:
            return
        # The account; for an unknown or generic provider it is the route.
        _, key = self.identity.route(request, profile)
        self.scheduler.pause(key, self.clock() + wait, reason="X-RateLimit-Remaining: 0")
        self.stats.inc_value(S.stat_key("ratelimit", "preemptive_pauses"))
        logger.debug(
            "X-RateLimit-Remaining is 0 on %(key)s: pausing it for %(wait).1f s",
            {"key": key, "wait": wait},
            extra={"spider": self.crawler.spider},
        )

    def _limit_stated(self, account: str, response: Response) -> None:
        """A provider that states its limit on every reply (``rate_limit_headers``):
        pace *account* under it (a 429 needs none of this: it is classified)."""
        headers = response.headers
        limit, window = headers.get(b"X-RateLimit-Limit"), headers.get(b"X-RateLimit-Window")
        if limit is None or window is None:
            return
        try:
            seconds = float(window)
            rate = stated_rate(int(limit), seconds)
        except (ValueError, OverflowError):  # a malformed statement states nothing
            return
        if rate is not None and math.isfinite(rate) and rate > 0:
            self.scheduler.pace_stated(account, rate, self.clock(), seconds)

    # ---------------------------------------------------------------- exceptions

    def process_exception(
        self, request: Request, exception: Exception, spider: Spider | None = None
    ) -> Request | Response | None:
        # Like RetryMiddleware, this never raises: a failure here would replace
        # the download's own error.
        if spider is not None:
            self._given_spider = spider
        self.scheduler.done(request, answered=False)
        try:
            return self._exception(request, exception)
        except ProviderErrorDropped:
            raise
        except Exception:
            logger.exception(
                "scrapy-proxyerrors could not handle %(exc)s for %(request)s",
                {"exc": type(exception).__name__, "request": request},
                extra={"spider": self.crawler.spider},
            )
            return None

    def _exception(self, request: Request, exception: Exception) -> Request | None:
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
                    provider=self.identity.profile(request),
                    profiles=self.config.profiles,
                )
                if error is not None:
                    self._learn(proxy, error)
                    result = self._act(request, error)
                    if result is None:
                        self._mask(exception, reply)
                    return result
        if (
            not self.config.retry_enabled
            or not isinstance(exception, self.exceptions_to_retry)
            or meta.get("dont_retry", False)
        ):
            return None
        if meta.get(META_DONT):
            return self._retry(request, exception)
        profile = self.identity.profile(request)
        proxied = bool(meta.get("proxy"))
        connection = isinstance(exception, _CONNECTION_FAILURES)
        api = not proxied and self.identity.transport(request, profile) is Transport.API
        return self._plain(
            request,
            exception,
            status=None,
            retry_after=None,
            route_failure=proxied and connection,
            outage=api and connection,
        )

    def _mask(self, exception: Exception, reply: ConnectReply) -> None:
        """Mask proxy credentials in *exception*, in place, before it goes on.

        Scrapy's aiohttp handler puts the proxy URL *with* ``user:password`` in
        its error, which reaches errbacks and Scrapy's "Error downloading"
        line. The exception keeps its type and identity (nothing is raised
        here); its message is masked and its cause becomes a ProxyTunnelError
        with the proxy's reply, so that connect_reply() still finds it.
        """
        try:
            text = str(exception)
            clean = redact_text(redacted_message(exception), self._secrets)
            if clean == text:
                return
            exception.args = (clean,)
            exception.__cause__ = ProxyTunnelError(
                reply.proxy,
                reply.status,
                reply.reason.encode("latin-1", "replace"),
                reply.headers,
                reply.body,
            )
            exception.__context__ = None
            exception.__suppress_context__ = True
        except Exception:  # an exception type that refuses new args
            logger.debug("Could not mask %(exc)s", {"exc": type(exception).__name__})

    # ---------------------------------------------------------- stock behaviour

    def _stock_response(self, request: Request, response: Response) -> Request | Response:
        """RetryMiddleware's process_response, with the backoff and Retry-After."""
        if (
            not self.config.retry_enabled
            or request.meta.get("dont_retry", False)
            or response.status not in self.retry_http_codes
        ):
            return response
        if request.meta.get(META_DONT) or "cached" in response.flags:
            return self._retry(request, response_status_message(response.status)) or response
        return (
            self._plain(
                request,
                response_status_message(response.status),
                status=response.status,
                retry_after=header_text(response.headers, "Retry-After"),
            )
            or response
        )

    def _plain(
        self,
        request: Request,
        reason: str | Exception,
        *,
        status: int | None,
        retry_after: str | None,
        route_failure: bool = False,
        outage: bool = False,
    ) -> Request | None:
        """A retry of a reply or exception no provider spoke for."""
        now = self.clock()
        decided = plan_plain(
            status,
            retry_after,
            attempt=self._attempt(request),
            now=now,
            cfg=self.policy,
            rng=self.rng,
            route_failure=route_failure,
            outage=outage,
        )
        if decided.action is Action.PASS:
            self.stats.inc_value(S.stat_key("retry_after", "too_long"))
            return None
        profile = self.identity.profile(request)
        route, account = self.identity.route(request, profile)
        if decided.outage:
            self.scheduler.outage(request, account, now, profile)
        if decided.budget is Budget.THROTTLE:
            retry = self._throttle_retry(request, decided, reason)
        else:
            retry = self._retry(request, reason)
        if retry is None:
            return None
        wait = decided.wait
        if route_failure and self.scheduler.rotate(
            request, retry, route, profile, decided.cooldown, now
        ):
            wait = 0.0
        elif decided.pause_on is PauseOn.SITE:
            # A bare Retry-After: nothing more goes to this site through this
            # route (or account) inside the window; a pooled retry moves to
            # another proxy of the pool at once.
            self._pause(request, decided, route, account, now, f"{status} Retry-After")
            if self.scheduler.can_move(request):
                self.scheduler.move(retry, route)
                wait = 0.0
        return self._delay(retry, now, wait)

    def _retry(
        self,
        request: Request,
        reason: str | Exception | type[Exception],
        stats_base_key: str = "retry",
        log: logging.Logger = retry_logger,
        max_retry_times: int | None = None,
    ) -> Request | None:
        """``get_retry_request`` with the budget every retry shares: the
        request's own meta (as RetryMiddleware reads it), else the attributes.

        Non-provider retries keep Scrapy's stats keys and logger, as if
        RetryMiddleware had made them."""
        meta = request.meta
        extra: dict[str, Any] = {}
        if _GIVE_UP_LEVEL:
            extra["give_up_log_level"] = meta.get("give_up_log_level", self.give_up_log_level)
        return get_retry_request(
            request,
            spider=self._spider(),
            reason=reason,
            max_retry_times=meta.get(
                "max_retry_times",
                self.max_retry_times if max_retry_times is None else max_retry_times,
            ),
            priority_adjust=meta.get("priority_adjust", self.priority_adjust),
            stats_base_key=stats_base_key,
            logger=log,
            **extra,
        )

    # ------------------------------------------------------------------- actions

    def _attempt(self, request: Request) -> Attempt:
        meta = request.meta
        return Attempt(
            retries=meta.get("retry_times", 0),
            throttled=meta.get(_THROTTLED, 0),
            throttled_since=meta.get(_THROTTLED_SINCE),
            rotated=meta.get(_ROTATED, 0),
            # By the rules of the settings these beat.
            throttle_max_time=self._own_budget(request, META_THROTTLE_MAX_TIME, throttle_max_time),
            throttle_max_count=self._own_budget(
                request, META_THROTTLE_MAX_COUNT, throttle_max_count
            ),
            # RETRY_ENABLED = False: no retry of any kind (the setting is 0 then),
            # whatever the request's meta says.
            rotate_times=(
                self._own_budget(request, META_ROTATE_TIMES, rotate_times)
                if self.config.retry_enabled
                else None
            ),
        )

    def _own_budget(
        self, request: Request, key: str, parse: Callable[[object], _T]
    ) -> _T | None:
        """The request's own budget in meta *key*, by the rule of the setting
        it beats (*parse*, from :mod:`._config`).
        ``None`` when unset; a value the setting would refuse is ignored (the
        setting's budget applies): a request is never lost to its meta. The
        first such value of each key is logged: a spider that sets it on every
        request would otherwise log it at every failure of every request."""
        value = request.meta.get(key)
        if value is None:
            return None
        try:
            return parse(value)
        except ValueError as exc:
            if key not in self._ignored_meta:
                self._ignored_meta.add(key)
                logger.warning(
                    "Ignoring meta %(key)s=%(value)r of %(request)s: %(why)s; "
                    "the setting's budget applies (other bad values of this key "
                    "are ignored without a word)",
                    {"key": key, "value": value, "request": request, "why": exc},
                    extra={"spider": self._spider()},
                )
            return None

    def _act(self, request: Request, error: ProviderError) -> Request | None:
        """Apply the plan for *error*; ``None`` hands the reply on."""
        error = self._scrub(request, error)
        stats = self.stats
        stats.inc_value(S.error_key(error.provider, error.code))
        stats.inc_value(S.stat_key("category", error.category))
        now = self.clock()
        decided = plan(
            error,
            attempt=self._attempt(request),
            now=now,
            cfg=self.policy,
            rng=self.rng,
        )
        action = decided.action
        stats.inc_value(S.stat_key("action", action))
        stats.inc_value(S.stat_key("decision", error.provider, error.code, action))
        request.meta[META_ERROR] = error
        if error.status == 429:
            self.scheduler.count_limited()
        if decided.escalated_from is not None:
            stats.inc_value(S.stat_key("escalated", action))
            logger.warning(
                "%(reason)s asked to wait %(wait).0f s, more than PROXYERRORS_MAX_WAIT "
                "(%(max).0f s): %(action)s instead",
                {
                    "reason": error.reason,
                    "wait": decided.escalated_from,
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
            self._stop(request, error, decided.escalated_from)
            return self._requeue(request)
        profile = self.identity.profile(request)
        route, account = self.identity.route(request, profile)
        scheduler = self.scheduler
        budget = decided.budget
        if decided.outage and scheduler.outage(
            request, account, now, self.config.profiles.get(error.provider)
        ):
            # The account's service is down: waiting for it is throttling.
            budget = Budget.THROTTLE
        self._apply_limits(request, error, decided, route, account, now)
        if request.meta.get("dont_retry", False):
            return None
        if budget is Budget.THROTTLE:
            retry = self._throttle_retry(request, decided, error.reason)
        elif budget is Budget.ROTATE:
            retry = self._rotation_retry(request)
        else:
            retry = self._provider_retry(request, error)
        if retry is None:
            return None
        wait = decided.wait
        if action is Action.ROTATE:
            if scheduler.rotate(request, retry, route, profile, decided.cooldown, now):
                wait = 0.0
                if budget is Budget.ROTATE:
                    self.stats.inc_value(S.ROTATE_BUDGET)
            elif budget is Budget.ROTATE:
                # Nowhere else to go: the same route again is a retry.
                retry = self._provider_retry(request, error)
                if retry is None:
                    return None
        elif decided.pause_on is PauseOn.ROUTE and scheduler.can_move(request):
            # Its proxy is paused, but another of the pool can serve it now.
            scheduler.move(retry, route)
            wait = 0.0
        return self._delay(retry, now, wait)

    def _pause(
        self, request: Request, decided: Plan, route: str, account: str, now: float, reason: str
    ) -> tuple[str, bool]:
        """Pause what *decided* names (route, account or site) for its window:
        ``(the state key, whether the pause is new)``."""
        assert decided.pause_on is not None
        if decided.pause_on is PauseOn.ACCOUNT:
            key = account
        elif decided.pause_on is PauseOn.SITE:
            key = self.identity.site_key(account, request)
        else:
            key = route
        new = self.scheduler.pause(
            key, now + decided.pause, site=decided.pause_on is PauseOn.SITE, reason=reason
        )
        return key, new

    def _apply_limits(
        self,
        request: Request,
        error: ProviderError,
        decided: Plan,
        route: str,
        account: str,
        now: float,
    ) -> None:
        """Pauses, pacing and concurrency limits the plan asks for."""
        scheduler = self.scheduler
        if decided.pause_on is not None and decided.pause > 0:
            label = f"{error.provider}/{error.code} -> {decided.action}"
            key, new = self._pause(request, decided, route, account, now, label)
            # One INFO line per pause; every further refusal inside it at DEBUG.
            logger.log(
                logging.INFO if new else logging.DEBUG,
                "%(reason)s: pausing %(key)s for %(wait).1f s (%(meaning)s)",
                {
                    "reason": error.reason,
                    "key": key,
                    "wait": decided.pause,
                    "meaning": error.meaning,
                },
                extra={"spider": self.crawler.spider},
            )
        if error.category is Category.RATE_LIMIT or decided.rate is not None:
            # A site's limit (Scope.SITE) paces that site's key, never the
            # account: pacing the account would slow every other site too.
            paced = (
                self.identity.site_key(account, request)
                if decided.pause_on is PauseOn.SITE
                else account
            )
            rate = scheduler.learn_rate(
                paced,
                decided.rate,
                # The provider's window, where it says it.
                error.wait if error.wait is not None else decided.wait,
                now,
                limited=error.status == 429,
                sent=request.meta.get(SENT),
                admitted_as=request.meta.get(ACCOUNT),
                window=decided.rate_window,
            )
            if rate is not None:
                logger.debug(
                    "Pacing %(key)s at %(rate).2f requests/s",
                    {"key": paced, "rate": rate},
                    extra={"spider": self.crawler.spider},
                )
        if decided.lower_concurrency:
            meta = request.meta
            limit = scheduler.lower_concurrency(account, meta.get(SENT_WITH), meta.get(SENT))
            logger.debug(
                "%(reason)s: at most %(limit)d concurrent requests through %(key)s",
                {"reason": error.reason, "limit": limit, "key": account},
                extra={"spider": self.crawler.spider},
            )

    def _provider_retry(self, request: Request, error: ProviderError) -> Request | None:
        """A retry of a provider error on the retry budget (``RETRY_TIMES``)."""
        return self._retry(request, error.reason, S.RETRY_BASE, logger, self.config.max_retries)

    def _rotation_retry(self, request: Request) -> Request:
        """A move off a failed route on the rotation budget (``RETRY_TIMES`` is
        untouched); like any retry it takes ``RETRY_PRIORITY_ADJUST``."""
        meta = dict(request.meta)
        meta[_ROTATED] = meta.get(_ROTATED, 0) + 1
        adjust = meta.get("priority_adjust", self.priority_adjust)
        return request.replace(dont_filter=True, meta=meta, priority=request.priority + adjust)

    def _throttle_retry(
        self, request: Request, decided: Plan, reason: str | Exception
    ) -> Request | None:
        """A new attempt on the throttle budget (``RETRY_TIMES`` is untouched)."""
        if decided.give_up is not None:
            self.stats.inc_value(S.stat_key("throttle", "gave_up"))
            logger.log(
                logging.getLevelName(self.give_up_log_level)
                if isinstance(self.give_up_log_level, str)
                else self.give_up_log_level,
                "Gave up waiting for %(request)s: %(why)s (%(reason)s)",
                {"request": request, "why": decided.give_up, "reason": reason},
                extra={"spider": self.crawler.spider},
            )
            return None
        meta = request.meta
        new_meta = dict(meta)
        new_meta[_THROTTLED] = meta.get(_THROTTLED, 0) + 1
        new_meta.setdefault(_THROTTLED_SINCE, self.clock())
        self.stats.inc_value(S.stat_key("throttle", "count"))
        return request.replace(dont_filter=True, meta=new_meta)

    def _delay(self, retry: Request, now: float, wait: float) -> Request:
        if wait > 0:
            retry.meta[NOT_BEFORE] = now + wait
            # Scrapy's stats accept any number; its annotation says int.
            self.stats.inc_value(S.WAIT_SECONDS, wait)  # type: ignore[arg-type]
        return retry

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
        if self.scheduler.stopping:
            return
        reason = f"proxyerrors_{error.category}"
        route = request.meta.get(META_ROUTE, "?")
        self.stats.set_value(S.STOPPED, reason)
        self.stats.set_value(S.STOPPED_BY, f"{error.provider}/{error.code}")
        why = (
            f" It asked to wait {escalated_from:.0f} s, longer than PROXYERRORS_MAX_WAIT."
            if escalated_from is not None
            else ""
        )
        kept = (
            " Pending requests are kept for a JOBDIR resume."
            if self.crawler.settings.get("JOBDIR")
            else ""
        )
        logger.error(
            "Stopping the crawl: %(provider)s %(code)s (HTTP %(status)s, %(category)s) on "
            "%(route)s. %(meaning)s%(why)s Fix: %(fix)s%(detail)s%(rid)s%(kept)s",
            {
                "provider": error.provider,
                "code": error.code,
                "status": error.status,
                "category": error.category,
                "route": route,
                "meaning": error.meaning,
                "why": why,
                "fix": error.fix,
                # Already masked of the request's secrets by _scrub().
                "detail": f" Provider said: {error.detail}." if error.detail else "",
                "rid": f" Request id: {error.request_id}." if error.request_id else "",
                "kept": kept,
            },
            extra={"spider": self.crawler.spider},
        )
        self.scheduler.stop(reason, f"{error.provider}/{error.code}@{route}")

    def _requeue(self, request: Request) -> Request:
        # Counted (proxyerrors/stop/requeued) when the scheduler hands it to
        # Scrapy's scheduler at the close, once, whatever route it took there.
        meta = {k: v for k, v in request.meta.items() if k not in (NOT_BEFORE, META_ERROR)}
        return request.replace(dont_filter=True, meta=meta)

    # ------------------------------------------------------------------- helpers

    def _keep_secrets(self, secrets: Iterable[str], *, shared: bool = False) -> None:
        """Remember *secrets* for masking provider text of this crawl.

        Only credentials (*shared*) go to the process-wide log filters: key
        values seen in URLs stay with this crawl.
        """
        new = [s for s in secrets if s and s not in self._secrets]
        for secret in new:
            if len(self._secrets) < _SECRETS_MAX:
                self._secrets.add(secret)
        if new and shared:
            remember(new, self.crawler)

    def _scrub(self, request: Request, error: ProviderError) -> ProviderError:
        """*error* with the request's secrets masked in what the provider said.

        Providers echo keys (``Key abc123 was revoked``); the detail is logged,
        kept in meta and handed to errbacks, so it is masked first.
        """
        creds = self.identity.credentials(request)
        if creds is not None and creds.password:
            self._keep_secrets((creds.password,), shared=True)
        self._keep_secrets(request_secrets(request.url, request.headers))
        detail = redact_text(error.detail, self._secrets) if error.detail else error.detail
        rid = redact_text(error.request_id, self._secrets) if error.request_id else error.request_id
        if (detail, rid) == (error.detail, error.request_id):
            return error
        return dataclasses.replace(error, detail=detail, request_id=rid)

    def _spider(self) -> Spider:
        spider = self.crawler.spider or self._given_spider
        assert spider is not None
        return spider

    def _warn_once(self, key: str, message: str, args: dict[str, Any]) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        logger.warning(message, args, extra={"spider": self.crawler.spider})
