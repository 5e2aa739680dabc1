"""The emulator against the providers' docs: every documented reply, built and
over the wire (plain and CONNECT), read back by the classifier."""

from __future__ import annotations

import contextlib
import json
import re
import socket
import threading
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrapy_proxyerrors import Transport, classify
from scrapy_proxyerrors.emulator import Emulator, Reply, RequestRecord
from scrapy_proxyerrors.emulator.client import RawClient, RawResponse, basic_auth

from .provider_docs import ALL_ROWS, API_ROWS, PROXY_ROWS, DocRow

if TYPE_CHECKING:
    from collections.abc import Iterator

PROVIDERS = ("soax", "helodata", "proxiesfo", "wxapros", "chocodata", "generic")
#: Headers whose value depends on the clock.
CLOCK_HEADERS = {"X-RateLimit-Reset"}


@pytest.fixture(scope="module")
def emulators() -> Iterator[dict[str, Emulator]]:
    """One started emulator per provider, shared by the row tests."""
    started = {name: Emulator(name).start() for name in PROVIDERS}
    yield started
    for emu in started.values():
        emu.stop()


@pytest.fixture
def emu_for(emulators: dict[str, Emulator]) -> Iterator[dict[str, Emulator]]:
    """The shared emulators, with any responder removed after the test."""
    yield emulators
    for emu in emulators.values():
        emu.set_responder(None)


