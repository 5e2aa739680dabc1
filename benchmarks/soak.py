"""Soak: a long crawl through the emulator, watching the plugin's memory.

    python benchmarks/soak.py                # 20,000 requests
    python benchmarks/soak.py --requests 2000 --no-tracemalloc
    python benchmarks/soak.py --html-report benchmarks/results/soak.html

The emulator (SOAX, ``flaky`` scenario) runs in a subprocess, so that this
process's memory is the crawl's alone. The crawl mixes a pool of sticky
sessions (``PROXYERRORS_PROXIES``) with requests that each bring a fresh
session of their own (``meta["proxy"]``): one new route per request, the
case that would leak if per-route state were never evicted. Faults rotate,
retry and drop.

Printed: pages fetched, requests, wall time, peak RSS, tracemalloc peak, and
the sizes of the middleware's per-route tables sampled during the crawl and
at the end. Written as JSON to ``benchmarks/results/soak.json``.
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import signal
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any

from scrapy.utils.reactor import install_reactor

# Before anything imports twisted.internet.reactor (the plugin's modules do).
REACTOR = "twisted.internet.asyncioreactor.AsyncioSelectorReactor"
install_reactor(REACTOR)

import scrapy  # noqa: E402
from scrapy.crawler import CrawlerProcess  # noqa: E402
from twisted.internet import task  # noqa: E402

from scrapy_proxyerrors import MemoryState, ProxyErrorsMiddleware  # noqa: E402

KEY = "SoakPackageKey-0001"
FAULTS = "NODE_UNAVAILABLE,GATEWAY_TIMEOUT,NODE_NOT_FOUND,RETRIES_EXHAUSTED"
RESULTS = Path(__file__).parent / "results" / "soak.json"


def start_emulator(requests: int, rate: float) -> tuple[subprocess.Popen[str], str, str]:
    """The emulator in a subprocess; returns it, its proxy address and target base."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "scrapy_proxyerrors.emulator", "--provider", "soax",
         "--scenario", "flaky", "--seed", "1", "--password", KEY,
         "-p", f"rate={rate}", "-p", f"codes={FAULTS}", "-p", f"pages={requests + 10}"],
        stdout=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    proxy = target = ""
    for line in proc.stdout:
        if line.startswith("proxy:"):
            proxy = re.sub(r"^proxy:\s+http://[^@]*@", "", line.strip())
        elif line.startswith("target:"):
            target = line.split()[1].rsplit("/page/", 1)[0]
        if line.startswith("Serving"):
            break
    if not proxy or not target:
        proc.kill()
        raise SystemExit("the emulator did not start")
    return proc, proxy, target


def stop_emulator(proc: subprocess.Popen[str]) -> dict[str, int]:
    """SIGINT the emulator; parse the counters it prints on the way out."""
    proc.send_signal(signal.SIGINT)
    out, _ = proc.communicate(timeout=60)
    counts: dict[str, int] = {}
    match = re.search(r"requests: (\d+)", out)
    counts["total"] = int(match[1]) if match else -1
    # "total" also counts the requests the proxy forwarded to the target site.
    for kind, count in re.findall(r"^  (plain|connect|api|target)\s+(\d+)$", out, re.M):
        counts[f"kind/{kind}"] = int(count)
    for status, code, count in re.findall(r"^\s+(\d{3}) (\S*)\s+(\d+)$", out, re.M):
        key = f"{status} {code}".strip()
        counts[key] = counts.get(key, 0) + int(count)
    return counts


class SmallMemoryState(MemoryState):
    """MemoryState with a small table cap (``--state-max``), to watch it prune."""

    MAX_ENTRIES = 10_000

    def __init__(self) -> None:
        super().__init__(max_entries=self.MAX_ENTRIES)


