"""Zyte Smart Proxy Manager (formerly Crawlera): ``X-Crawlera-Error`` on ``proxy.zyte.com``.

Every SPM reply carries ``X-Crawlera-Version``, errors add ``X-Crawlera-Error``
with a short code. Only ``proxy.zyte.com`` is claimed by host: Zyte API's proxy
mode lives on ``api.zyte.com`` (same port, 8011) and speaks another dialect
(see :mod:`.zyte_api`).

Once a session's per-IP soft limit is reached, replies carry
``X-Crawlera-Next-Request-In``: the milliseconds to wait before the next
request on that session, a wait read like ``Retry-After``.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.zyte.com/smart-proxy-manager/errors.html"


def _r(status: int, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=_DOCS)


_NEW_SESSION = "Start a new session (X-Crawlera-Session: create) and retry with it."

ZYTE_SPM = Profile(
    name="zyte_spm",
    title="Zyte Smart Proxy Manager",
    kind="proxy",
    code_headers=("X-Crawlera-Error",),
    signature_headers=("X-Crawlera-Error", "X-Crawlera-Version"),
    proxy_hosts=("proxy.zyte.com",),
    wait_headers=(("X-Crawlera-Next-Request-In", 0.001),),
    docs_url=_DOCS,
    sources=(_DOCS, "https://docs.zyte.com/smart-proxy-manager/sessions.html"),
    rules=(
        # SPM already retried from other IPs before saying "banned"; another
        # try later usually works, and Retry-After (when sent) sets the pause.
        _r(503, "banned", C.TARGET, A.RETRY, S.REQUEST,
           "Every download attempt inside SPM was banned by the target.",
           "Retried after Retry-After; lower the crawl rate for this site if it persists."),
        # No capacity: pausing the whole account is kinder than hammering it.
        _r(503, "noslaves", C.NODE, A.SLOWDOWN, S.ACCOUNT,
           "SPM had no free outgoing IP for this request.",
           "Back off and lower the request rate; retries resume after the pause."),
        _r(503, "serverbusy", C.INTERNAL, A.SLOWDOWN, S.ACCOUNT,
           "SPM is overloaded.",
           "Back off and lower the request rate; retries resume after the pause."),
        _r(407, "bad_proxy_auth", C.AUTH, A.STOP, S.ACCOUNT,
           "The SPM API key in the proxy credentials is missing or wrong.",
           "Use the SPM API key as the proxy username, with an empty password."),
        _r(429, "too_many_conns", C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
           "More concurrent connections than the SPM plan allows.",
           "Lower CONCURRENT_REQUESTS to the plan's connection limit."),
        _r(400, "bad_session_id", C.SESSION, A.ROTATE, S.ROUTE,
           "The session id sent in X-Crawlera-Session is unknown or expired.",
           _NEW_SESSION),
        _r(400, "user_session_limit", C.SESSION, A.ROTATE, S.ROUTE,
           "The account already holds as many sessions as it may.",
           "Reuse open sessions or let old ones expire before creating new ones."),
        # The target side failed; SPM relays what happened to its connection.
        _r(502, "nxdomain", C.UPSTREAM, A.DROP, S.REQUEST,
           "The target's host name does not resolve.",
           "Check the host name in the URL."),
        _r(502, "econnrefused", C.UPSTREAM, A.RETRY, S.REQUEST,
           "The target refused SPM's connection.",
           "Retried with backoff; check that the target is up if it persists."),
        _r(502, "econnreset", C.UPSTREAM, A.RETRY, S.REQUEST,
           "The target reset SPM's connection.",
           "Retried with backoff; check that the target is up if it persists."),
        _r(504, "timeout", C.TIMEOUT, A.RETRY, S.REQUEST,
           "The target did not answer SPM in time.",
           "Retried with backoff; keep DOWNLOAD_TIMEOUT above SPM's own timeout."),
        _r(504, "msgtimeout", C.TIMEOUT, A.RETRY, S.REQUEST,
           "SPM's message to the target timed out.",
           "Retried with backoff; keep DOWNLOAD_TIMEOUT above SPM's own timeout."),
        _r(523, "domain_forbidden", C.TARGET, A.DROP, S.REQUEST,
           "SPM does not serve this domain.",
           "Do not crawl this domain through SPM; ask Zyte support if unexpected."),
    ),
)