def _shape(value: Any) -> Any:
    """The structure of a JSON value: keys of objects, kinds of leaves."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in value.items()}
    return type(value).__name__


def _assert_matches_row(row: DocRow, status: int, headers: list[tuple[str, str]],
                        body: bytes) -> None:
    """Status, header names and values, and body shape, as the docs show."""
    assert status == row.status
    got = dict(headers)
    for name, value in row.headers.items():
        assert name in got, f"{name} missing from {list(got)}"
        if name not in CLOCK_HEADERS:
            assert got[name] == value
    if row.provider == "wxapros":
        data, expected = json.loads(body), json.loads(row.body)
        assert _shape(data) == _shape(expected)
        assert data["error"]["code"] == row.code
        assert data["error"]["message"]
        assert data["error"]["details"] == expected["error"]["details"]
    elif row.provider == "chocodata":
        data, expected = json.loads(body), json.loads(row.body)
        assert _shape(data) == _shape(expected)
        assert data["error"] == row.code
        assert data["docs_url"] == expected["docs_url"]
        assert re.fullmatch(r"req_[0-9a-f]{12}", data["request_id"])
        assert data.get("retryable", None) == expected.get("retryable", None)
    else:
        # soax and helodata send no body; proxies.fo its exact plaintext.
        assert body == row.body


def _assert_classified(row: DocRow, status: int, headers: list[tuple[str, str]], body: bytes,
                       transport: Transport, **kwargs: Any) -> None:
    # proxies.fo sends no signature header and 127.0.0.1 names no provider:
    # like a user would, name it (the classifier tests do the same).
    provider = row.provider if row.provider in ("proxiesfo", "wxapros", "chocodata") else None
    error = classify(status, dict(headers), body, transport=transport, provider=provider,
                     **kwargs)
    assert error is not None
    assert (error.provider, error.code, error.status) == (row.provider, row.code, row.status)
    assert (error.category, error.action, error.scope) == (row.category, row.action, row.scope)


@pytest.mark.parametrize("row", ALL_ROWS, ids=lambda r: r.id)
def test_error_reply_matches_the_docs(row: DocRow) -> None:
    """error_reply() builds each documented reply exactly as the docs show it."""
    reply = Emulator(row.provider).error_reply(row.code)
    _assert_matches_row(row, reply.status, reply.header_items(), reply.body)
    _assert_classified(row, reply.status, reply.header_items(), reply.body,
                       Transport(row.transport))


def _through_proxy(emu: Emulator, reply: Reply, *, connect: bool) -> tuple[RawResponse, int]:
    """Send one request through the proxy while the responder answers *reply*."""
    seen: list[int] = []

    def responder(rec: RequestRecord) -> Reply | None:
        if rec.kind in ("plain", "connect"):
            seen.append(rec.seq)
            return reply
        return None

    emu.set_responder(responder)
    client, auth = RawClient.for_url(emu.proxy_url())
    with client:
        if connect:
            target = emu.target_url("/", https=True).split("/")[2]
            response = client.request("CONNECT", target, auth)
        else:
            response = client.request("GET", emu.target_url("/page/1"), auth)
    return response, seen[0]


@pytest.mark.parametrize("row", PROXY_ROWS, ids=lambda r: r.id)
def test_proxy_row_over_the_wire(row: DocRow, emu_for: dict[str, Emulator]) -> None:
    """A documented proxy error, sent on a plain request, reads back as the row."""
    emu = emu_for[row.provider]
    response, seq = _through_proxy(emu, emu.error_reply(row.code), connect=False)
    _assert_matches_row(row, response.status, response.headers, response.body)
    _assert_classified(row, response.status, response.headers, response.body,
                       Transport.PLAIN, proxy_url=emu.proxy_url())
    record = next(r for r in emu.requests if r.seq == seq)
    assert (record.status, record.code) == (row.status, row.code)


@pytest.mark.parametrize("row", PROXY_ROWS, ids=lambda r: r.id)
def test_proxy_row_on_connect(row: DocRow, emu_for: dict[str, Emulator]) -> None:
    """The same error on CONNECT: full reply, socket kept open until the client closes."""
    emu = emu_for[row.provider]
    response, seq = _through_proxy(emu, emu.error_reply(row.code), connect=True)
    _assert_matches_row(row, response.status, response.headers, response.body)
    _assert_classified(row, response.status, response.headers, response.body,
                       Transport.CONNECT, proxy_url=emu.proxy_url())
    assert emu.wait_for(lambda recs: any(r.seq == seq and r.client_closed for r in recs))
    record = next(r for r in emu.requests if r.seq == seq)
    assert (record.kind, record.status, record.code) == ("connect", row.status, row.code)


@pytest.mark.parametrize("row", API_ROWS, ids=lambda r: r.id)
def test_api_row_over_the_wire(row: DocRow, emu_for: dict[str, Emulator]) -> None:
    """A documented API error, sent by the API itself, reads back as the row."""
    emu = emu_for[row.provider]
    emu.set_responder(lambda rec: emu.error_reply(row.code) if rec.kind == "api" else None)
    url = emu.api_url("/v1/product?id=B0001")
    with RawClient("127.0.0.1", emu.ports["api"]) as client:
        response = client.request("GET", url, emu.api_headers())
    _assert_matches_row(row, response.status, response.headers, response.body)
    _assert_classified(row, response.status, response.headers, response.body,
                       Transport.API, request_url=url)
    if row.provider == "wxapros":
        # "Every response carries the current rate-limit state."
        assert response.header("X-RateLimit-Limit") and response.header("X-RateLimit-Window")


def test_connect_error_socket_stays_open_until_the_client_closes() -> None:
    """After a refused CONNECT the emulator neither closes nor marks the socket early."""
    with Emulator("soax", "auth_failed") as emu:
        client, auth = RawClient.for_url(emu.proxy_url())
        response = client.request("CONNECT", "example.com:443", auth)
        assert (response.status, response.header("X-SOAX-Error")) == (407, "AUTH_FAILED")
        assert not client.closed_by_peer(timeout=0.2)
        assert not emu.requests[-1].client_closed
        client.close()
        assert emu.wait_for(lambda recs: recs[-1].client_closed)
        assert emu.counters["client_closed"] == 1


def test_keep_alive_after_a_connect_error() -> None:
    """A client may reuse the connection after a refused CONNECT: not a close."""
    with Emulator("soax", "auth_failed") as emu:
        client, auth = RawClient.for_url(emu.proxy_url())
        with client:
            assert client.request("CONNECT", "example.com:443", auth).status == 407
            assert client.request("GET", emu.target_url("/page/1"), auth).status == 407
            assert client.request("CONNECT", "example.com:443", auth).status == 407
        assert emu.wait_for(lambda recs: recs[-1].client_closed)
        assert [r.client_closed for r in emu.requests] == [False, False, True]


# --- authentication -------------------------------------------------------------

AUTH_CODES = {
    # provider: (no credentials, wrong credentials)
    "soax": ("ERR_AUTH_REQUIRED", "AUTH_FAILED"),
    "helodata": ("auth-failed", "auth-failed"),
    "proxiesfo": ("407", "407"),
    "generic": ("407", "407"),
    "wxapros": ("unauthorized", "unauthorized"),
    "chocodata": ("unauthorized", "unauthorized"),
}


def _get(emu: Emulator, password: str | None, user: str = "user") -> tuple[RawResponse, str]:
    if emu.provider in ("wxapros", "chocodata"):
        path = "/api/v1/vpn/ip/8.8.8.8" if emu.provider == "wxapros" else "/v1/product?id=1"
        headers = {}
        if password is not None and emu.provider == "wxapros":
            headers["X-API-Key"] = password
        elif password is not None:
            path += f"&api_key={password}"
        with RawClient("127.0.0.1", emu.ports["api"]) as client:
            return client.request("GET", path, headers), emu.api_url(path)
    headers = {} if password is None else {"Proxy-Authorization": basic_auth(user, password)}
    with RawClient("127.0.0.1", emu.ports["proxy"][0]) as client:
        return client.request("GET", emu.target_url("/page/1"), headers), ""


@pytest.mark.parametrize("provider", PROVIDERS)
def test_auth(provider: str) -> None:
    """Right credentials pass; missing and wrong ones get the provider's auth error."""
    missing, wrong = AUTH_CODES[provider]
    with Emulator(provider, user="alice", password="k3y") as emu:
        ok, _ = _get(emu, "k3y", "alice")
        assert ok.status == 200
        for password, code in ((None, missing), ("nope", wrong)):
            response, url = _get(emu, password, "alice")
            transport = Transport.API if url else Transport.PLAIN
            error = classify(response.status, dict(response.headers), response.body,
                             transport=transport, request_url=url,
                             provider=provider if provider != "soax" else None)
            assert error is not None and error.category == "auth" and error.action == "stop"
            assert emu.requests[-1].code == code
        assert [r.status for r in emu.requests if r.kind != "target"][1:] == \
            [error.status] * 2


