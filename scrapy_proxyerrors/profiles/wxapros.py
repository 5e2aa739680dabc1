"""wxapros VPN / IP intelligence API: ``{"error": {"code", "message", "details"}}``."""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://vpn-docs.wxapros.com/errors"
_FIX_IP = "Send a global IP address in dotted or colon notation."

WXAPROS = Profile(
    name="wxapros",
    title="wxapros VPN API",
    kind="api",
    json_code=(("error", "code"),),
    json_message=(("error", "message"),),
    json_wait=(("error", "details", "retry_after_seconds"),),
    request_id_headers=("X-Request-Id",),
    api_hosts=("*.wxapros.com", "wxapros.com"),
    rate_limit_headers=True,
    docs_url=_DOCS,
    rules=(
        Rule(400, "bad_request", C.VALIDATION, A.DROP, S.REQUEST,
             "Malformed request body or invalid IP format.", "Fix the request.", docs=_DOCS),
        Rule(400, "invalid_ip_reserved", C.VALIDATION, A.DROP, S.REQUEST,
             "The IP is RFC-reserved or not globally routable.",
             "Skip private and reserved addresses.", docs=_DOCS),
        Rule(400, "invalid_ip_integer_form", C.VALIDATION, A.DROP, S.REQUEST,
             "A bare integer was sent as the IP.", _FIX_IP, docs=_DOCS),
        Rule(400, "invalid_ip_format", C.VALIDATION, A.DROP, S.REQUEST,
             "The IP could not be parsed.", _FIX_IP, docs=_DOCS),
        Rule(401, "unauthorized", C.AUTH, A.STOP, S.ACCOUNT,
             "The API key or gateway auth is missing or invalid.",
             "Send a valid X-API-Key.", docs=_DOCS),
        Rule(403, "forbidden", C.ACCOUNT, A.DROP, S.REQUEST,
             "The key's tier does not permit this endpoint or field.",
             "Upgrade the tier, or stop asking for this endpoint/field.", docs=_DOCS),
        Rule(404, "not_found", C.TARGET, A.DROP, S.REQUEST,
             "The resource does not exist.", "Check the URL.", docs=_DOCS),
        Rule(422, "validation_error", C.VALIDATION, A.DROP, S.REQUEST,
             "The payload failed validation.", "Fix the payload.", docs=_DOCS),
        Rule(429, "rate_limited", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
             "Too many requests in the 60-second window.",
             "Wait for Retry-After; lower the request rate below X-RateLimit-Limit per minute.",
             docs=_DOCS),
        Rule(500, "internal_error", C.INTERNAL, A.RETRY, S.REQUEST,
             "An unexpected server error.", "Retry with exponential backoff.", docs=_DOCS),
        # A degraded service answers every key the same: pause the API with
        # backoff instead of hammering it (the doc recommends a circuit breaker).
        Rule(503, "unhealthy", C.INTERNAL, A.SLOWDOWN, S.ACCOUNT,
             "The service is degraded.", "Retry with exponential backoff.", docs=_DOCS),
        Rule(429, None, C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
             "Too many requests.", "Honour Retry-After.", docs=_DOCS),
        Rule(500, None, C.INTERNAL, A.RETRY, S.REQUEST,
             "Server error.", "Retry with backoff.", docs=_DOCS),
        Rule(503, None, C.INTERNAL, A.SLOWDOWN, S.ACCOUNT,
             "Service degraded.", "Retry with backoff.", docs=_DOCS),
    ),
)
