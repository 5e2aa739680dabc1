"""The version shims, on whichever Scrapy is installed."""

from __future__ import annotations

import time
from typing import Any

import pytest
import scrapy
from scrapy.settings import Settings
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_proxyerrors import _compat as compat
from scrapy_proxyerrors.addon import CACHE_INNER_SETTING, CACHE_POLICY, Addon


def test_scrapy_version_is_parsed() -> None:
    assert tuple(int(p) for p in scrapy.__version__.split(".")[:2]) == compat.SCRAPY_VERSION
    assert compat.SCRAPY_VERSION >= (2, 13)


def test_slot_clock_is_the_downloaders() -> None:
    """time.time up to 2.15, time.monotonic from 2.16 (what Slot.lastseen uses)."""
    wall = abs(compat.slot_clock() - time.time()) < 60
    assert wall is (compat.SCRAPY_VERSION < (2, 16))


@deferred_f_from_coro_f
async def test_call_later_runs_once_and_reports_its_state() -> None:
    calls: list[int] = []
    timer = compat.call_later(0, calls.append, 1)
    cancelled = compat.call_later(0, calls.append, 2)
    assert timer.active() and cancelled.active()
    cancelled.cancel()
    assert not cancelled.active()
    await compat.sleep(0.01)
    assert calls == [1]
    assert not timer.active()
    timer.cancel()  # harmless once run
    assert calls == [1]


def test_get_retry_request_accepts_give_up_log_level() -> None:
    """Passing give_up_log_level works on every version (dropped before 2.17)."""
    from scrapy.http import Request
    from scrapy.utils.test import get_crawler

    spider = scrapy.Spider.from_crawler(get_crawler(scrapy.Spider), name="s")
    retry = compat.get_retry_request(
        Request("http://example.com"), spider=spider, reason="x", max_retry_times=1,
        give_up_log_level=30,
    )
    assert retry is not None and retry.meta["retry_times"] == 1


@pytest.mark.parametrize(("value", "expected"), [(True, True), (False, False), ("maybe", True)])
def test_reactor_enabled(value: Any, expected: bool) -> None:
    assert compat.reactor_enabled(Settings({"TWISTED_REACTOR_ENABLED": value})) is expected


def test_cache_policy_is_wrapped_only_when_the_module_exists(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """HTTPCACHE_POLICY becomes the plugin's policy, the project's kept as the
    inner one, only if scrapy_proxyerrors.cache is part of this install."""
    import importlib.util

    find_spec = importlib.util.find_spec
    user_policy = "myproject.cache.Policy"

    def settings_after_addon() -> Settings:
        settings = Settings()
        settings.set("HTTPCACHE_POLICY", user_policy, priority="project")
        Addon().update_settings(settings)
        return settings

    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: None if name == "scrapy_proxyerrors.cache" else find_spec(name, *a),
    )
    absent = settings_after_addon()
    assert absent.get("HTTPCACHE_POLICY") == user_policy
    assert absent.get(CACHE_INNER_SETTING) is None

    monkeypatch.setattr(
        importlib.util, "find_spec",
        lambda name, *a: object() if name == "scrapy_proxyerrors.cache" else find_spec(name, *a),
    )
    present = settings_after_addon()
    assert present.get("HTTPCACHE_POLICY") == CACHE_POLICY
    assert present.get(CACHE_INNER_SETTING) == user_policy
