"""ScraperAPI: the status only. It retries inside for up to 70 seconds first.

Only 200 and 404 are billed; a 500 comes after ScraperAPI's own retries and
costs nothing to send again. What 403 and 429 mean here is not confirmed,
so they have no rule of their own (the generic status rules apply).
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.scraperapi.com/"

SCRAPERAPI = Profile(
    name="scraperapi",
    title="ScraperAPI",
    kind="api",
    api_hosts=("api.scraperapi.com",),
    docs_url=_DOCS,
    sources=(_DOCS,),
    rules=(
        Rule(500, None, C.UPSTREAM, A.RETRY, S.REQUEST,
             "ScraperAPI could not fetch the page within its 70 seconds of retries "
             "(not billed).",
             "Retried with backoff; keep DOWNLOAD_TIMEOUT above 70 s.", docs=_DOCS),
        # The target's own 404, passed through and billed: the spider decides.
        Rule(404, None, C.TARGET, A.PASS, S.REQUEST,
             "The target answered 404 (billed).", "Nothing to do: the page does not exist.",
             docs=_DOCS),
    ),
)
