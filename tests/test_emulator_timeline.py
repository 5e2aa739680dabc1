"""`python -m scrapy_proxyerrors.emulator --timeline PATH.html`: what the emulator
received, as a picture like the crawl's HTML report."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from typing import TYPE_CHECKING

from scrapy_proxyerrors.emulator import Emulator
from scrapy_proxyerrors.emulator.__main__ import timeline_html
from scrapy_proxyerrors.emulator.client import RawClient
from tests.test_html_report import _table, open_in_chromium

if TYPE_CHECKING:
    from pathlib import Path

KEY = "Key-q8x1-emu-77"


def test_cli_writes_a_timeline_on_exit(tmp_path: Path) -> None:
    page = tmp_path / "emulator.html"
    process = subprocess.Popen(
        [sys.executable, "-m", "scrapy_proxyerrors.emulator", "--provider", "soax",
         "--scenario", "flaky", "--seed", "2", "-p", "rate=0.5", "--password", KEY,
         "--timeline", str(page)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    assert process.stdout is not None
    lines = []
    for line in process.stdout:
        lines.append(line)
        if line.startswith("Serving"):
            break
    text = "".join(lines)
    proxy = re.search(r"proxy:\s+(\S+)", text)
    target = re.search(r"target:\s+(\S+)", text)
    assert proxy and target
    statuses = []
    try:
        client, auth = RawClient.for_url(proxy[1])
        with client:
            for n in range(1, 21):
                url = target[1].replace("/page/1", f"/page/{n}")
                statuses.append(client.request("GET", url, auth).status)
    finally:
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    assert f"timeline: {page}" in out
    html = page.read_text(encoding="utf-8")
    assert KEY not in html
    answers = {(row[0], row[1]): int(row[2]) for row in _table(html, "answers")}
    assert sum(answers.values()) == 20 + statuses.count(200)  # provider answers + target hits
    failed = sum(n for (status, _), n in answers.items() if status != "200")
    assert failed == len([s for s in statuses if s != 200]) > 0
    assert html.count("<svg") == 2  # requests by kind, answers
    dom, console = open_in_chromium(page, tmp_path)
    assert console == []
    assert "Requests by route" in dom


def test_timeline_says_when_records_were_capped() -> None:
    with Emulator("generic", max_records=3) as emu:
        client, auth = RawClient.for_url(emu.proxy_url())
        with client:
            for _ in range(4):
                client.request("GET", emu.target_url("/page/1"), auth)
        html = timeline_html(emu)
    assert "The charts show the latest 3 of 8 requests" in html
