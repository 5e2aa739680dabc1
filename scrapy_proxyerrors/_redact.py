"""Keep secrets out of logs, stats, exception messages and reports.

Only secrets are touched. Credentials are masked where they stand *as
credentials*: ``user:password@`` in URLs, key-like parameters (``api_key=``),
``Proxy-Authorization`` / ``Authorization`` / key header values. A known
secret (a proxy password, an API key) is masked anywhere else only as a whole
token, and only when it cannot be an ordinary word (see :func:`distinctive`):
a password ``scrapy`` must not turn ``docs.scrapy.org`` into ``docs.***.org``.

Log filters and learned secrets belong to one crawler (:class:`Redactor`):
installed when the crawler builds the plugin, removed when it stops, so crawls
without the plugin, and later crawls in the same process, are untouched.
"""

from __future__ import annotations

import logging
import re
import weakref
from functools import lru_cache
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from scrapy.utils.url import strip_url

from ._routes import basic_credentials

if TYPE_CHECKING:
    from collections.abc import Collection, Iterable

    from scrapy.crawler import Crawler
    from scrapy.http.headers import Headers

_MASK = "***"
# user:password@ in any URL-looking text (also "http:/u:p@h", as Path() writes
# it): up to the LAST @ of the authority, so that a password holding a raw "@"
# is masked whole (``u:p@ss@host``).
_USERINFO = re.compile(r"(?P<scheme>[a-z][a-z0-9+.-]*:/{1,2})[^/?#\s<>]*@", re.I)
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
# A secret header as text: ``Proxy-Authorization: Basic dXNl...``, and as a
# repr of Scrapy's Headers (``{b'Authorization': [b'Bearer abc']}``).
_HEADER_VALUE = re.compile(
    r"(?P<name>\b(?:proxy-authorization|authorization|x-api-key|api-key)"
    r"['\"]?\s*[:=,]\s*\[?\s*(?:b?['\"])?\s*(?:(?:basic|bearer|token|digest)\s+)?)"
    r"[^\s'\"<>,\]\}]+",
    re.I,
)
_SECRETS_MAX = 1_000


def distinctive(secret: str) -> bool:
    """Whether *secret* cannot be an ordinary word, so masking it anywhere (as a
    whole token) cannot eat unrelated text.

    At least 8 characters mixing two kinds (lower case, upper case, digits,
    other), or 16 and more of any kind. ``scrapy``, ``test``, ``password`` and
    ``latest`` are not; ``S3cr3tKey-1`` and a 32-digit hex key are.
    """
    if len(secret) < 8 or secret.isdigit():
        return False
    if len(secret) >= 16:
        return True
    kinds = (
        any(c.islower() for c in secret),
        any(c.isupper() for c in secret),
        any(c.isdigit() for c in secret),
        any(not c.isalnum() for c in secret),
    )
    return sum(kinds) >= 2


def _variants(secrets: Iterable[str]) -> list[str]:
    found: list[str] = []
    for secret in secrets:
        if not secret:
            continue
        for variant in (secret, unquote(secret)):
            if distinctive(variant) and variant not in found:
                found.append(variant)
    return found


@lru_cache(maxsize=64)
def _secrets_pattern(secrets: tuple[str, ...]) -> re.Pattern[str] | None:
    """One regex masking each distinctive secret as a whole token."""
    variants = sorted(_variants(secrets), key=len, reverse=True)
    if not variants:
        return None
    alternatives = "|".join(re.escape(v) for v in variants)
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])")


def redact_url(url: str) -> str:
    """*url* without ``user:password@`` and without secret query values."""
    try:
        stripped = strip_url(url, strip_credentials=True, strip_fragment=False)
    except ValueError:
        stripped = _USERINFO.sub(r"\g<scheme>", url)
    return _KEY_PARAM.sub(rf"\g<name>{_MASK}", stripped)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """*text* with credentials masked where they stand as credentials, and each
    known *secret* that is :func:`distinctive` masked as a whole token."""
    text = _USERINFO.sub(rf"\g<scheme>{_MASK}@", text)
    text = _KEY_PARAM.sub(rf"\g<name>{_MASK}", text)
    text = _HEADER_VALUE.sub(rf"\g<name>{_MASK}", text)
    pattern = _secrets_pattern(tuple(dict.fromkeys(secrets)))
    return pattern.sub(_MASK, text) if pattern is not None else text


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


