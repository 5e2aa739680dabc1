"""NetNut proxies: the status line is the only signal (custom 490 for targeting)."""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://help.netnut.io/netnut-documentation/netnut-proxies/residential-proxies/error-messages"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix, docs=_DOCS)


# NetNut sends no header or body to recognise it by: it is used when named
# (``provider="netnut"``) or matched by a user profile's proxy_hosts.
NETNUT = Profile(
    name="netnut",
    title="NetNut",
    kind="proxy",
    docs_url=_DOCS,
    rules=(
        _r(400, C.VALIDATION, A.DROP, S.REQUEST,
           "NetNut could not read the request (no host, or a malformed URL).",
           "Fix the request URL."),
        _r(403, C.TARGET, A.DROP, S.REQUEST,
           "NetNut's content policy blocks this website.",
           "Do not crawl this website through NetNut."),
        _r(407, C.AUTH, A.STOP, S.ACCOUNT,
           "NetNut refused the proxy credentials.",
           "Check the username and password in the proxy URL."),
        # The targeting in the username cannot be served (no IPs in the
        # country, unknown group): the same for every request using it.
        _r(490, C.VALIDATION, A.STOP, S.ACCOUNT,
           "The access point is invalid: no IPs in the requested country, or no such group.",
           "Fix the country or group targeting in the proxy username."),
        _r(500, C.INTERNAL, A.RETRY, S.REQUEST,
           "NetNut hit an internal error.", "Retried later."),
        # The sticky IP went away: a new session id gets a new one at once.
        _r(502, C.NODE, A.ROTATE, S.ROUTE,
           "The IP assigned to this session is no longer available.",
           "Retried with a new session id."),
        _r(503, C.UPSTREAM, A.RETRY, S.REQUEST,
           "A proxy error, or the target refused the connection.", "Retried with backoff."),
        _r(522, C.TIMEOUT, A.RETRY, S.REQUEST,
           "The proxy got no answer from the target in time.", "Retried with backoff."),
    ),
)
