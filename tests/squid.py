"""A real Squid on loopback, for tests: fixtures and a context manager.

Use the session fixtures from a test module by binding them there (pytest
finds fixtures among a module's attributes; a bare import of the names works
too, but linters then flag the test arguments as redefinitions)::

    from . import squid

    squid_proxy = squid.squid_proxy
    squid_target = squid.squid_target

    def test_something(squid_proxy, squid_target):
        host, port, user, password = squid_proxy
        url = squid_target.url("/status/503")   # as Squid sees the target

For https:// URLs (CONNECT tunnels), :func:`squid_tls_target` is the same
server behind TLS (a throwaway self-signed certificate; Scrapy does not verify
it): ``squid_tls_target.url("/status/503")`` is an ``https://`` URL.

What reached Squid is in its access log, one :class:`AccessEntry` per
request (``squid_proxy.access_log()``); the fixture is shared by the whole
session, so count the entries added since a mark::

    mark = len(squid_proxy.access_log())
    ...  # crawl
    entries = squid_proxy.access_log(since=mark)

or start a Squid of your own with extra configuration lines::

    with running_squid(extra_conf=["request_body_max_size 1 KB"]) as proxy:
        ...

The Squid is configured for tests only: it listens on ``127.0.0.1`` on a free
port, needs basic auth (``proxy.user`` / ``proxy.password``), caches nothing,
resolves :data:`TARGET_HOST` and :data:`DENIED_HOST` to ``127.0.0.1`` from its
own hosts file and never asks real DNS, and denies :data:`DENIED_HOST` by ACL.
So through it:

- wrong or missing credentials: ``407``, ``X-Squid-Error: ERR_CACHE_ACCESS_DENIED 0``;
- :data:`DENIED_HOST` (any port, plain or CONNECT): ``403``, ``ERR_ACCESS_DENIED 0``;
- :data:`TARGET_HOST` on a port nobody listens on (:func:`refused_port`):
  ``503``, ``ERR_CONNECT_FAIL 111``;
- :data:`TARGET_HOST` on :func:`squid_target`'s port: the target's own reply;
- CONNECT to any port is allowed (the configuration has no ``SSL_ports`` ACL).

When Squid is not installed the fixtures skip, unless ``CI=true``: there the
tests must run, so a missing Squid fails them (``.ci/install-system-deps``
installs it).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import http.server
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

#: Resolves to 127.0.0.1 inside Squid (its hosts file); allowed.
TARGET_HOST = "target.test"
#: Resolves to 127.0.0.1 inside Squid too, but an ACL denies it.
DENIED_HOST = "denied.test"
#: Longest wait for Squid to accept connections (a readiness deadline, not an assertion).
START_TIMEOUT = 30.0
#: Longest wait for access-log lines a test knows are coming (readiness, not an assertion).
LOG_TIMEOUT = 5.0

#: Work directory of each running Squid, by port: where its access log is.
#: (SquidProxy is a tuple that unpacks as four values, so it cannot carry it.)
_WORKDIRS: dict[int, Path] = {}

_HELPER_DIRS = (
    "/usr/lib/squid",
    "/usr/lib64/squid",
    "/usr/libexec/squid",
    "/usr/local/libexec/squid",
)


class SquidProxy(NamedTuple):
    """A running Squid: unpacks as ``host, port, user, password``."""

    host: str
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        """The proxy URL with the good credentials."""
        return self.url_with(self.user, self.password)

    def url_with(self, user: str | None, password: str | None = None) -> str:
        """The proxy URL with other credentials (``None``: no credentials)."""
        if user is None:
            return f"http://{self.host}:{self.port}"
        return f"http://{user}:{password or ''}@{self.host}:{self.port}"

    def auth_header(self, user: str | None = None, password: str | None = None) -> str:
        """A ``Proxy-Authorization`` value (the good credentials by default)."""
        pair = f"{user or self.user}:{self.password if password is None else password}"
        return "Basic " + base64.b64encode(pair.encode()).decode()

    def access_log(self, since: int = 0, at_least: int = 0) -> list[AccessEntry]:
        """The requests this Squid logged, oldest first, from entry *since* on.

        Squid writes a line when a transaction ends, unbuffered
        (``buffered_logs`` is off by default), which can be a moment after
        the client read the reply: with *at_least*, wait (up to
        :data:`LOG_TIMEOUT`) until that many entries are there. Connections
        that sent no request (the start-up readiness probes) are left out.
        """
        work = _WORKDIRS.get(self.port)
        if work is None:
            raise RuntimeError(f"no running Squid on port {self.port}")
        deadline = time.monotonic() + LOG_TIMEOUT
        while True:
            try:
                text = (work / "access.log").read_text(errors="replace")
            except FileNotFoundError:
                text = ""
            parsed = (AccessEntry.parse(line) for line in text.splitlines())
            entries = [e for e in parsed if e is not None][since:]
            if len(entries) >= at_least or time.monotonic() >= deadline:
                return entries
            time.sleep(0.02)


class AccessEntry(NamedTuple):
    """One line of Squid's native access log, the fields tests need."""

    #: Squid's result code: ``TCP_DENIED``, ``TCP_MISS``, ``TCP_TUNNEL``...
    result: str
    #: The status Squid answered (``407``, ``503``...; ``200`` for a tunnel).
    status: int
    method: str
    #: The absolute URL, or ``host:port`` for CONNECT.
    url: str

    @classmethod
    def parse(cls, line: str) -> AccessEntry | None:
        """``time elapsed client result/status bytes method URL user hierarchy type``."""
        fields = line.split()
        if len(fields) < 7 or fields[5] == "-":
            return None
        result, _, status = fields[3].partition("/")
        if not status.isdigit():
            return None
        return cls(result, int(status), fields[5], fields[6])


