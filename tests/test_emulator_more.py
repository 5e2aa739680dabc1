"""The emulator's modes for the providers of ``shared/providers/more-providers.md``
(and Zyte API proxy mode, Bright Data's ``Proxy-Status``), over the wire.

Classification is checked only where the package has a built-in profile of
that name: the emulator's tables are written from the docs, independently
of the profiles, and must not wait for them.
"""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest

from scrapy_proxyerrors import Transport, classify
from scrapy_proxyerrors.emulator import SPECS, Emulator
from scrapy_proxyerrors.emulator.client import RawClient, RawResponse, basic_auth
from scrapy_proxyerrors.profiles import BUILTIN_PROFILES

NEW = ("scrapfly", "crawlbase", "apify", "zenrows", "thordata", "bytio", "nimble",
       "scrapedo", "scrapeops", "scrapingant", "scraperapi", "zyte_api", "brightdata",
       "brightdata_api")
APIS = tuple(name for name in NEW if SPECS[name].kind == "api")
PROXIES = tuple(name for name in NEW if SPECS[name].kind == "proxy")


def _proxy_get(emu: Emulator, url: str, *, user: str | None = None, port: int | None = None,
               connect: bool = False) -> RawResponse:
    proxy = emu.proxy_url(user=user)
    client, auth = RawClient.for_url(proxy)
    if port is not None:
        client.close()
        client = RawClient("127.0.0.1", port)
    with client:
        if connect:
            return client.request("CONNECT", url, auth)
        return client.request("GET", url, auth)


def _api_get(emu: Emulator, query: str, *, key: bool = True,
             headers: dict[str, str] | None = None) -> RawResponse:
    with RawClient("127.0.0.1", emu.ports["api"]) as client:
        if emu.provider == "brightdata_api":
            # The Direct API: a JSON request, the key in Authorization.
            url = query.partition("url=")[2]
            body = json.dumps({"zone": "z1", "url": url, "format": "raw"}).encode()
            sent = {**(emu.api_headers() if key else {}), **(headers or {}),
                    "Content-Type": "application/json"}
            return client.request("POST", emu.api_url("/request", key=False), sent, body)
        return client.request("GET", emu.api_url("/?" + query, key=key), headers or {})


def _classified(provider: str, response: RawResponse, transport: Transport) -> Any:
    if provider not in BUILTIN_PROFILES:
        return None
    return classify(response.status, response.headers, response.body, transport=transport,
                    provider=provider, request_url="https://api.example/?url=x")


@pytest.mark.parametrize("provider", NEW)
def test_every_error_reads_back_as_its_code(provider: str) -> None:
    """Each documented error builds a reply whose code the provider's own
    reader finds again (what the records show for a responder's reply)."""
    spec = SPECS[provider]
    emu = Emulator(provider)
    for code in spec.codes():
        reply = emu.error_reply(code)
        assert reply.status == spec.find(code)[0].status
        if reply.status >= 400 or spec.errors_in_2xx:
            assert spec.code_of(reply) == code, (code, reply)


@pytest.mark.parametrize("provider", PROXIES)
def test_proxy_modes_serve_and_refuse(provider: str) -> None:
    with Emulator(provider, password="pw", user="acct") as emu:
        ok = _proxy_get(emu, emu.target_url("/page/3"))
        assert ok.status == 200 and b"Page 3" in ok.body
        tunnel = _proxy_get(emu, f"127.0.0.1:{emu.ports['tls']}", connect=True)
        assert tunnel.status == 200
        with RawClient("127.0.0.1", emu.ports["proxy"][0]) as client:
            bad = client.request("GET", emu.target_url("/page/1"),
                                 {"Proxy-Authorization": basic_auth("nobody", "wrong")})
        spec = SPECS[provider]
        assert bad.status == spec.find(spec.auth_wrong)[0].status
        assert [r.code for r in emu.requests if r.kind != "target"][-1] == spec.auth_wrong


@pytest.mark.parametrize("provider", APIS)
def test_api_modes_scrape_the_local_target(provider: str) -> None:
    with Emulator(provider, password="k3y") as emu:
        ok = _api_get(emu, "url=http://shop.test/page/5")
        assert ok.status == 200 and b"Page 5" in ok.body
        refused = _api_get(emu, "url=http://shop.test/page/5", key=False)
        spec = SPECS[provider]
        assert refused.status == spec.find(spec.auth_missing)[0].status
        assert emu.requests[-1].code == spec.auth_missing
        if spec.key_param:
            assert f"{spec.key_param}=k3y" in emu.api_url("/x")