def test_soax_accepts_any_username_with_the_package_key() -> None:
    with Emulator("soax", password="pkgkey") as emu:
        for user in ("package-1-country-us", "package-7-sessionid-x1", "whatever"):
            response, _ = _get(emu, "pkgkey", user)
            assert response.status == 200


def test_helodata_checks_the_sub_user() -> None:
    with Emulator("helodata") as emu:
        assert _get(emu, "secret", "someone-else")[0].status == 407


def test_credentials_in_the_url_are_quoted() -> None:
    # Basic auth cannot carry a colon in the user name (RFC 7617), the password can.
    with Emulator("generic", user="a b@c", password="p/w:x") as emu:
        url = emu.proxy_url()
        assert "a%20b%40c:p%2Fw%3Ax@" in url
        client, auth = RawClient.for_url(url)
        with client:
            assert client.request("GET", emu.target_url("/page/1"), auth).status == 200
        assert emu.requests[0].user == "a b@c" and emu.requests[0].password == "p/w:x"


# --- records ---------------------------------------------------------------------


def test_records_describe_each_request() -> None:
    """Route with the session, kind, URL, credentials and headers as received."""
    with Emulator("soax") as emu:
        user = "package-9-sessionid-s1"
        client, auth = RawClient.for_url(emu.proxy_url(user=user))
        with client:
            client.request("GET", emu.target_url("/page/2"), {**auth, "X-Mixed-Case": "1"})
            client.request("CONNECT", emu.target_url(https=True).split("/")[2], auth)
        port = emu.ports["proxy"][0]
        plain, target, connect = emu.requests
        assert plain.route == f"127.0.0.1:{port}#s1"
        assert (plain.kind, plain.method, plain.url) == ("plain", "GET", emu.target_url("/page/2"))
        assert (plain.user, plain.password, plain.session) == (user, "secret", "s1")
        assert plain.headers["X-Mixed-Case"] == "1"
        assert plain.headers["Proxy-Authorization"] == auth["Proxy-Authorization"]
        assert (target.kind, target.url, target.status) == ("target", "/page/2", 200)
        assert "Proxy-Authorization" not in target.headers  # never forwarded
        assert (connect.kind, connect.status) == ("connect", 200)
        assert connect.url == f"127.0.0.1:{emu.ports['tls']}"
        assert [r.seq for r in emu.requests] == [0, 1, 2]
        counters = emu.counters
        assert counters["total"] == 3
        assert counters["by_kind"] == {"plain": 1, "target": 1, "connect": 1}
        assert counters["by_status"] == {(200, None): 3}
        assert counters["by_route"][f"127.0.0.1:{port}#s1"] == 2
        emu.reset()
        assert emu.requests == [] and emu.counters["total"] == 0


