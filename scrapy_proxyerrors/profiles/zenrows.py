"""ZenRows: error codes (``REQS001``, ``AUTH001``, ``BLK0001``) in the error body.

The codes and their statuses are documented; the shape of the body is not
confirmed (a problem document per one secondary source), so the code is read
from a top-level ``code`` member and, failing that, from the problem
document's ``title``. ZenRows blocks client IPs that send too many faulty
requests: ``BLK0001`` stops the crawl rather than provoke more.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.zenrows.com/"


def _r(status: int | None, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=_DOCS)


_BAD_REQUEST = "ZenRows rejected the request ({code}; the docs collected do not say more)."
_FIX_REQUEST = "Fix the request's parameters; the error body names the problem."


def _bad(code: str) -> Rule:
    return _r(400, code, C.VALIDATION, A.DROP, S.REQUEST,
              _BAD_REQUEST.format(code=code), _FIX_REQUEST)


def _auth(code: str) -> Rule:
    return _r(401, code, C.AUTH, A.STOP, S.ACCOUNT,
              f"ZenRows refused the API key ({code}).",
              "Check the apikey parameter against the ZenRows dashboard.")


ZENROWS = Profile(
    name="zenrows",
    title="ZenRows",
    kind="api",
    json_code=(("code",),),
    json_message=(("detail",), ("title",), ("message",)),
    problem_json=True,
    problem_code="title",
    api_hosts=("api.zenrows.com",),
    docs_url=_DOCS,
    sources=(_DOCS,),
    rules=(
        _bad("REQS001"),
        _bad("REQS002"),
        _bad("REQS004"),
        _bad("REQS006"),
        _bad("RESP004"),
        _bad("RESP008"),
        _auth("AUTH001"),
        _auth("AUTH002"),
        _auth("AUTH003"),
        _r(403, "AUTH009", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "ZenRows refused the account access (AUTH009; the docs collected do not "
           "say more).",
           "Check the account's plan and status in the ZenRows dashboard."),
        # No status given for it: the code alone decides.
        _r(None, "BLK0001", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "ZenRows blocked this machine's IP address after too many faulty requests.",
           "Fix what made the requests fail, then ask ZenRows to lift the block."),
    ),
)
