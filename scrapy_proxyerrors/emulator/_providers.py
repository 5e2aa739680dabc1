"""What each emulated provider puts on the wire when it fails.

These tables are the emulator's own, written from the provider pages in the
project's docs (``shared/providers/*.md``), and deliberately NOT derived from
the package's profiles: the tests compare the two, so a mistake in one shows
up against the other instead of being copied into both.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._types import Reply


@dataclass(frozen=True)
class ErrorDef:
    """One documented error: its status, its code, and its text.

    *text* is what the provider sends as the human-readable part: the
    ``X-SOAX-Detail`` value, the proxies.fo plaintext body, the JSON
    ``message``; helodata and generic status replies send it as the body.
    """

    status: int
    code: str
    text: str
    reason: str | None = None


def _ed(status: int, code: str, text: str, reason: str | None = None) -> ErrorDef:
    return ErrorDef(status, code, text, reason)


# soax.md: one block per code, ``X-SOAX-Error`` + ``X-SOAX-Detail``, no body.
SOAX_ERRORS = (
    _ed(400, "ERR_INVALID_VALUE", "Invalid value for parameter"),
    _ed(400, "ERR_MISSING_PARAMS", "At least one targeting parameter is required"),
    _ed(400, "ERR_UNKNOWN_PARAM", "Unknown parameter name"),
    _ed(400, "ERR_DUPLICATE_PARAM", "Parameter specified more than once"),
    _ed(400, "ERR_INVALID_COMBINATION", "Parameters cannot be combined"),
    _ed(400, "ERR_PARAM_NOT_ALLOWED", "Parameter not permitted on this package"),
    _ed(403, "DISALLOWED", "Protocol not in allowed list"),
    _ed(407, "ERR_AUTH_REQUIRED", "No credentials supplied"),
    _ed(407, "AUTH_FAILED", "Invalid or missing package key"),
    _ed(407, "IP_NOT_ALLOWED", "Client IP not in allowlist"),
    _ed(407, "PACKAGE_SUSPENDED", "Account suspended or disabled"),
    _ed(407, "PACKAGE_PAUSED", "Package is paused"),
    _ed(407, "PACKAGE_NO_CREDITS", "Package is out of credits or quota"),
    _ed(409, "SESSION_PARAMS_MISMATCH", "Session ID reused with different rules"),
    _ed(429, "RATE_LIMIT_EXCEEDED", "RPS or concurrent connection limit reached"),
    _ed(429, "TRAFFIC_LIMIT_EXCEEDED", "Traffic limit exceeded"),
    _ed(502, "NODE_UNAVAILABLE", "Node went offline or connection refused"),
    _ed(502, "NODE_NOT_FOUND", "No nodes matching country=us, city=los_angeles, network=mob"),
    _ed(502, "RETRIES_EXHAUSTED",
        "All onerror-retry_N attempts failed, replacement also failed"),
    _ed(503, "BOUND_NODE_FAILED", "bind-node session and node has failed, no replacement allowed"),
    _ed(504, "GATEWAY_TIMEOUT", "Request timed out after tunnel established"),
)

# helodata-isp.md: status + ``X-Helodata-Error-Code``; the doc shows no body.
HELODATA_ERRORS = (
    _ed(401, "unknown-subuser", "Sub-user doesn't exist"),
    _ed(403, "kyc-required", "Account hasn't completed KYC"),
    _ed(403, "batch-expired", "Batch's billing period ended"),
    _ed(403, "batch-grace-period", "Batch is in 7-day grace; functional but warning you"),
    _ed(403, "ip-released", "IP was released back to the pool"),
    # A prefix family: ``restricted-category-<category>``.
    _ed(403, "restricted-category-", "Target is on the restricted list"),
    _ed(403, "account-suspended", "Account suspended"),
    _ed(407, "auth-failed", "Wrong password"),
    _ed(407, "not-whitelisted", "Source IP not in this batch's whitelist"),
    _ed(429, "concurrent-limit", "Too many concurrent connections to this IP"),
    _ed(429, "rps-limit", "Too many requests per second to this IP"),
    _ed(502, "upstream-tls-error", "Target TLS handshake failed"),
    _ed(522, "upstream-timeout", "Target unreachable from this IP"),
    _ed(524, "target-timeout", "Target didn't respond in time"),
)

# proxiesfo.md: the status is the code, the plaintext body its text ("Body:"
# lines; the statuses without one send their reason phrase). 454 is three
# conditions told apart only by the body, so those get names of their own.
PROXIESFO_ERRORS = (
    _ed(400, "400", "Bad Request"),
    _ed(407, "407", "Incorrect username or password"),
    _ed(417, "417", "Expectation Failed"),
    _ed(452, "452", "exceeded bandwidth limit", "Bandwidth Exceeded"),
    _ed(453, "453", "exceeded threads limit", "Thread Limit Exceeded"),
    _ed(454, "invalid-country-code", "invalid country code", "Invalid Country Code"),
    _ed(454, "invalid-state-code", "invalid state code", "Invalid State Code"),
    _ed(454, "invalid-city-code", "invalid city code", "Invalid City Code"),
    _ed(455, "455", "invalid ttl", "Invalid TTL"),
    _ed(500, "500", "Internal Server Error"),
    _ed(502, "502", "Bad Gateway"),
    _ed(503, "503", "Service Unavailable"),
    # Not in the doc's table: a rate limit, which proxies.fo does not
    # document; the ratelimit scenario needs something, so a bare 429.
    _ed(429, "429", "Too Many Requests"),
)

# wxapros-vpn-api.md: ``{"error": {"code", "message", "details"}}``.
WXAPROS_ERRORS = (
    _ed(400, "bad_request", "Malformed request body or invalid IP format"),
    _ed(400, "invalid_ip_reserved", "IP address is RFC-reserved or not globally routable"),
    _ed(400, "invalid_ip_integer_form", "Bare integer IP addresses are not accepted"),
    _ed(400, "invalid_ip_format", "IP address could not be parsed"),
    _ed(401, "unauthorized", "API key missing or invalid"),
    _ed(403, "forbidden", "Key tier does not permit this endpoint or field"),
    _ed(404, "not_found", "Resource not found"),
    _ed(422, "validation_error", "Request validation failed"),
    _ed(429, "rate_limited", "Sustained rate limit exceeded \u2014 retry after {seconds} seconds"),
    _ed(500, "internal_error", "Unexpected server error"),
    _ed(503, "unhealthy", "Service degraded"),
)

# chocodata-api.md: ``{"error", "message", "docs_url", "request_id"}``.
CHOCODATA_ERRORS = (
    _ed(400, "invalid_params", "Query identifier malformed, unsupported value, or missing query"),
    _ed(401, "unauthorized", "Missing or malformed api_key, or unknown key"),
    _ed(401, "revoked", "Key was rotated out"),
    _ed(402, "insufficient_credits", "You're out of credits and have no active auto-top-up"),
    _ed(404, "not_found", "Unknown path. Check the endpoint URL"),
    _ed(404, "item_not_found", "The target site returned 404 for the requested item"),
    _ed(408, "upstream_timeout", "The target site took more than 45s to respond"),
    _ed(422, "blocked_by_target", "The target site served a challenge page or 503"),
    _ed(429, "rate_limited", "You exceeded your per-key RPS or concurrency ceiling"),
    _ed(500, "internal_error", "Unhandled exception on our side"),
    _ed(501, "not_implemented", "This parameter is on the roadmap and not implemented yet"),
    _ed(502, "target_unreachable", "The target site blocked every internal retry"),
    _ed(502, "extraction_failed", "The target site served markup our extractor couldn't parse"),
    _ed(502, "id_mismatch", "The site redirected the requested item to another item"),
    _ed(502, "placeholder_page", "The target served a placeholder instead of the item"),
    _ed(503, "capacity", "We're rate-limiting you to protect the shared pool"),
)
_CHOCO_DOCS = "https://chocodata.com/docs/guides/errors#"
#: Codes whose chocodata reply carries ``Retry-After`` (the doc says to honour it).
_CHOCO_RETRY_AFTER = {"rate_limited": 3, "capacity": 5}

# The generic proxy: RFC 9209 ``Proxy-Status`` error types (others.md) with a
# fitting status, plus bare statuses for proxies that say nothing more.
GENERIC_ERRORS = (
    _ed(502, "dns_error", "The target's name does not resolve"),
    _ed(504, "dns_timeout", "Resolving the target's name timed out"),
    _ed(503, "destination_unavailable", "The destination is unavailable"),
    _ed(403, "destination_ip_prohibited", "The destination's IP is prohibited"),
    _ed(502, "connection_refused", "The target refused the connection"),
    _ed(502, "connection_terminated", "The target closed the connection early"),
    _ed(504, "connection_timeout", "Connecting to the target timed out"),
    _ed(504, "connection_read_timeout", "Reading from the target timed out"),
    _ed(429, "connection_limit_reached", "Too many connections"),
    _ed(502, "tls_protocol_error", "TLS with the target failed"),
    _ed(502, "tls_certificate_error", "The target's certificate was rejected"),
    _ed(403, "http_request_denied", "The proxy's policy denies this request"),
    _ed(400, "http_request_error", "The request is malformed"),
    _ed(502, "http_response_incomplete", "The target's response was incomplete"),
    _ed(504, "http_response_timeout", "The target's response timed out"),
    _ed(502, "http_protocol_error", "The target spoke broken HTTP"),
    _ed(500, "proxy_internal_error", "The proxy failed internally"),
    _ed(500, "proxy_configuration_error", "The proxy is misconfigured"),
    _ed(502, "proxy_loop_detected", "The proxy detected a forwarding loop"),
    _ed(400, "400", "Bad Request"),
    _ed(403, "403", "Forbidden"),
    _ed(407, "407", "Proxy Authentication Required"),
    _ed(429, "429", "Too Many Requests"),
    _ed(500, "500", "Internal Server Error"),
    _ed(502, "502", "Bad Gateway"),
    _ed(503, "503", "Service Unavailable"),
    _ed(504, "504", "Gateway Timeout"),
)


#: ISO 3166-1 alpha-2, lowercase as both gateways want it (soax.md: "Country
#: codes are lowercase ISO 3166-1 alpha-2"; proxiesfo.md likewise), plus the
#: common alias ``uk``. proxies.fo's own example of a bad code is ``zz``.
_COUNTRY_CODES = """
    ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bl bm bn bo
    bq br bs bt bv bw by bz ca cc cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk
    dm do dz ec ee eg eh er es et fi fj fk fm fo fr ga gb gd ge gf gg gh gi gl gm gn gp gq gr
    gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp ke kg kh ki km
    kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mf mg mh mk ml mm mn mo mp
    mq mr ms mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl
    pm pn pr ps pt pw py qa re ro rs ru rw sa sb sc sd se sg sh si sj sk sl sm sn so sr ss st
    sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt tv tw tz ua ug um us uy uz va vc ve vg
    vi vn vu wf ws ye yt za zm zw uk"""
COUNTRIES = frozenset(_COUNTRY_CODES.split())

# --- building replies ---------------------------------------------------------

Builder = Callable[[ErrorDef, str, Mapping[str, Any]], Reply]


def _retry_after_header(kw: Mapping[str, Any]) -> list[tuple[str, str]]:
    seconds = kw.get("retry_after")
    return [] if seconds is None else [("Retry-After", str(seconds))]


def _extra(kw: Mapping[str, Any]) -> list[tuple[str, str]]:
    extra = kw.get("headers") or ()
    return list(extra.items()) if isinstance(extra, Mapping) else list(extra)


def _soax(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    headers = [("X-SOAX-Error", code), ("X-SOAX-Detail", str(kw.get("detail") or err.text))]
    return Reply(err.status, headers + _retry_after_header(kw) + _extra(kw), b"", err.reason)


def _helodata(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    headers = [("X-Helodata-Error-Code", code)]
    return Reply(err.status, headers + _retry_after_header(kw) + _extra(kw), b"", err.reason)


def _proxiesfo(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    body = str(kw.get("body") or err.text).encode()
    headers = [("Content-Type", "text/plain")]
    return Reply(err.status, headers + _retry_after_header(kw) + _extra(kw), body, err.reason)


def _wxapros(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    headers = [("Content-Type", "application/json")]
    details: dict[str, Any] = dict(kw.get("details") or {})
    message = str(kw.get("message") or err.text)
    if err.status == 429:
        # The doc's example: Retry-After, the window state, and the reset
        # instant (only ever sent on a 429), mirrored in ``details``.
        seconds = int(kw.get("retry_after", 12))
        limit = int(kw.get("limit", 3000))
        window = kw.get("window", 60)
        reset = int(kw.get("reset", int(time.time()) + seconds))
        message = message.replace("{seconds}", str(seconds))
        details = {"retry_after_seconds": seconds, "tier": kw.get("tier", "pro"),
                   "limit_rpm_60s": limit, **details}
        headers += [
            ("Retry-After", str(seconds)),
            ("X-RateLimit-Limit", str(limit)),
            ("X-RateLimit-Remaining", str(kw.get("remaining", 0))),
            ("X-RateLimit-Window", format_seconds(window)),
            ("X-RateLimit-Reset", str(reset)),
        ]
    else:
        headers += _retry_after_header(kw)
    body = {"error": {"code": code, "message": message, "details": details}}
    return Reply(err.status, headers + _extra(kw), json.dumps(body).encode(), err.reason)


def _chocodata(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    headers = [("Content-Type", "application/json")]
    seconds = kw.get("retry_after", _CHOCO_RETRY_AFTER.get(code))
    if seconds is not None:
        headers.append(("Retry-After", str(seconds)))
    body: dict[str, Any] = {
        "error": code,
        "message": str(kw.get("message") or err.text),
        "docs_url": _CHOCO_DOCS + code,
        "request_id": str(kw.get("request_id") or "req_9f2c8a1b3e4d"),
    }
    if code == "item_not_found":
        body["retryable"] = False
    return Reply(err.status, headers + _extra(kw), json.dumps(body).encode(), err.reason)


def _generic(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    headers = [("Content-Type", "text/plain")]
    if not code.isdigit():
        # RFC 9209: the proxy names itself, then the error type.
        detail = kw.get("detail")
        value = f"emulator; error={code}"
        if detail:
            value += "; details=" + json.dumps(str(detail))
        headers.append(("Proxy-Status", value))
    if err.status == 407:
        headers.append(("Proxy-Authenticate", 'Basic realm="proxy"'))
    body = (err.text + "\n").encode()
    return Reply(err.status, headers + _retry_after_header(kw) + _extra(kw), body, err.reason)


# --- the providers' own checks and answers -------------------------------------


class Memory:
    """Per-emulator state a provider's checks keep between requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._first: dict[Any, Any] = {}

    def first(self, key: Any, value: Any) -> Any:
        """The value stored for *key*, storing *value* if there was none."""
        with self._lock:
            return self._first.setdefault(key, value)


