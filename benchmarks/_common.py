"""Helpers shared by the benchmark scripts: crawl subprocesses, results, tables."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import scrapy

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "benchmarks" / "results"


class CrawlFailed(RuntimeError):
    """A runner subprocess exited badly or printed no result."""


def run_crawl(spec: dict[str, Any], timeout: float = 300.0) -> dict[str, Any]:
    """Run one crawl in a fresh interpreter (one Twisted reactor per process).

    Adds ``wall`` (seconds, including interpreter start-up) to the runner's
    result. The runner's stderr (Scrapy's log) is kept in ``log_tail`` only
    when the crawl fails, to keep results small.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    start = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.runner"],
        input=json.dumps(spec),
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=timeout,
        check=False,
    )
    wall = time.perf_counter() - start
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise CrawlFailed(
            f"runner exited with {proc.returncode}; stderr tail:\n{proc.stderr[-3000:]}"
        )
    result: dict[str, Any] = json.loads(lines[-1])
    result["wall"] = wall
    result["warnings"] = sum(1 for line in proc.stderr.splitlines() if "WARNING" in line)
    result["errors"] = sum(1 for line in proc.stderr.splitlines() if "ERROR" in line)
    return result


def machine() -> dict[str, Any]:
    """What the figures were measured on."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            capture_output=True, text=True, cwd=ROOT, check=False,
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "python": platform.python_version(),
        "scrapy": scrapy.__version__,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "commit": commit or None,
        "load_average": os.getloadavg()[0],
    }


def write_json(name: str, data: Any) -> Path:
    """Write *data* to ``benchmarks/results/<name>``; return the path."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / name
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return path


def table(headers: list[str], rows: list[list[Any]]) -> str:
    """A plain-text table, right-aligned numbers, left-aligned text."""
    cells = [[_fmt(c) for c in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]

    def line(values: list[str], raw: list[Any] | None = None) -> str:
        out = []
        for i, value in enumerate(values):
            numeric = raw is not None and isinstance(raw[i], (int, float))
            out.append(value.rjust(widths[i]) if numeric else value.ljust(widths[i]))
        return "  ".join(out).rstrip()

    sep = "  ".join("-" * w for w in widths)
    return "\n".join(
        [line(headers), sep, *(line(c, r) for c, r in zip(cells, rows, strict=True))]
    )


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        if value == 0:
            return "0"
        if abs(value) >= 100:
            return f"{value:,.0f}"
        if abs(value) >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
