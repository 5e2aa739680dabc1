"""Non-provider failures: Scrapy's retries, with backoff and Retry-After added."""

from __future__ import annotations

import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest_twisted

from scrapy_proxyerrors.report import build_report

from .crawling import ListSpider, Outcome, make_crawler


class _Flaky(BaseHTTPRequestHandler):
    """503 with ``Retry-After: 1`` on the first hit of each path, then 200."""

    protocol_version = "HTTP/1.1"
    hits: ClassVar[list[tuple[str, float]]] = []

    def do_GET(self) -> None:
        first = all(path != self.path for path, _ in self.hits)
        self.hits.append((self.path, time.monotonic()))
        status, extra = (503, [("Retry-After", "1")]) if first else (200, [])
        self.send_response(status)
        for name, value in extra:
            self.send_header(name, value)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@pytest_twisted.inlineCallbacks
def test_target_503_waits_for_retry_after() -> Any:
    _Flaky.hits = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Flaky)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02},
                     daemon=True).start()
    port = server.server_address[1]
    try:
        outcome = Outcome()
        crawler = make_crawler()
        yield crawler.crawl(requests=[(f"http://127.0.0.1:{port}/a", {})], outcome=outcome)
    finally:
        server.shutdown()
        server.server_close()
    (_, first), (_, second) = _Flaky.hits
    assert second - first >= 1.0  # the Retry-After the target asked for
    assert len(outcome.ok_urls) == 1
    stats = crawler.stats.get_stats()
    assert stats["retry/count"] == 1
    assert stats["proxyerrors/wait_seconds"] == 1.0
    assert not any(k.startswith("proxyerrors/error/") for k in stats)


@pytest_twisted.inlineCallbacks
def test_connection_errors_are_retried_within_one_budget() -> Any:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: connections are refused
    outcome = Outcome()
    crawler = make_crawler({"RETRY_TIMES": 3})
    yield crawler.crawl(requests=[(f"http://127.0.0.1:{port}/", {})], outcome=outcome)
    stats = crawler.stats.get_stats()
    assert stats["retry/count"] == 3
    assert stats["retry/max_reached"] == 1
    assert len(outcome.failures) == 1
    assert stats["proxyerrors/wait_seconds"] > 0


class _CustomSpider(ListSpider):
    name = "custom"
    custom_settings = {"PROXYERRORS_ACTIONS": {"soax/NODE_UNAVAILABLE": "drop"}}


@pytest_twisted.inlineCallbacks
def test_per_spider_custom_settings_apply() -> Any:
    from scrapy_proxyerrors.emulator import Emulator

    with Emulator(provider="soax") as emu:
        emu.set_responder(lambda rec: emu.error_reply("NODE_UNAVAILABLE"))
        outcome = Outcome()
        crawler = make_crawler(spidercls=_CustomSpider)
        yield crawler.crawl(requests=[(emu.target_url("/page/1"), {"proxy": emu.proxy_url()})],
                            outcome=outcome)
    stats = crawler.stats.get_stats()
    assert stats["proxyerrors/action/drop"] == 1
    assert stats.get("proxyerrors/retry/count") is None
    assert outcome.failures[0].value.error.code == "NODE_UNAVAILABLE"


def test_report_from_stats() -> None:
    stats = {
        "finish_reason": "proxyerrors_auth",
        "proxyerrors/error/soax/AUTH_FAILED": 3,
        "proxyerrors/decision/soax/AUTH_FAILED/stop": 3,
        "proxyerrors/error/proxiesfo/454": 1,
        "proxyerrors/decision/proxiesfo/454/stop": 1,
        "proxyerrors/stop/error": "soax/AUTH_FAILED",
        "proxyerrors/stop/requeued": 3,
        "proxyerrors/wait_seconds": 12.5,
        "proxyerrors/retry/count": 4,
    }
    report = build_report(stats, jobdir=True)
    assert [(r.provider, r.code, r.count) for r in report.rows] == [
        ("soax", "AUTH_FAILED", 3), ("proxiesfo", "454", 1)]
    assert report.rows[0].actions == {"stop": 3}
    assert report.rows[0].category == "auth"
    assert "package key" in report.rows[0].meaning
    assert report.rows[1].meaning  # a status-only rule is described too
    text = report.to_text()
    assert "The crawl stopped (proxyerrors_auth) because soax answered AUTH_FAILED" in text
    assert "3 request(s) were kept for a JOBDIR resume" in text
    assert "waited 12.5 s" in text
    assert report.to_json()["retries"] == 4


def test_stats_keys_are_printable_and_the_report_still_finds_the_rule() -> None:
    from scrapy_proxyerrors._stats import error_key

    assert error_key("soax", "\xff\xfe\x01junk") == "proxyerrors/error/soax/_junk"
    key = error_key("zyte_api", "/limits/over-user-limit")
    assert key == "proxyerrors/error/zyte_api/limits_over-user-limit"
    report = build_report({key: 2})
    assert report.rows[0].category == "rate_limit"