def test_proxiesfo_session_and_api_routes() -> None:
    with Emulator("proxiesfo") as emu:
        _get(emu, "secret", "user-country-us-session-abc")
        assert emu.requests[0].session == "abc"
        assert emu.requests[0].route.endswith("#abc")
    with Emulator("wxapros", password="topsecret") as emu:
        _get(emu, "topsecret")
        record = emu.requests[0]
        assert record.kind == "api" and record.password == "topsecret"
        assert record.route.startswith("key-") and "topsecret" not in record.route


def test_responder_overrides_then_falls_back() -> None:
    with Emulator("generic") as emu:
        emu.set_responder(lambda rec: Reply(418, {"X-T": "1"}, b"tea")
                          if rec.url.endswith("/page/1") else None)
        client, auth = RawClient.for_url(emu.proxy_url())
        with client:
            first = client.request("GET", emu.target_url("/page/1"), auth)
            second = client.request("GET", emu.target_url("/page/2"), auth)
        assert (first.status, first.reason, first.body) == (418, "I'm a Teapot", b"tea")
        assert second.status == 200


def test_responder_sees_provider_requests_only() -> None:
    """The responder overrides the provider; the target site is not one."""
    with Emulator("soax") as emu:
        kinds: list[str] = []

        def responder(rec: RequestRecord) -> Reply | None:
            kinds.append(rec.kind)
            return None

        emu.set_responder(responder)
        client, auth = RawClient.for_url(emu.proxy_url())
        with client:
            assert client.request("GET", emu.target_url("/page/1"), auth).status == 200
        assert kinds == ["plain"]


def test_api_url_carries_the_key_first() -> None:
    with Emulator("chocodata", password="k/1") as emu:
        url = emu.api_url("/v1/product?id=7")
        assert url.endswith("/v1/product?api_key=k%2F1&id=7")
        assert emu.api_url("/v1/product?api_key=other").endswith("?api_key=other")
        assert emu.api_url("/x", key=False).endswith("/x")
        with RawClient("127.0.0.1", emu.ports["api"]) as client:
            assert client.request("GET", url).status == 200
            assert client.request("GET", emu.api_url("/v1/product", key=False)).status == 401
    with Emulator("wxapros") as emu, RawClient("127.0.0.1", emu.ports["api"]) as client:
        path = "/api/v1/vpn/ip/8.8.8.8"
        assert client.request("GET", emu.api_url(path)).status == 200
        assert client.request("GET", emu.api_url(path, key=False), emu.api_headers()).status \
            == 200
        assert client.request("GET", emu.api_url(path, key=False)).status == 401


