"""Run one crawl described by JSON on stdin; print its result as JSON on stdout.

Every benchmark crawl runs in its own process through this module, because a
Twisted reactor cannot be restarted: ``python -m benchmarks.runner < spec.json``.

The spec::

    {
      "spider": {"urls": [...], "follow": false, "proxy": null},
      "settings": {...},          # Scrapy settings, merged over BASE_SETTINGS
      "round_robin": [...]        # optional: enable RoundRobinProxyMiddleware
    }

The result (one line, the last one on stdout)::

    {"elapsed": s, "cpu": s, "ok": n, "failed": n, "failure_types": {...},
     "finish_reason": "...",
     "ok_urls": [...], "stats": {...}}

*elapsed* and *cpu* span ``spider_opened`` to ``spider_closed``: interpreter
start-up, imports and reactor start are not part of a crawl's cost.
"""

from __future__ import annotations

import json
import resource
import sys
import time
from typing import Any

from scrapy import signals
from scrapy.crawler import CrawlerProcess

from benchmarks._crawl import ROUND_ROBIN_PRIORITY, BenchSpider

#: Settings every benchmark crawl shares; the spec's settings win.
BASE_SETTINGS: dict[str, Any] = {
    "LOG_LEVEL": "INFO",
    "ROBOTSTXT_OBEY": False,
    "COOKIES_ENABLED": False,
    "TELNETCONSOLE_ENABLED": False,
    "DOWNLOAD_TIMEOUT": 30,
    # One Scrapy per machine is enough: the periodic log line is noise here.
    "LOGSTATS_INTERVAL": 0,
}


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _jsonable(value: Any) -> Any:
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return str(value)


def run(spec: dict[str, Any]) -> dict[str, Any]:
    """Run the crawl *spec* describes, in this process, and return its result."""
    settings = {**BASE_SETTINGS, **spec.get("settings", {})}
    if spec.get("round_robin"):
        middlewares = dict(settings.get("DOWNLOADER_MIDDLEWARES", {}))
        middlewares["benchmarks._crawl.RoundRobinProxyMiddleware"] = ROUND_ROBIN_PRIORITY
        settings["DOWNLOADER_MIDDLEWARES"] = middlewares
        settings["BENCH_ROUND_ROBIN_PROXIES"] = spec["round_robin"]
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(BenchSpider)
    marks: dict[str, float] = {}

    def opened() -> None:
        marks["t0"], marks["c0"] = time.perf_counter(), _cpu()

    def closed() -> None:
        marks["t1"], marks["c1"] = time.perf_counter(), _cpu()

    crawler.signals.connect(opened, signal=signals.spider_opened)
    crawler.signals.connect(closed, signal=signals.spider_closed)
    process.crawl(crawler, **spec.get("spider", {}))
    process.start()
    spider = crawler.spider
    assert isinstance(spider, BenchSpider)
    assert crawler.stats is not None
    stats = crawler.stats.get_stats()
    return {
        "elapsed": marks["t1"] - marks["t0"],
        "cpu": marks["c1"] - marks["c0"],
        "ok": spider.ok,
        "failed": spider.failed,
        "failure_types": spider.failure_types,
        "finish_reason": stats.get("finish_reason"),
        "ok_urls": spider.ok_urls,
        "stats": {k: _jsonable(v) for k, v in stats.items()},
    }


def main() -> int:
    spec = json.load(sys.stdin)
    result = run(spec)
    sys.stdout.write("\n" + json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
