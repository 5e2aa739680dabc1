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
    details_code,
    header_seconds,
    header_text,
    hint_text,
    json_lookup,
    json_seconds,
    json_text,
    parse_json_object,
    parse_proxy_status,
    parse_rate_limit,
    parse_retry_after,
    plaintext,
    status_value,
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


# Module constants: a global lookup is cheaper than an Enum attribute on the hot path.
_TARGET = Transport.TARGET
_CONNECT = Transport.CONNECT
_API = Transport.API
_PLAIN = Transport.PLAIN


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
    #: Seconds the error body asked for (e.g. ``details.retry_after_seconds``),
    #: or a profile's wait header (``X-Crawlera-Next-Request-In``).
    body_wait: float | None = None
    rate_limit: RateLimit | None = None
    #: The reply's own status when the error came inside a 2xx (``status``
    #: is then the real one, from the profile's ``status_headers``).
    outer_status: int | None = None
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


@dataclass(frozen=True, slots=True)
class _Index:
    """Who claims what, in registry order: built once per set of profiles."""

    values: tuple[Profile, ...]
    proxy: tuple[Profile, ...]
    api: tuple[Profile, ...]
    #: Lower-cased signature header -> (registry position, profile), first claim wins.
    signatures: dict[str, tuple[int, Profile]]


_INDEXES: dict[int, tuple[Mapping[str, Profile], _Index]] = {}
_INDEXES_MAX = 16


def _index(profiles: Mapping[str, Profile]) -> _Index:
    values = tuple(profiles.values())
    cached = _INDEXES.get(id(profiles))
    # The same mapping with the same profiles (a tuple compares by identity
    # first, so this is cheap): the index still holds.
    if cached is not None and cached[0] is profiles and cached[1].values == values:
        return cached[1]
    signatures: dict[str, tuple[int, Profile]] = {}
    for position, profile in enumerate(values):
        for name in profile.signature_headers:
            signatures.setdefault(name.lower(), (position, profile))
    index = _Index(
        values=values,
        proxy=tuple(p for p in values if p.proxy_hosts),
        api=tuple(p for p in values if p.api_hosts),
        signatures=signatures,
    )
    if len(_INDEXES) >= _INDEXES_MAX:
        _INDEXES.clear()
    _INDEXES[id(profiles)] = (profiles, index)
    return index


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
    index = _index(profiles)
    headers = as_headers(headers)
    if transport is Transport.API:
        host = _host(request_url)
        for profile in index.api:
            if profile.matches_api_host(host):
                return profile, False
    else:
        host = _host(proxy_url)
        if host:
            for profile in index.proxy:
                if profile.matches_proxy_host(host):
                    return profile, False
        # One pass over the reply's headers instead of one look-up per
        # signature: the earliest profile in the registry still wins.
        best: tuple[int, Profile] | None = None
        for key, value in headers.items():
            if not value:
                continue
            name = key.decode("latin-1").lower() if isinstance(key, bytes) else str(key).lower()
            claim = index.signatures.get(name)
            # ``headers.get()`` is the last value: an empty one claims nothing.
            if claim is not None and (best is None or claim[0] < best[0]) and value[-1]:
                best = claim
        if best is not None:
            return best[1], True
    return profiles.get("generic", GENERIC), False


@dataclass(slots=True)
class _Signals:
    code: str | None = None
    detail: str | None = None
    request_id: str | None = None
    body_wait: float | None = None
    hint: Rule | None = None


def _read(
    profile: Profile,
    headers: Headers,
    data: dict[str, object] | None,
    body: bytes,
    status: int,
    inside_2xx: bool = False,
) -> _Signals:
    """Where this profile keeps its code, detail, request id and retry hint."""
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
    for name, factor in profile.wait_headers:
        if found.body_wait is not None:
            break
        found.body_wait = header_seconds(headers, name, factor)
    if found.code is None and profile.proxy_status:
        ps = parse_proxy_status(header_text(headers, "Proxy-Status"))
        if ps is not None:
            found.code = ps.error
            if profile.proxy_status_details:
                # The provider's own code keeps its rule (a zone error that
                # stops the crawl) when only Proxy-Status is left; the
                # standard's token stays the code when no rule knows it.
                own = details_code(ps.details)
                known = profile.match(status, own) if own else None
                if known is not None and known.code is not None:
                    found.code = own
            found.detail = found.detail or ps.details
    if found.code is None and profile.problem_json and data is not None:
        ctype = (header_text(headers, "Content-Type") or "").lower()
        if "problem+json" in ctype or ("type" in data and "title" in data):
            found.code = json_text(data, ((profile.problem_code,),))
            title = json_text(data, (("title",),))
            detail = json_text(data, (("detail",),))
            text = ": ".join(t for t in (title, detail) if t)
            found.detail = found.detail or (text[:TEXT_LIMIT] or None)
    if found.detail is None and profile.plaintext_body and body:
        text = body[: TEXT_LIMIT * 4].decode("utf-8", "replace").strip()
        found.detail = text[:TEXT_LIMIT] or None
    for hint in profile.hints:
        if hint.inside_2xx and not inside_2xx:
            continue
        value = header_text(headers, hint.header) if hint.header else None
        if value is None and hint.json_path and data is not None:
            value = hint_text(json_lookup(data, hint.json_path))
        if value is not None:
            found.hint = hint.rule_for(value)
            if found.hint is not None:
                break
    return found


