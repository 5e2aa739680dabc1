"""A self-signed certificate made at test time, and a tiny HTTPS server using it.

Reusable by any test that needs an ``https://`` target on 127.0.0.1: Scrapy's
default TLS context factory does not verify certificates, so a throwaway
self-signed certificate is enough.
"""

from __future__ import annotations

import ssl
import tempfile
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from scrapy_proxyerrors.emulator._tls import self_signed_pem

if TYPE_CHECKING:
    from types import TracebackType


@dataclass(frozen=True)
class CertPair:
    """PEM certificate and private key."""

    cert_pem: bytes
    key_pem: bytes


def self_signed_cert(hostname: str = "localhost", ip: str = "127.0.0.1") -> CertPair:
    """A fresh self-signed certificate for *hostname* and *ip* (valid one day)."""
    return CertPair(*self_signed_pem(hostname, ip, days=1))


def server_context(pair: CertPair | None = None) -> ssl.SSLContext:
    """A server-side :class:`ssl.SSLContext` loaded with *pair* (fresh if omitted)."""
    pair = pair or self_signed_cert()
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    # load_cert_chain only reads files.
    with tempfile.TemporaryDirectory() as tmp:
        cert, key = Path(tmp, "cert.pem"), Path(tmp, "key.pem")
        cert.write_bytes(pair.cert_pem)
        key.write_bytes(pair.key_pem)
        context.load_cert_chain(cert, key)
    return context


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    body: ClassVar[bytes] = b""

    def do_GET(self) -> None:
        server = self.server
        assert isinstance(server, _Server)
        server.requests.append((self.path, dict(self.headers.items())))
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(server.body)))
        self.end_headers()
        self.wfile.write(server.body)

    def log_message(self, format: str, *args: object) -> None:
        """Keep test output quiet."""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    body: bytes
    #: (path, headers) of every request, in order.
    requests: list[tuple[str, dict[str, str]]]


class TLSServer:
    """An HTTPS server on 127.0.0.1 answering every GET with 200 and *body*."""

    def __init__(self, body: bytes = b"hello over tls", pair: CertPair | None = None) -> None:
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.body = body
        self._server.requests = []
        context = server_context(pair)
        self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port: int = self._server.server_address[1]
        # A short poll interval: shutdown() waits for the serve loop to notice.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def requests(self) -> list[tuple[str, dict[str, str]]]:
        """``(path, headers)`` of each request received so far."""
        return self._server.requests

    def url(self, path: str = "/") -> str:
        """``https://127.0.0.1:port/path``."""
        return f"https://127.0.0.1:{self.port}{path}"

    def __enter__(self) -> TLSServer:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
