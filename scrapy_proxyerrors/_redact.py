"""Keep secrets out of logs, stats, exception messages and reports."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from scrapy.utils.url import strip_url

from ._routes import basic_credentials

if TYPE_CHECKING:
    from collections.abc import Iterable

    from scrapy.http.headers import Headers

_MASK = "***"
# user:password@ in any URL-looking text, and api_key=... style parameters.
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]*(?::[^/@\s]*)?@", re.I)
_KEY_PARAM = re.compile(
    r"(?P<name>(?:api[_-]?key|apikey|key|token|access[_-]?token|password|passwd|secret)=)"
    r"[^&\s'\"]+",
    re.I,
)
#: Query parameter names whose values are secrets (the names _KEY_PARAM masks).
_KEY_NAME = re.compile(r"(?:api[_-]?key|apikey|key|token|access[_-]?token|password|passwd|secret)$",
                       re.I)
#: Request headers whose values are secrets.
SECRET_HEADERS = ("X-API-Key", "Authorization")


def redact_url(url: str) -> str:
    """*url* without ``user:password@`` and without secret query values."""
    try:
        stripped = strip_url(url, strip_credentials=True, strip_fragment=False)
    except ValueError:
        stripped = _USERINFO.sub(r"\g<scheme>", url)
    return _KEY_PARAM.sub(rf"\g<name>{_MASK}", stripped)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """*text* with credentials in URLs, key parameters and each known secret masked."""
    text = _USERINFO.sub(rf"\g<scheme>{_MASK}@", text)
    text = _KEY_PARAM.sub(rf"\g<name>{_MASK}", text)
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, _MASK)
            decoded = unquote(secret)
            if decoded != secret:
                text = text.replace(decoded, _MASK)
    return text


def request_secrets(url: str, headers: Headers) -> list[str]:
    """The secrets a request carries: key-like query values (``api_key=``) and
    the values of key headers (``X-API-Key``, ``Authorization``).

    Providers sometimes echo them (``Invalid API key abc123``); knowing them
    lets :func:`redact_text` mask them wherever they turn up.
    """
    found: list[str] = []
    try:
        query = urlsplit(url).query
    except ValueError:
        query = ""
    for name, value in parse_qsl(query):
        if _KEY_NAME.search(name):
            found.append(value)
    for name in SECRET_HEADERS:
        raw = headers.get(name)
        if not raw:
            continue
        creds = basic_credentials(raw)
        if creds is not None:
            found.append(creds.password)
            continue
        text = raw.decode("latin-1").strip()
        scheme, sep, token = text.partition(" ")
        found.append(token.strip() if sep and scheme.lower() in ("bearer", "token") else text)
    return [secret for secret in found if len(secret) >= 4]
