"""A real Squid (tests/squid.py): its error replies, and how the squid profile reads them.

Plain sockets and :mod:`http.client` only; the Scrapy crawls through Squid
live elsewhere. Each reply is then handed to :func:`classify` exactly as it
came off the wire.
"""

from __future__ import annotations

import http.client
import socket
from typing import TYPE_CHECKING, NamedTuple

import pytest

from scrapy_proxyerrors import Action, Category, Scope, Transport, classify

from . import squid as squid_module
from .squid import (
    DENIED_HOST,
    TARGET_HOST,
    SquidProxy,
    Target,
    apr1_md5,
    refused_port,
    require_squid,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

# The session fixtures, bound here so that pytest finds them in this module.
squid_proxy = squid_module.squid_proxy
squid_target = squid_module.squid_target


class Reply(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def _reply(response: http.client.HTTPResponse) -> Reply:
    headers = {k: v for k, v in response.getheaders()}
    return Reply(response.status, headers, response.read())


def proxy_get(proxy: SquidProxy, url: str, auth: str | None) -> Reply:
    """``GET`` an absolute http:// URL through the proxy (plain HTTP proxying)."""
    conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=30)
    try:
        headers = {"Connection": "close"}
        if auth is not None:
            headers["Proxy-Authorization"] = auth
        conn.request("GET", url, headers=headers)
        return _reply(conn.getresponse())
    finally:
        conn.close()


def _connect(
    proxy: SquidProxy, host: str, port: int, auth: str | None
) -> tuple[Reply, socket.socket]:
    sock = socket.create_connection((proxy.host, proxy.port), timeout=30)
    lines = [f"CONNECT {host}:{port} HTTP/1.1", f"Host: {host}:{port}"]
    if auth is not None:
        lines.append(f"Proxy-Authorization: {auth}")
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
    response = http.client.HTTPResponse(sock)
    response.begin()
    if 200 <= response.status < 300:
        # The tunnel is open: no body, the socket now talks to the target.
        return Reply(response.status, dict(response.getheaders()), b""), sock
    return _reply(response), sock


def proxy_connect(proxy: SquidProxy, host: str, port: int, auth: str | None) -> Reply:
    """``CONNECT host:port`` through the proxy; the proxy's reply to it."""
    reply, sock = _connect(proxy, host, port, auth)
    sock.close()
    return reply


@pytest.fixture
def tunnel(squid_proxy: SquidProxy, squid_target: Target) -> Iterator[socket.socket]:
    """An open CONNECT tunnel to the target."""
    reply, sock = _connect(squid_proxy, TARGET_HOST, squid_target.port, squid_proxy.auth_header())
    assert reply.status == 200, reply
    try:
        yield sock
    finally:
        sock.close()


def _squid_error(reply: Reply) -> str:
    return reply.headers.get("X-Squid-Error", "")


# ------------------------------------------------------------ the fixture


def test_apr1_known_answer() -> None:
    """The htpasswd hash matches ``openssl passwd -apr1 -salt abcdefgh s3cret``."""
    assert apr1_md5("s3cret", "abcdefgh") == "$apr1$abcdefgh$M2T3erDstkD7SsE2QQnfH0"
    assert apr1_md5("s3cret", "abcdefgh") != apr1_md5("s3cret", "abcdefgi")


@pytest.mark.parametrize("ci", ["", "false", "true", "TRUE"])
def test_missing_squid_skips_except_under_ci(monkeypatch: pytest.MonkeyPatch, ci: str) -> None:
    """Without Squid the tests skip locally, but CI=true makes them fail loudly."""
    monkeypatch.setattr(squid_module, "squid_binary", lambda: None)
    monkeypatch.setenv("CI", ci)
    expected = pytest.fail.Exception if ci.lower() == "true" else pytest.skip.Exception
    with pytest.raises(expected, match="squid is not installed"):
        require_squid()


def test_fixture_unpacks_as_host_port_user_password(squid_proxy: SquidProxy) -> None:
    host, port, user, password = squid_proxy
    assert host == "127.0.0.1" and port > 0 and user and password
    assert squid_proxy.url == f"http://{user}:{password}@{host}:{port}"
    assert squid_proxy.url_with(None) == f"http://{host}:{port}"


def test_good_target_through_squid(squid_proxy: SquidProxy, squid_target: Target) -> None:
    reply = proxy_get(squid_proxy, squid_target.url("/hello"), squid_proxy.auth_header())
    assert reply.status == 200
    assert reply.body == b"target says 200 for /hello\n"
    assert "X-Squid-Error" not in reply.headers
    assert classify(reply.status, reply.headers, reply.body, proxy_url=squid_proxy.url) is None


# ------------------------------------------------------- Squid's own errors


class Case(NamedTuple):
    name: str
    status: int
    code: str
    category: Category
    action: Action
    scope: Scope


WRONG_PASSWORD = Case(
    "wrong-password", 407, "ERR_CACHE_ACCESS_DENIED", Category.AUTH, Action.STOP, Scope.ACCOUNT
)
REFUSED = Case(
    "refused-port", 503, "ERR_CONNECT_FAIL", Category.UPSTREAM, Action.RETRY, Scope.REQUEST
)
DENIED = Case("denied-host", 403, "ERR_ACCESS_DENIED", Category.TARGET, Action.DROP, Scope.REQUEST)


def _request(case: Case, proxy: SquidProxy, target: Target) -> tuple[str, int, str | None]:
    """(host, port, Proxy-Authorization) that makes Squid answer *case*."""
    if case is WRONG_PASSWORD:
        return TARGET_HOST, target.port, proxy.auth_header(password="not-the-password")
    if case is REFUSED:
        return TARGET_HOST, refused_port(), proxy.auth_header()
    return DENIED_HOST, target.port, proxy.auth_header()


def _check(reply: Reply, case: Case, proxy: SquidProxy, transport: Transport) -> None:
    assert reply.status == case.status, reply
    assert _squid_error(reply).split()[0] == case.code, reply.headers
    # Detected by the proxy URL? No: 127.0.0.1 is nobody's host. By the header.
    for proxy_url in (proxy.url, None):
        error = classify(
            reply.status, reply.headers, reply.body, transport=transport, proxy_url=proxy_url
        )
        assert error is not None
        assert (error.provider, error.code, error.status) == ("squid", case.code, case.status)
        # Found by its header alone, a plain reply is capped (the trust
        # boundary): what it claimed is kept, and a CONNECT probe may confirm it.
        rule = error.claimed or error.rule
        assert (rule.category, rule.action, rule.scope) == (
            case.category,
            case.action,
            case.scope,
        )
        assert error.claimed is None or transport is Transport.PLAIN
        assert error.detail == _squid_error(reply)


CASES = [WRONG_PASSWORD, REFUSED, DENIED]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_plain_http_error(case: Case, squid_proxy: SquidProxy, squid_target: Target) -> None:
    """Squid's reply to a plain http:// request, classified."""
    host, port, auth = _request(case, squid_proxy, squid_target)
    reply = proxy_get(squid_proxy, f"http://{host}:{port}/", auth)
    _check(reply, case, squid_proxy, Transport.PLAIN)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_connect_error(case: Case, squid_proxy: SquidProxy, squid_target: Target) -> None:
    """Squid's reply to CONNECT (what an https:// request sees), classified the same."""
    host, port, auth = _request(case, squid_proxy, squid_target)
    reply = proxy_connect(squid_proxy, host, port, auth)
    _check(reply, case, squid_proxy, Transport.CONNECT)


def test_wrong_password_asks_for_basic_auth(squid_proxy: SquidProxy, squid_target: Target) -> None:
    reply = proxy_get(squid_proxy, squid_target.url(), squid_proxy.auth_header(password="nope"))
    assert reply.headers.get("Proxy-Authenticate", "").startswith("Basic ")


def test_missing_credentials(squid_proxy: SquidProxy, squid_target: Target) -> None:
    reply = proxy_get(squid_proxy, squid_target.url(), None)
    _check(reply, WRONG_PASSWORD, squid_proxy, Transport.PLAIN)


def test_refused_port_carries_errno(squid_proxy: SquidProxy) -> None:
    """ERR_CONNECT_FAIL comes with the errno (111, ECONNREFUSED on Linux) in the detail."""
    reply = proxy_get(
        squid_proxy, f"http://{TARGET_HOST}:{refused_port()}/", squid_proxy.auth_header()
    )
    error = classify(reply.status, reply.headers, reply.body)
    assert error is not None and error.code == "ERR_CONNECT_FAIL"
    assert error.detail is not None and error.detail.split()[1].isdigit()


# ------------------------------------------------- the target's own replies


@pytest.mark.parametrize("status", [404, 503])
def test_target_errors_through_squid_are_not_squids(
    status: int, squid_proxy: SquidProxy, squid_target: Target
) -> None:
    """A target's error relayed by Squid has no X-Squid-Error: never read as Squid's."""
    reply = proxy_get(squid_proxy, squid_target.url(f"/status/{status}"), squid_proxy.auth_header())
    assert reply.status == status and "X-Squid-Error" not in reply.headers
    error = classify(reply.status, reply.headers, reply.body, proxy_url=squid_proxy.url)
    if status == 404:
        assert error is None
    else:  # a bare 503 is the generic profile's, never Squid's
        assert error is not None and error.provider == "generic"


def test_tunnel_reaches_the_target(tunnel: socket.socket, squid_target: Target) -> None:
    """Through an open CONNECT tunnel, replies are the target's: never classified."""
    tunnel.sendall(
        f"GET /status/503 HTTP/1.1\r\nHost: {TARGET_HOST}:{squid_target.port}\r\n"
        "Connection: close\r\n\r\n".encode()
    )
    response = http.client.HTTPResponse(tunnel)
    response.begin()
    reply = _reply(response)
    assert reply.status == 503 and reply.body == b"target says 503 for /status/503\n"
    assert classify(reply.status, reply.headers, reply.body, transport=Transport.TARGET) is None
