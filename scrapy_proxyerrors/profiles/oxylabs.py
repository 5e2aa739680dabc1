"""Oxylabs proxies, Web Unblocker and Web Scraper API: the status decides.

Oxylabs sends no machine-readable code: errors from its own infrastructure
carry a human-readable ``X-Error-Description`` (target errors do not), which
is kept as the detail and, on a proxy reply, identifies Oxylabs. Custom
statuses: 524 and 612 (Web Scraper API timeout and failed job), 525 (no exit
found) and 550 (Web Unblocker gave up). The newer Web API answers with RFC
9457 problems whose identifier is in ``title`` (``MALFORMED_JSON``); what its
``type`` holds, the sources do not show.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://developers.oxylabs.io/proxies/residential-proxies/additional-information"
_DC_DOCS = "https://developers.oxylabs.io/proxies/shared-datacenter-proxies/response-codes"
_API_DOCS = "https://developers.oxylabs.io/help-center/troubleshooting/response-codes-for-web-scraper-api"
_WEB_API_DOCS = "https://developers.oxylabs.io/api-reference/errors-and-status-codes"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str, docs: str = _DOCS) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix, docs=docs)


OXYLABS = Profile(
    name="oxylabs",
    title="Oxylabs",
    # Proxies and the Web Scraper API share the statuses below.
    kind="any",
    detail_headers=("X-Error-Description",),
    signature_headers=("X-Error-Description",),
    session_param="sessid",
    problem_json=True,
    problem_code="title",
    docs_url=_DOCS,
    sources=(_DOCS, _DC_DOCS, _API_DOCS, _WEB_API_DOCS),
    rules=(
        # Wrong credentials and a used-up traffic allowance share 407; both
        # need a human, so both stop (the detail header tells them apart).
        _r(407, C.AUTH, A.STOP, S.ACCOUNT,
           "Oxylabs refused the request: authentication failed or the traffic limit is reached.",
           "Check the credentials; if X-Error-Description mentions the traffic limit, top up the plan."),
        # The target is on Oxylabs' restricted list: no route will reach it.
        _r(403, C.TARGET, A.DROP, S.REQUEST,
           "Access denied: the target is restricted by Oxylabs.",
           "Do not crawl this target through Oxylabs; ask their support if unexpected."),
        # Datacenter/ISP proxies limit threads (concurrent connections).
        _r(429, C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
           "Too many concurrent threads or requests for the plan.",
           "Lower CONCURRENT_REQUESTS to the plan's thread limit.", _DC_DOCS),
        _r(500, C.INTERNAL, A.RETRY, S.REQUEST,
           "Oxylabs hit an internal error.", "Retried with backoff."),
        # The session's exit node is gone: only a new session id helps.
        _r(502, C.NODE, A.ROTATE, S.ROUTE,
           "The session failed or its exit node is gone.",
           "Retried with a new sessid in the proxy username."),
        _r(503, C.UPSTREAM, A.RETRY, S.REQUEST,
           "The proxy could not resolve or connect to the target.",
           "Retried with backoff; check the target's host name if it persists.", _DC_DOCS),
        _r(504, C.TIMEOUT, A.RETRY, S.REQUEST,
           "The request timed out inside Oxylabs.", "Retried with backoff."),
        _r(522, C.TIMEOUT, A.RETRY, S.REQUEST,
           "The proxy got no answer from the target in time.", "Retried with backoff."),
        _r(525, C.NODE, A.RETRY, S.REQUEST,
           "No exit node matches the request's filters right now.",
           "Retried later; broaden the country/city filters if it persists.", _DC_DOCS),
        # Web Unblocker and Web Scraper API: failed jobs are not billed, so
        # sending them again costs nothing.
        _r(550, C.UPSTREAM, A.RETRY, S.REQUEST,
           "Web Unblocker gave up after too many internal retries.",
           "Retried; it is free to send the request again."),
        _r(524, C.TIMEOUT, A.RETRY, S.REQUEST,
           "The Web Scraper API job timed out.",
           "Retried; it is free to submit the job again.", _API_DOCS),
        _r(612, C.INTERNAL, A.RETRY, S.REQUEST,
           "The Web Scraper API job failed.",
           "Retried; it is free to submit the job again.", _API_DOCS),
        # Web API problem documents: the identifier is the title.
        Rule(400, "INVALID_BODY_PROPERTY", C.VALIDATION, A.DROP, S.REQUEST,
             "A property of the request body is invalid.",
             "Fix the property the problem's detail names.", docs=_WEB_API_DOCS),
        Rule(400, "MALFORMED_JSON", C.VALIDATION, A.DROP, S.REQUEST,
             "The request body is not valid JSON.", "Send a valid JSON body.",
             docs=_WEB_API_DOCS),
    ),
)
