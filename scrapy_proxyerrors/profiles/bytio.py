"""Bytio: the status decides, with a ``bytio-error`` header on its own replies.

``bytio-error`` comes on Bytio's own errors, on the CONNECT reply as well,
so it identifies the provider and carries the detail; the status picks the
rule. The sources collected do not record the docs' address.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_SOURCE = "Bytio's public proxy docs (collected in more-providers.md, 2026-12; URL not recorded)"


def _r(status: int, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, None, cat, act, scope, meaning, fix)


BYTIO = Profile(
    name="bytio",
    title="Bytio",
    kind="proxy",
    detail_headers=("bytio-error",),
    signature_headers=("bytio-error",),
    sources=(_SOURCE,),
    rules=(
        _r(400, C.VALIDATION, A.STOP, S.ACCOUNT,
           "An invalid argument, or the zone is not enabled.",
           "Fix the proxy username's parameters, or enable the zone."),
        _r(402, C.QUOTA, A.STOP, S.ACCOUNT,
           "Payment required: the balance is used up.", "Top up the Bytio account."),
        _r(403, C.ACCOUNT, A.STOP, S.ACCOUNT,
           "The user or the zone is disabled.", "Re-enable the user or zone in the dashboard."),
        _r(404, C.SESSION, A.ROTATE, S.ROUTE,
           "The session is no longer available.", "Retried with a new session id."),
        _r(407, C.AUTH, A.STOP, S.ACCOUNT,
           "Wrong API key.", "Check the API key in the proxy credentials."),
        _r(429, C.CONCURRENCY, A.SLOWDOWN, S.ACCOUNT,
           "Too many connections at once.", "Lower CONCURRENT_REQUESTS."),
    ),
)