@dataclass(frozen=True)
class Incoming:
    """What a provider's checks see of one request."""

    kind: Literal["plain", "connect", "api"]
    user: str
    session: str | None
    headers: Mapping[str, str]
    #: API requests: the path and the query (first values; the key removed).
    path: str
    query: Mapping[str, str]
    params: Mapping[str, Any]
    memory: Memory

    def header(self, name: str) -> str | None:
        folded = name.lower()
        for key, value in self.headers.items():
            if key.lower() == folded:
                return value
        return None


@dataclass(frozen=True)
class ApiCall:
    """What an API's answer hook gets for an admitted request."""

    path: str
    query: Mapping[str, str]
    #: A fresh request id (``None`` when the provider sends none).
    request_id: str | None
    #: ``fetch(url)``: the local target's reply for *url*, ``None`` if unreachable.
    fetch: Callable[[str], Reply | None]
    spec: ProviderSpec


#: The provider's check of one request: an error code, or ``None``.
Validator = Callable[[Incoming], "str | None"]
#: An API's reply to an admitted request, and whether it is billed.
Answer = Callable[[ApiCall], "tuple[Reply, bool]"]
#: Reads the provider's code back from a reply (``None``: none found).
Reader = Callable[["ProviderSpec", Reply], "str | None"]

