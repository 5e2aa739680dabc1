"""Every confirmed row of ../shared/providers/others.md, written out by hand
from that file, independently of the package's profile data.

Same shape as :mod:`tests.provider_docs`: what the provider puts on the wire
(status, headers, body) and what the plugin must decide (category, action,
scope). Rows the collected facts mark "unconfirmed" (Zyte API 403
``/auth/account-suspended`` and 451 ``/download/domain-forbidden``, the
scraping APIs at the end of the file) are left out on purpose.

Where the docs give a range (Bright Data ``client_10070..10260``), the rows
take both ends and a point inside it.
"""

from __future__ import annotations

import json

from .provider_docs import DocRow

# --------------------------------------------------------------------- Squid


def _squid(status: int, page: str, errno: int, cat: str, act: str, scope: str) -> DocRow:
    # The code is the page name; the errno after it is not part of the code.
    body = f"<html><body><h1>ERROR</h1><p>{page}</p></body></html>".encode()
    return DocRow("squid", status, page, cat, act, scope,
                  {"X-Squid-Error": f"{page} {errno}", "Content-Type": "text/html",
                   "Server": "squid/5.7"}, body)


SQUID_ROWS = [
    _squid(407, "ERR_CACHE_ACCESS_DENIED", 0, "auth", "stop", "account"),
    _squid(403, "ERR_ACCESS_DENIED", 0, "target", "drop", "request"),
    _squid(503, "ERR_DNS_FAIL", 0, "upstream", "drop", "request"),
    _squid(503, "ERR_CONNECT_FAIL", 111, "upstream", "retry", "request"),
    _squid(504, "ERR_READ_TIMEOUT", 0, "timeout", "retry", "request"),
    _squid(504, "ERR_LIFETIME_EXP", 0, "timeout", "retry", "request"),
    _squid(400, "ERR_INVALID_URL", 0, "validation", "drop", "request"),
    _squid(403, "ERR_TOO_BIG", 0, "upstream", "drop", "request"),
    _squid(502, "ERR_ZERO_SIZE_OBJECT", 0, "upstream", "retry", "request"),
]

# ------------------------------------------------------ Zyte Smart Proxy Manager


def _spm(status: int, code: str, cat: str, act: str, scope: str,
         headers: dict[str, str] | None = None) -> DocRow:
    return DocRow("zyte_spm", status, code, cat, act, scope,
                  {"X-Crawlera-Error": code, "X-Crawlera-Version": "1.36.3-cd5e44",
                   **(headers or {})}, f"SPM error: {code}".encode())


ZYTE_SPM_ROWS = [
    _spm(503, "banned", "target", "retry", "request", {"Retry-After": "20"}),
    _spm(503, "noslaves", "node", "slowdown", "account"),
    _spm(503, "serverbusy", "internal", "slowdown", "account"),
    _spm(407, "bad_proxy_auth", "auth", "stop", "account"),
    _spm(429, "too_many_conns", "concurrency", "slowdown", "account"),
    _spm(400, "bad_session_id", "session", "rotate", "route"),
    _spm(400, "user_session_limit", "session", "rotate", "route"),
    _spm(502, "nxdomain", "upstream", "drop", "request"),
    _spm(502, "econnrefused", "upstream", "retry", "request"),
    _spm(502, "econnreset", "upstream", "retry", "request"),
    _spm(504, "timeout", "timeout", "retry", "request"),
    _spm(504, "msgtimeout", "timeout", "retry", "request"),
    _spm(523, "domain_forbidden", "target", "drop", "request"),
]

# ------------------------------------------------------------------ Zyte API


def _zapi(status: int, type_: str, cat: str, act: str, scope: str) -> DocRow:
    body = {"type": type_, "title": f"title of {type_}", "status": status,
            "detail": f"detail of {type_}"}
    return DocRow("zyte_api", status, type_, cat, act, scope,
                  {"Content-Type": "application/problem+json"},
                  json.dumps(body).encode(), transport="api")


