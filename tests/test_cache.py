"""Scrapy's HTTP cache never keeps a provider's error.

With ``HTTPCACHE_ENABLED``, Scrapy stores what its policy allows: provider
errors were stored, retries were answered from the cache and a cached ``407``
stopped every later crawl. :class:`ProviderErrorsCachePolicy` wraps the
project's policy and never stores, nor serves, a provider error.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from scrapy.http import HtmlResponse, Request, Response
from scrapy.settings import Settings

from scrapy_proxyerrors.cache import ProviderErrorsCachePolicy
from scrapy_proxyerrors.emulator import Emulator, Reply
from scrapy_proxyerrors.exceptions import BadSettingError

from .crawling import Outcome, make_crawler

if TYPE_CHECKING:
    from pathlib import Path

POLICY = "scrapy_proxyerrors.cache.ProviderErrorsCachePolicy"
PROXY = "http://package-1:key@127.0.0.1:9000"


def _policy(**settings: Any) -> ProviderErrorsCachePolicy:
    return ProviderErrorsCachePolicy(Settings(settings))


def _response(url: str, status: int, headers: dict[str, str] | None = None) -> Response:
    return HtmlResponse(url, status=status, headers=headers or {}, body=b"<html></html>")


def test_a_provider_error_is_never_stored_nor_served() -> None:
    policy = _policy()
    request = Request("http://example.com/a", meta={"proxy": PROXY})
    error = _response(request.url, 407, {"X-SOAX-Error": "AUTH_FAILED"})
    ok = _response(request.url, 200)
    assert not policy.should_cache_response(error, request)
    assert not policy.is_cached_response_fresh(error, request)
    assert not policy.is_cached_response_valid(error, ok, request)
    assert policy.should_cache_response(ok, request)
    assert policy.is_cached_response_fresh(ok, request)


def test_what_is_not_a_provider_error_is_the_inner_policys() -> None:
    policy = _policy(PROXYERRORS_PROVIDER="soax", HTTPCACHE_IGNORE_HTTP_CODES=[500])
    plain = Request("http://example.com/a", meta={"proxy": PROXY})
    tunnelled = Request("https://example.com/a", meta={"proxy": PROXY})
    # The target's own bare 503, forwarded by SOAX (which tags its errors).
    assert policy.should_cache_response(_response(plain.url, 503), plain)
    # Through a tunnel, even a copy of a provider error is the target's.
    copy = _response(tunnelled.url, 407, {"X-SOAX-Error": "AUTH_FAILED"})
    assert policy.should_cache_response(copy, tunnelled)
    # The inner policy (DummyPolicy here) still decides the rest.
    assert not policy.should_cache_response(_response(plain.url, 500), plain)


def test_an_api_error_is_not_stored() -> None:
    policy = _policy()
    request = Request("https://api.chocodata.com/v1/product?id=1")
    body = b'{"error": "insufficient_credits", "message": "top up"}'
    error = HtmlResponse(request.url, status=402, body=body,
                         headers={"Content-Type": "application/json"})
    assert not policy.should_cache_response(error, request)


def test_the_inner_policy_is_configurable() -> None:
    policy = _policy(PROXYERRORS_HTTPCACHE_INNER_POLICY="scrapy.extensions.httpcache.RFC2616Policy")
    request = Request("http://example.com/a")
    no_store = _response(request.url, 200, {"Cache-Control": "no-store"})
    assert not policy.should_cache_response(no_store, request)
    for bad in ("no.such.Policy", POLICY, "builtins.dict"):
        with pytest.raises(BadSettingError, match="PROXYERRORS_HTTPCACHE_INNER_POLICY"):
            _policy(PROXYERRORS_HTTPCACHE_INNER_POLICY=bad)


def test_without_the_plugin_it_is_the_inner_policy() -> None:
    policy = _policy(PROXYERRORS_ENABLED=False)
    request = Request("http://example.com/a", meta={"proxy": PROXY})
    error = _response(request.url, 407, {"X-SOAX-Error": "AUTH_FAILED"})
    assert policy.should_cache_response(error, request)


# ------------------------------------------------------------------- crawls


def _cache_settings(tmp_path: Path, **extra: Any) -> dict[str, Any]:
    return {
        "HTTPCACHE_ENABLED": True,
        "HTTPCACHE_DIR": str(tmp_path / "httpcache"),
        "HTTPCACHE_POLICY": POLICY,
        "PROXYERRORS_PROVIDER": "soax",
        **extra,
    }


def _first_attempt_fails(emu: Emulator) -> Any:
    lock = threading.Lock()
    seen: set[str] = set()

    def responder(record: Any) -> Reply | None:
        with lock:
            first = record.url not in seen
            seen.add(record.url)
        return emu.error_reply("RETRIES_EXHAUSTED") if first else None

    return responder


@pytest_twisted.inlineCallbacks
def test_retries_are_not_answered_from_the_cache(tmp_path: Path) -> Any:
    """Every first attempt is a provider error: the retry goes to the provider
    again (not to the cache), and every page is fetched."""
    with Emulator("soax") as emu:
        emu.set_responder(_first_attempt_fails(emu))
        outcome = Outcome()
        crawler = make_crawler(_cache_settings(tmp_path))
        urls = [emu.target_url(f"/page/{i}", host="example.com") for i in range(1, 11)]
        yield crawler.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in urls],
                            outcome=outcome)
        plain = [r for r in emu.requests if r.kind == "plain"]
    assert sorted(outcome.ok_urls) == sorted(urls)
    assert len(plain) == 20
    stats = crawler.stats.get_stats()
    assert stats["httpcache/store"] == 10
    assert stats.get("httpcache/hit", 0) == 0


@pytest_twisted.inlineCallbacks
def test_a_cached_407_from_an_earlier_crawl_does_not_stop_a_later_one(tmp_path: Path) -> Any:
    """An earlier crawl (without this policy) cached SOAX's 407s; the provider
    is healthy again: the later crawl fetches every page and finishes."""
    urls = [f"http://example.com/page/{i}" for i in range(1, 6)]
    with Emulator("soax", scenario="auth_failed") as emu:
        stock = make_crawler({
            **_cache_settings(tmp_path), "ADDONS": {},
            "HTTPCACHE_POLICY": "scrapy.extensions.httpcache.DummyPolicy",
            "HTTPERROR_ALLOW_ALL": True})
        yield stock.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in urls])
    assert stock.stats.get_value("httpcache/store") == 5
    with Emulator("soax") as emu:
        outcome = Outcome()
        crawler = make_crawler(_cache_settings(tmp_path))
        yield crawler.crawl(requests=[(u, {"proxy": emu.proxy_url()}) for u in urls],
                            outcome=outcome)
        plain = [r for r in emu.requests if r.kind == "plain"]
    assert crawler.stats.get_value("finish_reason") == "finished"
    assert sorted(outcome.ok_urls) == sorted(urls)
    assert len(plain) == 5
