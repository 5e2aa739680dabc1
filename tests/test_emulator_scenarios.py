"""Each scenario's behaviour, counted over the wire; every error it sends is
read back by the classifier as the documented category."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest
import pytest_twisted

from scrapy_proxyerrors import Transport, classify, rate_limit_wait
from scrapy_proxyerrors.emulator import Emulator
from scrapy_proxyerrors.emulator.client import RawClient, RawResponse, basic_auth

PROXIES = ("soax", "helodata", "proxiesfo", "generic")
APIS = ("wxapros", "chocodata")


class Caller:
    """Requests to one emulator over one keep-alive connection."""

    def __init__(self, emu: Emulator, ip: int = 0) -> None:
        self.emu = emu
        port = emu.ports["api"] if emu.ports["api"] else emu.ports["proxy"][ip]
        self.client = RawClient("127.0.0.1", port)

    def get(self, path: str = "/page/1", user: str = "user", password: str = "secret",
            connect: bool = False) -> RawResponse:
        emu = self.emu
        if emu.ports["api"]:
            url = emu.api_url(path if path != "/page/1" else _api_path(emu), key=False)
            query = "&" if "?" in url else "?"
            return self.client.request("GET", f"{url}{query}api_key={password}")
        auth = {"Proxy-Authorization": basic_auth(user, password)}
        if connect:
            return self.client.request("CONNECT", f"127.0.0.1:{emu.ports['tls']}", auth)
        return self.client.request("GET", emu.target_url(path), auth)

    def close(self) -> None:
        self.client.close()


def _api_path(emu: Emulator) -> str:
    return "/api/v1/vpn/ip/8.8.8.8" if emu.provider == "wxapros" else "/v1/product?id=B1"


def call(emu: Emulator, n: int = 1, **kw: Any) -> list[RawResponse]:
    """*n* requests in a row; a new connection after each CONNECT."""
    out = []
    ip = kw.pop("ip", 0)
    caller = Caller(emu, ip)
    try:
        for _ in range(n):
            response = caller.get(**kw)
            out.append(response)
            if kw.get("connect"):
                caller.close()
                caller = Caller(emu, ip)
    finally:
        caller.close()
    return out


def classified(emu: Emulator, response: RawResponse, connect: bool = False) -> Any:
    """What the plugin makes of an emulator's reply."""
    if emu.ports["api"]:
        transport, url = Transport.API, emu.api_url(_api_path(emu))
    else:
        transport, url = (Transport.CONNECT if connect else Transport.PLAIN), ""
    provider = emu.provider if emu.provider in ("proxiesfo", *APIS) else None
    error = classify(response.status, dict(response.headers), response.body,
                     transport=transport, request_url=url, provider=provider)
    assert error is not None, response
    return error


def statuses(responses: list[RawResponse]) -> list[int]:
    return [r.status for r in responses]


# --- ok ---------------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROXIES + APIS)
def test_ok_serves_everything(provider: str) -> None:
    with Emulator(provider) as emu:
        assert statuses(call(emu, 5)) == [200] * 5
        if not emu.ports["api"]:
            assert statuses(call(emu, 2, connect=True)) == [200] * 2
        assert all(r.status == 200 for r in emu.requests)


# --- flaky --------------------------------------------------------------------------

TRANSIENT = {
    "soax": {"NODE_UNAVAILABLE", "GATEWAY_TIMEOUT"},
    "helodata": {"upstream-timeout"},
    "proxiesfo": {"502", "503"},
    "generic": {"502", "503"},
    "wxapros": {"internal_error"},
    "chocodata": {"internal_error", "extraction_failed"},
}


@pytest.mark.parametrize("provider", PROXIES + APIS)
def test_flaky_mixes_transient_faults(provider: str) -> None:
    """About *rate* of the requests fail, with transient codes only, never a stop."""
    with Emulator(provider, "flaky", rate=0.3, seed=1) as emu:
        responses = call(emu, 200)
        failed = [r for r in responses if r.status != 200]
        codes = {r.code for r in emu.requests if r.kind != "target" and r.code}
        assert 30 <= len(failed) <= 90  # binomial(200, 0.3): 60 +- 4.6 sigma
        assert codes == TRANSIENT[provider]
        for response in failed:
            assert classified(emu, response).action in ("retry", "rotate")


