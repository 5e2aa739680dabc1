"""The Scrapy add-on: ``ADDONS = {"scrapy_proxyerrors.Addon": 0}`` enables it all."""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.downloadermiddlewares.retry import RetryMiddleware

from .middleware import ProxyErrorsMiddleware

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

#: Where the middleware goes: RetryMiddleware's place. Its process_request
#: then runs before HttpProxyMiddleware (750) turns proxy credentials into a
#: header, and its process_response after HttpCompression (590) unpacked the body.
MIDDLEWARE_PRIORITY = 550
HTTPS_HANDLER = "scrapy_proxyerrors.handler.ProxyErrorsHTTPSDownloadHandler"
REPORT_EXTENSION = "scrapy_proxyerrors.report.ProxyErrorsReport"


class Addon:
    """Registers the middleware (in place of ``RetryMiddleware``), the HTTPS
    download handler that keeps CONNECT errors, and the end-of-crawl report.

    Nothing the user set explicitly is overwritten: each entry is only a default.
    """

    def update_settings(self, settings: BaseSettings) -> None:
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", ProxyErrorsMiddleware, MIDDLEWARE_PRIORITY
        )
        # One retry budget: the plugin's middleware does Scrapy's retries too.
        settings.setdefault_in_component_priority_dict(
            "DOWNLOADER_MIDDLEWARES", RetryMiddleware, None
        )
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        if "https" not in handlers:
            handlers["https"] = HTTPS_HANDLER
            settings.set("DOWNLOAD_HANDLERS", handlers, priority="addon")
        extensions = settings.getdict("EXTENSIONS")
        if REPORT_EXTENSION not in extensions:
            extensions[REPORT_EXTENSION] = 0
            settings.set("EXTENSIONS", extensions, priority="addon")
