"""What each emulated provider puts on the wire when it fails.

These tables are the emulator's own, written from the provider pages in the
project's docs (``shared/providers/*.md``), and deliberately NOT derived from
the package's profiles: the tests compare the two, so a mistake in one shows
up against the other instead of being copied into both.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ._types import Reply

#: Every emulated provider, in the order the docs list them.
PROVIDERS = ("soax", "helodata", "proxiesfo", "wxapros", "chocodata", "generic")


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


# --- providers ----------------------------------------------------------------


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: its errors, and which of them each situation calls for."""

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
    #: revoked (default: *auth_wrong*), a per-target-site rate limit.
    unavailable: str | None = None
    internal: str | None = None
    revoked: str | None = None
    site_limit: str | None = None

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
        if self.name == "soax":
            return reply.header("X-SOAX-Error")
        if self.name == "helodata":
            return reply.header("X-Helodata-Error-Code")
        if self.name in ("wxapros", "chocodata"):
            try:
                data = json.loads(reply.body)
            except (ValueError, RecursionError):
                # A responder's hostile body (invalid, or nested thousands deep).
                return None
            if not isinstance(data, dict):
                return None
            code = data.get("error")
            if isinstance(code, dict):
                code = code.get("code")
            return code if isinstance(code, str) else None
        if self.name == "generic":
            match = re.search(r"error=([a-z_]+)", reply.header("Proxy-Status") or "")
            return match.group(1) if match else str(reply.status)
        text = reply.body.decode("utf-8", "replace").strip().lower()
        for err in self.errors:
            if err.status == reply.status and err.text.lower() == text:
                return err.code
        return str(reply.status)


SPECS: dict[str, ProviderSpec] = {
    "soax": ProviderSpec(
        "soax", "proxy", SOAX_ERRORS, _soax, "sessionid",
        auth_missing="ERR_AUTH_REQUIRED", auth_wrong="AUTH_FAILED",
        quota="PACKAGE_NO_CREDITS", rate_limit="RATE_LIMIT_EXCEEDED",
        concurrency="RATE_LIMIT_EXCEEDED", transient=("NODE_UNAVAILABLE", "GATEWAY_TIMEOUT"),
        node_dead="NODE_UNAVAILABLE", bound_node_dead="BOUND_NODE_FAILED",
        unreachable="NODE_UNAVAILABLE", bad_request="ERR_INVALID_VALUE",
    ),
    "helodata": ProviderSpec(
        "helodata", "proxy", HELODATA_ERRORS, _helodata, None,
        auth_missing="auth-failed", auth_wrong="auth-failed",
        quota="batch-expired", rate_limit="rps-limit", concurrency="concurrent-limit",
        transient=("upstream-timeout",), node_dead=None, bound_node_dead=None,
        unreachable="upstream-timeout", bad_request="upstream-timeout",
        families=("restricted-category-",),
    ),
    "proxiesfo": ProviderSpec(
        "proxiesfo", "proxy", PROXIESFO_ERRORS, _proxiesfo, "session",
        auth_missing="407", auth_wrong="407", quota="452", rate_limit="429",
        concurrency="453", transient=("502", "503"), node_dead="502", bound_node_dead=None,
        unreachable="502", bad_request="400", unavailable="503", internal="500",
    ),
    "wxapros": ProviderSpec(
        "wxapros", "api", WXAPROS_ERRORS, _wxapros, None,
        auth_missing="unauthorized", auth_wrong="unauthorized", quota=None,
        rate_limit="rate_limited", concurrency="rate_limited", transient=("internal_error",),
        node_dead=None, bound_node_dead=None, unreachable="internal_error",
        bad_request="bad_request", unavailable="unhealthy", internal="internal_error",
    ),
    "chocodata": ProviderSpec(
        "chocodata", "api", CHOCODATA_ERRORS, _chocodata, None,
        auth_missing="unauthorized", auth_wrong="unauthorized", quota="insufficient_credits",
        rate_limit="rate_limited", concurrency="rate_limited",
        transient=("internal_error", "extraction_failed"), node_dead=None,
        bound_node_dead=None, unreachable="target_unreachable", bad_request="invalid_params",
        unavailable="capacity", internal="internal_error", revoked="revoked",
    ),
    "generic": ProviderSpec(
        "generic", "proxy", GENERIC_ERRORS, _generic, "session",
        auth_missing="407", auth_wrong="407", quota=None, rate_limit="429",
        concurrency="connection_limit_reached", transient=("502", "503"), node_dead="502",
        bound_node_dead=None, unreachable="connection_refused", bad_request="400",
        unavailable="503", internal="500",
    ),
}


def format_seconds(value: float) -> str:
    """Seconds as a header value: ``60``, not ``60.0``; ``0.5`` stays."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"
