"""proxies.fo residential gateway: custom statuses 452-455 and a plaintext body."""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.proxies.fo/errors"
_TARGETING = "Fix the targeting modifier in the proxy username."

PROXIESFO = Profile(
    name="proxiesfo",
    title="proxies.fo",
    kind="proxy",
    plaintext_body=True,
    proxy_hosts=("*.proxies.fo",),
    session_param="session",
    docs_url=_DOCS,
    rules=(
        Rule(400, None, C.VALIDATION, A.DROP, S.REQUEST,
             "The proxy could not parse the HTTP request.",
             "Check that the client sends a valid request line or CONNECT.", docs=_DOCS),
        Rule(407, None, C.AUTH, A.STOP, S.ACCOUNT,
             "Wrong username or password, or an unrecognised targeting modifier.",
             "Check the credentials and modifiers in the dashboard.", docs=_DOCS),
        Rule(417, None, C.PROTOCOL, A.DROP, S.REQUEST,
             "The request sent an Expect: header the proxy cannot satisfy.",
             "Remove the Expect header from the request.", docs=_DOCS),
        Rule(452, None, C.QUOTA, A.STOP, S.ACCOUNT,
             "The plan's bandwidth is used up.", "Top up or upgrade the plan.", docs=_DOCS),
        Rule(453, None, C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
             "More concurrent connections than the plan allows.",
             "Lower CONCURRENT_REQUESTS or upgrade the plan.", docs=_DOCS),
        Rule(454, "invalid-country-code", C.VALIDATION, A.STOP, S.ACCOUNT,
             "The country- modifier is not a recognised country.",
             "Use a lowercase ISO 3166-1 alpha-2 code (us, de, jp).", docs=_DOCS,
             body="invalid country code"),
        Rule(454, "invalid-state-code", C.VALIDATION, A.STOP, S.ACCOUNT,
             "The state- modifier is not recognised for the chosen country.",
             "Use the standard subdivision code.", docs=_DOCS, body="invalid state code"),
        Rule(454, "invalid-city-code", C.VALIDATION, A.STOP, S.ACCOUNT,
             "The city- modifier is not recognised, or no IPs serve that city.",
             "Use city-ran to let the network pick a city in the state.", docs=_DOCS,
             body="invalid city code"),
        Rule(454, None, C.VALIDATION, A.STOP, S.ACCOUNT,
             "A targeting modifier is invalid.", _TARGETING, docs=_DOCS),
        Rule(455, None, C.VALIDATION, A.STOP, S.ACCOUNT,
             "The ttl- value is outside the allowed range.",
             "Use a positive ttl-<minutes> within the supported lifetime.", docs=_DOCS),
        Rule(500, None, C.INTERNAL, A.RETRY, S.REQUEST,
             "An unexpected error inside proxies.fo.",
             "Retry; contact support with a timestamp if it repeats.", docs=_DOCS),
        Rule(502, None, C.UPSTREAM, A.RETRY, S.REQUEST,
             "The target could not be reached (DNS, refusal, transient network issue).",
             "Retry with backoff.", docs=_DOCS),
        Rule(503, None, C.INTERNAL, A.RETRY, S.REQUEST,
             "A transient internal error.", "Retry with backoff; contact support if it persists.",
             docs=_DOCS),
    ),
)
