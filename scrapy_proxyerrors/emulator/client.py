"""A tiny blocking HTTP/1.1 client for talking to the emulator byte by byte.

For tests that need what went over the wire (status line, header names as
sent, the exact body), CONNECT replies that Scrapy would hide, and for
benchmarks that must not be limited by a crawler. Not a general client:
replies must carry ``Content-Length`` (the emulator's always do) or end
with the connection.
"""

from __future__ import annotations

import base64
import contextlib
import socket
import ssl
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

from ._http import Closed, Conn, parse_head, read_body

if TYPE_CHECKING:
    from collections.abc import Mapping


@dataclass(frozen=True)
class RawResponse:
    """One reply as received: header names and order preserved."""

    status: int
    reason: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        """The value of header *name* (case-insensitive; repeats joined), or ``None``."""
        folded = name.lower()
        values = [v for k, v in self.headers if k.lower() == folded]
        return ", ".join(values) if values else None

    @property
    def header_names(self) -> list[str]:
        """Header names as received, in order."""
        return [name for name, _ in self.headers]

    def header_dict(self) -> dict[str, str]:
        """Headers by name as received (the last of repeated names wins)."""
        return {name: value for name, value in self.headers}


def basic_auth(user: str, password: str) -> str:
    """A ``Basic`` credentials value."""
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


class RawClient:
    """One keep-alive connection to ``host:port`` (a proxy, an API, a target)."""

    def __init__(self, host: str, port: int, timeout: float = 10.0) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._conn = Conn(self.sock)

    @classmethod
    def for_url(cls, url: str, timeout: float = 10.0) -> tuple[RawClient, dict[str, str]]:
        """A client for a proxy URL, and its ``Proxy-Authorization`` header (if any)."""
        parts = urlsplit(url)
        client = cls(parts.hostname or "127.0.0.1", parts.port or 80, timeout)
        headers = {}
        if parts.username is not None:
            headers["Proxy-Authorization"] = basic_auth(
                unquote(parts.username), unquote(parts.password or "")
            )
        return client, headers

    def send(self, data: bytes) -> None:
        """Send raw bytes (for malformed requests, or a request written by hand)."""
        self.sock.sendall(data)

    def request(self, method: str, target: str, headers: Mapping[str, str] | None = None,
                body: bytes = b"") -> RawResponse:
        """Send one request and read its reply (``CONNECT``: the reply head only)."""
        lines = [f"{method} {target} HTTP/1.1"]
        given = dict(headers or {})
        if not any(k.lower() == "host" for k in given):
            if "://" in target:
                given["Host"] = target.split("/")[2]
            else:
                given["Host"] = target if method == "CONNECT" else "localhost"
        for name, value in given.items():
            lines.append(f"{name}: {value}")
        if body:
            lines.append(f"Content-Length: {len(body)}")
        data = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        self.send(data)
        return self.read_response(method)

    def read_response(self, method: str = "GET") -> RawResponse:
        """Read one reply; *method* is the request's (``HEAD`` and ``CONNECT`` have no body)."""
        head = self._conn.read_head()
        if head is None:
            raise Closed("the server closed the connection")
        msg = parse_head(head, response=True)
        status = int(msg.start[1])
        if method == "CONNECT" and 200 <= status < 300:
            body = b""
        else:
            body, _ = read_body(self._conn, msg, response_to=method, status=status)
        return RawResponse(status, msg.start[2], msg.headers, body)

    def start_tls(self, server_hostname: str = "localhost") -> ssl.SSLSocket:
        """After a ``200`` CONNECT: TLS over the tunnel, certificate not verified."""
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        tls = context.wrap_socket(self.sock, server_hostname=server_hostname)
        self.sock = tls
        self._conn = Conn(tls)
        return tls

    def closed_by_peer(self, timeout: float = 1.0) -> bool:
        """Whether the server closed the connection within *timeout*."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(1) == b""
        except TimeoutError:
            return False
        except OSError:
            return True

    def close(self) -> None:
        """Close the connection (the emulator records it for a refused CONNECT)."""
        with contextlib.suppress(OSError):
            self.sock.close()

    def __enter__(self) -> RawClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
