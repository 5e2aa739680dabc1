"""Thread-per-connection TCP listeners that stop cleanly.

Not ``socketserver``: its ``shutdown()`` polls every half second and it
cannot reach the threads blocked on keep-alive connections, while tests
start and stop hundreds of emulators and must not leak a thread or socket.
Here the accept loop wakes on a socket pair, and every socket a handler
opens is registered so that ``stop()`` can shut it down under the thread.
"""

from __future__ import annotations

import contextlib
import logging
import selectors
import socket
import threading
import time
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import ssl
    from collections.abc import Callable

logger = logging.getLogger(__name__)

#: Exceptions that only mean the peer went away (or stop() closed the socket).
GONE = (OSError, ValueError, EOFError)


class Registry:
    """Every live connection socket and handler thread of one emulator."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._threads: set[threading.Thread] = set()
        self.closing = threading.Event()

    def add_socket(self, sock: socket.socket) -> bool:
        """Track *sock*; ``False`` (and the socket is closed) when stopping."""
        with self._lock:
            if not self.closing.is_set():
                self._sockets.add(sock)
                return True
        close_quietly(sock)
        return False

    def discard_socket(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.discard(sock)
        close_quietly(sock)

    def add_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.add(thread)

    def discard_thread(self, thread: threading.Thread) -> None:
        with self._lock:
            self._threads.discard(thread)

    def close_all(self, timeout: float = 5.0) -> None:
        """Shut every socket down (waking blocked threads) and join the threads."""
        self.closing.set()
        with self._lock:
            sockets = list(self._sockets)
            self._sockets.clear()
        for sock in sockets:
            with contextlib.suppress(*GONE):
                sock.shutdown(socket.SHUT_RDWR)
        with self._lock:
            threads = list(self._threads)
        deadline = time.monotonic() + timeout
        for thread in threads:
            if thread is not threading.current_thread():
                thread.join(max(0.0, deadline - time.monotonic()))
        for sock in sockets:
            close_quietly(sock)


def close_quietly(sock: socket.socket) -> None:
    with contextlib.suppress(*GONE):
        sock.close()


class Listener:
    """One listening socket on loopback; each connection gets a daemon thread.

    *handler* serves one accepted socket until it returns; the socket is
    closed afterwards. With *tls*, the handshake happens in the connection's
    thread, so a slow or broken client holds up nobody else.
    """

    def __init__(
        self,
        name: str,
        handler: Callable[[socket.socket], None],
        registry: Registry,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.name = name
        self._handler = handler
        self._registry = registry
        self._tls = tls
        self._sock = socket.create_server((host, port), backlog=1024)
        self._sock.setblocking(False)
        self.host, self.port = self._sock.getsockname()[:2]
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread = threading.Thread(
            target=self._accept_loop, name=f"{name}-{self.port}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop accepting; live connections are the registry's to close."""
        with contextlib.suppress(*GONE):
            self._wake_w.send(b"x")
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(5)
        for sock in (self._sock, self._wake_r, self._wake_w):
            close_quietly(sock)

    def _accept_loop(self) -> None:
        with selectors.DefaultSelector() as selector:
            selector.register(self._sock, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while not self._registry.closing.is_set():
                for key, _ in selector.select():
                    if key.fileobj is self._wake_r:
                        return
                    try:
                        conn, _addr = self._sock.accept()
                    except (BlockingIOError, InterruptedError):
                        continue
                    except OSError:
                        # Out of file descriptors, or the socket is gone.
                        if self._registry.closing.is_set():
                            return
                        self._registry.closing.wait(0.01)
                        continue
                    self._spawn(conn)

    def _spawn(self, conn: socket.socket) -> None:
        conn.setblocking(True)
        if not self._registry.add_socket(conn):
            return
        thread = threading.Thread(
            target=self._serve, args=(conn,), name=f"{self.name}-conn", daemon=True
        )
        self._registry.add_thread(thread)
        thread.start()

    def _serve(self, conn: socket.socket) -> None:
        sock = conn
        try:
            # Small request/response exchanges on keep-alive connections:
            # without NODELAY, Nagle + delayed ACKs cost 40 ms per exchange.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self._tls is not None:
                conn.settimeout(10)
                sock = self._tls.wrap_socket(conn, server_side=True)
                sock.settimeout(None)
                # The TLS socket is a new object over the same descriptor:
                # stop() must be able to shut it down too.
                if not self._registry.add_socket(sock):
                    return
            self._handler(sock)
        except (OSError, EOFError):
            pass  # the peer went away, or stop() shut the socket
        except ValueError:
            # Also what a socket closed under us raises; otherwise a bug.
            if not self._registry.closing.is_set():
                logger.exception("emulator %s: unexpected error serving a connection",
                                 self.name)
        except Exception:
            # A bug in the emulator, not the client: make it visible.
            logger.exception("emulator %s: unexpected error serving a connection", self.name)
        finally:
            if sock is not conn:
                self._registry.discard_socket(sock)
            self._registry.discard_socket(conn)
            self._registry.discard_thread(threading.current_thread())
