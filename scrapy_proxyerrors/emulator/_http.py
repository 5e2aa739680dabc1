"""Just enough HTTP/1.1 for a proxy emulator: heads, bodies, keep-alive.

A hand-rolled reader instead of ``socket.makefile`` because the CONNECT path
must hand every byte already buffered over to the tunnel, and a buffered file
object cannot give those up without blocking.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import socket

#: Longest request or response head accepted.
MAX_HEAD = 64 * 1024
#: Largest body read into memory.
MAX_BODY = 64 * 1024 * 1024
_CHUNK = 256 * 1024


class HTTPError(Exception):
    """The peer sent something that is not HTTP; answer *status* and close."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class Closed(Exception):
    """The peer closed the connection (or it broke) before a full message."""


class Conn:
    """A socket with a read buffer."""

    __slots__ = ("buf", "sock")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        try:
            data = self.sock.recv(_CHUNK)
        except (OSError, ValueError):
            # ValueError: the socket was closed under us by stop().
            return False
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self) -> bytes | None:
        """Bytes up to and including the blank line; ``None`` on a clean EOF.

        Raises :class:`Closed` when the peer leaves in the middle of a head,
        :class:`HTTPError` when the head is too long.
        """
        start = 0
        while True:
            # Tolerate bare LF line ends, as most servers do.
            end = self.buf.find(b"\n\r\n", start)
            alt = self.buf.find(b"\n\n", start)
            if end >= 0 and (alt < 0 or end < alt):
                cut = end + 3
                break
            if alt >= 0:
                cut = alt + 2
                break
            if len(self.buf) > MAX_HEAD:
                raise HTTPError(431, "request head too large")
            start = max(0, len(self.buf) - 3)
            if not self._fill():
                if not self.buf.strip():
                    return None
                raise Closed("closed in the middle of a head")
        head = bytes(self.buf[:cut])
        del self.buf[:cut]
        return head

    def read_exact(self, size: int) -> bytes:
        while len(self.buf) < size:
            if not self._fill():
                raise Closed("closed in the middle of a body")
        data = bytes(self.buf[:size])
        del self.buf[:size]
        return data

    def read_line(self) -> bytes:
        while True:
            end = self.buf.find(b"\n")
            if end >= 0:
                line = bytes(self.buf[: end + 1])
                del self.buf[: end + 1]
                return line
            if len(self.buf) > MAX_HEAD:
                raise HTTPError(400, "line too long")
            if not self._fill():
                raise Closed("closed in the middle of a line")

    def read_to_eof(self) -> bytes:
        while self._fill():
            if len(self.buf) > MAX_BODY:
                raise HTTPError(502, "body too large")
        data = bytes(self.buf)
        self.buf.clear()
        return data

    def take_buffer(self) -> bytes:
        """Everything read but not consumed yet (for a tunnel)."""
        data = bytes(self.buf)
        self.buf.clear()
        return data


@dataclass
class Message:
    """A parsed request or response head."""

    #: Request: method, target, version. Response: version, status, reason.
    start: tuple[str, str, str]
    headers: list[tuple[str, str]]

    def get(self, name: str) -> str | None:
        folded = name.lower()
        values = [v for k, v in self.headers if k.lower() == folded]
        return ", ".join(values) if values else None

    def header_dict(self) -> dict[str, str]:
        """Headers by name as received; repeated names joined by ``, ``."""
        out: dict[str, str] = {}
        for name, value in self.headers:
            out[name] = f"{out[name]}, {value}" if name in out else value
        return out

    def tokens(self, name: str) -> set[str]:
        value = self.get(name) or ""
        return {t.strip().lower() for t in value.split(",") if t.strip()}


def parse_head(head: bytes, *, response: bool = False) -> Message:
    """Split a head into its start line and headers; :class:`HTTPError` if malformed."""
    text = head.decode("latin-1")
    lines = text.split("\n")
    first = lines[0].rstrip("\r")
    parts = first.split(" ", 2)
    if response:
        if len(parts) < 2 or not parts[0].startswith("HTTP/") or not parts[1].isdigit():
            raise HTTPError(502, "malformed status line")
        start = (parts[0], parts[1], parts[2] if len(parts) > 2 else "")
    else:
        if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[0].isalpha() \
                or not parts[1]:
            raise HTTPError(400, "malformed request line")
        start = (parts[0], parts[1], parts[2])
    headers: list[tuple[str, str]] = []
    for raw in lines[1:]:
        line = raw.rstrip("\r")
        if not line:
            continue
        if line[0] in " \t" and headers:
            # Obsolete line folding: append to the previous header.
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip():
            raise HTTPError(400, "malformed header line")
        headers.append((name, value.strip()))
    if len(headers) > 200:
        raise HTTPError(431, "too many headers")
    return Message(start, headers)


def read_body(conn: Conn, msg: Message, *, response_to: str | None = None,
              status: int = 0) -> tuple[bytes, bool]:
    """The message body, and whether it ran to EOF (so the connection is spent).

    Requests: ``Content-Length`` or chunked, else empty. Responses
    (*response_to* is the request method) may also run until the peer closes.
    """
    if response_to is not None and (
        response_to == "HEAD" or status in (204, 304) or 100 <= status < 200
    ):
        return b"", False
    if "chunked" in msg.tokens("Transfer-Encoding"):
        return _read_chunked(conn), False
    length = msg.get("Content-Length")
    if length is not None:
        try:
            size = int(length.split(",")[0].strip())
        except ValueError:
            raise HTTPError(400, "bad Content-Length") from None
        if size < 0 or size > MAX_BODY:
            raise HTTPError(400 if size < 0 else 413, "bad Content-Length")
        return conn.read_exact(size), False
    if response_to is not None:
        return conn.read_to_eof(), True
    return b"", False


def _read_chunked(conn: Conn) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = conn.read_line().split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise HTTPError(400, "bad chunk size") from None
        if size == 0:
            # Trailers, up to the blank line.
            while conn.read_line().strip():
                pass
            return b"".join(parts)
        total += size
        if total > MAX_BODY:
            raise HTTPError(413, "body too large")
        parts.append(conn.read_exact(size))
        conn.read_line()


#: Headers that describe one hop and are never forwarded (RFC 9110 7.6.1).
HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authorization", "proxy-authenticate",
    "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade",
})


def wants_close(msg: Message) -> bool:
    """Whether the request asks to close the connection after the reply."""
    conn = msg.tokens("Connection") | msg.tokens("Proxy-Connection")
    if msg.start[2] == "HTTP/1.0":
        return "keep-alive" not in conn
    return "close" in conn
