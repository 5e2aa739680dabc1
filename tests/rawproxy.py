"""A scripted fake HTTP proxy on 127.0.0.1 that answers CONNECT with raw bytes.

Each accepted connection reads one CONNECT request, records it, then plays a
script: raw byte writes, waits on :class:`threading.Event` objects, a close, or
(for ``200``) a byte pipe to a target. Afterwards it keeps reading the client
socket and records *when* the client closed it, so tests can tell "the
handler closed the tunnel socket" from "it was left open until the crawl
ended".

No timing is involved in what is recorded: the close is an ``Event`` set from
the connection's thread the moment ``recv`` returns ``b""`` (or fails).
"""

from __future__ import annotations

import contextlib
import socket
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from types import TracebackType

_READ = 65536


@dataclass(frozen=True)
class Send:
    """Write these bytes to the client."""

    data: bytes


@dataclass(frozen=True)
class Wait:
    """Block this connection's script until *event* is set (or *timeout*)."""

    event: threading.Event
    timeout: float = 10.0


@dataclass(frozen=True)
class Close:
    """Close the proxy's side of the connection."""


@dataclass(frozen=True)
class Pipe:
    """Relay bytes both ways between the client and ``host:port``."""

    host: str
    port: int


Step = Send | Wait | Close | Pipe


@dataclass
class ConnectRecord:
    """What the proxy saw on one connection."""

    request_line: str = ""
    headers: list[tuple[str, str]] = field(default_factory=list)
    #: Bytes after the CONNECT header block (a client must not send any).
    extra: bytes = b""
    #: Set the moment the client closes (``recv`` returns ``b""`` or fails).
    client_closed: threading.Event = field(default_factory=threading.Event)
    #: ``"eof"`` (FIN) or ``"reset"`` (RST), once the client closed.
    close_kind: str | None = None
    #: Bytes the client sent after the proxy's reply (when not piping).
    received_after_reply: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of header *name* (case-insensitive)."""
        for key, value in self.headers:
            if key.lower() == name.lower():
                return value
        return None

    def closed_now(self) -> bool:
        """Whether the client has closed, without waiting."""
        return self.client_closed.is_set()


class RawProxy:
    """A threaded fake proxy; use as a context manager.

    *script* is the list of steps for every connection, or a callable that
    receives the connection's :class:`ConnectRecord` and returns them.
    """

    def __init__(
        self, script: Sequence[Step] | Callable[[ConnectRecord], Sequence[Step]]
    ) -> None:
        self._script = script
        self._server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._server.getsockname()[1]
        self.records: list[ConnectRecord] = []
        self._sockets: list[socket.socket] = []
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        #: Set each time a connection has been recorded.
        self.connected = threading.Event()
        self._acceptor = threading.Thread(target=self._accept, daemon=True)

    @property
    def address(self) -> str:
        """``127.0.0.1:port``."""
        return f"127.0.0.1:{self.port}"

    def url(self, credentials: str | None = None) -> str:
        """The proxy URL, optionally with ``user:password@``."""
        userinfo = f"{credentials}@" if credentials else ""
        return f"http://{userinfo}{self.address}"

    def __enter__(self) -> RawProxy:
        self._acceptor.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stop(self) -> None:
        """Close the listener and every connection; join the threads."""
        self._stopping.set()
        # close() does not wake a thread blocked in accept(): a last
        # connection does, and the acceptor then sees _stopping.
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
            pass
        self._acceptor.join(timeout=5)
        with contextlib.suppress(OSError):
            self._server.close()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            # shutdown() wakes a thread blocked in recv() on this socket.
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(OSError):
                sock.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                sock, _ = self._server.accept()
            except OSError:
                return
            if self._stopping.is_set():
                sock.close()
                return
            with self._lock:
                self._sockets.append(sock)
            thread = threading.Thread(target=self._serve, args=(sock,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, sock: socket.socket) -> None:
        record = ConnectRecord()
        try:
            head = self._read_head(sock, record)
        except OSError:
            return
        if head is None:
            return
        with self._lock:
            self.records.append(record)
        self.connected.set()
        script = self._script(record) if callable(self._script) else self._script
        for step in script:
            try:
                if isinstance(step, Send):
                    sock.sendall(step.data)
                elif isinstance(step, Wait):
                    step.event.wait(step.timeout)
                elif isinstance(step, Close):
                    sock.close()
                    return
                else:
                    self._pipe(sock, step)
                    return
            except OSError:
                break
        self._watch_close(sock, record)

    @staticmethod
    def _read_head(sock: socket.socket, record: ConnectRecord) -> bytes | None:
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            chunk = sock.recv(_READ)
            if not chunk:
                return None
            buffer += chunk
        head, _, record.extra = buffer.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        record.request_line = lines[0]
        for line in lines[1:]:
            name, _, value = line.partition(":")
            record.headers.append((name.strip(), value.strip()))
        return head

    @staticmethod
    def _watch_close(sock: socket.socket, record: ConnectRecord) -> None:
        while True:
            try:
                chunk = sock.recv(_READ)
            except OSError:
                record.close_kind = "reset"
                break
            if not chunk:
                record.close_kind = "eof"
                break
            record.received_after_reply += chunk
        record.client_closed.set()

    def _pipe(self, client: socket.socket, step: Pipe) -> None:
        try:
            upstream = socket.create_connection((step.host, step.port))
        except OSError:
            client.close()
            return
        with self._lock:
            self._sockets.append(upstream)

        def relay(src: socket.socket, dst: socket.socket) -> None:
            with contextlib.suppress(OSError):
                while True:
                    data = src.recv(_READ)
                    if not data:
                        break
                    dst.sendall(data)
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)

        back = threading.Thread(target=relay, args=(upstream, client), daemon=True)
        self._threads.append(back)
        back.start()
        relay(client, upstream)


def reply(
    status: int,
    reason: str = "",
    headers: Sequence[tuple[str, str]] | dict[str, str] = (),
    body: bytes = b"",
    *,
    content_length: bool = True,
) -> bytes:
    """The raw bytes of an HTTP/1.1 reply (``Content-Length`` added unless told)."""
    items = list(headers.items()) if isinstance(headers, dict) else list(headers)
    if content_length and not any(k.lower() == "content-length" for k, _ in items):
        items.append(("Content-Length", str(len(body))))
    lines = [f"HTTP/1.1 {status} {reason}".rstrip(" ")]
    lines += [f"{name}: {value}" for name, value in items]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


@contextlib.contextmanager
def raw_proxy(
    script: Sequence[Step] | Callable[[ConnectRecord], Sequence[Step]],
) -> Iterator[RawProxy]:
    """A started :class:`RawProxy`, stopped on exit."""
    with RawProxy(script) as proxy:
        yield proxy