class Target(NamedTuple):
    """The tiny HTTP server behind Squid. ``GET /status/<n>`` answers status *n*.

    *scheme* is ``https`` for the TLS variant (:func:`running_target` with
    ``tls=True``), which is reached through a CONNECT tunnel.
    """

    port: int
    host: str = TARGET_HOST
    scheme: str = "http"

    def url(self, path: str = "/") -> str:
        """The URL as Squid must be asked for it (by :data:`TARGET_HOST`)."""
        return f"{self.scheme}://{self.host}:{self.port}{path}"


# ---------------------------------------------------------------- discovery


def squid_binary() -> str | None:
    """The ``squid`` executable (``/usr/sbin`` is often not on a user's PATH)."""
    found = shutil.which("squid")
    if found:
        return found
    for candidate in ("/usr/sbin/squid", "/usr/local/sbin/squid"):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def auth_helper() -> str | None:
    """Squid's ``basic_ncsa_auth`` helper (htpasswd files)."""
    for directory in _HELPER_DIRS:
        candidate = os.path.join(directory, "basic_ncsa_auth")
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def require_squid() -> tuple[str, str]:
    """``(squid, basic_ncsa_auth)``; skip without them, or fail under ``CI=true``."""
    squid, helper = squid_binary(), auth_helper()
    if squid and helper:
        return squid, helper
    missing = "squid" if not squid else "squid's basic_ncsa_auth helper"
    reason = f"{missing} is not installed (.ci/install-system-deps installs Debian's squid)"
    if os.environ.get("CI", "").strip().lower() in ("true", "1", "yes"):
        pytest.fail(f"CI=true but {reason}", pytrace=False)
    pytest.skip(reason)


# ----------------------------------------------------------------- helpers


_APR1_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"


def apr1_md5(password: str, salt: str) -> str:
    """Apache's ``$apr1$`` MD5 password hash (``htpasswd -m``), which basic_ncsa_auth reads.

    Written out here because Python's ``crypt`` module is gone in 3.13 and
    the tests must not need ``htpasswd``/``openssl`` installed.
    """
    magic, pw, salt_b = b"$apr1$", password.encode(), salt.encode()[:8]
    alt = hashlib.md5(pw + salt_b + pw).digest()
    ctx = hashlib.md5(pw + magic + salt_b)
    for i in range(len(pw), 0, -16):
        ctx.update(alt[: min(16, i)])
    i = len(pw)
    while i:
        ctx.update(b"\0" if i & 1 else pw[:1])
        i >>= 1
    final = ctx.digest()
    for i in range(1000):
        step = hashlib.md5()
        step.update(pw if i & 1 else final)
        if i % 3:
            step.update(salt_b)
        if i % 7:
            step.update(pw)
        step.update(final if i & 1 else pw)
        final = step.digest()

    def to64(value: int, count: int) -> str:
        chars = []
        for _ in range(count):
            chars.append(_APR1_ALPHABET[value & 0x3F])
            value >>= 6
        return "".join(chars)

    encoded = "".join(
        to64((final[a] << 16) | (final[b] << 8) | final[c], 4)
        for a, b, c in ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))
    )
    encoded += to64(final[11], 2)
    return f"$apr1${salt_b.decode()}${encoded}"


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def refused_port() -> int:
    """A port on 127.0.0.1 where nothing listens, so connecting is refused."""
    return free_port()


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _tail(path: Path, lines: int = 30) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _squid_conf(work: Path, port: int, helper: str, extra: Sequence[str]) -> str:
    lines = [
        f"http_port 127.0.0.1:{port}",
        f"pid_filename {work / 'squid.pid'}",
        f"cache_log {work / 'cache.log'}",
        f"access_log stdio:{work / 'access.log'}",
        "cache_store_log none",
        "logfile_rotate 0",
        f"coredump_dir {work}",
        # A test proxy: no cache, no neighbours, no pinger, exit at once.
        "cache deny all",
        "cache_mem 8 MB",
        "shutdown_lifetime 0 seconds",
        "netdb_filename none",
        "pinger_enable off",
        "icp_port 0",
        "htcp_port 0",
        "visible_hostname proxyerrors-squid",
        # Names come from the hosts file; anything else asks a nameserver
        # that is not there, and gives up quickly instead of leaving loopback.
        f"hosts_file {work / 'hosts'}",
        "dns_nameservers 127.0.0.1",
        "dns_timeout 1 seconds",
        f"auth_param basic program {helper} {work / 'passwd'}",
        "auth_param basic realm proxyerrors-test",
        "auth_param basic children 2 startup=1 idle=1",
        "auth_param basic credentialsttl 1 minute",
        "acl authed proxy_auth REQUIRED",
        f"acl denied_dst dstdomain {DENIED_HOST}",
        "http_access deny !authed",
        "http_access deny denied_dst",
        *extra,
        "http_access allow authed",
        "http_access deny all",
    ]
    if os.geteuid() == 0:
        # Squid will not run as root; it drops to this user, who owns the workdir.
        lines.insert(0, "cache_effective_user nobody")
    return "\n".join(lines) + "\n"