class SoakSpider(scrapy.Spider):
    """Requests ``/page/1..N``; every ``fresh_every``-th brings its own new session."""

    name = "soak"

    def __init__(self, target: str, gateway: str, requests: int, fresh_every: int,
                 **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.target, self.gateway = target, gateway
        self.total, self.fresh_every = requests, fresh_every
        self.pages = self.failures = 0

    async def start(self) -> Any:
        for i in range(1, self.total + 1):
            meta: dict[str, Any] = {}
            if i % self.fresh_every == 0:
                # A session of its own: a new route the plugin has never seen.
                meta["proxy"] = f"http://package-1-sessionid-u{i}:{KEY}@{self.gateway}"
            yield scrapy.Request(f"{self.target}/page/{i}", meta=meta, callback=self.parse,
                                 errback=self.errback, dont_filter=True)

    def parse(self, response: Any) -> None:
        self.pages += 1

    def errback(self, failure: Any) -> None:
        self.failures += 1


def sizes(crawler: Any) -> dict[str, int]:
    """The middleware's per-route and per-request tables, and Scrapy's slots."""
    mw = crawler.get_downloader_middleware(ProxyErrorsMiddleware)
    state = mw.state
    out = {
        "state_entries": len(state) if hasattr(state, "__len__") else -1,
        "state_pauses": len(getattr(state, "_pauses", ())),
        "state_cooling": len(getattr(state, "_cooling", ())),
        "state_streaks": len(getattr(state, "_streaks", ())),
        "slot_keys": len(mw._slot_keys),
        "slot_key_members": sum(len(v) for v in mw._slot_keys.values()),
        "learned": len(mw._learned),
        "warned": len(mw._warned),
        "secrets": len(mw._secrets),
        "downloader_slots": len(crawler.engine.downloader.slots),
        "in_flight": len(crawler.engine.downloader.active),
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--pool", type=int, default=20, help="sticky sessions in the pool")
    parser.add_argument("--fresh-every", type=int, default=4,
                        help="every n-th request brings a fresh session of its own")
    parser.add_argument("--fault-rate", type=float, default=0.1)
    parser.add_argument("--sample-every", type=float, default=2.0, help="seconds")
    parser.add_argument("--state-max", type=int, default=0,
                        help="cap MemoryState's tables (default: its own, 10,000)")
    parser.add_argument("--no-tracemalloc", action="store_true")
    parser.add_argument("--html-report", type=Path, default=None, metavar="PATH.html",
                        help="also write the HTML crawl report (PROXYERRORS_REPORT_HTML) "
                             "there, to measure its memory")
    parser.add_argument("--output", type=Path, default=RESULTS)
    args = parser.parse_args()

    proc, gateway, target = start_emulator(args.requests, args.fault_rate)
    if not args.no_tracemalloc:
        tracemalloc.start()
    pool = [f"http://package-1-sessionid-p{k}:{KEY}@{gateway}" for k in range(args.pool)]
    settings = {
        "ADDONS": {"scrapy_proxyerrors.Addon": 0},
        "PROXYERRORS_PROVIDER": "soax",
        "PROXYERRORS_PROXIES": pool,
        "PROXYERRORS_ACTIONS": {"soax/RETRIES_EXHAUSTED": "drop"},
        "PROXYERRORS_BACKOFF_BASE": 0.01,
        "PROXYERRORS_BACKOFF_MAX": 0.05,
        "PROXYERRORS_ROUTE_COOLDOWN": 1,
        "CONCURRENT_REQUESTS": args.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": args.concurrency,
        "RETRY_GIVE_UP_LOG_LEVEL": "DEBUG",
        "LOG_LEVEL": "WARNING",
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "TELNETCONSOLE_ENABLED": False,
        "TWISTED_REACTOR": REACTOR,
    }
    if args.html_report:
        settings["PROXYERRORS_REPORT_HTML"] = str(args.html_report)
    if args.state_max:
        SmallMemoryState.MAX_ENTRIES = args.state_max
        settings["PROXYERRORS_STATE"] = SmallMemoryState
    process = CrawlerProcess(settings, install_root_handler=True)
    crawler = process.create_crawler(SoakSpider)
    samples: list[dict[str, Any]] = []
    started = time.monotonic()

    def sample() -> None:
        if crawler.engine is None or not crawler.crawling:
            return
        spider = crawler.spider
        row = {"t": round(time.monotonic() - started, 1), "pages": spider.pages,
               "rss_mb": round(_rss_mb(), 1), **sizes(crawler)}
        samples.append(row)

    loop = task.LoopingCall(sample)

    def opened(spider: Any) -> None:
        loop.start(args.sample_every, now=False)

    def closing(spider: Any) -> None:
        sample()  # the end state, before the engine goes
        if loop.running:
            loop.stop()

    crawler.signals.connect(opened, signal=scrapy.signals.spider_opened)
    crawler.signals.connect(closing, signal=scrapy.signals.spider_idle)
    process.crawl(crawler, target=target, gateway=gateway, requests=args.requests,
                  fresh_every=args.fresh_every)
    try:
        process.start()
    finally:
        emulator = stop_emulator(proc)
    wall = time.monotonic() - started
    traced_peak = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
    stats = crawler.stats.get_stats()
    spider = crawler.spider
    result = {
        "requests_issued": args.requests,
        "pages_fetched": spider.pages,
        "errbacks": spider.failures,
        "all_accounted": spider.pages + spider.failures == args.requests,
        "downloader_requests": stats.get("downloader/request_count", 0),
        "emulator_requests": emulator.get("kind/plain"),
        "emulator_answers": emulator,
        "wall_seconds": round(wall, 1),
        "requests_per_second": round(stats.get("downloader/request_count", 0) / wall, 1),
        "peak_rss_mb": round(_rss_mb(), 1),
        "tracemalloc_peak_mb": round(traced_peak / 2**20, 1) if traced_peak else None,
        "finish_reason": stats.get("finish_reason"),
        "plugin_stats": {k: v for k, v in stats.items() if k.startswith("proxyerrors/")},
        "distinct_routes": args.pool + args.requests // args.fresh_every,
        "state_max": args.state_max or 10_000,
        "samples": samples,
        "end": samples[-1] if samples else {},
        "html_report": _html_report(crawler, args.html_report),
    }
    _print(result)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))
    print(f"\nwritten: {args.output}")
    return 0