@pytest.mark.parametrize("reply", [
    Reply(502, [("Content-Type", "application/json")], b"[" * 100_000 + b"]" * 100_000),
    Reply(500, [("X-Note", "caf\u00e9 \u2603")], b"\xff\xfe{"),
    Reply(503, {}, b'{"error": {"code": ["x"]}}', reason="Bad \u2603"),
], ids=["deep-json", "non-latin1-header", "odd-shapes"])
def test_hostile_responder_replies_are_sent_as_given(reply: Reply,
                                                     caplog: pytest.LogCaptureFixture) -> None:
    with Emulator("chocodata") as emu:
        emu.set_responder(lambda rec: reply)
        with RawClient("127.0.0.1", emu.ports["api"]) as client:
            response = client.request("GET", emu.api_url("/v1/product?id=1"))
        assert (response.status, response.body) == (reply.status, reply.body)
        assert emu.requests[-1].code is None  # no code can be read from it
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


def test_responder_failure_is_a_500_not_a_hang(caplog: pytest.LogCaptureFixture) -> None:
    def broken(rec: RequestRecord) -> Reply | None:
        raise RuntimeError("boom")

    with Emulator("generic") as emu:
        emu.set_responder(broken)
        assert _get(emu, "secret")[0].status == 500
        assert emu.counters["errors"] == 1


# --- the target site ----------------------------------------------------------------


def test_target_site() -> None:
    with Emulator("generic", pages=10) as emu, \
            RawClient("127.0.0.1", emu.ports["target"]) as client:
        page = client.request("GET", "/page/3")
        assert page.status == 200 and page.header("Content-Type", ).startswith("text/html")
        assert re.findall(rb'href="(/page/\d+)"', page.body) == \
            [b"/page/4", b"/page/6", b"/page/7", b"/page/1"]
        last = client.request("GET", "/page/10")
        assert re.findall(rb'href="(/page/\d+)"', last.body) == [b"/page/1"]
        assert client.request("GET", "/status/503").status == 503
        moved = client.request("GET", "/status/302")
        assert (moved.status, moved.header("Location")) == (302, "/page/1")
        assert client.request("GET", "/nothing").status == 404
        head = client.request("HEAD", "/page/1")
        assert head.body == b"" and int(head.header("Content-Length") or 0) > 0
        echo = json.loads(client.request("POST", "/echo", {"X-A": "b"}, b"hi").body)
        assert (echo["method"], echo["headers"]["X-A"], echo["body"]) == ("POST", "b", "hi")


def test_expect_continue_through_the_proxy() -> None:
    """The proxy answers 100 Continue itself and forwards the body, not the Expect."""
    with Emulator("soax") as emu, RawClient("127.0.0.1", emu.ports["proxy"][0]) as client:
        client.send(
            f"POST {emu.target_url('/echo')} HTTP/1.1\r\nHost: x\r\n"
            f"Proxy-Authorization: {basic_auth('user', 'secret')}\r\n"
            "Expect: 100-continue\r\nContent-Length: 2\r\n\r\n".encode()
        )
        assert client.read_response().status == 100
        client.send(b"hi")
        response = client.read_response("POST")
        echo = json.loads(response.body)
        assert (response.status, echo["body"]) == (200, "hi")
        assert "Expect" not in echo["headers"]


def test_any_host_is_served_by_the_local_target() -> None:
    """example.com through the proxy never leaves loopback."""
    with Emulator("generic") as emu:
        client, auth = RawClient.for_url(emu.proxy_url())
        with client:
            response = client.request("GET", "http://example.com/page/5", auth)
        assert response.status == 200 and b"Page 5" in response.body
        assert emu.requests[-1].headers["Host"] == "example.com"