_NAME = re.compile(r"[a-z][a-z_]*")
_SOAX_NO_BIND = ("rotate", "prefer")


def _validate_soax(req: Incoming) -> str | None:
    tokens = req.user.split("-")
    names = tokens[0::2]
    for rule in req.params["require_rules"]:
        if rule not in names:
            return "ERR_MISSING_PARAMS"
    if tokens[0] != "package":
        return None  # not a rules string: nothing to validate
    if len(tokens) % 2:
        # A hyphen inside a value (city-los-angeles) shifts every pair.
        return "ERR_UNKNOWN_PARAM"
    rules = dict(zip(names, tokens[1::2], strict=False))
    if len(rules) != len(names):
        return "ERR_DUPLICATE_PARAM"
    if "country" in rules and rules["country"] not in COUNTRIES | {"any"}:
        return "ERR_INVALID_VALUE"
    if rules.get("bind") == "node" and (
        any(name in rules for name in _SOAX_NO_BIND) or rules.get("onerror") == "replace"
    ):
        return "ERR_INVALID_COMBINATION"
    if req.session:
        # Rules are locked to a session id on its first use.
        shape = "-".join(f"{k}-{v}" for k, v in rules.items() if k != "sessionid")
        if req.memory.first(("rules", req.session), shape) != shape:
            return "SESSION_PARAMS_MISMATCH"
    return None


