"""Provider profiles: how a provider reports failure, as immutable data.

A :class:`Profile` says where a provider puts its error code (headers, a JSON
path, the plaintext body, or only the status), how to recognise the provider,
and one :class:`Rule` per documented code. The classifier reads profiles; it
never names a provider itself, so a new provider is a new profile, not new code.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass, field
from typing import Literal

from ._vocabulary import Action, Category, Scope, Transport

JsonPath = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    """One documented error of one provider.

    *code* is the provider's code, or a prefix family ending in ``*``
    (``restricted-category-*``), or ``None`` for a rule that matches on status
    alone. *body* matches providers whose plaintext body is the only code: the
    rule applies when the (case-folded) body contains it.
    """

    status: int | None
    code: str | None
    category: Category
    action: Action
    scope: Scope
    meaning: str
    fix: str
    docs: str = ""
    #: Shortest wait before a retry, when the provider documents one (seconds).
    wait: float | None = None
    #: How long the failed route rests before it is used again (seconds);
    #: ``None`` means ``PROXYERRORS_ROUTE_COOLDOWN``, ``inf`` retires it.
    cooldown: float | None = None
    body: str | None = None

    @property
    def is_family(self) -> bool:
        return self.code is not None and self.code.endswith("*")

    def key(self) -> str:
        """The code as it appears in stats keys and reports."""
        if self.code is not None:
            return self.code
        return str(self.status) if self.status is not None else "unknown"


@dataclass(frozen=True, slots=True)
class Hint:
    """A provider's machine-readable retry hint, mapped to rules as data.

    The provider puts a value in a header (``X-Scrapfly-Reject-Retryable:
    true``) or at a JSON path of its error body (``result.error.retryable``);
    *rules* maps each (case-folded) value to the rule it stands for, so that
    every code carrying the hint is handled without a rule of its own. A rule
    for the exact code still wins (a code flagged retryable can need a stop).
    JSON booleans read as ``"true"`` / ``"false"``.
    """

    rules: tuple[tuple[str, Rule], ...]
    header: str | None = None
    json_path: JsonPath = ()
    #: Only for an error reported inside a 2xx (see ``Profile.status_headers``):
    #: Crawlbase's ``pc_status`` classes mean nothing on its own 4xx replies.
    inside_2xx: bool = False

    def rule_for(self, value: str) -> Rule | None:
        folded = value.strip().lower()
        for key, rule in self.rules:
            if key == folded:
                return rule
        return None


@dataclass(frozen=True)
class Profile:
    """Everything the classifier needs to know about one provider."""

    name: str
    title: str
    kind: Literal["proxy", "api", "any"]
    rules: tuple[Rule, ...]
    #: Headers that carry the machine-readable code, first present wins.
    code_headers: tuple[str, ...] = ()
    #: A regex applied to the code header's value; its first group is the code
    #: (Squid sends ``X-Squid-Error: ERR_CONNECT_FAIL 111``).
    code_regex: str | None = None
    #: Headers that carry the human-readable detail.
    detail_headers: tuple[str, ...] = ()
    #: JSON paths (into an object body) of the code, message and request id.
    json_code: tuple[JsonPath, ...] = ()
    json_message: tuple[JsonPath, ...] = ()
    json_request_id: tuple[JsonPath, ...] = ()
    #: JSON paths of a wait in seconds inside the error body.
    json_wait: tuple[JsonPath, ...] = ()
    request_id_headers: tuple[str, ...] = ()
    #: The plaintext body is the message (and, with ``Rule.body``, the code).
    plaintext_body: bool = False
    #: Glob patterns of proxy hosts (proxy providers) and API hosts (APIs).
    proxy_hosts: tuple[str, ...] = ()
    api_hosts: tuple[str, ...] = ()
    #: A header whose presence on a proxy reply identifies the provider.
    signature_headers: tuple[str, ...] = ()
    #: Username token that carries a sticky-session id (``sessionid`` in
    #: ``...-sessionid-abc-...``), so that ``rotate`` can mint a new one.
    session_param: str | None = None
    #: Whether the provider sends ``X-RateLimit-*`` on successful replies: the
    #: first reply of an account states its limit, so the crawl sends one
    #: request alone before it paces at that limit.
    rate_limit_headers: bool = False
    #: Requests per second the provider documents per account (or the user's
    #: plan allows): the account is paced under it from its first request.
    rate_limit_rps: float | None = None
    #: Read an RFC 9209 ``Proxy-Status`` header / RFC 9457 problem+json body.
    proxy_status: bool = False
    problem_json: bool = False
    #: The problem document member that holds the identifier (RFC 9457 says
    #: ``type``; Oxylabs' Web API puts it in ``title``).
    problem_code: str = "type"
    #: The provider's own code leads ``Proxy-Status``'s ``details``
    #: (``details="client-10060: ..."``, read as ``client_10060``); it wins
    #: over the standard's ``error=`` token when a rule knows it.
    proxy_status_details: bool = False
    #: Headers that carry the real status on a 2xx reply of an API (Crawlbase
    #: ``pc_status``, Bright Data's Direct API ``x-brd-status-code``): first
    #: present wins. Only profiles that declare one are looked at on a 2xx.
    status_headers: tuple[str, ...] = ()
    #: Machine-readable retry hints (see :class:`Hint`), first present wins.
    hints: tuple[Hint, ...] = ()
    #: Headers that carry a wait before the next request on this route, with
    #: the factor to seconds (``("X-Crawlera-Next-Request-In", 0.001)``: ms).
    wait_headers: tuple[tuple[str, float], ...] = ()
    docs_url: str = ""
    #: Where the profile's facts come from (docs pages, public client code).
    sources: tuple[str, ...] = ()
    #: Where unknown codes go after this profile's own status rules.
    fallback: str | None = "generic"
    #: The provider documents that every error of its own carries its code
    #: header: a plain-HTTP reply without it is the target's, forwarded, so
    #: rules without a header/body signal never match it (the trust boundary).
    tagged: bool = False

    _exact: dict[tuple[int | None, str], Rule] = field(init=False, repr=False, compare=False)
    _families: tuple[Rule, ...] = field(init=False, repr=False, compare=False)
    _bodies: tuple[Rule, ...] = field(init=False, repr=False, compare=False)
    _by_status: dict[int, Rule] = field(init=False, repr=False, compare=False)
    _host_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _api_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)
    _code_re: re.Pattern[str] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Index the rules once: classification is a few dict look-ups.
        exact: dict[tuple[int | None, str], Rule] = {}
        by_status: dict[int, Rule] = {}
        for rule in self.rules:
            if rule.body is not None or rule.is_family:
                continue
            if rule.code is None:
                if rule.status is not None:
                    by_status.setdefault(rule.status, rule)
                continue
            exact.setdefault((rule.status, rule.code.lower()), rule)
            exact.setdefault((None, rule.code.lower()), rule)
        setattr_ = object.__setattr__
        setattr_(self, "_exact", exact)
        setattr_(self, "_by_status", by_status)
        setattr_(self, "_families", tuple(r for r in self.rules if r.is_family))
        setattr_(self, "_bodies", tuple(r for r in self.rules if r.body is not None))
        setattr_(self, "_host_re", _globs(self.proxy_hosts))
        setattr_(self, "_api_re", _globs(self.api_hosts))
        setattr_(self, "_code_re", re.compile(self.code_regex) if self.code_regex else None)

    def match(
        self, status: int, code: str | None, body_text: str = "", hint: Rule | None = None
    ) -> Rule | None:
        """The rule for *status* and *code*, most specific first.

        Order: the exact (status, code) pair; the code under any status; a
        prefix family; the rule of a retry *hint*; a plaintext-body rule for
        this status; the status rule.
        """
        if code:
            folded = code.lower()
            rule = self._exact.get((status, folded)) or self._exact.get((None, folded))
            if rule is not None:
                return rule
            for rule in self._families:
                assert rule.code is not None
                if folded.startswith(rule.code[:-1].lower()) and rule.status in (
                    None,
                    status,
                ):
                    return rule
        if hint is not None:
            return hint
        if body_text and self._bodies:
            for rule in self._bodies:
                assert rule.body is not None
                if rule.status in (None, status) and rule.body in body_text:
                    return rule
        return self._by_status.get(status)

    def code_from_header(self, value: str) -> str | None:
        """The code inside a code header's value (all of it, or ``code_regex``'s group)."""
        if self._code_re is None:
            return value
        match = self._code_re.search(value)
        return match.group(1) if match and match.groups() else None

    def matches_proxy_host(self, host: str) -> bool:
        return self._host_re is not None and self._host_re.match(host) is not None

    def matches_api_host(self, host: str) -> bool:
        return self._api_re is not None and self._api_re.match(host) is not None

    def trusts(self, transport: Transport) -> bool:
        """Whether replies over *transport* can come from this provider."""
        if transport is Transport.TARGET:
            return False
        if self.kind == "api":
            return transport is Transport.API
        if self.kind == "proxy":
            return transport is not Transport.API
        return True


def _globs(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    if not patterns:
        return None
    return re.compile(
        "|".join(f"(?:{fnmatch.translate(p.lower())})" for p in patterns),
        re.IGNORECASE,
    )
