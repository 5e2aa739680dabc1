"""The README's first command: `scrapy crawl demo` in example_project, offline."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

PROJECT = Path(__file__).resolve().parent.parent / "example_project"


def test_demo_crawl_ends_with_a_report(tmp_path: Path) -> None:
    report_file = tmp_path / "report.json"
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "crawl", "demo",
         "-s", f"PROXYERRORS_REPORT_FILE={report_file}", "-s", "DEMO_PAGES=150"],
        cwd=PROJECT, capture_output=True, text=True, timeout=240, check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "scrapy-proxyerrors report" in result.stderr
    assert "'finish_reason': 'finished'" in result.stderr
    report = json.loads(report_file.read_text())
    assert report["finish_reason"] == "finished"
    # SOAX's node failures move to fresh sessions (the rotation budget).
    assert report["rotations"] > 0
    assert report["waited_seconds"] > 0
    assert report["dropped"] > 0
    codes = {(row["provider"], row["code"]) for row in report["rows"]}
    assert ("chocodata", "item_not_found") in codes
    assert ("soax", "RATE_LIMIT_EXCEEDED") in codes
    for row in report["rows"]:
        assert row["meaning"]
        assert row["fix"]