def _validate_proxiesfo(req: Incoming) -> str | None:
    if req.header("Expect") is not None:
        return "417"
    tokens = req.user.split("-")[1:]
    values = dict(zip(tokens[0::2], tokens[1::2], strict=False))
    if "country" in values and values["country"] not in COUNTRIES:
        return "invalid-country-code"
    if "state" in values and not _NAME.fullmatch(values["state"]):
        return "invalid-state-code"
    if "city" in values and not _NAME.fullmatch(values["city"]):
        return "invalid-city-code"
    if "ttl" in values:
        ttl = values["ttl"]
        if not ttl.isdigit() or not 1 <= int(ttl) <= 1440:
            return "455"
    return None


_WXAPROS_IP = re.compile(r"/api/v1/vpn/ip/([^/]*)")


def _validate_wxapros(req: Incoming) -> str | None:
    """wxapros's 400 sub-codes for the IP in the path."""
    match = _WXAPROS_IP.fullmatch(req.path)
    if not match:
        return None
    text = match[1]
    if text.isdigit():
        return "invalid_ip_integer_form"
    try:
        address = ipaddress.ip_address(text)
    except ValueError:
        return "invalid_ip_format"
    return None if address.is_global else "invalid_ip_reserved"


def _validate_chocodata(req: Incoming) -> str | None:
    if "render_js" in req.query or "screenshot" in req.query:
        return "not_implemented"
    return None


