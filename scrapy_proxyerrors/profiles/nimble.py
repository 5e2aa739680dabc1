"""Nimble IP: the status line only, so the profile is used only when named.

Nimble marks nothing else on its errors, and a target's 403 through the
proxy looks like Nimble's own: name the provider (``PROXYERRORS_PROVIDER``
or request meta) to use it.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.nimbleway.com/scraping-infrastructure/nimble-ip-quick-start-guide/response-codes"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix, docs=_DOCS)


NIMBLE = Profile(
    name="nimble",
    title="Nimble IP",
    kind="proxy",
    docs_url=_DOCS,
    sources=(_DOCS,),
    rules=(
        _r(402, C.QUOTA, A.STOP, S.ACCOUNT,
           "The trial quota or the credits are used up.",
           "Ask Nimble to raise the quota or add credits."),
        # One status for two causes: a disabled pipeline (nothing works) or
        # a forbidden site (only that site). Dropping each request is right
        # for the second; for the first, every request drops.
        _r(403, C.TARGET, A.DROP, S.REQUEST,
           "The pipeline is disabled or the site is on Nimble's forbidden list (the "
           "status alone does not say which).",
           "If every request gets it, the pipeline is disabled: ask the account manager."),
        _r(407, C.AUTH, A.STOP, S.ACCOUNT,
           "Proxy authentication failed.",
           "Check the account, pipeline name and password in the proxy credentials."),
        _r(522, C.TIMEOUT, A.RETRY, S.REQUEST,
           "The connection to the proxy timed out during CONNECT.", "Retried with backoff."),
        _r(525, C.NODE, A.RETRY, S.REQUEST,
           "No IP matches the request's targeting right now.",
           "Retried later; broaden the targeting if it persists."),
    ),
)