def _zproxy(status: int, type_: str, cat: str, act: str, scope: str) -> DocRow:
    # Proxy mode (api.zyte.com:8011): the type travels in the Zyte-Error-Type
    # header (more-providers.md corrects others.md's "Zyte-Error").
    return DocRow("zyte_api", status, type_, cat, act, scope, {"Zyte-Error-Type": type_})


_ZYTE_API_TABLE = [
    (429, "/limits/over-user-limit", "rate_limit", "slowdown", "account"),
    # One target website's limit (more-providers.md): that site pauses.
    (429, "/limits/over-domain-limit", "rate_limit", "slowdown", "site"),
    (503, "/limits/over-global-limit", "rate_limit", "slowdown", "account"),
    (520, "/download/temporary-error", "target", "retry", "request"),
    (521, "/download/internal-error", "internal", "retry", "request"),
    # "400/422 /request/*": two members of the family, one per status.
    (400, "/request/invalid", "validation", "drop", "request"),
    (422, "/request/unprocessable", "validation", "drop", "request"),
    (401, "/auth/key-not-found", "auth", "stop", "account"),
]
ZYTE_API_ROWS = [_zapi(*row) for row in _ZYTE_API_TABLE]
ZYTE_API_PROXY_ROWS = [_zproxy(*row) for row in _ZYTE_API_TABLE]

# --------------------------------------------------------------- Bright Data


def _brd(status: int, code: str, cat: str, act: str, scope: str) -> DocRow:
    return DocRow("brightdata", status, code, cat, act, scope,
                  {"x-brd-err-code": code, "x-brd-error": f"short {code}",
                   "x-brd-err-msg": f"long explanation of {code}"})


BRIGHTDATA_ROWS = [
    _brd(400, "client_10060", "validation", "stop", "account"),
    _brd(400, "client_10061", "validation", "stop", "account"),
    _brd(400, "client_10062", "validation", "stop", "account"),
    _brd(400, "client_10063", "validation", "stop", "account"),
    _brd(401, "client_10050", "auth", "stop", "account"),
    _brd(402, "policy_20130", "account", "stop", "account"),
    _brd(402, "policy_20140", "account", "stop", "account"),
    _brd(403, "client_10070", "target", "drop", "request"),
    _brd(403, "client_10190", "target", "drop", "request"),
    _brd(403, "client_10260", "target", "drop", "request"),
    _brd(403, "policy_20001", "target", "drop", "request"),
    _brd(403, "policy_29999", "target", "drop", "request"),
    _brd(407, "client_10000", "auth", "stop", "account"),
    _brd(407, "client_10020", "auth", "stop", "account"),
    _brd(407, "client_10040", "auth", "stop", "account"),
    _brd(407, "policy_20120", "account", "stop", "account"),
    _brd(429, "client_10110", "rate_limit", "slowdown", "account"),
    # more-providers.md: 20220 is the per-domain limit (site), 20222 per IP.
    _brd(429, "policy_20220", "rate_limit", "slowdown", "site"),
    _brd(429, "policy_20221", "rate_limit", "slowdown", "route"),
    _brd(429, "policy_20222", "rate_limit", "slowdown", "route"),
    _brd(502, "client_10100", "quota", "stop", "account"),
    _brd(502, "client_10120", "target", "drop", "request"),
    _brd(502, "peer_30030", "node", "retry", "request"),
    _brd(502, "policy_20070", "target", "drop", "request"),
    _brd(502, "target_40001", "upstream", "drop", "request"),
    _brd(502, "target_40011", "upstream", "drop", "request"),
    # Legacy Luminati headers.
    DocRow("brightdata", 407, "client_10000", "auth", "stop", "account",
           {"x-luminati-error-code": "client_10000", "x-luminati-error": "Auth failed"}),
    # The RFC 9209 header Bright Data is moving to, with no x-brd-* header:
    # the provider's code leads the details (more-providers.md), so the zone
    # error keeps its rule and still stops the crawl.
    DocRow("brightdata", 400, "client_10060", "validation", "stop", "account",
           {"Proxy-Status": 'brd.superproxy.io; received-status=400; '
                            'error=destination_ip_unroutable; details="client-10060: IP not in zone"'}),
    # Details without a code the profile knows: the standard's token is the code.
    DocRow("brightdata", 400, "destination_ip_unroutable", "target", "drop", "request",
           {"Proxy-Status": 'brd.superproxy.io; received-status=400; '
                            'error=destination_ip_unroutable; details="IP not in zone"'}),
]