_JSON_TYPE = [("Content-Type", "application/json")]


def _json_reply(data: Any, status: int = 200) -> Reply:
    return Reply(status, list(_JSON_TYPE), json.dumps(data).encode())


def _answer_wxapros(call: ApiCall) -> tuple[Reply, bool]:
    match = _WXAPROS_IP.fullmatch(call.path)
    if not match:
        return _json_reply({"ok": True, "path": call.path}), True
    ip = match[1]
    # A deterministic, plausible answer for one IP.
    digest = hashlib.sha256(ip.encode()).digest()
    return _json_reply({
        "ip": ip,
        "is_vpn": digest[0] < 64,
        "is_proxy": digest[1] < 32,
        "is_tor": digest[2] < 8,
        "asn": 1000 + int.from_bytes(digest[3:6], "big") % 60000,
        "country": ("US", "DE", "JP", "GB", "FR", "BR", "IN", "NL")[digest[6] % 8],
    }), True


def _answer_chocodata(call: ApiCall) -> tuple[Reply, bool]:
    url = call.query.get("url")
    if url is None:
        return _json_reply({"request_id": call.request_id, "path": call.path,
                            "query": dict(call.query), "credits_used": 1}), True
    # Scrape through the local target (never the network): non-2xx target
    # replies become the documented errors, and are not billed.
    fetched = call.fetch(url)
    if fetched is None or fetched.status >= 400:
        code = "item_not_found" if fetched is not None and fetched.status == 404 \
            else "target_unreachable"
        return call.spec.reply(code, request_id=call.request_id), False
    return _json_reply({"request_id": call.request_id, "url": url, "status": fetched.status,
                        "body": fetched.body.decode("utf-8", "replace"),
                        "credits_used": 1}), True


