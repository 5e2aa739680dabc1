"""Apify Proxy: custom 59x statuses in place of a bare 502, on ``proxy.apify.com``.

Apify Proxy is built on Apify's open-source ``proxy-chain``, which answers
with a status of its own for each way the upstream leg fails (590-599). The
reply carries no code header, so the profile is found by its host.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.apify.com/platform/proxy/usage"
_CHAIN = "https://github.com/apify/proxy-chain"


def _r(status: int, cat: C, act: A, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, S.REQUEST, meaning, fix, docs=_DOCS)


_RETRY = "Retried with backoff (a new connection may take another upstream)."

APIFY = Profile(
    name="apify",
    title="Apify Proxy",
    kind="proxy",
    proxy_hosts=("proxy.apify.com",),
    docs_url=_DOCS,
    sources=(_DOCS, _CHAIN + " (src/statuses.ts)"),
    rules=(
        _r(590, C.UPSTREAM, A.RETRY,
           "The upstream answered CONNECT with a non-2xx status.", _RETRY),
        _r(592, C.UPSTREAM, A.RETRY,
           "The upstream answered with a status outside 100-999.", _RETRY),
        _r(593, C.UPSTREAM, A.DROP,
           "The target's host name did not resolve (DNS lookup failed).",
           "Check the host name in the URL."),
        _r(594, C.UPSTREAM, A.RETRY, "The upstream refused the connection.", _RETRY),
        _r(595, C.UPSTREAM, A.RETRY,
           "The connection was reset (lost or timed out).", _RETRY),
        _r(596, C.UPSTREAM, A.RETRY,
           "The connection broke while writing (broken pipe).", _RETRY),
        # Documented as "incorrect upstream credentials"; what that means for
        # an Apify Proxy user (their password, or Apify's own upstream) the
        # docs leave open: a few retries, and the fix names both.
        _r(597, C.INTERNAL, A.RETRY,
           "The upstream refused the proxy's credentials (for an Apify Proxy user the "
           "docs leave open whose credentials).",
           "Retried; if it repeats, check the proxy password and groups in Apify Console."),
        _r(599, C.UPSTREAM, A.RETRY, "A generic upstream error.", _RETRY),
    ),
)