def test_flaky_is_deterministic_per_seed() -> None:
    def run(seed: int) -> list[int]:
        with Emulator("soax", "flaky", seed=seed, rate=0.5) as emu:
            return statuses(call(emu, 40))

    assert run(3) == run(3)
    assert run(3) != run(4)


def test_flaky_faults_do_not_depend_on_arrival_order() -> None:
    """Each URL meets the same faults whether requests come in order or all at once."""
    urls = [f"/page/{i}" for i in range(30)]

    def outcomes(emu: Emulator, order: list[str], threads: int) -> dict[str, list[int]]:
        got: dict[str, list[int]] = {}
        lock = threading.Lock()

        def worker(paths: list[str]) -> None:
            for path in paths:
                status = call(emu, 1, path=path)[0].status
                with lock:
                    got.setdefault(path, []).append(status)

        chunks = [order[i::threads] for i in range(threads)]
        workers = [threading.Thread(target=worker, args=(c,)) for c in chunks]
        for worker_thread in workers:
            worker_thread.start()
        for worker_thread in workers:
            worker_thread.join()
        return got

    # Each URL once, then again: the second attempt at each URL has its own fate.
    with Emulator("soax", "flaky", seed=5, rate=0.5) as emu:
        sequential = outcomes(emu, urls + urls, threads=1)
    with Emulator("soax", "flaky", seed=5, rate=0.5) as emu:
        shuffled = outcomes(emu, urls[::-1], threads=8)
        shuffled = {u: v + outcomes(emu, [u], 1)[u] for u, v in shuffled.items()}
    assert shuffled == sequential
    assert {s for v in sequential.values() for s in v} == {200, 502, 504}


def test_flaky_rate_bounds_and_custom_codes() -> None:
    with Emulator("soax", "flaky", rate=0) as emu:
        assert statuses(call(emu, 20)) == [200] * 20
    with Emulator("soax", "flaky", rate=1, codes=["NODE_NOT_FOUND"]) as emu:
        responses = call(emu, 5, connect=True)
        assert {r.header("X-SOAX-Error") for r in responses} == {"NODE_NOT_FOUND"}
        assert classified(emu, responses[0], connect=True).action == "retry"
    with Emulator("proxiesfo", "flaky", rate=1, codes="500") as emu:
        assert [(r.status, r.body) for r in call(emu, 2)] == [(500, b"Internal Server Error")] * 2


# --- budget -----------------------------------------------------------------------

QUOTA = {
    "soax": (407, "PACKAGE_NO_CREDITS", "quota"),
    "proxiesfo": (452, "452", "quota"),
    "chocodata": (402, "insufficient_credits", "quota"),
    "helodata": (403, "batch-expired", "account"),
}


@pytest.mark.parametrize("provider", sorted(QUOTA))
def test_budget_spends_one_credit_per_success(provider: str) -> None:
    status, code, category = QUOTA[provider]
    with Emulator(provider, "budget", credits=10) as emu:
        responses = call(emu, 15)
        assert statuses(responses) == [200] * 10 + [status] * 5
        error = classified(emu, responses[-1])
        assert (error.code, error.category, error.action) == (code, category, "stop")
        assert emu.credits == 0
        emu.refill(3)
        assert statuses(call(emu, 4)) == [200] * 3 + [status]
        emu.refill()
        assert emu.credits == 10


