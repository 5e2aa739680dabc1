"""Exceptions the plugin raises, each carrying what a person needs to act."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.exceptions import IgnoreRequest
from scrapy.http.headers import Headers

from ._redact import redact_text

if TYPE_CHECKING:
    from ._classifier import ProviderError


class BadSettingError(ValueError):
    """A setting has a bad value: the crawl does not start.

    The message names the setting and the value (proxy credentials hidden).
    Deliberately not :class:`~scrapy.exceptions.NotConfigured`: Scrapy's
    middleware manager takes that to mean "disable this component", logs a
    warning and runs the crawl *without* the plugin.
    """

    def __init__(self, message: str = "") -> None:
        # Whoever raises it, the message never carries credentials: a bad value
        # is often a proxy URL with user:password@ or a key parameter.
        super().__init__(redact_text(str(message)))


class ProviderErrorDropped(IgnoreRequest):
    """A request dropped because the provider said it can never succeed.

    Reaches the request's errback; ``failure.value.error`` is the classified
    :class:`~scrapy_proxyerrors.ProviderError` (provider, code, category,
    meaning, fix, request id).
    """

    def __init__(self, error: ProviderError, reason: str | None = None) -> None:
        self.error = error
        message = reason or (
            f"{error.reason} ({error.status}, {error.category}): {error.meaning}"
            + (f" [request id {error.request_id}]" if error.request_id else "")
        )
        super().__init__(message)


class ProxyTunnelError(TunnelError):
    """A proxy refused CONNECT; unlike Scrapy's :class:`TunnelError` it keeps
    the proxy's whole reply: status, reason, headers and (capped) body.

    *proxy* is ``host:port`` only: never credentials.
    """

    def __init__(
        self,
        proxy: str,
        status: int,
        reason: bytes = b"",
        headers: Headers | None = None,
        body: bytes = b"",
    ) -> None:
        self.proxy = proxy
        self.status = status
        self.reason = reason
        self.headers = headers if headers is not None else Headers()
        self.body = body
        # Same wording as Scrapy's own message, so existing log parsers and
        # the message fallback keep working.
        extra = {"status": status, "reason": reason.strip()[:32]}
        super().__init__(f"Could not open CONNECT tunnel with proxy {proxy} [{extra!r}]")
