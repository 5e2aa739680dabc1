"""Squid, the common self-hosted forward proxy: ``X-Squid-Error: ERR_NAME errno``.

Squid names the error page it served, then an errno (``ERR_CONNECT_FAIL 111``)
or ``0``; the page name is the code, the whole value is kept as the detail so
the errno is not lost. Squid has no host of its own (it runs wherever its
operator puts it), so it is found by its header or named explicitly.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_TEMPLATES = "https://github.com/squid-cache/squid/blob/master/errors/templates"


def _r(status: int, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    # Each error page is a template in Squid's source tree: link the template.
    return Rule(status, code, cat, act, scope, meaning, fix, docs=f"{_TEMPLATES}/{code}")


SQUID = Profile(
    name="squid",
    title="Squid",
    kind="proxy",
    code_headers=("X-Squid-Error",),
    # The page name, without the errno that follows it.
    code_regex=r"^\s*([A-Za-z][A-Za-z0-9_]*)",
    detail_headers=("X-Squid-Error",),
    signature_headers=("X-Squid-Error",),
    docs_url=_TEMPLATES,
    rules=(
        _r(407, "ERR_CACHE_ACCESS_DENIED", C.AUTH, A.STOP, S.ACCOUNT,
           "Squid wants proxy credentials, or rejected the ones sent.",
           "Put a valid user:password in the proxy URL; check the proxy's auth helper and password file."),
        # An ACL said no to this request (its destination, port or method);
        # other requests through the same proxy may still be allowed.
        _r(403, "ERR_ACCESS_DENIED", C.TARGET, A.DROP, S.REQUEST,
           "A Squid access rule (http_access) forbids this request.",
           "Ask the proxy operator to allow this destination, or use another proxy for it."),
        _r(503, "ERR_DNS_FAIL", C.UPSTREAM, A.DROP, S.REQUEST,
           "Squid could not resolve the target's host name.",
           "Check the host name in the URL; check the proxy's DNS settings if every name fails."),
        # Refused or unreachable: a server that is restarting refuses for a
        # moment, so this is worth a retry after a pause.
        _r(503, "ERR_CONNECT_FAIL", C.UPSTREAM, A.RETRY, S.REQUEST,
           "Squid could not open a connection to the target (refused or unreachable).",
           "Retried with backoff; if it persists, check that the target host and port are up."),
        _r(504, "ERR_READ_TIMEOUT", C.TIMEOUT, A.RETRY, S.REQUEST,
           "The target stopped sending data before Squid's read timeout.",
           "Retried with backoff; raise read_timeout on the proxy if the target is slow."),
        _r(504, "ERR_LIFETIME_EXP", C.TIMEOUT, A.RETRY, S.REQUEST,
           "The request took longer than Squid allows a connection to live.",
           "Retried with backoff; raise client_lifetime on the proxy for long downloads."),
        _r(400, "ERR_INVALID_URL", C.VALIDATION, A.DROP, S.REQUEST,
           "Squid could not parse the requested URL.",
           "Fix the URL (scheme, host, port)."),
        _r(403, "ERR_TOO_BIG", C.UPSTREAM, A.DROP, S.REQUEST,
           "The request or the reply is larger than the proxy's size limits.",
           "Raise request_body_max_size / reply_body_max_size on the proxy, or skip this item."),
        _r(502, "ERR_ZERO_SIZE_OBJECT", C.UPSTREAM, A.RETRY, S.REQUEST,
           "The target closed the connection without sending a reply.",
           "Retried with backoff; check the target if it keeps happening."),
    ),
)
