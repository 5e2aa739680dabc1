"""The classifier: a pure function from a provider's reply to a decision.

No crawler, no reactor, no clock unless none is given: tests pass ``now``.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from ._parse import (
    BODY_LIMIT,
    TEXT_LIMIT,
    HeadersLike,
    RateLimit,
    as_headers,
    header_text,
    json_seconds,
    json_text,
    parse_json_object,
    parse_proxy_status,
    parse_rate_limit,
    parse_retry_after,
    plaintext,
)
from ._profile import Profile, Rule
from ._stats import stat_part
from ._vocabulary import Action, Category, Scope, Transport
from .profiles import BUILTIN_PROFILES, GENERIC

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.http.headers import Headers

#: A provider sent a code that no rule knows: hand the response on, counted.
UNKNOWN_CODE = Rule(
    None,
    None,
    Category.INTERNAL,
    Action.PASS,
    Scope.REQUEST,
    "The provider reported an error code this profile does not know.",
    "Look the code up in the provider's docs; map it with PROXYERRORS_ACTIONS.",
)
#: A proxy refused CONNECT with a status no rule knows: the request cannot go
#: through this proxy as it is.
CONNECT_REFUSED = Rule(
    None,
    None,
    Category.PROTOCOL,
    Action.DROP,
    Scope.REQUEST,
    "The proxy refused to open a tunnel to the target.",
    "Check that the proxy allows CONNECT to this host and port.",
)


@dataclass(frozen=True, slots=True)
class ProviderError:
    """A provider's failure, classified: who said what, what it means, what to do."""

    provider: str
    #: The provider's own code, or the status as text when it sent none.
    code: str
    status: int
    rule: Rule
    transport: Transport
    #: The provider's own explanation (header, JSON message or plaintext body).
    detail: str | None = None
    request_id: str | None = None
    #: Seconds from ``Retry-After`` (delay or HTTP-date).
    retry_after: float | None = None
    #: Seconds the error body asked for (e.g. ``details.retry_after_seconds``).
    body_wait: float | None = None
    rate_limit: RateLimit | None = None
    #: The rule the reply claimed when the trust boundary capped it (a
    #: provider found only by its signature header on a plain-HTTP reply,
    #: which a target could have sent): ``rule`` is then at most
    #: pass/retry/rotate. A CONNECT probe may confirm the claim (see _probe).
    claimed: Rule | None = None

    @property
    def category(self) -> Category:
        return self.rule.category

    @property
    def action(self) -> Action:
        return self.rule.action

    @property
    def scope(self) -> Scope:
        return self.rule.scope

    @property
    def meaning(self) -> str:
        return self.rule.meaning

    @property
    def fix(self) -> str:
        return self.rule.fix

    @property
    def reason(self) -> str:
        """``provider/code``, as used in retry reasons and stats."""
        return f"{self.provider}/{self.code}"

    @property
    def wait(self) -> float | None:
        """How long the provider asked us to wait, at least the documented minimum.

        ``Retry-After`` first, then a wait in the body, then the rate-limit
        reset (only when the limit is spent). ``None``: no wait was given.
        """
        asked = self.retry_after
        if asked is None:
            asked = self.body_wait
        if (
            asked is None
            and self.rate_limit is not None
            and (self.status == 429 or self.rate_limit.remaining == 0)
        ):
            asked = self.rate_limit.reset_after
        floor = self.rule.wait
        if asked is None:
            return floor
        return asked if floor is None else max(asked, floor)


def _host(url: str | None) -> str:
    if not url:
        return ""
    if "://" not in url:
        url = "//" + url
    try:
        return (urlsplit(url).hostname or "").lower()
    except ValueError:
        return ""


def select_profile(
    *,
    transport: Transport,
    headers: Headers,
    request_url: str = "",
    proxy_url: str | None = None,
    provider: str | Profile | None = None,
    profiles: Mapping[str, Profile] = BUILTIN_PROFILES,
) -> Profile:
    """Pick the profile for a reply: explicit, then host, then signature header."""
    return _select(transport, headers, request_url, proxy_url, provider, profiles)[0]