@pytest.mark.parametrize("target", ["tls", "example.com:443"])
def test_tls_target_through_connect(target: str) -> None:
    """CONNECT opens a tunnel; TLS runs end to end with the self-signed target."""
    with Emulator("soax") as emu:
        address = f"127.0.0.1:{emu.ports['tls']}" if target == "tls" else target
        client, auth = RawClient.for_url(emu.proxy_url())
        with client:
            established = client.request("CONNECT", address, auth)
            assert (established.status, established.reason) == (200, "Connection established")
            client.start_tls()
            first = client.request("GET", "/page/2", {"Host": "localhost"})
            second = client.request("GET", "/status/404", {"Host": "localhost"})
        assert first.status == 200 and b"Page 2" in first.body
        assert second.status == 404
        kinds = [(r.kind, r.status) for r in emu.requests]
        assert kinds == [("connect", 200), ("target", 200), ("target", 404)]


# --- robustness ------------------------------------------------------------------------


@pytest.mark.parametrize("data", [
    b"garbage\r\n\r\n",
    b"GET /x\r\n\r\n",
    b"GET http://x/ HTTP/1.1\r\nno colon here\r\n\r\n",
    b"GET http://x/ HTTP/1.1\r\nContent-Length: nope\r\n\r\n",
])
def test_malformed_requests_get_400(data: bytes, caplog: pytest.LogCaptureFixture) -> None:
    with Emulator("proxiesfo") as emu:
        with RawClient("127.0.0.1", emu.ports["proxy"][0]) as client:
            client.send(data)
            response = client.read_response()
            assert (response.status, response.body) == (400, b"Bad Request")
            assert client.closed_by_peer()
        assert emu.requests[-1].status == 400
    assert not [r for r in caplog.records if r.levelname == "ERROR"]


@pytest.mark.parametrize("provider", ["soax", "chocodata"])
@pytest.mark.parametrize("target", ["http://[::1/x", "http://host:99999/x", "http://h:port/"])
def test_unparseable_urls_get_400(provider: str, target: str) -> None:
    with Emulator(provider) as emu:
        port = emu.ports["api"] or emu.ports["proxy"][0]
        with RawClient("127.0.0.1", port) as client:
            response = client.request("GET", target, {"Proxy-Authorization":
                                                     basic_auth("user", "secret")})
        assert response.status == 400
        assert emu.requests[-1].status == 400


def test_client_disconnects_are_quiet(caplog: pytest.LogCaptureFixture,
                                      capfd: pytest.CaptureFixture[str]) -> None:
    with Emulator("soax", delay=0.05) as emu:
        for data in (b"GET http://x/ HTTP/1.1\r\nHost:", b"", b"GET http://x/ HTTP/1.1\r\n\r\n"):
            client = RawClient("127.0.0.1", emu.ports["proxy"][0])
            client.send(data)
            client.close()
        with RawClient("127.0.0.1", emu.ports["tls"]) as client:
            client.send(b"not tls at all\r\n\r\n")
        assert _get(emu, "secret")[0].status == 200  # still serving
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    assert "Traceback" not in capfd.readouterr().err


def test_stop_leaves_no_threads_or_open_connections() -> None:
    emu = Emulator("helodata", ips=4).start()
    clients = []
    for url in emu.proxy_urls():
        client, auth = RawClient.for_url(url)
        client.request("GET", emu.target_url("/page/1"), auth)  # keep-alive, left open
        clients.append(client)
    tunnel, auth = RawClient.for_url(emu.proxy_url())
    tunnel.request("CONNECT", f"127.0.0.1:{emu.ports['tls']}", auth)
    clients.append(tunnel)
    emu.stop()
    emu.stop()  # idempotent
    assert not [t for t in threading.enumerate() if t.name.startswith(emu.name + "-")]
    assert all(client.closed_by_peer() for client in clients)
    for client in clients:
        client.close()


def test_max_records_keeps_the_latest_and_counts_all() -> None:
    with Emulator("generic", max_records=3) as emu:
        for _ in range(4):
            _get(emu, "secret")
        # The latest answered: a proxied request is answered after its target's.
        assert [r.seq for r in emu.requests] == [4, 6, 7]
        assert emu.counters["total"] == 8


