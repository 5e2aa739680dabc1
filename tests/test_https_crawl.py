"""HTTPS through a proxy, end to end: CONNECT errors acted on, targets never trusted."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import pytest_twisted
from scrapy.spidermiddlewares.httperror import HttpError

from .crawling import Outcome, make_crawler
from .provider_docs import PROXY_ROWS, DocRow
from .rawproxy import Pipe, Send, raw_proxy, reply
from .tls import server_context

SECRET = "Sup3rSecretPackageKey"
STOCK_HTTPS = {"https": "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"}


def _connect_error(row: DocRow) -> list[Any]:
    return [Send(reply(row.status, "Error", row.headers, row.body))]


@pytest.mark.parametrize("row", PROXY_ROWS, ids=lambda r: r.id)
@pytest_twisted.inlineCallbacks
def test_connect_error_is_acted_on_like_plain_http(row: DocRow) -> Any:
    """Each documented proxy error, on CONNECT, gets the row's action in a real crawl."""
    # Throttling (rate/concurrency limits, Retry-After) has its own budget
    # (PROXYERRORS_THROTTLE_MAX_COUNT), separate from the retry budget.
    settings = {"PROXYERRORS_PROVIDER": row.provider, "PROXYERRORS_MAX_RETRIES": 1,
                "PROXYERRORS_THROTTLE_MAX_COUNT": 1, "CONCURRENT_REQUESTS": 1}
    with raw_proxy(_connect_error(row)) as proxy:
        outcome = Outcome()
        crawler = make_crawler(settings)
        yield crawler.crawl(
            requests=[("https://target.example:8443/x", {"proxy": proxy.url(f"u:{SECRET}")})],
            outcome=outcome)
        records = list(proxy.records)
    stats = crawler.stats.get_stats()
    assert stats[f"proxyerrors/error/{row.provider}/{row.code}"] >= 1
    assert stats[f"proxyerrors/category/{row.category}"] >= 1
    assert stats[f"proxyerrors/action/{row.action}"] >= 1
    if row.action == "stop":
        assert stats["finish_reason"] == f"proxyerrors_{row.category}"
        assert len(records) == 1
    elif row.action in ("retry", "rotate", "slowdown"):
        assert len(records) == 2  # one retry (PROXYERRORS_MAX_RETRIES=1), then give up
    elif row.action == "drop":
        assert len(records) == 1
        assert outcome.failures[0].value.error.code == row.code
    # The handler closed every refused tunnel's socket itself.
    assert all(r.client_closed.wait(5) for r in records)
    assert SECRET not in repr(stats)


@pytest_twisted.inlineCallbacks
def test_stock_handler_message_fallback_still_stops_on_407(caplog: Any) -> Any:
    """Without the plugin's handler, the status in TunnelError's message is enough."""
    script = [Send(reply(407, "Proxy Authentication Required", {"X-SOAX-Error": "AUTH_FAILED"}))]
    with raw_proxy(script) as proxy:
        crawler = make_crawler({"DOWNLOAD_HANDLERS": STOCK_HTTPS, "CONCURRENT_REQUESTS": 1})
        urls = [f"https://target.example:8443/{i}" for i in range(5)]
        yield crawler.crawl(requests=[(u, {"proxy": proxy.url(f"u:{SECRET}")}) for u in urls])
        reached = len(proxy.records)
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "proxyerrors_auth"
    assert stats["proxyerrors/error/generic/407"] == 1  # the message carries no provider
    assert reached == 1
    assert SECRET not in caplog.text
    assert SECRET not in repr(stats)


class _HostileHandler(BaseHTTPRequestHandler):
    """A target that imitates a provider's fatal error from inside the tunnel."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = b"nice try"
        self.send_response(407)
        self.send_header("X-SOAX-Error", "AUTH_FAILED")
        self.send_header("Proxy-Status", "gw; error=http_request_denied")
        self.send_header("Retry-After", "86400")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest_twisted.inlineCallbacks
def test_target_through_tunnel_cannot_stop_the_crawl() -> Any:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HostileHandler)
    server.daemon_threads = True
    server.socket = server_context().wrap_socket(server.socket, server_side=True)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                              daemon=True)
    thread.start()
    script = [Send(b"HTTP/1.1 200 Connection established\r\n\r\n"), Pipe("127.0.0.1", port)]
    try:
        with raw_proxy(script) as proxy:
            outcome = Outcome()
            crawler = make_crawler({"PROXYERRORS_PROVIDER": "soax"})
            urls = [f"https://127.0.0.1:{port}/{i}" for i in range(3)]
            yield crawler.crawl(requests=[(u, {"proxy": proxy.url("u:p")}) for u in urls],
                                outcome=outcome)
    finally:
        server.shutdown()
        server.server_close()
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert not any(k.startswith("proxyerrors/error/") for k in stats)
    assert stats.get("proxyerrors/wait_seconds") is None
    # Each response reached the spider as the target's own 407 (HttpError in the errback).
    assert len(outcome.failures) == 3
    assert all(f.check(HttpError) for f in outcome.failures)
    assert {f.value.response.status for f in outcome.failures} == {407}