def _select(
    transport: Transport,
    headers: Headers,
    request_url: str,
    proxy_url: str | None,
    provider: str | Profile | None,
    profiles: Mapping[str, Profile],
) -> tuple[Profile, bool]:
    """:func:`select_profile`, and whether only a signature header chose it."""
    if isinstance(provider, Profile):
        return provider, False
    if provider and provider in profiles:
        return profiles[provider], False
    if transport is Transport.API:
        host = _host(request_url)
        for profile in profiles.values():
            if profile.matches_api_host(host):
                return profile, False
    else:
        host = _host(proxy_url)
        if host:
            for profile in profiles.values():
                if profile.matches_proxy_host(host):
                    return profile, False
        for profile in profiles.values():
            for name in profile.signature_headers:
                if headers.get(name):
                    return profile, True
    return profiles.get("generic", GENERIC), False


@dataclass(slots=True)
class _Signals:
    code: str | None = None
    detail: str | None = None
    request_id: str | None = None
    body_wait: float | None = None


def _read(
    profile: Profile, headers: Headers, data: dict[str, object] | None, body: bytes, status: int
) -> _Signals:
    """Where this profile keeps its code, detail and request id."""
    found = _Signals()
    for name in profile.code_headers:
        value = header_text(headers, name)
        if value:
            found.code = profile.code_from_header(value)
            break
    if found.code is None and profile.json_code:
        found.code = json_text(data, profile.json_code)
    for name in profile.detail_headers:
        found.detail = header_text(headers, name)
        if found.detail:
            break
    if found.detail is None and profile.json_message:
        found.detail = json_text(data, profile.json_message)
    for name in profile.request_id_headers:
        found.request_id = header_text(headers, name)
        if found.request_id:
            break
    if found.request_id is None and profile.json_request_id:
        found.request_id = json_text(data, profile.json_request_id)
    if profile.json_wait:
        found.body_wait = json_seconds(data, profile.json_wait)
    if found.code is None and profile.proxy_status:
        ps = parse_proxy_status(header_text(headers, "Proxy-Status"))
        if ps is not None:
            found.code = ps.error
            found.detail = found.detail or ps.details
    if found.code is None and profile.problem_json and data is not None:
        ctype = (header_text(headers, "Content-Type") or "").lower()
        if "problem+json" in ctype or ("type" in data and "title" in data):
            found.code = json_text(data, (("type",),))
            title = json_text(data, (("title",),))
            detail = json_text(data, (("detail",),))
            text = ": ".join(t for t in (title, detail) if t)
            found.detail = found.detail or (text[:TEXT_LIMIT] or None)
    if found.detail is None and profile.plaintext_body and body:
        text = body[: TEXT_LIMIT * 4].decode("utf-8", "replace").strip()
        found.detail = text[:TEXT_LIMIT] or None
    return found


