"""Scrape.do: the status decides; only some statuses are billed.

Scrape.do passes the target's status through, so a 400 is either Scrape.do
refusing the request (not billed) or the target's own (billed), and the
reply alone does not tell them apart: it is handed on, counted.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://scrape.do/documentation/api-response/status-codes"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix, docs=_DOCS)


SCRAPEDO = Profile(
    name="scrapedo",
    title="Scrape.do",
    kind="api",
    api_hosts=("api.scrape.do",),
    docs_url=_DOCS,
    sources=(_DOCS,),
    rules=(
        _r(400, C.VALIDATION, A.PASS, S.REQUEST,
           "A bad request, either for Scrape.do (not billed) or for the target "
           "(billed); the reply alone does not say which.",
           "Check the request's parameters and the target URL."),
        _r(401, C.QUOTA, A.STOP, S.ACCOUNT,
           "No credits left, or the subscription is suspended.",
           "Top up or reactivate the Scrape.do subscription."),
        _r(429, C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
           "The plan's concurrency limit is exceeded (not billed).",
           "Lower CONCURRENT_REQUESTS to the plan's limit."),
        _r(502, C.UPSTREAM, A.RETRY, S.REQUEST,
           "The request failed (not billed).", "Retried with backoff."),
        # The client (this crawl) gave up on the request; seeing the reply at
        # all means it was not this crawl, so it is retried.
        _r(510, C.TIMEOUT, A.RETRY, S.REQUEST,
           "The request was cancelled by the HTTP client (not billed).",
           "Retried; keep DOWNLOAD_TIMEOUT above Scrape.do's own timeout."),
    ),
)