# --- Crawlbase: errors inside a 200 --------------------------------------------------


def test_crawlbase_reports_a_failed_crawl_in_pc_status() -> None:
    with Emulator("crawlbase", "budget", credits=10) as emu:
        good = _api_get(emu, "url=http://shop.test/page/2")
        assert (good.status, good.header("pc_status"), good.header("original_status")) == \
            (200, "200", "200")
        assert b"Page 2" in good.body
        busy = _api_get(emu, "url=http://shop.test/status/503")
        assert (busy.status, busy.header("pc_status"), busy.header("original_status")) == \
            (200, "503", "503")
        gone = _api_get(emu, "url=http://shop.test/status/404")
        assert (gone.status, gone.header("pc_status")) == (200, "404")
        # Failed crawls are not billed; the good one is.
        assert emu.credits == 9
        codes = [r.code for r in emu.requests if r.kind == "api"]
        assert codes == [None, "pc_status:503", "pc_status:404"]
        for response, action in ((busy, "retry"), (gone, "drop")):
            error = _classified("crawlbase", response, Transport.API)
            if error is not None:
                assert error.action == action


def test_crawlbase_captcha_as_a_flaky_pc_503() -> None:
    with Emulator("crawlbase", "flaky", rate=1.0, codes=["pc_status:503"]) as emu:
        reply = _api_get(emu, "url=http://shop.test/page/1")
        assert (reply.status, reply.header("pc_status"), reply.header("original_status")) == \
            (200, "503", "200")
        assert emu.counters["scenario"]["refused"] == 1


def test_crawlbase_concurrency_refusal_carries_its_headers() -> None:
    reply = Emulator("crawlbase").error_reply("429", concurrency=3)
    assert reply.status == 429
    assert reply.header("Retry-After") and reply.header("X-Crawlbase-Concurrency") == "3"


# --- Zyte API: a limit per target site ------------------------------------------------


def test_zyte_api_over_domain_limit_pauses_one_site_only() -> None:
    with Emulator("zyte_api", "site_limit", limit=1, window=60, sites=["slow.test"],
                  password="zkey") as emu:
        assert emu.proxy_url().startswith("http://zkey:@127.0.0.1:")
        slow = [_proxy_get(emu, emu.target_url("/page/1", host="slow.test")) for _ in range(3)]
        fast = [_proxy_get(emu, emu.target_url("/page/1", host="fast.test")) for _ in range(3)]
        assert [r.status for r in slow] == [200, 429, 429]
        assert [r.status for r in fast] == [200] * 3
        denied = slow[-1]
        assert denied.header("Zyte-Error-Type") == "/limits/over-domain-limit"
        assert denied.header("Content-Type") == "application/problem+json"
        assert json.loads(denied.body)["type"] == "/limits/over-domain-limit"
        assert emu.counters["scenario"]["refused_by_site"] == {"slow.test": 2}
        error = _classified("zyte_api", denied, Transport.PLAIN)
        if error is not None:
            assert (error.code, error.action) == ("/limits/over-domain-limit", "slowdown")


def test_zyte_api_wants_the_key_as_username() -> None:
    with Emulator("zyte_api", password="zkey") as emu:
        bad = _proxy_get(emu, emu.target_url("/page/1"), user="other")
        assert (bad.status, bad.header("Zyte-Error-Type")) == (407, "/auth/proxy-auth-not-valid")


# --- Bright Data: a zone error in Proxy-Status only ---------------------------------


def test_brightdata_zone_error_in_proxy_status_only() -> None:
    with Emulator("brightdata", "revoked", after=1, code="client_10060",
                  proxy_status_only=True, user="brd-customer-c1-zone-z1") as emu:
        assert _proxy_get(emu, emu.target_url("/page/1")).status == 200
        refused = _proxy_get(emu, emu.target_url("/page/1"))
        assert refused.status == 400
        assert not [name for name in refused.header_names if name.lower().startswith("x-brd")]
        status = refused.header("Proxy-Status") or ""
        assert "error=destination_ip_unroutable" in status
        assert 'details="client-10060: ' in status
        # The record reads the code back from Proxy-Status alone.
        assert emu.requests[-1].code == "client_10060"
        assert SPECS["brightdata"].code_of(emu.error_reply("client_10060")) == "client_10060"


