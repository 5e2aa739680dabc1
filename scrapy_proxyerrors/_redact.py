"""Keep secrets out of logs, stats, exception messages and reports."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING
from urllib.parse import unquote

from scrapy.utils.url import strip_url

if TYPE_CHECKING:
    from collections.abc import Iterable

_MASK = "***"
# user:password@ in any URL-looking text, and api_key=... style parameters.
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]*(?::[^/@\s]*)?@", re.I)
_KEY_PARAM = re.compile(
    r"(?P<name>(?:api[_-]?key|apikey|key|token|access[_-]?token|password|passwd|secret)=)"
    r"[^&\s'\"]+",
    re.I,
)


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
