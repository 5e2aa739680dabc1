"""chocodata scraping API: ``{"error", "message", "docs_url", "request_id"}``.

The same status can mean several things (502 is four codes: two worth a
retry, two permanent), so rules are keyed on the code, never on status alone.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://chocodata.com/docs/guides/errors"


def _r(status: int, code: str, cat: C, act: A, scope: S, meaning: str, fix: str,
       wait: float | None = None) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=f"{_DOCS}#{code}", wait=wait)


CHOCODATA = Profile(
    name="chocodata",
    title="chocodata scraping API",
    kind="api",
    json_code=(("error",),),
    json_message=(("message",),),
    json_request_id=(("request_id",),),
    request_id_headers=("X-Request-Id",),
    api_hosts=("*.chocodata.com", "chocodata.com"),
    docs_url=_DOCS,
    rules=(
        _r(400, "invalid_params", C.VALIDATION, A.DROP, S.REQUEST,
           "A query parameter is malformed, unsupported or missing.", "Fix the request."),
        _r(401, "unauthorized", C.AUTH, A.STOP, S.ACCOUNT,
           "The api_key is missing, malformed or unknown.", "Use a valid API key."),
        _r(401, "revoked", C.AUTH, A.STOP, S.ACCOUNT,
           "The API key was rotated out.", "Use your current API key."),
        _r(402, "insufficient_credits", C.QUOTA, A.STOP, S.ACCOUNT,
           "Out of credits with no auto-top-up.", "Top up credits, then resume the crawl."),
        _r(404, "not_found", C.VALIDATION, A.DROP, S.REQUEST,
           "Unknown API path.", "Check the endpoint URL."),
        _r(404, "item_not_found", C.TARGET, A.DROP, S.REQUEST,
           "The target has no such item (delisted, malformed id, or not in this region).",
           "Drop the item from your set, or try another region."),
        _r(408, "upstream_timeout", C.TIMEOUT, A.RETRY, S.REQUEST,
           "The target took more than 45 s to respond.", "Retry (up to 3 times, 2 s apart).",
           wait=2),
        _r(422, "blocked_by_target", C.TARGET, A.RETRY, S.REQUEST,
           "The target served a challenge page or 503 after internal retries.",
           "Retry after 60 s or more.", wait=60),
        _r(429, "rate_limited", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "The key's requests-per-second or concurrency ceiling was exceeded.",
           "Honour Retry-After; lower CONCURRENT_REQUESTS."),
        _r(500, "internal_error", C.INTERNAL, A.RETRY, S.REQUEST,
           "An unhandled error at chocodata.", "Retry after about 5 s.", wait=5),
        _r(501, "not_implemented", C.PROTOCOL, A.DROP, S.REQUEST,
           "A parameter on the roadmap (render_js, screenshot) was passed.",
           "Remove the parameter."),
        _r(502, "target_unreachable", C.UPSTREAM, A.RETRY, S.REQUEST,
           "The target blocked every internal retry.", "Retry after 60 s or more.", wait=60),
        _r(502, "extraction_failed", C.TARGET, A.RETRY, S.REQUEST,
           "The extractor could not parse the target's markup (usually a new layout).",
           "Retry; it typically works on a retry."),
        _r(502, "id_mismatch", C.TARGET, A.DROP, S.REQUEST,
           "The target redirected the requested item to another one.",
           "Update the stale source identifier."),
        _r(502, "placeholder_page", C.TARGET, A.DROP, S.REQUEST,
           "The target served a placeholder: the item is delisted.",
           "Remove the item from your set."),
        _r(503, "capacity", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "chocodata is rate-limiting this key to protect the shared pool.",
           "Honour Retry-After."),
    ),
)
