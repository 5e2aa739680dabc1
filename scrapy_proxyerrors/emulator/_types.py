"""The two values the emulator's API trades in: a reply, and a request record."""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Literal

#: What kind of request a record describes.
Kind = Literal["plain", "connect", "api", "target"]

#: Reason phrases for the non-standard statuses the providers document.
EXTRA_REASONS = {
    452: "Bandwidth Exceeded",
    453: "Thread Limit Exceeded",
    454: "Invalid Country Code",
    455: "Invalid TTL",
    520: "Web Server Returned an Unknown Error",
    521: "Web Server Is Down",
    522: "Connection Timed Out",
    523: "Origin Is Unreachable",
    524: "A Timeout Occurred",
}


def reason_phrase(status: int) -> str:
    """The standard (or provider-documented) reason phrase for *status*."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return EXTRA_REASONS.get(status, "Unknown")


def _encode(line: str) -> bytes:
    """Latin-1, HTTP's historical charset; UTF-8 for what it cannot carry, as
    many servers send (tests may hand the emulator any text)."""
    try:
        return line.encode("latin-1")
    except UnicodeEncodeError:
        return line.encode("utf-8")


@dataclass(frozen=True)
class Reply:
    """One HTTP reply, as the emulator puts it on the wire.

    *headers* keep their order and spelling; ``Content-Length`` is added on
    the wire unless present (never on a ``2xx`` CONNECT reply, which opens a
    tunnel). *reason* defaults to the standard phrase for *status*.
    """

    status: int
    headers: list[tuple[str, str]] | dict[str, str] = field(default_factory=list)
    body: bytes = b""
    reason: str | None = None

    def header_items(self) -> list[tuple[str, str]]:
        """The headers as ``(name, value)`` pairs, in order."""
        if isinstance(self.headers, dict):
            return list(self.headers.items())
        return list(self.headers)

    def header(self, name: str) -> str | None:
        """The last value of header *name* (case-insensitive), or ``None``."""
        folded = name.lower()
        found = None
        for key, value in self.header_items():
            if key.lower() == folded:
                found = value
        return found

    def status_line(self) -> bytes:
        """``HTTP/1.1 <status> <reason>\r\n``."""
        reason = self.reason if self.reason is not None else reason_phrase(self.status)
        return _encode(f"HTTP/1.1 {self.status} {reason}\r\n")

    def wire(self, *, head_only: bool = False, tunnel: bool = False,
             close: bool = False) -> bytes:
        """The reply's bytes: status line, headers, blank line, body.

        *head_only* (a reply to ``HEAD``) keeps ``Content-Length`` but drops
        the body; *tunnel* (a ``2xx`` reply to CONNECT) sends neither.
        """
        lines = [self.status_line()]
        has_length = False
        for name, value in self.header_items():
            if name.lower() == "content-length":
                has_length = True
            lines.append(_encode(f"{name}: {value}\r\n"))
        if not has_length and not tunnel and self.status not in (204, 304) and \
                self.status >= 200:
            lines.append(b"Content-Length: %d\r\n" % len(self.body))
        if close:
            lines.append(b"Connection: close\r\n")
        lines.append(b"\r\n")
        if not head_only and not tunnel:
            lines.append(self.body)
        return b"".join(lines)


@dataclass(frozen=True)
class RequestRecord:
    """One request the emulator received, and what it answered.

    Records are immutable; the one field that changes after the answer,
    :attr:`client_closed`, is updated by replacing the record in the
    emulator's list, so a snapshot taken earlier never changes under you.
    """

    #: Order of arrival, from 0, over every listener of the emulator.
    seq: int
    #: ``time.monotonic()`` when the request head was read.
    time: float
    #: ``127.0.0.1:PORT`` of the listener, ``#<session>`` appended when the
    #: username names a session; for APIs a non-secret id of the API key.
    route: str
    kind: Kind
    method: str
    #: Absolute URL (plain proxying), ``host:port`` (CONNECT), or the path
    #: with query (API and target requests).
    url: str
    #: Request headers with names as received (repeated headers joined by ``, ``).
    headers: dict[str, str]
    user: str | None = None
    #: The proxy password or API key, as received (a secret: do not log it).
    password: str | None = None
    session: str | None = None
    #: The status answered (``0`` while the request is being answered).
    status: int = 0
    #: The provider's error code answered, ``None`` for success.
    code: str | None = None
    #: For an error reply to CONNECT, or a request a hanging port never
    #: answered: the client closed the socket afterwards.
    client_closed: bool = False
    #: ``time.time()`` when the request head was read (wall clock, to
    #: compare with times a crawl records; :attr:`time` is monotonic).
    wall: float = 0.0
