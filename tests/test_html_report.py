"""The HTML crawl report (PROXYERRORS_REPORT_HTML): content, honesty, no secret,
and it opens in headless Chromium without a console message."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from scrapy import signals

from scrapy_proxyerrors._timeline import Table, Timeline, render_html
from scrapy_proxyerrors.emulator import Emulator
from scrapy_proxyerrors.report import (
    ReportRecorder,
    _command_name,
    build_report,
    recorder_for,
)
from tests.crawling import Outcome, make_crawler

if TYPE_CHECKING:
    from scrapy_proxyerrors.emulator import Reply

ROOT = Path(__file__).resolve().parent.parent
PROJECT = ROOT / "example_project"
CHROMIUM_FLAGS = (
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
)
PROXY_PW = "Pw-7f3kq92-zebra"
DETAIL_ECHO = f"Package key {PROXY_PW} refused"


def _chromium() -> str:
    found = shutil.which("chromium") or (
        "/usr/bin/chromium" if os.path.exists("/usr/bin/chromium") else None
    )
    if found:
        return found
    reason = "chromium is missing: apt-get install chromium (Debian) to open the HTML report"
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


def open_in_chromium(page: Path, tmp_path: Path) -> tuple[str, list[str]]:
    """The DOM Chromium built from *page*, and every console message it logged."""
    result = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'chromium-profile'}",
         "--dump-dom", page.resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    console = [line for line in result.stderr.splitlines() if ":CONSOLE" in line]
    return result.stdout, console


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """The README's example crawl, run out of credits so that it stops."""
    out = tmp_path_factory.mktemp("example")
    page, report = out / "report.html", out / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "demo", "-s", "DEMO_SCENARIO=budget",
         "-s", "DEMO_PAGES=150", "-s", f"PROXYERRORS_REPORT_HTML={page}",
         "-s", f"PROXYERRORS_REPORT_FILE={report}", "-s", "LOG_LEVEL=INFO"],
        cwd=PROJECT, capture_output=True, text=True, timeout=240, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return {"path": page, "html": page.read_text(encoding="utf-8"),
            "report": json.loads(report.read_text()), "log": result.stderr, "dir": out}