class Redactor:
    """The secrets and log filters of one crawler.

    :meth:`for_crawler` gives the crawler's one instance; its filters come off
    the loggers and its secrets are forgotten when the crawler's engine stops,
    so nothing outlives the crawl.
    """

    def __init__(self) -> None:
        # Replaced whole, never mutated: a filter running in another thread
        # never iterates over a collection that changes under it.
        self._secrets: tuple[str, ...] = ()
        self._installed: list[tuple[logging.Logger, RedactingFilter]] = []

    @classmethod
    def for_crawler(cls, crawler: Crawler) -> Redactor:
        """The redactor of *crawler*, created (and tied to its signals) once."""
        found = _BY_CRAWLER.get(crawler)
        if found is None:
            from scrapy import signals

            found = _BY_CRAWLER[crawler] = cls()
            # engine_stopped, not spider_closed: the end-of-crawl report and
            # Scrapy's last lines are logged on spider_closed, still filtered.
            crawler.signals.connect(found.close, signal=signals.engine_stopped, weak=False)
        return found

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secrets learned so far (bounded)."""
        return self._secrets

    def keep(self, secrets: Iterable[str]) -> None:
        """Learn secrets (proxy passwords, API keys) this crawler's filters mask."""
        new = [s for s in dict.fromkeys(secrets) if s and len(s) >= 4 and s not in self._secrets]
        if new and len(self._secrets) < _SECRETS_MAX:
            self._secrets = (*self._secrets, *new)[:_SECRETS_MAX]

    def text(self, text: str) -> str:
        """*text* redacted with this crawler's secrets."""
        return redact_text(text, self._secrets)

    def install(self, names: Iterable[str]) -> None:
        """Put this redactor's filter on each named logger (once per logger)."""
        for name in names:
            target = logging.getLogger(name)
            if any(getattr(f, "redactor", None) is self for f in target.filters):
                continue
            flt = RedactingFilter(redactor=self)
            target.addFilter(flt)
            self._installed.append((target, flt))

    def close(self, *args: Any, **kwargs: Any) -> None:
        """Take the filters off and forget the secrets (a signal handler)."""
        installed, self._installed = self._installed, []
        for target, flt in installed:
            target.removeFilter(flt)
        self._secrets = ()


_BY_CRAWLER: weakref.WeakKeyDictionary[Crawler, Redactor] = weakref.WeakKeyDictionary()
# What the pre-crawler API (install_filters / remember without a crawler)
# uses: process-wide, as the middleware did before it passed its crawler.
_PROCESS = Redactor()


def remember(secrets: Iterable[str], crawler: Crawler | None = None) -> None:
    """Add secrets that the log filters mask.

    With *crawler*: that crawler's :class:`Redactor` (forgotten when it stops).
    Without: a process-wide redactor, kept for callers that have no crawler;
    prefer ``Redactor.for_crawler(crawler).keep(secrets)``.
    """
    (Redactor.for_crawler(crawler) if crawler is not None else _PROCESS).keep(secrets)


def install_filters(names: Iterable[str], crawler: Crawler | None = None) -> None:
    """Put one RedactingFilter on each named logger.

    With *crawler*: the crawler's own filters, removed when it stops. Without:
    process-wide (once per logger); prefer ``Redactor.for_crawler(crawler).install(names)``.
    """
    if crawler is None:
        _PROCESS.install(names)
        return
    redactor = Redactor.for_crawler(crawler)
    if crawler.crawling:
        redactor.install(names)
    else:
        # A component built outside a crawl (a test's build_from_crawler, a
        # command) would leave its filters on the loggers for good, since no
        # engine_stopped ever takes them off: install them when the engine starts.
        from scrapy import signals

        wanted = tuple(names)
        crawler.signals.connect(
            lambda: redactor.install(wanted), signal=signals.engine_started, weak=False
        )


class RedactingFilter(logging.Filter):
    """A :class:`logging.Filter` that masks secrets in records, never drops them.

    The message (with its arguments merged) and the traceback text lose
    ``user:password@`` in URLs, key-like query values (``api_key=***``), secret
    header values and every known secret: *secrets*, else those of *redactor*,
    else those given to :func:`remember` without a crawler. The record keeps its
    ``exc_info`` (error trackers read it): the masked traceback goes to
    ``exc_text``, which formatters print instead of formatting ``exc_info``.
    """

    def __init__(
        self, secrets: Collection[str] | None = None, redactor: Redactor | None = None
    ) -> None:
        super().__init__()
        self._secrets = secrets
        self.redactor = redactor

    def _known(self) -> tuple[str, ...]:
        if self._secrets is not None:
            return tuple(self._secrets)
        return (self.redactor or _PROCESS).secrets

    def filter(self, record: logging.LogRecord) -> bool:
        if not _will_emit(record):
            # No handler will print it (e.g. DEBUG under LOG_LEVEL=INFO): save
            # the formatting and the scan, which cost more than the record.
            return True
        secrets = self._known()
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
                record.exc_text = clean
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
