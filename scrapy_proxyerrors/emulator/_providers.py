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
import time
from typing import TYPE_CHECKING, Any

from ._providers_more import MORE_SPECS
from ._spec import (
    ApiCall,
    ErrorDef,
    Incoming,
    ProviderSpec,
    ed,
    extra_headers,
    format_seconds,
    json_reply,
    read_header,
    read_json,
    read_proxy_status,
    retry_after_header,
)
from ._types import Reply

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["COUNTRIES", "DEFAULT_PROVIDER", "PROVIDERS", "SPECS", "ErrorDef", "ProviderSpec",
           "format_seconds"]

# soax.md: one block per code, ``X-SOAX-Error`` + ``X-SOAX-Detail``, no body.
SOAX_ERRORS = (
    ed(400, "ERR_INVALID_VALUE", "Invalid value for parameter"),
    ed(400, "ERR_MISSING_PARAMS", "At least one targeting parameter is required"),
    ed(400, "ERR_UNKNOWN_PARAM", "Unknown parameter name"),
    ed(400, "ERR_DUPLICATE_PARAM", "Parameter specified more than once"),
    ed(400, "ERR_INVALID_COMBINATION", "Parameters cannot be combined"),
    ed(400, "ERR_PARAM_NOT_ALLOWED", "Parameter not permitted on this package"),
    ed(403, "DISALLOWED", "Protocol not in allowed list"),
    ed(407, "ERR_AUTH_REQUIRED", "No credentials supplied"),
    ed(407, "AUTH_FAILED", "Invalid or missing package key"),
    ed(407, "IP_NOT_ALLOWED", "Client IP not in allowlist"),
    ed(407, "PACKAGE_SUSPENDED", "Account suspended or disabled"),
    ed(407, "PACKAGE_PAUSED", "Package is paused"),
    ed(407, "PACKAGE_NO_CREDITS", "Package is out of credits or quota"),
    ed(409, "SESSION_PARAMS_MISMATCH", "Session ID reused with different rules"),
    ed(429, "RATE_LIMIT_EXCEEDED", "RPS or concurrent connection limit reached"),
    ed(429, "TRAFFIC_LIMIT_EXCEEDED", "Traffic limit exceeded"),
    ed(502, "NODE_UNAVAILABLE", "Node went offline or connection refused"),
    ed(502, "NODE_NOT_FOUND", "No nodes matching country=us, city=los_angeles, network=mob"),
    ed(502, "RETRIES_EXHAUSTED",
        "All onerror-retry_N attempts failed, replacement also failed"),
    ed(503, "BOUND_NODE_FAILED", "bind-node session and node has failed, no replacement allowed"),
    ed(504, "GATEWAY_TIMEOUT", "Request timed out after tunnel established"),
)

# helodata-isp.md: status + ``X-Helodata-Error-Code``; the doc shows no body.
HELODATA_ERRORS = (
    ed(401, "unknown-subuser", "Sub-user doesn't exist"),
    ed(403, "kyc-required", "Account hasn't completed KYC"),
    ed(403, "batch-expired", "Batch's billing period ended"),
    ed(403, "batch-grace-period", "Batch is in 7-day grace; functional but warning you"),
    ed(403, "ip-released", "IP was released back to the pool"),
    # A prefix family: ``restricted-category-<category>``.
    ed(403, "restricted-category-", "Target is on the restricted list"),
    ed(403, "account-suspended", "Account suspended"),
    ed(407, "auth-failed", "Wrong password"),
    ed(407, "not-whitelisted", "Source IP not in this batch's whitelist"),
    ed(429, "concurrent-limit", "Too many concurrent connections to this IP"),
    ed(429, "rps-limit", "Too many requests per second to this IP"),
    ed(502, "upstream-tls-error", "Target TLS handshake failed"),
    ed(522, "upstream-timeout", "Target unreachable from this IP"),
    ed(524, "target-timeout", "Target didn't respond in time"),
)

