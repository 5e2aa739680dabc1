"""Proxy faults the emulator does not serve: a port that refuses, a proxy that hangs.

Both live on 127.0.0.1 only and are bounded: the hanging proxy holds at most
``max_conns`` connections, each for at most ``hold`` seconds, and stops with
the benchmark. Their records use ``time.monotonic()``, the clock of the
emulator's records (system-wide on Linux, so comparable across processes).
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from dataclasses import dataclass


class RefusedPort:
    """A port of 127.0.0.1 that refuses every connection.

    The socket is bound and never listens: the kernel answers each SYN with
    a RST (``ECONNREFUSED``), and the port stays reserved, so no other
    process can start listening on it during the benchmark. Nothing is
    accepted, so nothing can be counted here: the crawler's side counts the
    attempts (see ``benchmarks._crawl.AttemptProbe``).
    """

    def __init__(self) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = self._sock.getsockname()[1]

    def url(self, user: str = "user", password: str = "secret") -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def close(self) -> None:
        self._sock.close()

    def __enter__(self) -> RefusedPort:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass(frozen=True)
class Arrival:
    """One request head the hanging proxy read (and never answered)."""

    time: float
    url: str


class HangingProxy:
    """Accepts connections, reads the request, never answers.

    Each connection is closed when the client gives up (``DOWNLOAD_TIMEOUT``),
    after *hold* seconds, or at :meth:`stop`; past *max_conns* open
    connections new ones are closed at once (and still recorded as arrivals
    when they send a request head). One thread, one selector.
    """

    def __init__(self, max_conns: int = 512, hold: float = 60.0) -> None:
        self.max_conns = max_conns
        self.hold = hold
        self.arrivals: list[Arrival] = []
        self._lock = threading.Lock()
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self._listener.setblocking(False)
        self.port: int = self._listener.getsockname()[1]
        self._wake_r, self._wake_w = socket.socketpair()
        self._stop = False
        self._thread = threading.Thread(target=self._loop, name="bench-hanging-proxy",
                                        daemon=True)

    def url(self, user: str = "user", password: str = "secret") -> str:
        return f"http://{user}:{password}@127.0.0.1:{self.port}"

    def start(self) -> HangingProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop = True
        with contextlib.suppress(OSError):
            self._wake_w.send(b"x")
        self._thread.join(5.0)
        for sock in (self._listener, self._wake_r, self._wake_w):
            sock.close()

    def __enter__(self) -> HangingProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def records(self) -> list[Arrival]:
        with self._lock:
            return list(self.arrivals)

    def _loop(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        # socket -> (opened at, bytes read so far, head recorded)
        conns: dict[socket.socket, list[object]] = {}
        try:
            while not self._stop:
                for key, _ in sel.select(timeout=0.5):
                    if key.data == "wake":
                        return
                    if key.data == "accept":
                        self._accept(sel, conns)
                        continue
                    sock = key.fileobj
                    assert isinstance(sock, socket.socket)
                    self._read(sel, conns, sock)
                now = time.monotonic()
                for sock in [s for s, st in conns.items() if now - float(st[0]) > self.hold]:
                    self._close(sel, conns, sock)
        finally:
            for sock in list(conns):
                self._close(sel, conns, sock)
            sel.close()

    def _accept(self, sel: selectors.BaseSelector,
                conns: dict[socket.socket, list[object]]) -> None:
        try:
            sock, _ = self._listener.accept()
        except BlockingIOError:
            return
        sock.setblocking(False)
        conns[sock] = [time.monotonic(), b"", False]
        sel.register(sock, selectors.EVENT_READ, "conn")
        if len(conns) > self.max_conns:
            # Bounded: the oldest connection goes first.
            self._close(sel, conns, next(iter(conns)))

    def _read(self, sel: selectors.BaseSelector, conns: dict[socket.socket, list[object]],
              sock: socket.socket) -> None:
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:
            self._close(sel, conns, sock)  # the client gave up
            return
        state = conns[sock]
        if state[2]:
            return  # the head is recorded; the rest is ignored
        buffer = bytes(state[1]) + data  # type: ignore[arg-type]
        state[1] = buffer[:65536]
        if b"\r\n\r\n" in buffer:
            state[2] = True
            first = buffer.split(b"\r\n", 1)[0].decode("latin-1", "replace").split(" ")
            url = first[1] if len(first) > 1 else ""
            with self._lock:
                self.arrivals.append(Arrival(time.monotonic(), url))

    @staticmethod
    def _close(sel: selectors.BaseSelector, conns: dict[socket.socket, list[object]],
               sock: socket.socket) -> None:
        conns.pop(sock, None)
        with contextlib.suppress(KeyError, ValueError):
            sel.unregister(sock)
        sock.close()