def read_header(name: str) -> Reader:
    """A reader for providers that put their code in header *name*."""
    def read(spec: ProviderSpec, reply: Reply) -> str | None:
        return reply.header(name)
    return read


def read_json(*path: str) -> Reader:
    """A reader for providers whose JSON body carries the code at *path*;
    each step may also be a string (the code itself)."""
    def read(spec: ProviderSpec, reply: Reply) -> str | None:
        try:
            data: Any = json.loads(reply.body)
        except (ValueError, RecursionError):
            # A responder's hostile body (invalid, or nested thousands deep).
            return None
        for step in path:
            if not isinstance(data, dict):
                return None
            data = data.get(step)
            if isinstance(data, str):
                return data
        return data if isinstance(data, str) else None
    return read


def read_proxy_status(spec: ProviderSpec, reply: Reply) -> str | None:
    """RFC 9209 ``Proxy-Status: name; error=<type>``, else the bare status."""
    match = re.search(r"error=([a-z_]+)", reply.header("Proxy-Status") or "")
    return match.group(1) if match else str(reply.status)


def read_status_or_text(spec: ProviderSpec, reply: Reply) -> str | None:
    """The error whose status and text match the reply's, else the status."""
    text = reply.body.decode("utf-8", "replace").strip().lower()
    for err in spec.errors:
        if err.status == reply.status and err.text.lower() == text:
            return err.code
    return str(reply.status)