# proxiesfo.md: the status is the code, the plaintext body its text ("Body:"
# lines; the statuses without one send their reason phrase). 454 is three
# conditions told apart only by the body, so those get names of their own.
PROXIESFO_ERRORS = (
    ed(400, "400", "Bad Request"),
    ed(407, "407", "Incorrect username or password"),
    ed(417, "417", "Expectation Failed"),
    ed(452, "452", "exceeded bandwidth limit", "Bandwidth Exceeded"),
    ed(453, "453", "exceeded threads limit", "Thread Limit Exceeded"),
    ed(454, "invalid-country-code", "invalid country code", "Invalid Country Code"),
    ed(454, "invalid-state-code", "invalid state code", "Invalid State Code"),
    ed(454, "invalid-city-code", "invalid city code", "Invalid City Code"),
    ed(455, "455", "invalid ttl", "Invalid TTL"),
    ed(500, "500", "Internal Server Error"),
    ed(502, "502", "Bad Gateway"),
    ed(503, "503", "Service Unavailable"),
    # Not in the doc's table: a rate limit, which proxies.fo does not
    # document; the ratelimit scenario needs something, so a bare 429.
    ed(429, "429", "Too Many Requests"),
)

# wxapros-vpn-api.md: ``{"error": {"code", "message", "details"}}``.
WXAPROS_ERRORS = (
    ed(400, "bad_request", "Malformed request body or invalid IP format"),
    ed(400, "invalid_ip_reserved", "IP address is RFC-reserved or not globally routable"),
    ed(400, "invalid_ip_integer_form", "Bare integer IP addresses are not accepted"),
    ed(400, "invalid_ip_format", "IP address could not be parsed"),
    ed(401, "unauthorized", "API key missing or invalid"),
    ed(403, "forbidden", "Key tier does not permit this endpoint or field"),
    ed(404, "not_found", "Resource not found"),
    ed(422, "validation_error", "Request validation failed"),
    ed(429, "rate_limited", "Sustained rate limit exceeded \u2014 retry after {seconds} seconds"),
    ed(500, "internal_error", "Unexpected server error"),
    ed(503, "unhealthy", "Service degraded"),
)

# chocodata-api.md: ``{"error", "message", "docs_url", "request_id"}``.
CHOCODATA_ERRORS = (
    ed(400, "invalid_params", "Query identifier malformed, unsupported value, or missing query"),
    ed(401, "unauthorized", "Missing or malformed api_key, or unknown key"),
    ed(401, "revoked", "Key was rotated out"),
    ed(402, "insufficient_credits", "You're out of credits and have no active auto-top-up"),
    ed(404, "not_found", "Unknown path. Check the endpoint URL"),
    ed(404, "item_not_found", "The target site returned 404 for the requested item"),
    ed(408, "upstream_timeout", "The target site took more than 45s to respond"),
    ed(422, "blocked_by_target", "The target site served a challenge page or 503"),
    ed(429, "rate_limited", "You exceeded your per-key RPS or concurrency ceiling"),
    ed(500, "internal_error", "Unhandled exception on our side"),
    ed(501, "not_implemented", "This parameter is on the roadmap and not implemented yet"),
    ed(502, "target_unreachable", "The target site blocked every internal retry"),
    ed(502, "extraction_failed", "The target site served markup our extractor couldn't parse"),
    ed(502, "id_mismatch", "The site redirected the requested item to another item"),
    ed(502, "placeholder_page", "The target served a placeholder instead of the item"),
    ed(503, "capacity", "We're rate-limiting you to protect the shared pool"),
)
_CHOCO_DOCS = "https://chocodata.com/docs/guides/errors#"
#: Codes whose chocodata reply carries ``Retry-After`` (the doc says to honour it).
_CHOCO_RETRY_AFTER = {"rate_limited": 3, "capacity": 5}