# ------------------------------------------------------------------- Oxylabs


def _oxy(status: int, description: str, cat: str, act: str, scope: str,
         transport: str = "plain") -> DocRow:
    return DocRow("oxylabs", status, str(status), cat, act, scope,
                  {"X-Error-Description": description}, transport=transport)


OXYLABS_ROWS = [
    _oxy(407, "Access denied: authentication failed", "auth", "stop", "account"),
    _oxy(407, "Access denied: traffic limit reached", "auth", "stop", "account"),
    _oxy(429, "Thread limit reached", "concurrency", "slowdown", "account"),
    _oxy(500, "Internal error", "internal", "retry", "request"),
    _oxy(502, "Session failed; start a new session", "node", "rotate", "route"),
    _oxy(502, "Exit node not found (session ended)", "node", "rotate", "route"),
    _oxy(503, "Could not resolve or connect to the target", "upstream", "retry", "request"),
    _oxy(504, "Gateway timeout", "timeout", "retry", "request"),
    _oxy(522, "Timeout", "timeout", "retry", "request"),
    _oxy(525, "No Exit Found", "node", "retry", "request"),
    _oxy(550, "Faulted after too many retries", "upstream", "retry", "request"),
    _oxy(612, "Internal error, resubmit the job", "internal", "retry", "request", "api"),
]

# -------------------------------------------------------------------- NetNut


def _status_only(provider: str, status: int, cat: str, act: str, scope: str) -> DocRow:
    return DocRow(provider, status, str(status), cat, act, scope)


NETNUT_ROWS = [
    _status_only("netnut", 400, "validation", "drop", "request"),
    _status_only("netnut", 403, "target", "drop", "request"),
    _status_only("netnut", 407, "auth", "stop", "account"),
    _status_only("netnut", 490, "validation", "stop", "account"),
    _status_only("netnut", 500, "internal", "retry", "request"),
    _status_only("netnut", 502, "node", "rotate", "route"),
    _status_only("netnut", 503, "upstream", "retry", "request"),
    _status_only("netnut", 522, "timeout", "retry", "request"),
]

# ------------------------------------------------------------------- IPRoyal

IPROYAL_ROWS = [
    _status_only("iproyal", 500, "internal", "retry", "request"),
    _status_only("iproyal", 503, "node", "retry", "request"),
    _status_only("iproyal", 504, "node", "retry", "request"),
]

MORE_ROWS = (
    SQUID_ROWS
    + ZYTE_SPM_ROWS
    + ZYTE_API_ROWS
    + ZYTE_API_PROXY_ROWS
    + BRIGHTDATA_ROWS
    + OXYLABS_ROWS
    + NETNUT_ROWS
    + IPROYAL_ROWS
)
MORE_PROXY_ROWS = [r for r in MORE_ROWS if r.transport == "plain"]
MORE_API_ROWS = [r for r in MORE_ROWS if r.transport == "api"]

#: Providers that mark their replies with nothing but the status: the
#: plugin only uses them when they are named.
NAMED_ONLY = frozenset({"netnut", "iproyal"})
#: The hosts the facts give, per provider, for proxy replies.
PROXY_URLS = {
    "zyte_spm": "http://proxy.zyte.com:8011",
    "zyte_api": "http://api.zyte.com:8011",
    "brightdata": "http://brd.superproxy.io:33335",
}
API_URLS = {"zyte_api": "https://api.zyte.com/v1/extract"}
#: The new profiles, by name.
MORE_PROVIDERS = ("squid", "zyte_spm", "zyte_api", "brightdata", "oxylabs", "netnut", "iproyal")
