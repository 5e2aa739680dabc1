"""Scrapfly: ``ERR::<AREA>::<NAME>`` codes, each flagged retryable or not.

The code travels in ``X-Scrapfly-Reject-Code`` and in the JSON body's
``result.error.code`` (API-level errors put it at the top: ``code``), with
``X-Scrapfly-Reject-Retryable`` / ``retryable`` saying whether sending the
request again can work. That flag is read as a :class:`~.._profile.Hint`, so
the many codes need no rule each; rules exist only where the flag alone
would do the wrong thing (an account suspension is flagged retryable, a
throttle wants a pause, not a quick retry).
"""

from __future__ import annotations

from .._profile import Hint, Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://scrapfly.io/docs/scrape-api/errors"


def _r(status: int, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix,
                docs=f"https://scrapfly.io/docs/scrape-api/error/{code}")


_RETRYABLE = Rule(
    None, None, C.UPSTREAM, A.RETRY, S.REQUEST,
    "Scrapfly flagged this error retryable (it already retried inside).",
    "Retried with backoff; the code's doc_url explains the cause.", docs=_DOCS,
)
_FINAL = Rule(
    None, None, C.VALIDATION, A.DROP, S.REQUEST,
    "Scrapfly flagged this error not retryable: the same request fails the same way.",
    "Fix the request or its options; the code's doc_url explains the cause.", docs=_DOCS,
)

SCRAPFLY = Profile(
    name="scrapfly",
    title="Scrapfly",
    kind="api",
    code_headers=("X-Scrapfly-Reject-Code",),
    detail_headers=("X-Scrapfly-Reject-Description",),
    json_code=(("result", "error", "code"), ("code",)),
    json_message=(("result", "error", "message"), ("message",)),
    json_request_id=(("result", "error", "error_id"), ("error_id",)),
    api_hosts=("api.scrapfly.io",),
    hints=(
        Hint(
            rules=(("true", _RETRYABLE), ("false", _FINAL)),
            header="X-Scrapfly-Reject-Retryable",
        ),
        Hint(rules=(("true", _RETRYABLE), ("false", _FINAL)),
             json_path=("result", "error", "retryable")),
        Hint(rules=(("true", _RETRYABLE), ("false", _FINAL)), json_path=("retryable",)),
    ),
    docs_url=_DOCS,
    sources=(_DOCS, "https://scrapfly.io/docs/scrape-api/error/{code} (one page per code)"),
    rules=(
        # Flagged retryable, but nothing works until the account is sorted out.
        _r(429, "ERR::ACCOUNT::SUSPENDED", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "The Scrapfly account is suspended (flagged retryable, but no retry can help).",
           "Check the account's billing and status in the Scrapfly dashboard."),
        _r(429, "ERR::THROTTLE::MAX_CONCURRENT_REQUEST_EXCEEDED", C.CONCURRENCY, A.SLOWDOWN,
           S.ACCOUNT,
           "More concurrent requests than the project's throttle allows.",
           "Lower CONCURRENT_REQUESTS, or raise the project's concurrency throttle."),
        _r(429, "ERR::THROTTLE::MAX_REQUEST_RATE_EXCEEDED", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "Too many requests in the throttle's one-minute window.",
           "Retried after a pause; lower the request rate or the project's rate throttle."),
        # Flagged retryable, but the budget does not refill within a crawl.
        _r(429, "ERR::THROTTLE::MAX_API_CREDIT_BUDGET_EXCEEDED", C.QUOTA, A.STOP, S.ACCOUNT,
           "The project's API credit budget is spent (flagged retryable: it refills "
           "only when the budget period ends).",
           "Raise the project's credit budget, or resume the crawl after it resets."),
        # The docs give no retryable flag for it: no free browser is a
        # capacity condition on Scrapfly's side, so it is retried.
        _r(422, "ERR::SCRAPE::NO_BROWSER_AVAILABLE", C.INTERNAL, A.RETRY, S.REQUEST,
           "No browser was free for a rendering request (whether it is retryable, "
           "the docs leave open).",
           "Retried with backoff; contact Scrapfly if it persists."),
    ),
)