# --- providers ----------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: its errors, which of them each situation calls for, and
    the few things it does its own way (credentials, API key, checks,
    answers). Emulating a new provider is a new entry in :data:`SPECS`."""

    name: str
    kind: Literal["proxy", "api"]
    errors: tuple[ErrorDef, ...]
    builder: Builder
    #: Username token followed by the session id (``sessionid-<id>``).
    session_param: str | None
    #: Codes for: no credentials, wrong credentials.
    auth_missing: str
    auth_wrong: str
    #: Codes the scenarios answer with (``None``: the docs name none).
    quota: str | None
    rate_limit: str | None
    concurrency: str | None
    transient: tuple[str, ...]
    node_dead: str | None
    bound_node_dead: str | None
    #: The error for a target that cannot be reached.
    unreachable: str
    bad_request: str
    #: Codes that are a prefix family (the code is the prefix plus anything).
    families: tuple[str, ...] = ()
    #: Codes for: a proxy port that is down for a while (sent with
    #: ``Retry-After``), the service failing (an outage), a key that was
    #: revoked (default: *auth_wrong*), a per-target-site rate limit, an IP
    #: of a per-IP batch that fails everything (scenario ``isp``).
    unavailable: str | None = None
    internal: str | None = None
    revoked: str | None = None
    site_limit: str | None = None
    bad_ip: str | None = None
    #: A username token that forbids a replacement node (*bound_node_dead*).
    bound_node_token: str | None = None
    #: How the proxy username is checked: ``exact`` (the account's user),
    #: ``prefix`` (the user, then ``-modifiers``), ``any`` (the username
    #: carries only rules; the password is the key), ``key`` (the API key is
    #: the username, the password is empty). APIs check the key only.
    user_match: Literal["exact", "prefix", "any", "key"] = "exact"
    #: One proxy port per IP (``ips`` of them), limits counted per IP.
    per_ip: bool = False
    #: API key: the header that may carry it, and the query parameter.
    key_header: str | None = None
    key_param: str = "api_key"
    #: The rate window sent on every reply (``X-RateLimit-*``) outside the
    #: ``ratelimit`` scenario: ``(limit, window seconds)``.
    rate_window: tuple[int, float] | None = None
    #: Prefix of the request ids the provider generates (``req_``).
    request_id_prefix: str | None = None
    #: The provider answers ``Expect: 100-continue`` with an error instead
    #: of ``100 Continue`` (the validator names the code).
    refuses_expect: bool = False
    #: Provider-only scenario parameters this provider takes.
    takes: tuple[str, ...] = ()
    validate: Validator | None = None
    answer: Answer = _answer_chocodata
    reader: Reader = read_status_or_text

    def find(self, code_or_status: str | int) -> tuple[ErrorDef, str]:
        """The error definition and the exact code for *code_or_status*.

        A status picks the first error documented with it; a code is matched
        case-insensitively, a family prefix with any suffix.
        """
        if isinstance(code_or_status, int) or str(code_or_status).isdigit():
            status = int(code_or_status)
            for err in self.errors:
                if err.code == str(status):
                    return err, err.code
            for err in self.errors:
                if err.status == status:
                    return err, self._concrete(err.code)
            raise ValueError(f"{self.name} documents no error with status {status}")
        code = str(code_or_status)
        for err in self.errors:
            if err.code.lower() == code.lower() and err.code not in self.families:
                return err, err.code
        for err in self.errors:
            if err.code in self.families and code.lower().startswith(err.code.lower()) \
                    and len(code) > len(err.code):
                return err, code
        known = ", ".join(self._concrete(e.code) for e in self.errors)
        raise ValueError(f"{self.name} documents no error code {code!r}; known: {known}")

    def _concrete(self, code: str) -> str:
        return code + "gambling" if code in self.families else code

    def codes(self) -> tuple[str, ...]:
        """Every documented code (families with an example suffix)."""
        return tuple(self._concrete(e.code) for e in self.errors)

    def reply(self, code_or_status: str | int, **kw: Any) -> Reply:
        """The documented reply for a code (or status), shaped as the docs show."""
        err, code = self.find(code_or_status)
        return self.builder(err, code, kw)

    def code_of(self, reply: Reply) -> str | None:
        """The provider code a reply carries, read back the provider's way."""
        if reply.status < 400:
            return None
        return self.reader(self, reply)