def _table(page: str, css_class: str) -> list[list[str]]:
    match = re.search(rf'<table class="{css_class}">(.*?)</table>', page, re.S)
    assert match, css_class
    rows = re.findall(r"<tr>(.*?)</tr>", match.group(1), re.S)
    return [[html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", r, re.S)]
            for r in rows[1:]]


def test_example_report_opens_in_chromium_without_console_messages(
    example: dict[str, Any], tmp_path: Path
) -> None:
    dom, console = open_in_chromium(example["path"], tmp_path)
    assert console == []
    assert "Provider errors and the rules that fired" in dom
    assert dom.count("<svg") == 3  # requests, errors by category, actions


def test_the_console_check_can_fail(tmp_path: Path) -> None:
    """A page that tries to reach the network is caught: the check above is real."""
    bad = tmp_path / "bad.html"
    bad.write_text(render_html("bad", Timeline()).replace(
        "</body>", '<img src="http://127.0.0.1:9/x.png"></body>'))
    _, console = open_in_chromium(bad, tmp_path)
    assert any("Content Security Policy" in line for line in console)


def test_example_report_shows_the_stop_band_and_the_top_errors(example: dict[str, Any]) -> None:
    page, report = example["html"], example["report"]
    assert report["finish_reason"] == "proxyerrors_quota"
    assert 'class="band band-stop"' in page
    bands = _table(page, "bands")
    stops = [row for row in bands if row[0] == "stop"]
    assert len(stops) == 1
    assert stops[0][1] == "proxyerrors_quota (soax/PACKAGE_NO_CREDITS)"
    pauses = [row for row in bands if row[0] == "pause"]
    assert pauses, "the demo's Retry-After pauses the SOAX account"
    assert all(row[1].endswith("soax/RATE_LIMIT_EXCEEDED -> slowdown") for row in pauses), pauses
    rules = _table(page, "rules")
    # Most frequent first, with the same counts, meaning and fix as the JSON report.
    assert [(r[0], r[1], int(r[3])) for r in rules] == [
        (r["provider"], r["code"], r["count"]) for r in report["rows"]]
    top = {(r[0], r[1]): r for r in rules}
    assert ("soax", "PACKAGE_NO_CREDITS") in top
    assert top[("soax", "PACKAGE_NO_CREDITS")][4].startswith("stop x")
    assert "credit" in top[("soax", "PACKAGE_NO_CREDITS")][5]
    assert top[("chocodata", "item_not_found")][4].startswith("drop x")


def test_example_report_counts_add_up_with_the_stats(example: dict[str, Any]) -> None:
    page, report = example["html"], example["report"]
    outcomes = {row[0]: row[1] for row in _table(page, "outcomes")}
    assert int(outcomes["dropped"]) == report["dropped"] > 0
    assert int(outcomes["re-queued at the stop"]) == report["requeued"]
    assert int(outcomes["retries"]) == report["retries"]
    assert int(outcomes["given up"]) == report["given_up"]
    assert int(outcomes["route pauses"]) == report["pauses"] > 0
    assert f"'proxyerrors/dropped': {report['dropped']}" in example["log"]
    routes = _table(page, "routes")
    assert routes and all(int(r[1]) > 0 for r in routes)
    sent = sum(int(r[1]) for r in routes)
    assert f"'downloader/request_count': {sent}" in example["log"]
    # No JOBDIR in the demo: the report does not promise a resume.
    assert "JOBDIR resume" not in page
    assert "set JOBDIR" in page


def test_example_report_contains_no_secret(example: dict[str, Any]) -> None:
    # The demo's proxy URL is http://package-1-...:secret@127.0.0.1:PORT.
    assert "secret" not in example["html"].lower()
    assert "@127.0.0.1" not in example["html"]


def test_a_screenshot_is_possible(example: dict[str, Any], tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    result = subprocess.run(
        [_chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={tmp_path / 'profile'}",
         "--hide-scrollbars", "--window-size=1100,1600", f"--screenshot={shot}",
         example["path"].resolve().as_uri()],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest_twisted.inlineCallbacks
def test_a_crawl_whose_provider_echoes_the_password_reports_no_secret(tmp_path: Path) -> Any:
    page = tmp_path / "report.html"

    def responder(record: Any) -> Reply | None:
        if "/page/2" in record.url or "/page/3" in record.url:
            return gateway.error_reply("NODE_UNAVAILABLE", detail=DETAIL_ECHO)
        return None

    with Emulator("soax", password=PROXY_PW) as gateway:
        gateway.set_responder(responder)
        proxy = gateway.proxy_url(user="package-1-sessionid-s1")
        requests = [(gateway.target_url(f"/page/{n}"), {"proxy": proxy}) for n in range(1, 6)]
        requests.append((gateway.target_url("/page/1", https=True), {"proxy": proxy}))
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_REPORT_HTML": str(page),
                                "PROXYERRORS_ROUTE_COOLDOWN": 0, "RETRY_TIMES": 1})
        yield crawler.crawl(requests=requests, outcome=outcome)
    text = page.read_text(encoding="utf-8")
    assert crawler.stats.get_value("proxyerrors/error/soax/NODE_UNAVAILABLE")
    assert PROXY_PW not in text
    assert "Pw-7f3kq92" not in text
    assert "NODE_UNAVAILABLE" in text
    routes = _table(text, "routes")
    assert sum(int(r[1]) for r in routes) == crawler.stats.get_value("downloader/request_count")


def test_recorder_memory_is_bounded() -> None:
    recorder = ReportRecorder(max_routes=16)
    for n in range(5_000):
        at = 1_000.0 + n * 0.01
        route = f"10.0.{n % 300}.1:8000"
        recorder.record_request(route, at)
        recorder.record_reply(route, 502 if n % 7 == 0 else 200, at)
    assert len(recorder.routes) <= 17
    assert sum(h.requests for h in recorder.routes.values()) == 5_000
    assert max(len(b) for b in recorder.timeline.series.values()) <= 512


def test_masking_hides_learned_passwords_and_userinfo() -> None:
    from scrapy import Request
    from w3lib.http import basic_auth_header

    recorder = ReportRecorder()
    recorder.learn_secrets(f"http://user:{PROXY_PW}@127.0.0.1:1")
    api_key, header_pw = "ApiKey-55-zz", "HeaderPw-91-qq"
    request = Request(f"http://api.test/?api_key={api_key}", headers={
        "Proxy-Authorization": basic_auth_header("u", header_pw)})
    recorder.learn_secrets("http://127.0.0.1:2", request)
    assert {PROXY_PW, api_key, header_pw} <= recorder._secrets
    assert "***" == recorder.mask(header_pw) == recorder.mask(api_key)
    masked = recorder.mask(f"route 127.0.0.1:1 said {DETAIL_ECHO}; http://u:pw@h:1/")
    assert PROXY_PW not in masked
    assert ":pw@" not in masked


def test_report_honesty_from_stats() -> None:
    stats = {
        "finish_reason": "finished",
        "proxyerrors/error/soax/NODE_UNAVAILABLE": 17,
        "proxyerrors/decision/soax/NODE_UNAVAILABLE/rotate": 17,
        "proxyerrors/rotate/same_route": 17,
        "proxyerrors/retry/max_reached": 2,
        "retry/max_reached": 1,
    }
    report = build_report(stats)
    text = report.to_text()
    assert "rotate x17" not in text
    assert "rotate (no other route) x17" in text
    assert "rotated: 0 (and 17 with no other route to go to)" in text
    assert "given up: 3" in text
    page = ReportRecorder().render(report)
    assert "rotate x17" not in page


@pytest.mark.parametrize(
    ("argv", "name"),
    [
        (["/usr/bin/python3", "/usr/local/bin/scrapy", "fetch", "http://x"], "fetch"),
        (["python", "-m", "scrapy", "shell", "http://x"], "shell"),
        (["python", "-m", "scrapy", "-s", "crawl"], "crawl"),
        (["python", "-m", "other", "fetch"], None),
        (["python", "-m", "pytest", "tests"], None),
        (["python", "-m"], None),
    ],
)
def test_command_name(argv: list[str], name: str | None) -> None:
    assert _command_name(argv) == name


def test_table_cells_are_escaped_in_the_page() -> None:
    page = render_html("t", Timeline(), [Table("x", ("a",), [("<i>",)], css_class="x")])
    assert "&lt;i&gt;" in page


def _fetch(url: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "scrapy", "fetch", "-s", "LOG_LEVEL=INFO", url],
        cwd=PROJECT, capture_output=True, text=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
    )