def test_a_stopped_emulator_cannot_restart() -> None:
    emu = Emulator("generic").start()
    emu.stop()
    with pytest.raises(RuntimeError, match="restarted"):
        emu.start()


def test_helodata_has_one_port_per_ip() -> None:
    with Emulator("helodata", ips=3) as emu:
        urls = emu.proxy_urls()
        assert len(set(urls)) == 3
        assert emu.proxy_url() == urls[0]
    with Emulator("soax") as emu:
        assert len(emu.proxy_urls()) == 1
        with pytest.raises(ValueError, match="proxy"):
            emu.api_url()
    with Emulator("chocodata") as emu, pytest.raises(ValueError, match="API"):
        emu.proxy_url()


def test_bad_configuration_fails_early() -> None:
    with pytest.raises(ValueError, match="provider"):
        Emulator("nope")
    with pytest.raises(ValueError, match="scenario"):
        Emulator("soax", "nope")
    with pytest.raises(TypeError, match="max_concurrent"):
        Emulator("soax", "budget", max_concurrent=3)
    with pytest.raises(ValueError, match="documents no error"):
        Emulator("wxapros", "budget")
    with pytest.raises(ValueError, match="NOPE"):
        Emulator("soax", "flaky", codes=["NOPE"])
    with pytest.raises(ValueError, match="helodata"):
        Emulator("soax", "isp")
    with pytest.raises(RuntimeError, match="start"):
        Emulator("soax").proxy_url()


_PIECES = [b"GET ", b"CONNECT ", b"POST ", b"http://", b"example.com", b"[::1]", b":443",
           b"/page/1", b" HTTP/1.1", b" HTTP/1.0", b"\r\n", b"\n", b"\r\n\r\n", b"Host: x\r\n",
           b"Content-Length: 5\r\n", b"Content-Length: -1\r\n", b"Transfer-Encoding: chunked\r\n",
           b"5\r\nhello\r\n0\r\n\r\n", b"zz\r\n", b"Expect: 100-continue\r\n",
           b"Proxy-Authorization: Basic dXNlcjpzZWNyZXQ=\r\n", b"Proxy-Authorization: Basic !\r\n",
           b"Connection: close\r\n", b" folded\r\n", b":\r\n", b"\x00\xff"]


@pytest.fixture(scope="module")
def fuzz_targets() -> Iterator[list[Emulator]]:
    started = [Emulator(name).start() for name in ("soax", "proxiesfo", "chocodata")]
    yield started
    for emu in started:
        emu.stop()


@given(data=st.lists(st.sampled_from(_PIECES), min_size=1, max_size=14).map(b"".join)
       | st.binary(max_size=300))
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_garbage_never_breaks_the_server(data: bytes, fuzz_targets: list[Emulator],
                                         caplog: pytest.LogCaptureFixture) -> None:
    """Whatever arrives, the emulator answers or closes, logs no error, keeps serving."""
    for emu in fuzz_targets:
        port = emu.ports["api"] or emu.ports["proxy"][0]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as sock, \
                contextlib.suppress(OSError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):
                pass
        assert emu.counters["errors"] == 0
    assert not [r for r in caplog.records if r.levelname == "ERROR"]
    emu = fuzz_targets[0]
    client, auth = RawClient.for_url(emu.proxy_url())
    with client:
        assert client.request("GET", emu.target_url("/page/1"), auth).status == 200


def test_the_engine_names_no_provider() -> None:
    """Emulating a provider is an entry in SPECS: the engine branches on data
    and hooks, never on a provider's name."""
    import inspect

    from scrapy_proxyerrors.emulator import SPECS, _emulator

    source = inspect.getsource(_emulator).lower()
    spellings = {name.replace("_", "") for name in SPECS} | set(SPECS) | {
        "proxies.fo", "bright data", "zyte", "scrape.do", "apify", "x-soax", "x-api-key"}
    assert sorted(s for s in spellings if s in source) == []