def test_brightdata_sends_both_signals_by_default() -> None:
    reply = Emulator("brightdata").error_reply("policy_20220", retry_after=5)
    assert reply.header("x-brd-err-code") == "policy_20220"
    assert 'details="policy-20220: ' in (reply.header("Proxy-Status") or "")
    assert reply.header("Retry-After") == "5"
    with pytest.raises(ValueError, match="brightdata"):
        Emulator("soax", proxy_status_only=True)


# --- the others ------------------------------------------------------------------------


def test_apify_custom_statuses_and_comma_sessions() -> None:
    with Emulator("apify", "flaky", rate=1.0) as emu:
        reply = _proxy_get(emu, emu.target_url("/page/1"), user="groups-RESIDENTIAL,session-s9")
        assert reply.status in (595, 599)
        assert emu.requests[-1].route.endswith("#s9")
    with Emulator("apify", "flaky", rate=1.0, codes=["590"]) as emu:
        reply = _proxy_get(emu, f"127.0.0.1:{emu.ports['tls']}", connect=True)
        assert (reply.status, reply.reason) == (590, "Non Successful")


def test_scrapfly_rejections_say_whether_to_retry() -> None:
    emu = Emulator("scrapfly")
    suspended = emu.error_reply("ERR::ACCOUNT::SUSPENDED")
    country = emu.error_reply("ERR::PROXY::POOL_UNAVAILABLE_COUNTRY")
    assert suspended.header("X-Scrapfly-Reject-Retryable") == "true"
    assert country.header("X-Scrapfly-Reject-Retryable") == "false"
    error = json.loads(suspended.body)["result"]["error"]
    assert (error["code"], error["http_code"], error["retryable"]) == \
        ("ERR::ACCOUNT::SUSPENDED", 429, True)
    assert error["doc_url"].endswith("ERR::ACCOUNT::SUSPENDED")
    with Emulator("scrapfly", "concurrency", max_concurrent=1) as live:
        assert _api_get(live, "url=http://shop.test/page/1").status == 200


def test_zenrows_problem_document() -> None:
    reply = Emulator("zenrows").error_reply("REQS002")
    body = json.loads(reply.body)
    assert (reply.status, body["code"], body["status"]) == (400, "REQS002", 400)
    assert reply.header("Content-Type") == "application/problem+json"


def test_thordata_error_headers() -> None:
    reply = Emulator("thordata").error_reply("client_101")
    assert (reply.status, reply.header("X-thor-error-code")) == (400, "client_101")
    assert reply.header("X-thor-error-msg") == "region parameter error"


def test_bytio_header_on_connect_and_its_dead_session() -> None:
    with Emulator("bytio", "dead_session", session="s1") as emu:
        reply = _proxy_get(emu, f"127.0.0.1:{emu.ports['tls']}", connect=True,
                           user="user-session-s1")
        assert (reply.status, reply.header("bytio-error")) == (404, "session not available")
        assert emu.requests[-1].code == "404"
    assert SPECS["bytio"].code_of(Emulator("bytio").error_reply("zone-disabled")) == \
        "zone-disabled"


def test_nimble_is_status_only() -> None:
    with Emulator("nimble", "budget", credits=0) as emu:
        reply = _proxy_get(emu, emu.target_url("/page/1"))
        assert (reply.status, reply.body) == (402, b"Trial quota or credits exhausted")


def test_scrapedo_passes_the_targets_status_through() -> None:
    with Emulator("scrapedo", "budget", credits=5) as emu:
        missing = _api_get(emu, "url=http://shop.test/status/404")
        assert missing.status == 404
        assert emu.credits == 4  # the target's reply is billed
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            closed = probe.getsockname()[1]
        unreachable = _api_get(emu, f"url=http://127.0.0.1:{closed}/x")
        assert unreachable.status == 502
        assert emu.credits == 4  # Scrape.do's own failure is not


