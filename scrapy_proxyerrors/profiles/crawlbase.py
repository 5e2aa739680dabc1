"""Crawlbase (formerly ProxyCrawl): two statuses, Crawlbase's and the crawl's.

The reply's own status is Crawlbase's verdict on the API call (401 token,
402 credits, 429 concurrency, ...). Once the call went through, the reply is
a 200 and the crawl's outcome is the ``pc_status`` header (``pc_status: 503``
when the page was a CAPTCHA); ``original_status`` is the target's own status,
kept out of the decision (a target's 404 is the spider's business, and
Crawlbase reports it in ``pc_status`` too). ``pc_status`` values fall in two
documented classes, read as a hint: transient ones are retried (Crawlbase
does not bill them), terminal ones dropped.
"""

from __future__ import annotations

from .._profile import Hint, Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://crawlbase.com/docs/status-codes"
_RESPONSE_DOCS = "https://crawlbase.com/docs/crawling-api/response"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix, docs=_DOCS)


_TRANSIENT = Rule(
    None, None, C.UPSTREAM, A.RETRY, S.REQUEST,
    "Crawlbase's crawl of the page failed transiently (pc_status; e.g. a CAPTCHA "
    "page is 503); such replies are not billed.",
    "Retried with backoff.", docs=_DOCS,
)
_TERMINAL = Rule(
    None, None, C.TARGET, A.DROP, S.REQUEST,
    "Crawlbase's crawl of the page failed for good (pc_status: the page is gone, "
    "refused, or the request is malformed).",
    "Check the URL; the page cannot be fetched as it is.", docs=_DOCS,
)

CRAWLBASE = Profile(
    name="crawlbase",
    title="Crawlbase",
    kind="api",
    api_hosts=("api.crawlbase.com",),
    status_headers=("pc_status",),
    hints=(
        Hint(
            rules=tuple(
                [(str(s), _TRANSIENT) for s in (429, 500, 503, 522, 599)]
                + [(str(s), _TERMINAL) for s in (401, 402, 403, 404, 410, 422, 451)]
            ),
            header="pc_status",
            # Only inside a 200: on Crawlbase's own 4xx the outer status decides.
            inside_2xx=True,
        ),
    ),
    docs_url=_DOCS,
    sources=(_DOCS, _RESPONSE_DOCS),
    rules=(
        _r(401, C.AUTH, A.STOP, S.ACCOUNT,
           "The Crawlbase token is missing or invalid.",
           "Use a valid token; check that it was not reset in the dashboard."),
        _r(402, C.QUOTA, A.STOP, S.ACCOUNT,
           "The Crawlbase credits are used up or the trial is over.",
           "Top up the account."),
        _r(403, C.AUTH, A.STOP, S.ACCOUNT,
           "The token is of the wrong type for this product (normal vs JavaScript).",
           "Use the token type the request needs."),
        _r(422, C.VALIDATION, A.DROP, S.REQUEST,
           "Crawlbase could not read the request, usually a missing or unencoded URL.",
           "URL-encode the url parameter."),
        # 20 concurrent requests per token by default; 429 carries Retry-After.
        _r(429, C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
           "The token's concurrency limit is reached (20 requests at once by default).",
           "Lower CONCURRENT_REQUESTS to the token's limit; retried after Retry-After."),
        _r(500, C.INTERNAL, A.RETRY, S.REQUEST,
           "Crawlbase failed internally.", "Retried with backoff."),
        _r(503, C.INTERNAL, A.RETRY, S.REQUEST,
           "Crawlbase is temporarily unavailable.", "Retried with backoff."),
    ),
)
