"""Thordata: ``X-thor-error-code`` and ``X-thor-error-msg`` on its proxy replies.

Only the first rows of Thordata's error table were collected; other codes
fall to the status rules of the generic profile, with Thordata's code kept.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://doc.thordata.com/doc/proxies/proxy-troubleshooting"

THORDATA = Profile(
    name="thordata",
    title="Thordata",
    kind="proxy",
    code_headers=("X-thor-error-code",),
    detail_headers=("X-thor-error-msg", "X-thor-error"),
    signature_headers=("X-thor-error-code",),
    docs_url=_DOCS,
    sources=(_DOCS,),
    rules=(
        # Parameters of the proxy username: every request with them fails.
        Rule(400, "client_101", C.VALIDATION, A.STOP, S.ACCOUNT,
             "The region parameter is not one Thordata supports.",
             "Fix the region in the proxy username to one of Thordata's regions.",
             docs=_DOCS),
        Rule(400, "client_102", C.VALIDATION, A.STOP, S.ACCOUNT,
             "The proxy protocol does not match what the node supports.",
             "Use a protocol (HTTP/HTTPS or SOCKS5) the endpoint supports.",
             docs=_DOCS),
    ),
)