def test_scrapeops_and_scrapingant_keys() -> None:
    with Emulator("scrapeops", "outage", duration=60) as emu:
        assert _api_get(emu, "url=http://shop.test/page/1").status == 500
    with Emulator("scrapingant", password="ant") as emu:
        assert emu.api_headers() == {"x-api-key": "ant"}
        by_header = _api_get(emu, "url=http://shop.test/page/1", key=False,
                             headers=emu.api_headers())
        assert by_header.status == 200
        concurrency = emu.error_reply("409")
        assert json.loads(concurrency.body) == {"detail": "Concurrent requests limit exceeded"}


# --- against the doc-driven rows of the profiles (when they are present) --------------


def _round2_rows() -> list[Any]:
    try:
        from .provider_docs_round2 import ROUND2_ROWS
    except ImportError:
        return []
    return [row for row in ROUND2_ROWS if row.provider in SPECS]


def _ambiguous() -> set[tuple[str, str]]:
    """Codes the rows give under more than one status (no documented status)."""
    seen: dict[tuple[str, str], set[int]] = {}
    for row in _round2_rows():
        seen.setdefault((row.provider, row.code), set()).add(row.status)
    return {key for key, found in seen.items() if len(found) > 1}


def _emulator_code(row: Any) -> str:
    """The emulator's code for a doc row: the same, or (a status shared by
    two meanings) the error whose text the row's header or body carries."""
    spec = SPECS[row.provider]
    texts = {str(v).lower() for v in row.headers.values()}
    if row.body:
        texts.add(row.body.decode("utf-8", "replace").lower())
    for err in spec.errors:
        if err.status == row.status and err.text.lower() in texts:
            return err.code
    return row.code


@pytest.mark.skipif(not _round2_rows(), reason="the round-two doc rows are not on this branch")
@pytest.mark.parametrize("row", _round2_rows(), ids=lambda r: r.id)
def test_emulator_replies_classify_as_the_doc_rows(row: Any) -> None:
    """What the emulator sends for a documented error, the profiles read as
    the docs say (the emulator's tables and the profiles are written apart)."""
    if row.provider not in BUILTIN_PROFILES:
        pytest.skip(f"no {row.provider} profile on this branch")
    code = _emulator_code(row)
    # Bright Data rows without any x-brd-* header: the Proxy-Status-only mode.
    ps_only = row.provider == "brightdata" and \
        not any(name.lower().startswith("x-brd") for name in row.headers)
    try:
        reply = Emulator(row.provider, proxy_status_only=ps_only).error_reply(code)
    except ValueError:
        pytest.skip(f"the emulator has no {row.code} for {row.provider}")
    if reply.status != row.on_wire and (row.provider, row.code) in _ambiguous():
        pytest.skip(f"the docs give no status for {row.code}; the emulator sends {reply.status}")
    assert reply.status == row.on_wire
    transport = Transport(row.transport)
    error = classify(reply.status, reply.header_items(), reply.body, transport=transport,
                     provider=row.provider,
                     request_url=row.url if transport is Transport.API else "")
    assert error is not None
    assert (error.category, error.action, error.scope) == (row.category, row.action, row.scope)


def test_brightdata_direct_api_reports_inside_a_200() -> None:
    with Emulator("brightdata_api", "flaky", rate=1.0, password="bkey") as emu:
        assert emu.api_headers() == {"Authorization": "Bearer bkey"}
        blocked = _api_get(emu, "url=http://shop.test/page/1")
        assert (blocked.status, blocked.header("x-brd-status-code"),
                blocked.header("x-brd-error-code")) == (200, "502", "reject_block")
        assert emu.requests[-1].code == "reject_block"
    with Emulator("brightdata_api", password="bkey") as emu:
        page = _api_get(emu, "url=http://shop.test/status/404")
        assert (page.status, page.header("x-brd-status-code")) == (200, "404")
        assert emu.requests[-1].code is None  # the target's own 404, no provider error
        wrong = _api_get(emu, "url=http://shop.test/page/1", key=False,
                         headers={"Authorization": "Basic bkey"})
        assert (wrong.status, wrong.body, wrong.header("x-brd-error")) == \
            (401, b"Invalid API key", None)
        with RawClient("127.0.0.1", emu.ports["api"]) as client:
            no_zone = client.request("POST", emu.api_url("/request", key=False),
                                     emu.api_headers(), b'{"url": "http://shop.test/"}')
        assert (no_zone.status, no_zone.body) == (400, b"zone not found")
    assert SPECS["brightdata_api"].code_of(
        Emulator("brightdata_api").error_reply("client_10000")) == "client_10000"