def test_scrapy_fetch_prints_no_report_unless_a_provider_error_occurred() -> None:
    with Emulator("soax", scenario="auth_failed") as gateway:
        quiet = _fetch(gateway.target_url("/page/1"))
        loud = _fetch(gateway.target_url("/page/2"), http_proxy=gateway.proxy_url())
    assert quiet.returncode == 0, quiet.stderr[-2000:]
    assert "Spider closed (finished)" in quiet.stderr
    assert "scrapy-proxyerrors report" not in quiet.stderr
    assert "Spider closed (proxyerrors_auth)" in loud.stderr, loud.stderr[-2000:]
    assert "scrapy-proxyerrors report" in loud.stderr


@pytest_twisted.inlineCallbacks
def test_an_unwritable_html_path_is_logged_not_raised(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> Any:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with Emulator("generic") as emu:
        crawler = make_crawler({"PROXYERRORS_REPORT_HTML": str(blocker / "report.html")})
        yield crawler.crawl(requests=[(emu.target_url("/page/1"), {"proxy": emu.proxy_url()})])
    assert crawler.stats.get_value("finish_reason") == "finished"
    assert "Could not write PROXYERRORS_REPORT_HTML" in caplog.text


@pytest_twisted.inlineCallbacks
def test_components_can_feed_the_recorder(tmp_path: Path) -> Any:
    page = tmp_path / "report.html"
    with Emulator("generic") as emu:
        crawler = make_crawler({"PROXYERRORS_REPORT_HTML": str(page)})
        fed: list[bool] = []

        def opened(spider: Any) -> None:
            recorder = recorder_for(crawler)
            assert recorder is not None
            now = time.time()
            recorder.record_breaker("route-a", now, now + 2, "5 failures in a row")
            recorder.record_pause("acct#1|shop.test", now, now + 1, "Retry-After: 1")
            fed.append(True)

        crawler.signals.connect(opened, signal=signals.spider_opened)
        yield crawler.crawl(requests=[(emu.target_url("/page/1"), {"proxy": emu.proxy_url()})])
    assert fed
    bands = {(row[0], row[1]) for row in _table(page.read_text(encoding="utf-8"), "bands")}
    assert ("breaker", "route-a: 5 failures in a row") in bands
    assert ("pause", "acct#1|shop.test: Retry-After: 1") in bands
    assert recorder_for(make_crawler()) is None


@pytest_twisted.inlineCallbacks
def test_an_api_outage_draws_the_breaker_band(tmp_path: Path) -> Any:
    """The scheduler reports its breaker window first-hand: an API outage
    crawl's page has one breaker band per outage the stats count."""
    page = tmp_path / "report.html"
    with Emulator("chocodata", "outage", duration=1.5, after=5) as emu:
        urls = [emu.api_url(f"/v1/product?id={i}") for i in range(20)]
        crawler = make_crawler({"PROXYERRORS_REPORT_HTML": str(page), "CONCURRENT_REQUESTS": 4,
                                "PROXYERRORS_BREAKER_RECOVERY": 0.5})
        yield crawler.crawl(requests=[(u, {"proxyerrors_provider": "chocodata"}) for u in urls])
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert stats["proxyerrors/breaker/outages"] >= 1
    bands = [row for row in _table(page.read_text(encoding="utf-8"), "bands")
             if row[0] == "breaker"]
    assert len(bands) == stats["proxyerrors/breaker/outages"], bands
    assert all(row[1].startswith("chocodata#") and "outage" in row[1] for row in bands), bands