@contextlib.contextmanager
def running_squid(extra_conf: Sequence[str] = ()) -> Iterator[SquidProxy]:
    """Start a Squid for the duration of the ``with`` block.

    *extra_conf* lines go before the final ``http_access allow authed``, so
    extra ``acl`` / ``http_access deny`` lines take effect.
    """
    squid, helper = require_squid()
    user, password = "scrapy", secrets.token_hex(8)
    # Not under pytest's tmp dir: when run as root, Squid runs as "nobody",
    # who cannot enter pytest's 0700 directories.
    work = Path(tempfile.mkdtemp(prefix="proxyerrors-squid-"))
    proc: subprocess.Popen[bytes] | None = None
    service = ""
    try:
        (work / "passwd").write_text(f"{user}:{apr1_md5(password, secrets.token_hex(4))}\n")
        (work / "hosts").write_text(f"127.0.0.1 {TARGET_HOST} {DENIED_HOST}\n")
        for _attempt in range(3):  # the free port can be taken before Squid binds it
            port = free_port()
            # A unique service name keeps this Squid's shared-memory segments
            # apart from any other Squid on the machine.
            service = f"pxe{os.getpid()}x{port}"
            (work / "squid.conf").write_text(_squid_conf(work, port, helper, extra_conf))
            if os.geteuid() == 0:
                import pwd  # POSIX only, and only needed as root

                nobody = pwd.getpwnam("nobody")
                for path in (work, *work.iterdir()):
                    os.chown(path, nobody.pw_uid, nobody.pw_gid)
            with (work / "squid.out").open("ab") as out:
                proc = subprocess.Popen(
                    [squid, "-N", "-n", service, "-f", str(work / "squid.conf")],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                )
            deadline = time.monotonic() + START_TIMEOUT
            while proc.poll() is None and time.monotonic() < deadline:
                if _accepts("127.0.0.1", port):
                    break
                time.sleep(0.05)
            if proc.poll() is None and _accepts("127.0.0.1", port):
                _WORKDIRS[port] = work
                try:
                    yield SquidProxy("127.0.0.1", port, user, password)
                finally:
                    _WORKDIRS.pop(port, None)
                return
            log = _tail(work / "cache.log") + "\n" + _tail(work / "squid.out")
            _stop(proc)
            proc = None
            if "Address already in use" not in log:
                raise RuntimeError(f"Squid did not start (workdir {work}):\n{log}")
        raise RuntimeError(f"Squid found no free port (workdir {work})")
    finally:
        if proc is not None:
            _stop(proc)
        if service:
            for segment in Path("/dev/shm").glob(f"{service}-*"):
                segment.unlink(missing_ok=True)
        shutil.rmtree(work, ignore_errors=True)


def _stop(proc: subprocess.Popen[bytes]) -> None:
    # SIGTERM with shutdown_lifetime 0 ends Squid (and its helpers) at once.
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ------------------------------------------------------------------ target


class _TargetHandler(http.server.BaseHTTPRequestHandler):
    """``/status/<n>`` answers *n*; anything else answers 200."""

    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status = 200
        if self.path.startswith("/status/"):
            with contextlib.suppress(ValueError):
                status = int(self.path.rsplit("/", 1)[1])
        body = f"target says {status} for {self.path}\n".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass  # keep test output clean


@contextlib.contextmanager
def running_target(tls: bool = False) -> Iterator[Target]:
    """A tiny HTTP server on 127.0.0.1 (reach it through Squid as :data:`TARGET_HOST`).

    With *tls* it speaks HTTPS with a fresh self-signed certificate.
    """
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TargetHandler)
    server.daemon_threads = True
    if tls:
        from .tls import self_signed_cert, server_context  # needs cryptography

        context = server_context(self_signed_cert(TARGET_HOST))
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name="squid-target",
        daemon=True,
    )
    thread.start()
    try:
        yield Target(int(server.server_address[1]), scheme="https" if tls else "http")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# ----------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def squid_proxy() -> Iterator[SquidProxy]:
    """One Squid for the whole session (tests do not change it): ``host, port, user, password``."""
    with running_squid() as proxy:
        yield proxy


@pytest.fixture(scope="session")
def squid_target() -> Iterator[Target]:
    """The target server behind :func:`squid_proxy`."""
    with running_target() as target:
        yield target


@pytest.fixture(scope="session")
def squid_tls_target() -> Iterator[Target]:
    """The same target over TLS, for https:// URLs through CONNECT tunnels."""
    with running_target(tls=True) as target:
        yield target
