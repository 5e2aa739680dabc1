"""ScrapeOps Proxy Aggregator: the status decides.

A 500 comes only after ScrapeOps retried for up to two minutes, and is not
billed; keep ``DOWNLOAD_TIMEOUT`` above that.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://scrapeops.io/docs/proxy-aggregator/"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix, docs=_DOCS)


SCRAPEOPS = Profile(
    name="scrapeops",
    title="ScrapeOps Proxy Aggregator",
    kind="api",
    api_hosts=("proxy.scrapeops.io",),
    docs_url=_DOCS,
    sources=(_DOCS,),
    rules=(
        _r(401, C.QUOTA, A.STOP, S.ACCOUNT,
           "The plan's API credits are used up.", "Upgrade the plan or wait for renewal."),
        _r(403, C.AUTH, A.STOP, S.ACCOUNT,
           "The api_key is missing or invalid.", "Send a valid api_key."),
        _r(429, C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
           "The plan's concurrency limit is exceeded.",
           "Lower CONCURRENT_REQUESTS to the plan's limit."),
        _r(500, C.UPSTREAM, A.RETRY, S.REQUEST,
           "ScrapeOps could not fetch the page after retrying for up to two minutes "
           "(not billed).",
           "Retried with backoff; keep DOWNLOAD_TIMEOUT above 120 s."),
    ),
)