def classify(
    status: int,
    headers: HeadersLike,
    body: bytes = b"",
    *,
    transport: Transport = Transport.PLAIN,
    request_url: str = "",
    proxy_url: str | None = None,
    provider: str | Profile | None = None,
    profiles: Mapping[str, Profile] = BUILTIN_PROFILES,
    now: float | None = None,
) -> ProviderError | None:
    """Classify one reply; ``None`` when it is not a provider error.

    *transport* says where the reply came from: ``plain`` (a proxy's reply to
    an http:// request), ``connect`` (a proxy's reply to CONNECT), ``api``
    (an API's reply) or ``target`` (through an open tunnel: never classified).
    Only the first ``BODY_LIMIT`` bytes of *body* are read. Never raises on
    malformed input.
    """
    if transport.__class__ is not Transport:
        transport = Transport(transport)
    if transport is Transport.TARGET:
        return None
    if status < 400 and (transport is not Transport.CONNECT or 200 <= status < 300):
        return None
    hdrs = as_headers(headers)
    profile, by_signature = _select(
        transport, hdrs, request_url, proxy_url, provider, profiles
    )
    if not profile.trusts(transport):
        profile, by_signature = profiles.get("generic", GENERIC), False
    clock = time.time() if now is None else now
    body = body[:BODY_LIMIT] if body else b""
    data = parse_json_object(body)
    text = plaintext(body)

    first: _Signals | None = None
    rule: Rule | None = None
    seen: set[str] = set()
    current: Profile | None = profile
    while current is not None and current.name not in seen:
        seen.add(current.name)
        found = _read(current, hdrs, data, body, status)
        if first is None:
            first = found
        rule = current.match(status, found.code, text if current.plaintext_body else "")
        if transport is Transport.PLAIN and current.tagged and found.code is None:
            # Trust boundary: this provider tags every error of its own, so an
            # untagged plain-HTTP reply is the target's, forwarded: no status
            # rule of its own, and no fallback, may claim it.
            if rule is not None and rule.code is None and rule.body is None:
                rule = None
            break
        if rule is not None:
            break
        current = profiles.get(current.fallback) if current.fallback else None
    assert first is not None
    code = first.code or (found.code if rule is not None else None)
    if rule is None:
        if transport is Transport.CONNECT:
            rule = CONNECT_REFUSED
        elif first.code:
            rule = UNKNOWN_CODE
        else:
            return None
    if code is None:
        code = rule.code if rule.code and not rule.is_family else str(status)
    claimed = None
    if by_signature and transport is Transport.PLAIN and _can_reach_beyond_route(rule):
        # Trust boundary: a header any target can send made a generic pool
        # look like this provider; at most pass/retry/rotate on its word.
        claimed, rule = rule, capped(rule)
    return ProviderError(
        provider=profile.name,
        code=code,
        status=status,
        rule=rule,
        transport=transport,
        detail=first.detail or found.detail,
        request_id=first.request_id,
        retry_after=parse_retry_after(header_text(hdrs, "Retry-After"), clock),
        body_wait=first.body_wait,
        rate_limit=parse_rate_limit(hdrs, clock),
        claimed=claimed,
    )


#: What a claim the plugin cannot verify is capped to (see :func:`capped`).
_CAPPED = {Action.STOP: Action.ROTATE, Action.SLOWDOWN: Action.RETRY, Action.DROP: Action.PASS}


def _can_reach_beyond_route(rule: Rule) -> bool:
    """Whether acting on *rule* could stop the crawl, pause an account or drop
    a request (a wait above PROXYERRORS_MAX_WAIT escalates account scopes)."""
    return rule.action in _CAPPED or rule.scope in (Scope.ACCOUNT, Scope.CRAWL)


def capped(rule: Rule) -> Rule:
    """*rule* limited to what an unverified plain-HTTP reply may cause: stop
    becomes rotate, slowdown becomes retry, drop becomes pass, and the scope
    is at most the route (never the account or the crawl)."""
    scope = rule.scope if rule.scope in (Scope.REQUEST, Scope.ROUTE) else Scope.ROUTE
    action = _CAPPED.get(rule.action, rule.action)
    if action is Action.RETRY and scope is Scope.ROUTE:
        scope = Scope.REQUEST
    return dataclasses.replace(rule, action=action, scope=scope)


def rate_limit_wait(headers: HeadersLike, now: float | None = None) -> float | None:
    """Seconds to pause a route whose successful reply says the window is spent.

    ``X-RateLimit-Remaining: 0`` pauses until ``X-RateLimit-Reset`` (or for
    one window when no reset is sent), before the provider answers 429.
    """
    hdrs = as_headers(headers)
    if not hdrs.get("X-RateLimit-Remaining"):
        return None
    limits = parse_rate_limit(hdrs, time.time() if now is None else now)
    if limits is None or limits.remaining != 0:
        return None
    if limits.reset_after is not None:
        return limits.reset_after
    return limits.window


def describe(
    provider: str, code: str, profiles: Mapping[str, Profile] = BUILTIN_PROFILES
) -> Rule | None:
    """The rule a ``provider/code`` pair (as in stats keys) stands for, if any."""
    profile = profiles.get(provider)
    if profile is None:
        return None
    # *code* may come from a stats key, where it was made key-safe: compare
    # the rule codes in the same form.
    wanted = stat_part(code).lower()
    for rule in profile.rules:
        if rule.code is not None and not rule.is_family and stat_part(rule.code).lower() == wanted:
            return rule
    for rule in profile.rules:
        if rule.is_family and rule.code and code.lower().startswith(rule.code[:-1].lower()):
            return rule
    if code.isdigit():
        found = profile.match(int(code), None)
        if found is not None:
            return found
        if profile.fallback:
            return describe(profile.fallback, code, profiles)
    return None