def inner_status(profile: Profile, headers: HeadersLike) -> tuple[str, int] | None:
    """The real status a 2xx reply carries in one of *profile*'s status headers.

    ``(header, status)`` for the first declared header present with a valid
    status, else ``None``.
    """
    if not profile.status_headers:
        return None
    hdrs = as_headers(headers)
    for name in profile.status_headers:
        value = status_value(header_text(hdrs, name))
        if value is not None:
            return name, value
    return None


def route_wait(profile: Profile, headers: HeadersLike) -> float | None:
    """Seconds a (successful) reply asks this route to wait before its next request.

    From the profile's ``wait_headers`` (Zyte SPM's ``X-Crawlera-Next-Request-In``,
    in milliseconds); ``None`` when the profile declares none or none was sent.
    """
    if not profile.wait_headers:
        return None
    hdrs = as_headers(headers)
    for name, factor in profile.wait_headers:
        seconds = header_seconds(hdrs, name, factor)
        if seconds is not None:
            return seconds
    return None


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

    A 2xx is an error only on the ``api`` transport, for a profile that
    declares ``status_headers`` (Crawlbase ``pc_status``): the real status
    in that header is then classified, and ``outer_status`` keeps the 2xx.
    Every other 2xx returns ``None`` before any header is read.
    """
    if transport.__class__ is not Transport:
        transport = Transport(transport)
    if transport is _TARGET:
        return None
    # Annotations only: nothing runs for them on the hot path.
    outer: int | None
    where: str | None
    if status < 400 and (transport is not _CONNECT or 200 <= status < 300):
        # The hot path. Only an API's 2xx can carry an error inside it, and
        # only a profile that declares a status header pays for a look.
        if transport is not _API or not 200 <= status < 300:
            return None
        named = provider if isinstance(provider, Profile) else profiles.get(provider or "")
        if named is not None and not named.status_headers:
            return None
        hdrs = as_headers(headers)
        profile, by_signature = _trusted_profile(
            transport, hdrs, request_url, proxy_url, provider, profiles
        )
        inner = inner_status(profile, hdrs)
        if inner is None or inner[1] < 400:
            return None
        where, outer, status = inner[0], status, inner[1]
    else:
        outer = where = None
        hdrs = as_headers(headers)
        profile, by_signature = _trusted_profile(
            transport, hdrs, request_url, proxy_url, provider, profiles
        )
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
        found = _read(current, hdrs, data, body, status, outer is not None)
        if first is None:
            first = found
        rule = current.match(
            status, found.code, text if current.plaintext_body else "", found.hint
        )
        if transport is _PLAIN and current.tagged and found.code is None:
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
        if rule.code and not rule.is_family:
            code = rule.code
        elif where is not None:
            # Told apart from the API's own status of the same number.
            code = f"{where}:{status}"
        else:
            code = str(status)
    detail = first.detail or found.detail
    if detail is None and where is not None:
        detail = f"{where}: {status} on a {outer} reply"
    claimed = None
    if by_signature and transport is _PLAIN and _can_reach_beyond_route(rule):
        # Trust boundary: a header any target can send made a generic pool
        # look like this provider; at most pass/retry/rotate on its word.
        claimed, rule = rule, capped(rule)
    return ProviderError(
        provider=profile.name,
        code=code,
        status=status,
        rule=rule,
        transport=transport,
        detail=detail,
        request_id=first.request_id,
        retry_after=parse_retry_after(header_text(hdrs, "Retry-After"), clock),
        body_wait=first.body_wait,
        rate_limit=parse_rate_limit(hdrs, clock),
        outer_status=outer,
        claimed=claimed,
    )


def _trusted_profile(
    transport: Transport,
    headers: Headers,
    request_url: str,
    proxy_url: str | None,
    provider: str | Profile | None,
    profiles: Mapping[str, Profile],
) -> tuple[Profile, bool]:
    """The profile that may read this reply, and whether only a signature
    header chose it."""
    profile, by_signature = _select(
        transport, headers, request_url, proxy_url, provider, profiles
    )
    if not profile.trusts(transport):
        return profiles.get("generic", GENERIC), False
    return profile, by_signature


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
    header, _, value = code.rpartition(":")
    if header and value.isdigit() and header in profile.status_headers:
        # An error inside a 2xx (``pc_status:503``): its hint, else its status.
        for hint in profile.hints:
            if hint.header == header:
                found = hint.rule_for(value)
                if found is not None:
                    return found
        code = value
    if code.isdigit():
        found = profile.match(int(code), None)
        if found is not None:
            return found
        if profile.fallback:
            return describe(profile.fallback, code, profiles)
    return None