# The generic proxy: RFC 9209 ``Proxy-Status`` error types (others.md) with a
# fitting status, plus bare statuses for proxies that say nothing more.
GENERIC_ERRORS = (
    ed(502, "dns_error", "The target's name does not resolve"),
    ed(504, "dns_timeout", "Resolving the target's name timed out"),
    ed(503, "destination_unavailable", "The destination is unavailable"),
    ed(403, "destination_ip_prohibited", "The destination's IP is prohibited"),
    ed(502, "connection_refused", "The target refused the connection"),
    ed(502, "connection_terminated", "The target closed the connection early"),
    ed(504, "connection_timeout", "Connecting to the target timed out"),
    ed(504, "connection_read_timeout", "Reading from the target timed out"),
    ed(429, "connection_limit_reached", "Too many connections"),
    ed(502, "tls_protocol_error", "TLS with the target failed"),
    ed(502, "tls_certificate_error", "The target's certificate was rejected"),
    ed(403, "http_request_denied", "The proxy's policy denies this request"),
    ed(400, "http_request_error", "The request is malformed"),
    ed(502, "http_response_incomplete", "The target's response was incomplete"),
    ed(504, "http_response_timeout", "The target's response timed out"),
    ed(502, "http_protocol_error", "The target spoke broken HTTP"),
    ed(500, "proxy_internal_error", "The proxy failed internally"),
    ed(500, "proxy_configuration_error", "The proxy is misconfigured"),
    ed(502, "proxy_loop_detected", "The proxy detected a forwarding loop"),
    ed(400, "400", "Bad Request"),
    ed(403, "403", "Forbidden"),
    ed(407, "407", "Proxy Authentication Required"),
    ed(429, "429", "Too Many Requests"),
    ed(500, "500", "Internal Server Error"),
    ed(502, "502", "Bad Gateway"),
    ed(503, "503", "Service Unavailable"),
    ed(504, "504", "Gateway Timeout"),
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



def _soax(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    headers = [("X-SOAX-Error", code), ("X-SOAX-Detail", str(kw.get("detail") or err.text))]
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), b"", err.reason)


def _helodata(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    headers = [("X-Helodata-Error-Code", code)]
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), b"", err.reason)


def _proxiesfo(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    body = str(kw.get("body") or err.text).encode()
    headers = [("Content-Type", "text/plain")]
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), body, err.reason)


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
        headers += retry_after_header(kw)
    body = {"error": {"code": code, "message": message, "details": details}}
    return Reply(err.status, headers + extra_headers(kw), json.dumps(body).encode(), err.reason)


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
    return Reply(err.status, headers + extra_headers(kw), json.dumps(body).encode(), err.reason)


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
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), body, err.reason)


# --- the providers' own checks and answers -------------------------------------




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




def _answer_wxapros(call: ApiCall) -> tuple[Reply, bool]:
    match = _WXAPROS_IP.fullmatch(call.path)
    if not match:
        return json_reply({"ok": True, "path": call.path}), True
    ip = match[1]
    # A deterministic, plausible answer for one IP.
    digest = hashlib.sha256(ip.encode()).digest()
    return json_reply({
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
        return json_reply({"request_id": call.request_id, "path": call.path,
                            "query": dict(call.query), "credits_used": 1}), True
    # Scrape through the local target (never the network): non-2xx target
    # replies become the documented errors, and are not billed.
    fetched = call.fetch(url)
    if fetched is None or fetched.status >= 400:
        code = "item_not_found" if fetched is not None and fetched.status == 404 \
            else "target_unreachable"
        return call.spec.reply(code, request_id=call.request_id), False
    return json_reply({"request_id": call.request_id, "url": url, "status": fetched.status,
                        "body": fetched.body.decode("utf-8", "replace"),
                        "credits_used": 1}), True




# --- providers ----------------------------------------------------------------


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
        families=("restricted-category-",), family_example="gambling",
        bad_ip="upstream-timeout", per_ip=True,
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

SPECS.update(MORE_SPECS)

#: Every emulated provider, in the order the docs list them.
PROVIDERS = tuple(SPECS)

#: The provider an :class:`Emulator` emulates when none is named.
DEFAULT_PROVIDER = "generic"