SPECS: dict[str, ProviderSpec] = {
    "soax": ProviderSpec(
        "soax", "proxy", SOAX_ERRORS, _soax, "sessionid",
        auth_missing="ERR_AUTH_REQUIRED", auth_wrong="AUTH_FAILED",
        quota="PACKAGE_NO_CREDITS", rate_limit="RATE_LIMIT_EXCEEDED",
        concurrency="RATE_LIMIT_EXCEEDED", transient=("NODE_UNAVAILABLE", "GATEWAY_TIMEOUT"),
        node_dead="NODE_UNAVAILABLE", bound_node_dead="BOUND_NODE_FAILED",
        unreachable="NODE_UNAVAILABLE", bad_request="ERR_INVALID_VALUE",
        bound_node_token="bind-node", user_match="any", takes=("require_rules",),
        validate=_validate_soax, reader=read_header("X-SOAX-Error"),
    ),
    "helodata": ProviderSpec(
        "helodata", "proxy", HELODATA_ERRORS, _helodata, None,
        auth_missing="auth-failed", auth_wrong="auth-failed",
        quota="batch-expired", rate_limit="rps-limit", concurrency="concurrent-limit",
        transient=("upstream-timeout",), node_dead=None, bound_node_dead=None,
        unreachable="upstream-timeout", bad_request="upstream-timeout",
        families=("restricted-category-",), bad_ip="upstream-timeout", per_ip=True,
        reader=read_header("X-Helodata-Error-Code"),
    ),
    "proxiesfo": ProviderSpec(
        "proxiesfo", "proxy", PROXIESFO_ERRORS, _proxiesfo, "session",
        auth_missing="407", auth_wrong="407", quota="452", rate_limit="429",
        concurrency="453", transient=("502", "503"), node_dead="502", bound_node_dead=None,
        unreachable="502", bad_request="400", unavailable="503", internal="500",
        user_match="prefix", refuses_expect=True, validate=_validate_proxiesfo,
    ),
    "wxapros": ProviderSpec(
        "wxapros", "api", WXAPROS_ERRORS, _wxapros, None,
        auth_missing="unauthorized", auth_wrong="unauthorized", quota=None,
        rate_limit="rate_limited", concurrency="rate_limited", transient=("internal_error",),
        node_dead=None, bound_node_dead=None, unreachable="internal_error",
        bad_request="bad_request", unavailable="unhealthy", internal="internal_error",
        # The "gateway auth" wxapros accepts besides X-API-Key.
        key_header="X-API-Key",
        # Sent on every reply; outside the ratelimit scenario the window is
        # far too wide to ever bind, so that it never slows a crawl.
        rate_window=(1_000_000, 60.0),
        validate=_validate_wxapros, answer=_answer_wxapros, reader=read_json("error", "code"),
    ),
    "chocodata": ProviderSpec(
        "chocodata", "api", CHOCODATA_ERRORS, _chocodata, None,
        auth_missing="unauthorized", auth_wrong="unauthorized", quota="insufficient_credits",
        rate_limit="rate_limited", concurrency="rate_limited",
        transient=("internal_error", "extraction_failed"), node_dead=None,
        bound_node_dead=None, unreachable="target_unreachable", bad_request="invalid_params",
        unavailable="capacity", internal="internal_error", revoked="revoked",
        request_id_prefix="req_", validate=_validate_chocodata, answer=_answer_chocodata,
        reader=read_json("error"),
    ),
    "generic": ProviderSpec(
        "generic", "proxy", GENERIC_ERRORS, _generic, "session",
        auth_missing="407", auth_wrong="407", quota=None, rate_limit="429",
        concurrency="connection_limit_reached", transient=("502", "503"), node_dead="502",
        bound_node_dead=None, unreachable="connection_refused", bad_request="400",
        unavailable="503", internal="500", user_match="prefix", reader=read_proxy_status,
    ),
}

#: Every emulated provider, in the order the docs list them.
PROVIDERS = tuple(SPECS)

#: The provider an :class:`Emulator` emulates when none is named.
DEFAULT_PROVIDER = "generic"


def format_seconds(value: float) -> str:
    """Seconds as a header value: ``60``, not ``60.0``; ``0.5`` stays."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
