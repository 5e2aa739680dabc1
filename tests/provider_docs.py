"""Every row of the providers' error tables in ../shared/providers/, written
out by hand from the docs, independently of the package's profile data.

Each row is what the provider puts on the wire (status, headers, body) and
what the plugin must decide (category, action, scope). The classifier tests,
the emulator tests and the CONNECT tests all parametrize over these rows.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field


@dataclass(frozen=True)
class DocRow:
    provider: str
    status: int
    code: str  # the code the plugin reports: the provider's, or the status
    category: str
    action: str
    scope: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""
    transport: str = "plain"  # "plain" for proxies, "api" for APIs

    @property
    def id(self) -> str:
        return f"{self.provider}-{self.status}-{self.code}"


def _soax(status: int, code: str, detail: str, cat: str, act: str, scope: str) -> DocRow:
    return DocRow("soax", status, code, cat, act, scope,
                  {"X-SOAX-Error": code, "X-SOAX-Detail": detail})


SOAX_ROWS = [
    _soax(400, "ERR_INVALID_VALUE", "Invalid value for parameter", "validation", "stop", "account"),
    _soax(400, "ERR_MISSING_PARAMS", "At least one targeting parameter is required", "validation", "stop", "account"),
    _soax(400, "ERR_UNKNOWN_PARAM", "Unknown parameter name", "validation", "stop", "account"),
    _soax(400, "ERR_DUPLICATE_PARAM", "Parameter specified more than once", "validation", "stop", "account"),
    _soax(400, "ERR_INVALID_COMBINATION", "Parameters cannot be combined", "validation", "stop", "account"),
    _soax(400, "ERR_PARAM_NOT_ALLOWED", "Parameter not permitted on this package", "validation", "stop", "account"),
    _soax(403, "DISALLOWED", "Protocol not in allowed list", "protocol", "stop", "account"),
    _soax(407, "ERR_AUTH_REQUIRED", "No credentials supplied", "auth", "stop", "account"),
    _soax(407, "AUTH_FAILED", "Invalid or missing package key", "auth", "stop", "account"),
    _soax(407, "IP_NOT_ALLOWED", "Client IP not in allowlist", "auth", "stop", "account"),
    _soax(407, "PACKAGE_SUSPENDED", "Account suspended or disabled", "account", "stop", "account"),
    _soax(407, "PACKAGE_PAUSED", "Package is paused", "account", "stop", "account"),
    _soax(407, "PACKAGE_NO_CREDITS", "Package is out of credits or quota", "quota", "stop", "account"),
    _soax(409, "SESSION_PARAMS_MISMATCH", "Session ID reused with different rules", "session", "rotate", "route"),
    _soax(429, "RATE_LIMIT_EXCEEDED", "RPS or concurrent connection limit reached", "rate_limit", "slowdown", "account"),
    _soax(429, "TRAFFIC_LIMIT_EXCEEDED", "Traffic limit exceeded", "quota", "stop", "account"),
    _soax(502, "NODE_UNAVAILABLE", "Node went offline or connection refused", "node", "rotate", "route"),
    _soax(502, "NODE_NOT_FOUND", "No nodes matching country=us, city=los_angeles, network=mob", "node", "retry", "request"),
    _soax(502, "RETRIES_EXHAUSTED", "All onerror-retry_N attempts failed, replacement also failed", "node", "retry", "request"),
    _soax(503, "BOUND_NODE_FAILED", "bind-node session and node has failed, no replacement allowed", "session", "rotate", "route"),
    _soax(504, "GATEWAY_TIMEOUT", "Request timed out after tunnel established", "timeout", "rotate", "route"),
]


def _helo(status: int, code: str, cat: str, act: str, scope: str) -> DocRow:
    return DocRow("helodata", status, code, cat, act, scope, {"X-Helodata-Error-Code": code})


HELODATA_ROWS = [
    _helo(401, "unknown-subuser", "auth", "stop", "account"),
    _helo(403, "kyc-required", "account", "stop", "account"),
    _helo(403, "batch-expired", "account", "stop", "account"),
    _helo(403, "batch-grace-period", "warning", "pass", "account"),
    _helo(403, "ip-released", "node", "rotate", "route"),
    _helo(403, "restricted-category-gambling", "target", "drop", "request"),
    _helo(403, "account-suspended", "account", "stop", "account"),
    _helo(407, "auth-failed", "auth", "stop", "account"),
    _helo(407, "not-whitelisted", "auth", "stop", "account"),
    _helo(429, "concurrent-limit", "concurrency", "rotate", "route"),
    _helo(429, "rps-limit", "rate_limit", "rotate", "route"),
    _helo(502, "upstream-tls-error", "upstream", "rotate", "route"),
    _helo(522, "upstream-timeout", "upstream", "rotate", "route"),
    _helo(524, "target-timeout", "timeout", "rotate", "route"),
]


def _fo(status: int, code: str, body: str, cat: str, act: str, scope: str) -> DocRow:
    return DocRow("proxiesfo", status, code, cat, act, scope,
                  {"Content-Type": "text/plain"}, body.encode())


PROXIESFO_ROWS = [
    _fo(400, "400", "Bad Request", "validation", "drop", "request"),
    _fo(407, "407", "Incorrect username or password", "auth", "stop", "account"),
    _fo(417, "417", "Expectation Failed", "protocol", "drop", "request"),
    _fo(452, "452", "exceeded bandwidth limit", "quota", "stop", "account"),
    _fo(453, "453", "exceeded threads limit", "concurrency", "slowdown", "account"),
    _fo(454, "invalid-country-code", "invalid country code", "validation", "stop", "account"),
    _fo(454, "invalid-state-code", "invalid state code", "validation", "stop", "account"),
    _fo(454, "invalid-city-code", "invalid city code", "validation", "stop", "account"),
    _fo(455, "455", "invalid ttl", "validation", "stop", "account"),
    _fo(500, "500", "Internal Server Error", "internal", "retry", "request"),
    _fo(502, "502", "Bad Gateway", "upstream", "retry", "request"),
    _fo(503, "503", "Service Unavailable", "internal", "retry", "request"),
]


def _wxa(status: int, code: str, cat: str, act: str, scope: str,
         headers: dict[str, str] | None = None, details: dict[str, object] | None = None) -> DocRow:
    body = {"error": {"code": code, "message": f"{code} happened", "details": details or {}}}
    return DocRow("wxapros", status, code, cat, act, scope,
                  {"Content-Type": "application/json", **(headers or {})},
                  json.dumps(body).encode(), transport="api")


WXAPROS_ROWS = [
    _wxa(400, "bad_request", "validation", "drop", "request"),
    _wxa(400, "invalid_ip_reserved", "validation", "drop", "request"),
    _wxa(400, "invalid_ip_integer_form", "validation", "drop", "request"),
    _wxa(400, "invalid_ip_format", "validation", "drop", "request"),
    _wxa(401, "unauthorized", "auth", "stop", "account"),
    _wxa(403, "forbidden", "account", "drop", "request"),
    _wxa(404, "not_found", "target", "drop", "request"),
    _wxa(422, "validation_error", "validation", "drop", "request"),
    _wxa(429, "rate_limited", "rate_limit", "slowdown", "account",
         {"Retry-After": "12", "X-RateLimit-Limit": "3000", "X-RateLimit-Remaining": "0",
          "X-RateLimit-Window": "60", "X-RateLimit-Reset": "1714339200"},
         {"retry_after_seconds": 12, "tier": "pro", "limit_rpm_60s": 3000}),
    _wxa(500, "internal_error", "internal", "retry", "request"),
    _wxa(503, "unhealthy", "internal", "slowdown", "account"),
]


def _choco(status: int, code: str, cat: str, act: str, scope: str,
           headers: dict[str, str] | None = None, extra: dict[str, object] | None = None) -> DocRow:
    body = {"error": code, "message": f"{code}: see docs",
            "docs_url": f"https://chocodata.com/docs/guides/errors#{code}",
            "request_id": "req_9f2c8a1b3e4d", **(extra or {})}
    return DocRow("chocodata", status, code, cat, act, scope,
                  {"Content-Type": "application/json", **(headers or {})},
                  json.dumps(body).encode(), transport="api")


CHOCODATA_ROWS = [
    _choco(400, "invalid_params", "validation", "drop", "request"),
    _choco(401, "unauthorized", "auth", "stop", "account"),
    _choco(401, "revoked", "auth", "stop", "account"),
    _choco(402, "insufficient_credits", "quota", "stop", "account"),
    _choco(404, "not_found", "validation", "drop", "request"),
    _choco(404, "item_not_found", "target", "drop", "request", extra={"retryable": False}),
    _choco(408, "upstream_timeout", "timeout", "retry", "request"),
    _choco(422, "blocked_by_target", "target", "retry", "request"),
    _choco(429, "rate_limited", "rate_limit", "slowdown", "account", {"Retry-After": "3"}),
    _choco(500, "internal_error", "internal", "retry", "request"),
    _choco(501, "not_implemented", "protocol", "drop", "request"),
    _choco(502, "target_unreachable", "upstream", "retry", "request"),
    _choco(502, "extraction_failed", "target", "retry", "request"),
    _choco(502, "id_mismatch", "target", "drop", "request"),
    _choco(502, "placeholder_page", "target", "drop", "request"),
    _choco(503, "capacity", "rate_limit", "slowdown", "account", {"Retry-After": "5"}),
]

ALL_ROWS = SOAX_ROWS + HELODATA_ROWS + PROXIESFO_ROWS + WXAPROS_ROWS + CHOCODATA_ROWS
PROXY_ROWS = [r for r in ALL_ROWS if r.transport == "plain"]
API_ROWS = [r for r in ALL_ROWS if r.transport == "api"]

#: Documented minimum waits (seconds), from the providers' retry columns.
DOCUMENTED_WAITS = {
    ("chocodata", "upstream_timeout"): 2,
    ("chocodata", "blocked_by_target"): 60,
    ("chocodata", "internal_error"): 5,
    ("chocodata", "target_unreachable"): 60,
}
