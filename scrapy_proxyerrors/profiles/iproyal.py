"""IPRoyal residential proxies: three documented statuses, no code."""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.iproyal.com/proxies/residential/proxy/making-requests/response-codes"

# Like NetNut, IPRoyal marks its replies with nothing but the status: it is
# used when named or matched by a user profile's proxy_hosts.
IPROYAL = Profile(
    name="iproyal",
    title="IPRoyal",
    kind="proxy",
    # ``_session-<id>`` in the proxy credentials.
    session_param="session",
    docs_url=_DOCS,
    rules=(
        Rule(500, None, C.INTERNAL, A.RETRY, S.REQUEST,
             "IPRoyal hit an internal error.", "Retried; contact IPRoyal if it persists.",
             docs=_DOCS),
        # Like a node shortage elsewhere: worth a few tries, but the lasting
        # fix is broader filters.
        Rule(503, None, C.NODE, A.RETRY, S.REQUEST,
             "No exit node matches the requested filters.",
             "Broaden the country/city filters in the proxy credentials.", docs=_DOCS),
        Rule(504, None, C.NODE, A.RETRY, S.REQUEST,
             "The chosen exit node could not connect (usually a passing network fault).",
             "Retried with backoff.", docs=_DOCS),
    ),
)
