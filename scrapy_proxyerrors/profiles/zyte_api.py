"""Zyte API: RFC 9457 problem documents over HTTP, ``Zyte-Error-Type`` in proxy mode.

The HTTP API (``api.zyte.com/v1/extract``) answers errors with problem+json;
its ``type`` (``/limits/over-user-limit``) is the code. Proxy mode
(``api.zyte.com:8011``) sends the same type in a ``Zyte-Error-Type`` header
(the header Zyte's own clients read; no source shows a ``Zyte-Error`` header
was ever sent), so this one profile serves both transports: the host is
claimed as an API host and as a proxy host.

Types that only a secondary source lists (``/limits/over-org-domain-limit``,
``/download/domain-forbidden``, ...) have no rule of their own: they get the
status rules of the generic profile.
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.zyte.com/zyte-api/usage/errors.html"
_PROXY_DOCS = "https://docs.zyte.com/zyte-api/usage/proxy-mode.html"


def _r(status: int | None, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=_DOCS)


ZYTE_API = Profile(
    name="zyte_api",
    title="Zyte API",
    # "any": the HTTP API is an API, proxy mode is a proxy; both are Zyte's.
    kind="any",
    code_headers=("Zyte-Error-Type",),
    detail_headers=("Zyte-Error-Title",),
    request_id_headers=("Zyte-Request-Id",),
    # ``type`` is read directly as well, because not every error body is
    # labelled application/problem+json.
    json_code=(("type",),),
    json_message=(("detail",), ("title",)),
    problem_json=True,
    api_hosts=("api.zyte.com",),
    proxy_hosts=("api.zyte.com",),
    signature_headers=("Zyte-Error-Type",),
    docs_url=_DOCS,
    sources=(_DOCS, _PROXY_DOCS, "scrapy-zyte-smartproxy 2.4.1 (reads Zyte-Error-Type)"),
    rules=(
        # Rate limits are part of normal use: pause and retry, never give up.
        _r(429, "/limits/over-user-limit", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "The account's request-rate limit was exceeded.",
           "Retried after a pause; lower the request rate or ask Zyte for a higher limit."),
        # A limit of one target website, shared by every Zyte customer: only
        # requests to that site wait; pausing the API host would hold every site.
        _r(429, "/limits/over-domain-limit", C.RATE_LIMIT, A.SLOWDOWN, S.SITE,
           "The request rate for this website was exceeded.",
           "Retried after a pause for this site only; other websites keep flowing."),
        _r(503, "/limits/over-global-limit", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "Zyte API as a whole is at capacity.",
           "Retried after a pause."),
        # Usually a ban Zyte API could not get past this time: a few more
        # tries are worth it (the retry limit caps them).
        _r(520, "/download/temporary-error", C.TARGET, A.RETRY, S.REQUEST,
           "The download failed, most often because the website banned it.",
           "Retried a few times; if it keeps failing, the website is resisting Zyte API."),
        _r(521, "/download/internal-error", C.INTERNAL, A.RETRY, S.REQUEST,
           "Zyte API failed internally while downloading.",
           "Retried with backoff; report it to Zyte if it persists."),
        # Every /request/* problem (400 and 422) is a request that will be
        # rejected the same way however often it is sent.
        _r(None, "/request/*", C.VALIDATION, A.DROP, S.REQUEST,
           "Zyte API rejected the request parameters.",
           "Fix the request; the problem's detail names the bad parameter."),
        # More specific than the /request/* family: its own wording.
        _r(431, "/request/header-size", C.VALIDATION, A.DROP, S.REQUEST,
           "The request's headers are too large.",
           "Send fewer or shorter headers (cookies, custom headers)."),
        _r(401, "/auth/key-not-found", C.AUTH, A.STOP, S.ACCOUNT,
           "The Zyte API key is missing or unknown.",
           "Use a valid Zyte API key (as the proxy username in proxy mode)."),
        # Proxy mode's twin of /auth/key-not-found.
        _r(407, "/auth/proxy-auth-not-valid", C.AUTH, A.STOP, S.ACCOUNT,
           "Proxy mode refused the credentials: the API key is missing or unknown.",
           "Use a valid Zyte API key as the proxy username, with an empty password."),
        # Not retryable until someone resolves it.
        _r(403, "/auth/account-suspended", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "The account is suspended: the trial credit is used up or the spending "
           "limit is reached.",
           "Add billing details or raise the spending limit in the Zyte dashboard."),
    ),
)