def _html_report(crawler: Any, path: Path | None) -> dict[str, Any] | None:
    """The HTML report's size and what its recorder kept (all bounded)."""
    if path is None:
        return None
    from scrapy_proxyerrors.report import ProxyErrorsReport

    extension = next((e for e in crawler.extensions.middlewares
                      if isinstance(e, ProxyErrorsReport)), None)
    recorder = getattr(extension, "recorder", None)
    out: dict[str, Any] = {"path": str(path),
                           "bytes": path.stat().st_size if path.exists() else None}
    if recorder is not None:
        timeline = recorder.timeline
        out.update(routes_kept=len(recorder.routes), series=len(timeline.series),
                   buckets=max((len(b) for b in timeline.series.values()), default=0),
                   bucket_seconds=timeline.bucket_seconds, bands=len(timeline.bands),
                   secrets_kept=len(recorder._secrets))
    return out


def _rss_mb() -> float:
    """Peak resident set size so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _print(result: dict[str, Any]) -> None:
    print("\nsoak")
    for key in ("requests_issued", "pages_fetched", "errbacks", "all_accounted",
                "downloader_requests",
                "emulator_requests", "distinct_routes", "state_max", "wall_seconds",
                "requests_per_second",
                "peak_rss_mb", "tracemalloc_peak_mb", "finish_reason"):
        print(f"  {key:<22} {result[key]}")
    if result.get("html_report"):
        print(f"  {'html_report':<22} {result['html_report']}")
    samples = result["samples"]
    if not samples:
        return
    columns = ["t", "pages", "rss_mb", "state_entries", "slot_keys", "slot_key_members",
               "learned", "warned", "secrets", "downloader_slots", "in_flight"]
    # At most a dozen rows: evenly spaced, always with the last.
    step = max(1, len(samples) // 12)
    rows = samples[::step]
    if rows[-1] is not samples[-1]:
        rows.append(samples[-1])
    widths = [max(len(c), *(len(str(r.get(c, ""))) for r in rows)) for c in columns]
    print("\n  " + "  ".join(c.rjust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  " + "  ".join(str(row.get(c, "")).rjust(w)
                               for c, w in zip(columns, widths, strict=True)))


if __name__ == "__main__":
    sys.exit(main())
