"""Keep secrets out of logs, stats, exception messages and reports."""

from __future__ import annotations

import logging
import re
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, unquote, urlsplit

from scrapy.utils.url import strip_url

from ._routes import basic_credentials

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from scrapy.http.headers import Headers

_MASK = "***"
# user:password@ in any URL-looking text, and api_key=... style parameters.
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*://)[^/@\s:]*(?::[^/@\s]*)?@", re.I)
_KEY_PARAM = re.compile(
    r"(?P<name>(?:api[_-]?key|apikey|key|token|access[_-]?token|password|passwd|secret)=)"
    # A URL cannot hold a raw < or >: they end the value (``<GET ...?key=x>``).
    r"[^&\s'\"<>]+",
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


# ----------------------------------------------------------------- logging

#: The plugin's own loggers: always filtered.
PLUGIN_LOGGERS = (
    "scrapy_proxyerrors.middleware",
    "scrapy_proxyerrors.handler",
    "scrapy_proxyerrors.report",
)
#: Scrapy's loggers that print requests, so URLs with ``api_key=...``
#: (``Crawled (200) <GET ...>``, ``Retrying``, ``Error downloading``...):
#: filtered unless ``PROXYERRORS_REDACT_LOGS = False``.
SCRAPY_REQUEST_LOGGERS = (
    "scrapy.core.engine",
    "scrapy.core.scraper",
    "scrapy.core.scheduler",
    "scrapy.core.downloader.handlers.http11",
    "scrapy.utils._download_handlers",
    "scrapy.downloadermiddlewares.retry",
    "scrapy.downloadermiddlewares.redirect",
    "scrapy.downloadermiddlewares.offsite",
    "scrapy.downloadermiddlewares.robotstxt",
    "scrapy.downloadermiddlewares.cookies",
    "scrapy.spidermiddlewares.httperror",
    "scrapy.spidermiddlewares.urllength",
    "scrapy.spidermiddlewares.depth",
    "scrapy.dupefilters",
)
_KNOWN_MAX = 1_000
_known: tuple[str, ...] = ()


def remember(secrets: Iterable[str]) -> None:
    """Add secrets (proxy passwords, API keys) that every RedactingFilter masks.

    Process-wide and bounded: a filter on a shared logger cannot know which
    crawl a record comes from. Kept as a tuple, replaced whole, so a filter
    never iterates over a collection that changes under it.
    """
    global _known
    new = [s for s in secrets if len(s) >= 4 and s not in _known]
    if new and len(_known) < _KNOWN_MAX:
        _known = (*_known, *dict.fromkeys(new))[:_KNOWN_MAX]


class RedactingFilter(logging.Filter):
    """A :class:`logging.Filter` that masks secrets in records, never drops them.

    The message (with its arguments merged) and the traceback text lose
    ``user:password@`` in URLs, key-like query values (``api_key=***``) and
    every known secret: *secrets*, or those given to :func:`remember`.
    """

    def __init__(self, secrets: Collection[str] | None = None) -> None:
        super().__init__()
        self._secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not _will_emit(record):
            # No handler will print it (e.g. DEBUG under LOG_LEVEL=INFO): save
            # the formatting and the scan, which cost more than the record.
            return True
        secrets = _known if self._secrets is None else tuple(self._secrets)
        try:
            message = record.getMessage()
        except Exception:  # a broken record is the logging system's to report
            return True
        clean = redact_text(message, secrets)
        if clean != message:
            record.msg, record.args = clean, None
        if record.exc_info and record.exc_info[1] is not None:
            text = record.exc_text or logging.Formatter().formatException(record.exc_info)
            clean = redact_text(text, secrets)
            if clean != text:
                # Formatters print exc_text when there is no exc_info.
                record.exc_info, record.exc_text = None, clean
        return True


def _will_emit(record: logging.LogRecord) -> bool:
    """Whether some handler on the record's way up would take its level."""
    current: logging.Logger | None = logging.getLogger(record.name)
    found = False
    while current is not None:
        for handler in current.handlers:
            found = True
            if record.levelno >= handler.level:
                return True
        if not current.propagate:
            break
        current = current.parent
    if not found and logging.lastResort is not None:
        return record.levelno >= logging.lastResort.level
    return False


def install_filters(names: Iterable[str]) -> None:
    """Put one RedactingFilter on each named logger (once per process)."""
    for name in names:
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactingFilter) for f in target.filters):
            target.addFilter(RedactingFilter())
