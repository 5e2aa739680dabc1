"""ScrapingAnt: the status decides; the JSON body's ``detail`` explains."""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.scrapingant.com/"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix, docs=_DOCS)


SCRAPINGANT = Profile(
    name="scrapingant",
    title="ScrapingAnt",
    kind="api",
    json_message=(("detail",),),
    api_hosts=("api.scrapingant.com",),
    docs_url=_DOCS,
    sources=(_DOCS,),
    rules=(
        # One status for a wrong token and for spent credits: both need a human.
        _r(403, C.AUTH, A.STOP, S.ACCOUNT,
           "The API token is wrong, or the plan's credits are exceeded (the detail "
           "says which).",
           "Check the x-api-key token and the credits left in the dashboard."),
        _r(409, C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
           "The plan's concurrency limit is reached (free plan).",
           "Lower CONCURRENT_REQUESTS to the plan's limit."),
        _r(422, C.VALIDATION, A.DROP, S.REQUEST,
           "A parameter has an invalid value.", "Fix the value the detail names."),
        _r(423, C.TARGET, A.RETRY, S.REQUEST,
           "The target's anti-bot protection detected the request.",
           "Retried; try browser rendering or residential proxies for this site."),
        _r(500, C.INTERNAL, A.RETRY, S.REQUEST,
           "ScrapingAnt failed internally.", "Retried with backoff."),
    ),
)
