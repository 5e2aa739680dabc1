"""One crawl process of the multi-process Redis tests.

``python -m tests.redis_worker < spec.json``: runs ListSpider over
``spec["urls"]`` (each with ``meta["proxy"] = spec["proxy"]`` when given) with
``spec["settings"]`` over tests.crawling.BASE_SETTINGS, then prints one JSON
line: finish reason, outcome counts and the plugin's stats.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from scrapy.crawler import CrawlerProcess

from scrapy_proxyerrors import MemoryState
from scrapy_proxyerrors._redis import RedisState
from tests.crawling import BASE_SETTINGS, ListSpider, Outcome


def _seed(state: Any, crawler: Any) -> Any:
    """A configured rate (``TEST_SEED_RATE = [key, rate]``), as a user's setting would."""
    seed = crawler.settings.getlist("TEST_SEED_RATE")
    if seed:
        state.set_rate(seed[0], float(seed[1]), float("inf"))
    return state


class SeededMemoryState(MemoryState):
    """MemoryState with the configured rate of ``TEST_SEED_RATE``."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> SeededMemoryState:
        return _seed(cls(), crawler)  # type: ignore[no-any-return]


class SeededRedisState(RedisState):
    """RedisState with the configured rate of ``TEST_SEED_RATE``."""

    @classmethod
    def from_crawler(cls, crawler: Any) -> RedisState:
        return _seed(super().from_crawler(crawler), crawler)  # type: ignore[no-any-return]


def main() -> None:
    spec = json.loads(sys.stdin.read())
    settings = {**BASE_SETTINGS, "LOG_LEVEL": "INFO", "TELNETCONSOLE_ENABLED": False,
                **spec.get("settings", {})}
    outcome = Outcome()
    process = CrawlerProcess(settings)
    crawler = process.create_crawler(ListSpider)
    meta = {"proxy": spec["proxy"]} if spec.get("proxy") else {}
    process.crawl(crawler, requests=[(u, dict(meta)) for u in spec["urls"]], outcome=outcome)
    process.start()
    stats = crawler.stats.get_stats()
    print(json.dumps({
        "finish_reason": stats.get("finish_reason"),
        "ok": len(outcome.ok_urls),
        "failed": len(outcome.failures),
        "stats": {k: v for k, v in stats.items()
                  if k.startswith("proxyerrors/") and isinstance(v, (int, float, str))},
    }))


if __name__ == "__main__":
    main()