def test_budget_is_never_overdrawn_under_concurrency() -> None:
    """16 connections racing for 37 credits: exactly 37 successes."""
    with Emulator("soax", "budget", credits=37) as emu:
        results: list[int] = []
        lock = threading.Lock()

        def worker() -> None:
            got = statuses(call(emu, 6))
            with lock:
                results.extend(got)

        threads = [threading.Thread(target=worker) for _ in range(16)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert results.count(200) == 37
        assert results.count(407) == 16 * 6 - 37
        assert emu.credits == 0


def test_budget_tunnels_cost_one_and_failed_scrapes_are_free() -> None:
    with Emulator("soax", "budget", credits=2) as emu:
        assert statuses(call(emu, 3, connect=True)) == [200, 200, 407]
    with Emulator("chocodata", "budget", credits=5) as emu, \
            RawClient("127.0.0.1", emu.ports["api"]) as client:
        missing = client.request("GET", emu.api_url("/v1/scrape?url=http://shop.test/status/404"))
        broken = client.request("GET", emu.api_url("/v1/scrape?url=http://shop.test/status/503"))
        found = client.request("GET", emu.api_url("/v1/scrape?url=http://shop.test/page/4"))
        assert (missing.status, classified(emu, missing).code) == (404, "item_not_found")
        assert (broken.status, classified(emu, broken).code) == (502, "target_unreachable")
        assert found.status == 200 and b"Page 4" in found.body
        assert emu.credits == 4  # "non-2xx is never billed"


# --- ratelimit --------------------------------------------------------------------

RATE = {
    "soax": (429, "RATE_LIMIT_EXCEEDED"),
    "helodata": (429, "rps-limit"),
    "proxiesfo": (429, "429"),
    "generic": (429, "429"),
    "wxapros": (429, "rate_limited"),
    "chocodata": (429, "rate_limited"),
}


@pytest.mark.parametrize("provider", sorted(RATE))
def test_ratelimit_refuses_exactly_the_requests_over_the_limit(provider: str) -> None:
    status, code = RATE[provider]
    with Emulator(provider, "ratelimit", limit=5, window=60) as emu:
        responses = call(emu, 8)
        assert statuses(responses) == [200] * 5 + [status] * 3
        for response in responses[5:]:
            assert 1 <= int(response.header("Retry-After") or 0) <= 60
            error = classified(emu, response)
            assert (error.code, error.category) == (code, "rate_limit")
            assert error.action in ("slowdown", "rotate")
            assert error.wait is not None and 0 < error.wait <= 60


def test_wxapros_rate_headers_count_down() -> None:
    with Emulator("wxapros", "ratelimit", limit=3, window=60) as emu:
        responses = call(emu, 4)
    remaining = [r.header("X-RateLimit-Remaining") for r in responses]
    assert remaining == ["2", "1", "0", "0"]
    assert {r.header("X-RateLimit-Limit") for r in responses} == {"3"}
    assert {r.header("X-RateLimit-Window") for r in responses} == {"60"}
    # The reset instant is only ever sent on the 429.
    assert [r.header("X-RateLimit-Reset") is not None for r in responses] == [False] * 3 + [True]
    assert rate_limit_wait(dict(responses[2].headers)) == 60  # spent: pause a window
    assert rate_limit_wait(dict(responses[1].headers)) is None
    denied = classified(emu, responses[3])
    assert denied.body_wait == denied.retry_after and denied.rate_limit.remaining == 0


def test_ratelimit_window_slides() -> None:
    """A slot frees once the oldest admitted request leaves the window."""
    with Emulator("soax", "ratelimit", limit=2, window=0.3) as emu:
        assert statuses(call(emu, 3)) == [200, 200, 429]
        time.sleep(0.35)
        assert statuses(call(emu, 3)) == [200, 200, 429]


def test_helodata_limits_are_per_ip() -> None:
    with Emulator("helodata", "ratelimit", limit=2, window=60, ips=2) as emu:
        assert statuses(call(emu, 3, ip=0)) == [200, 200, 429]
        assert statuses(call(emu, 3, ip=1)) == [200, 200, 429]


def test_ratelimit_is_per_account() -> None:
    """Limits belong to the account (the key), not the connection or session."""
    with Emulator("soax", "ratelimit", limit=3, window=60) as emu:
        users = ["package-1-sessionid-a", "package-1-sessionid-b", "package-1"]
        got = [call(emu, 1, user=user)[0].status for user in users * 2]
        assert got == [200, 200, 200, 429, 429, 429]


# --- concurrency ------------------------------------------------------------------

CONCURRENCY = {
    "soax": (429, "RATE_LIMIT_EXCEEDED", "slowdown"),
    "proxiesfo": (453, "453", "slowdown"),
    "helodata": (429, "concurrent-limit", "rotate"),
    "chocodata": (429, "rate_limited", "slowdown"),
}


def _parallel(emu: Emulator, n: int, **kw: Any) -> list[int]:
    """*n* requests sent at once (all in flight during the emulator's delay)."""
    barrier = threading.Barrier(n)
    results: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        caller = Caller(emu)
        barrier.wait()
        try:
            status = caller.get(**kw).status
        finally:
            caller.close()
        with lock:
            results.append(status)

    threads = [threading.Thread(target=worker) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sorted(results)


@pytest.mark.parametrize("provider", sorted(CONCURRENCY))
def test_concurrency_limit(provider: str) -> None:
    status, code, action = CONCURRENCY[provider]
    with Emulator(provider, "concurrency", max_concurrent=2, delay=0.5) as emu:
        assert _parallel(emu, 5) == sorted([200] * 2 + [status] * 3)
        refused = next(r for r in emu.requests if r.status == status)
        assert refused.code == code
        # Slots come back once the requests are answered.
        assert statuses(call(emu, 1)) == [200]
    response = Emulator(provider).error_reply(code)
    error = classify(response.status, response.header_items(), response.body,
                     provider=provider if provider != "soax" else None,
                     transport=Transport.API if provider == "chocodata" else Transport.PLAIN)
    assert error is not None and error.action == action


def test_open_tunnels_hold_their_slot() -> None:
    """A CONNECT tunnel counts against the limit for as long as it is open."""
    with Emulator("soax", "concurrency", max_concurrent=2) as emu:
        first, second, third = Caller(emu), Caller(emu), Caller(emu)
        assert first.get(connect=True).status == 200
        assert second.get(connect=True).status == 200
        assert third.get(connect=True).status == 429
        first.close()
        # The slot frees when the tunnel winds down, shortly after the close.
        deadline = time.monotonic() + 5
        while (status := Caller(emu).get(connect=True).status) != 200:
            assert time.monotonic() < deadline
        assert status == 200
        second.close()
        third.close()


# --- sticky -------------------------------------------------------------------------


def test_soax_sticky_node_dies_and_a_new_session_recovers() -> None:
    with Emulator("soax", "sticky", node_lifetime=3) as emu:
        old = call(emu, 5, user="package-1-sessionid-a")
        assert statuses(old) == [200, 200, 200, 502, 502]
        error = classified(emu, old[-1])
        assert (error.code, error.action, error.scope) == ("NODE_UNAVAILABLE", "rotate", "route")
        assert statuses(call(emu, 2, user="package-1-sessionid-a")) == [502, 502]
        assert statuses(call(emu, 3, user="package-1-sessionid-b")) == [200] * 3
        assert statuses(call(emu, 8, user="package-1")) == [200] * 8  # rotating: no session
        bound = call(emu, 3, user="package-1-sessionid-c-bind-node", connect=True)
        assert statuses(bound) == [200, 200, 200]
        dead = call(emu, 1, user="package-1-sessionid-c-bind-node", connect=True)[0]
        assert (dead.status, dead.header("X-SOAX-Error")) == (503, "BOUND_NODE_FAILED")
        assert classified(emu, dead, connect=True).action == "rotate"


def test_proxiesfo_sticky_node_dies_with_502() -> None:
    with Emulator("proxiesfo", "sticky", node_lifetime=2) as emu:
        assert statuses(call(emu, 3, user="user-session-x1")) == [200, 200, 502]
        assert statuses(call(emu, 2, user="user-session-x2")) == [200, 200]
        assert [r for r in emu.requests if r.kind == "plain"][-1].route.endswith("#x2")


# --- isp ---------------------------------------------------------------------------


def test_isp_bad_ip_always_times_out() -> None:
    with Emulator("helodata", "isp", ips=3, bad_ips={1}) as emu:
        assert statuses(call(emu, 3, ip=0)) == [200] * 3
        bad = call(emu, 3, ip=1)
        assert statuses(bad) == [522] * 3
        assert statuses(call(emu, 3, ip=1, connect=True)) == [522] * 3
        assert statuses(call(emu, 3, ip=2)) == [200] * 3
        error = classified(emu, bad[0])
        assert (error.code, error.action, error.scope) == ("upstream-timeout", "rotate", "route")
        bad_port = emu.ports["proxy"][1]
        routes = {r.route for r in emu.requests if r.status == 522}
        assert routes == {f"127.0.0.1:{bad_port}"}


# --- auth_failed --------------------------------------------------------------------


@pytest.mark.parametrize("provider", PROXIES + APIS)
def test_auth_failed_refuses_even_good_credentials(provider: str) -> None:
    with Emulator(provider, "auth_failed") as emu:
        responses = call(emu, 3)
        if not emu.ports["api"]:
            responses += call(emu, 1, connect=True)
        for response in responses:
            error = classified(emu, response, connect=response is responses[-1])
            assert (error.category, error.action) == ("auth", "stop")
        assert len({(r.status, r.code) for r in emu.requests}) == 1


def test_scenario_code_override() -> None:
    with Emulator("soax", "auth_failed", code="PACKAGE_SUSPENDED") as emu:
        assert call(emu)[0].header("X-SOAX-Error") == "PACKAGE_SUSPENDED"
    with Emulator("wxapros", "budget", credits=1, code="forbidden") as emu:
        assert statuses(call(emu, 2)) == [200, 403]


# --- the providers' own checks -----------------------------------------------------


@pytest.mark.parametrize(("user", "code"), [
    ("package-1-country-US", "ERR_INVALID_VALUE"),
    ("package-1-country-us-country-gb", "ERR_DUPLICATE_PARAM"),
    ("package-1-city-los-angeles", "ERR_UNKNOWN_PARAM"),
    ("package-1-sessionid-s-bind-node-rotate-requests_5", "ERR_INVALID_COMBINATION"),
])
def test_soax_rule_checks(user: str, code: str) -> None:
    with Emulator("soax") as emu:
        response = call(emu, user=user)[0]
        assert (response.status, response.header("X-SOAX-Error")) == (400, code)
        assert classified(emu, response).action == "stop"


def test_soax_session_rules_are_locked_and_rules_can_be_required() -> None:
    with Emulator("soax", require_rules=["country"]) as emu:
        assert call(emu, user="package-1-country-us-sessionid-q")[0].status == 200
        changed = call(emu, user="package-1-country-de-sessionid-q")[0]
        assert changed.header("X-SOAX-Error") == "SESSION_PARAMS_MISMATCH"
        assert classified(emu, changed).action == "rotate"
        missing = call(emu, user="package-1-sessionid-r")[0]
        assert missing.header("X-SOAX-Error") == "ERR_MISSING_PARAMS"


@pytest.mark.parametrize(("user", "status", "body"), [
    ("user-country-zz", 454, b"invalid country code"),
    ("user-country-us-state-NY", 454, b"invalid state code"),
    ("user-country-us-city-l4", 454, b"invalid city code"),
    ("user-ttl-0", 455, b"invalid ttl"),
    ("user-country-us-state-california-city-ran-ttl-30", 200, None),
])
def test_proxiesfo_targeting_checks(user: str, status: int, body: bytes | None) -> None:
    with Emulator("proxiesfo") as emu:
        response = call(emu, user=user)[0]
        assert response.status == status
        if body is not None:
            assert response.body == body
            assert classified(emu, response).category == "validation"


def test_proxiesfo_refuses_expect() -> None:
    with Emulator("proxiesfo") as emu, RawClient("127.0.0.1", emu.ports["proxy"][0]) as client:
        headers = {"Proxy-Authorization": basic_auth("user", "secret"),
                   "Expect": "100-continue", "Content-Length": "3"}
        response = client.request("POST", emu.target_url("/echo"), headers)
        assert (response.status, response.body) == (417, b"Expectation Failed")


@pytest.mark.parametrize(("ip", "code"), [
    ("10.0.0.1", "invalid_ip_reserved"),
    ("3232235777", "invalid_ip_integer_form"),
    ("8.8.8.x", "invalid_ip_format"),
])
def test_wxapros_ip_checks(ip: str, code: str) -> None:
    with Emulator("wxapros") as emu:
        response = call(emu, path=f"/api/v1/vpn/ip/{ip}")[0]
        error = classified(emu, response)
        assert (response.status, error.code, error.action) == (400, code, "drop")


def test_chocodata_roadmap_params() -> None:
    with Emulator("chocodata") as emu:
        response = call(emu, path="/v1/product?id=1&render_js=true")[0]
        assert classified(emu, response).code == "not_implemented"


# --- delay and stop ---------------------------------------------------------------


def test_stop_does_not_wait_for_a_long_delay() -> None:
    emu = Emulator("soax", delay=60).start()
    caller = Caller(emu)
    auth = {"Proxy-Authorization": basic_auth("user", "secret")}
    caller.client.send(
        f"GET {emu.target_url('/page/1')} HTTP/1.1\r\nHost: x\r\n"
        f"Proxy-Authorization: {auth['Proxy-Authorization']}\r\n\r\n".encode()
    )
    time.sleep(0.1)  # let the request reach the delay
    emu.stop()
    caller.close()
    assert not [t for t in threading.enumerate() if t.name.startswith(emu.name + "-")]


# --- scenarios for scheduling tests (issue 11) ---------------------------------------
#
# Each one is asserted through ``counters["scenario"]``, the numbers crawl tests and
# benchmarks read: what the scenario refused, and what arrived after it refused.


def test_sustained_soax_rate_limit_counts_every_429() -> None:
    with Emulator("soax", "ratelimit", limit=5, window=60) as emu:
        responses = call(emu, 9)
        assert statuses(responses) == [200] * 5 + [429] * 4
        denied = responses[-1]
        assert denied.header("X-SOAX-Error") == "RATE_LIMIT_EXCEEDED"
        assert denied.header("X-SOAX-Detail") and denied.header("Retry-After")
        scenario = emu.counters["scenario"]
        assert scenario["refused"] == 4
        assert emu.counters["by_status"][(429, "RATE_LIMIT_EXCEEDED")] == 4
        first = scenario["first_refusal_seq"]
        assert next(r.seq for r in emu.requests if r.status == 429) == first
        assert scenario["after_first_refusal"] == 3


def test_sustained_wxapros_rate_limit_sends_its_window() -> None:
    with Emulator("wxapros", "ratelimit", limit=5, window=60) as emu:
        denied = call(emu, 7)[-1]
        assert denied.status == 429
        assert (denied.header("X-RateLimit-Limit"), denied.header("X-RateLimit-Window"),
                denied.header("X-RateLimit-Remaining")) == ("5", "60", "0")
        assert int(denied.header("X-RateLimit-Reset") or 0) > time.time() - 1
        assert 1 <= int(denied.header("Retry-After") or 0) <= 60
        assert emu.counters["scenario"]["refused"] == 2
        error = classified(emu, denied)
        assert error.rate_limit is not None and error.rate_limit.limit == 5


def test_concurrency_limit_counts_refusals_and_the_peak() -> None:
    with Emulator("proxiesfo", "concurrency", max_concurrent=3, delay=0.5) as emu:
        assert _parallel(emu, 8) == sorted([200] * 3 + [453] * 5)
        scenario = emu.counters["scenario"]
        assert (scenario["refused"], scenario["peak"]) == (5, 3)
        refused = [r for r in emu.requests if r.status == 453]
        assert {r.code for r in refused} == {"453"}


def _raw_get(port: int, url: str, user: str = "user", password: str = "secret") -> RawResponse:
    with RawClient("127.0.0.1", port) as client:
        return client.request("GET", url, {"Proxy-Authorization": basic_auth(user, password)})


def test_pool_with_a_refused_a_hanging_and_an_unavailable_port() -> None:
    import socket

    with Emulator("generic", "pool", size=5, refused={1}, hanging={2}, unavailable={3},
                  unavailable_for=60) as emu:
        ports = emu.ports["proxy"]
        assert len(emu.proxy_urls()) == 5
        url = emu.target_url("/page/1")
        # Healthy ports serve.
        assert _raw_get(ports[0], url).status == 200
        assert _raw_get(ports[4], url).status == 200
        # The refused port refuses the TCP connection itself.
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", ports[1]), timeout=5)
        # The hanging port reads the request and never answers; the record
        # notes when the client gives up.
        with socket.create_connection(("127.0.0.1", ports[2]), timeout=0.2) as sock:
            sock.sendall(f"GET {url} HTTP/1.1\r\nHost: x\r\nProxy-Authorization: "
                         f"{basic_auth('user', 'secret')}\r\n\r\n".encode())
            assert emu.wait_for(lambda recs: any(r.code == "hanging" for r in recs))
            with pytest.raises(socket.timeout):
                sock.recv(1)
        assert emu.wait_for(lambda recs: any(r.code == "hanging" and r.client_closed
                                             for r in recs))
        # The unavailable port: 503 + Retry-After for its whole window.
        replies = [_raw_get(ports[3], url) for _ in range(3)]
        assert statuses(replies) == [503] * 3
        assert all(30 < int(r.header("Retry-After") or 0) <= 60 for r in replies)
        error = classified(emu, replies[0])
        assert error.status == 503 and error.retry_after is not None
        counters = emu.counters
        assert counters["by_route"][f"127.0.0.1:{ports[3]}"] == 3
        assert counters["by_route"][f"127.0.0.1:{ports[2]}"] == 1
        assert f"127.0.0.1:{ports[1]}" not in counters["by_route"]
        scenario = counters["scenario"]
        assert scenario["hanging"] == 1 and scenario["hanging_closed"] == 1
        assert scenario["refused"] == 3 and scenario["refused_in_window"] == 2


def test_pool_unavailable_port_recovers_after_its_window() -> None:
    with Emulator("proxiesfo", "pool", size=2, unavailable={0}, unavailable_for=0.3) as emu:
        port = emu.ports["proxy"][0]
        first = _raw_get(port, emu.target_url("/page/1"))
        assert (first.status, first.header("Retry-After")) == (503, "1")
        deadline = time.monotonic() + 10
        while (status := _raw_get(port, emu.target_url("/page/1")).status) != 200:
            assert status == 503 and time.monotonic() < deadline
            time.sleep(0.05)
        assert _raw_get(emu.ports["proxy"][1], emu.target_url("/page/1")).status == 200


def test_pool_checks_its_parameters() -> None:
    with pytest.raises(ValueError, match="out of range"):
        Emulator("generic", "pool", size=2, hanging={2})
    with pytest.raises(ValueError, match="not two of them"):
        Emulator("generic", "pool", size=3, hanging={1}, refused={1})
    with pytest.raises(ValueError, match="proxies"):
        Emulator("wxapros", "pool")
    with pytest.raises(ValueError, match="documents no error"):
        Emulator("soax", "pool", unavailable={0})
    Emulator("soax", "pool", unavailable={0}, code="BOUND_NODE_FAILED")


@pytest.mark.parametrize(("provider", "user", "status", "code"), [
    ("soax", "package-1-sessionid-{}", 502, "NODE_UNAVAILABLE"),
    ("proxiesfo", "user-session-{}", 502, "502"),
    ("generic", "user-session-{}", 502, "502"),
])
def test_dead_session_fails_only_that_session(provider: str, user: str, status: int,
                                              code: str) -> None:
    with Emulator(provider, "dead_session", session="s1", after=2) as emu:
        assert statuses(call(emu, 4, user=user.format("s1"))) == [200, 200, status, status]
        assert statuses(call(emu, 5, user=user.format("s2"))) == [200] * 5
        assert statuses(call(emu, 1, user=user.format("s1"))) == [status]
        assert statuses(call(emu, 1, user=user.format("s3"))) == [200]
        scenario = emu.counters["scenario"]
        assert scenario["dead_session"] == "s1"
        assert (scenario["refused"], scenario["sessions"]) == (3, 3)
        dead = [r for r in emu.requests if r.status == status]
        assert {(r.session, r.code) for r in dead} == {("s1", code)}
        assert classified(emu, call(emu, 1, user=user.format("s1"))[0]).action in (
            "rotate", "retry")


def test_dead_session_defaults_to_the_first_session_seen() -> None:
    with Emulator("soax", "dead_session") as emu:
        assert statuses(call(emu, 1, user="package-1")) == [200]  # no session: never dies
        assert statuses(call(emu, 2, user="package-1-sessionid-a")) == [502, 502]
        assert statuses(call(emu, 2, user="package-1-sessionid-b")) == [200, 200]


@pytest.mark.parametrize(("provider", "status", "code"), [
    ("wxapros", 500, "internal_error"),
    ("chocodata", 500, "internal_error"),
    ("generic", 500, "500"),
])
def test_outage_then_recovery(provider: str, status: int, code: str) -> None:
    with Emulator(provider, "outage", duration=0.4, after=2) as emu:
        got = statuses(call(emu, 3))
        assert got == [200, 200, status]
        deadline = time.monotonic() + 10
        while (last := call(emu, 1)[0].status) != 200:
            assert last == status and time.monotonic() < deadline
            time.sleep(0.05)
        assert statuses(call(emu, 3)) == [200] * 3
        scenario = emu.counters["scenario"]
        failed = [r for r in emu.requests if r.status == status]
        assert {r.code for r in failed} == {code}
        assert scenario["refused"] == len(failed) >= 1
        assert scenario["after_outage"] == 4
        start, end = scenario["outage_start"], scenario["outage_end"]
        assert start is not None and end is not None and end == pytest.approx(start + 0.4)
        assert all(r.time < end for r in failed)  # read before the end, answered in it
        assert classified(emu, emu.error_reply(code)).category in ("internal", "upstream")


@pytest.mark.parametrize(("provider", "status", "code"), [
    ("soax", 407, "AUTH_FAILED"),
    ("chocodata", 401, "revoked"),
    ("wxapros", 401, "unauthorized"),
])
def test_revoked_key_records_what_came_after(provider: str, status: int, code: str) -> None:
    with Emulator(provider, "revoked", after=3) as emu:
        responses = call(emu, 6)
        assert statuses(responses) == [200] * 3 + [status] * 3
        error = classified(emu, responses[-1])
        assert (error.code, error.action) == (code, "stop")
        scenario = emu.counters["scenario"]
        first = scenario["first_refusal_seq"]
        provider_requests = [r for r in emu.requests if r.kind != "target"]
        assert first == provider_requests[3].seq
        # What a crawl that stops at once would not have sent.
        late = [r for r in provider_requests if r.seq > first]
        assert scenario["after_first_refusal"] == len(late) == 2
        assert all(r.wall >= provider_requests[3].wall for r in late)


def test_site_limit_pauses_one_site_only() -> None:
    with Emulator("generic", "site_limit", limit=2, window=60, sites=["slow.test"],
                  code="429") as emu:
        port = emu.ports["proxy"][0]
        slow = [_raw_get(port, emu.target_url("/page/1", host="slow.test")) for _ in range(4)]
        fast = [_raw_get(port, emu.target_url("/page/1", host="fast.test")) for _ in range(6)]
        assert statuses(slow) == [200, 200, 429, 429]
        assert statuses(fast) == [200] * 6
        assert 1 <= int(slow[-1].header("Retry-After") or 0) <= 60
        scenario = emu.counters["scenario"]
        assert scenario["requests_by_site"] == {"slow.test": 4}
        assert scenario["refused_by_site"] == {"slow.test": 2}


def test_site_limit_counts_every_site_when_none_is_named() -> None:
    with Emulator("chocodata", "site_limit", limit=1, window=60, code="rate_limited") as emu, \
            RawClient("127.0.0.1", emu.ports["api"]) as client:
        got = [client.request("GET", emu.api_url(f"/v1/scrape?url=http://{host}/page/1")).status
               for host in ("a.test", "b.test", "a.test", "b.test")]
        assert got == [200, 200, 429, 429]
        assert emu.counters["scenario"]["refused_by_site"] == {"a.test": 1, "b.test": 1}


@pytest_twisted.inlineCallbacks
def test_pool_through_a_stock_scrapy_crawl() -> Any:
    """The pool as a real crawl meets it: the refused port fails to connect,
    the hanging one times out and Scrapy's closed socket is recorded, the
    unavailable one answers 503 + Retry-After, the healthy one serves."""
    from .crawling import Outcome, make_crawler

    with Emulator("generic", "pool", size=4, refused={1}, hanging={2}, unavailable={3},
                  unavailable_for=60) as emu:
        proxies = emu.proxy_urls()
        requests = [(emu.target_url(f"/page/{i}"), {"proxy": proxies[i % 4]})
                    for i in range(8)]
        outcome = Outcome()
        crawler = make_crawler({"ADDONS": {}, "RETRY_ENABLED": False, "DOWNLOAD_TIMEOUT": 1,
                                "HTTPERROR_ALLOW_ALL": True})
        yield crawler.crawl(requests=requests, outcome=outcome)
        assert emu.wait_for(lambda recs: sum(r.client_closed for r in recs) == 2)
        counters = emu.counters
    assert sorted(r.status for r in outcome.responses) == [200, 200, 503, 503]
    # Twisted's errors, or (Scrapy 2.19+) Scrapy's Download* versions of them.
    names = [type(f.value).__name__ for f in outcome.failures]
    refused = [n for n in names if "ConnectionRefused" in n]
    timed_out = [n for n in names if "Timeout" in n]
    assert (len(refused), len(timed_out), len(outcome.failures)) == (2, 2, 4)
    scenario = counters["scenario"]
    assert (scenario["hanging"], scenario["hanging_closed"]) == (2, 2)
    assert (scenario["refused"], scenario["refused_in_window"]) == (2, 1)
    assert counters["by_kind"] == {"plain": 6, "target": 2}
