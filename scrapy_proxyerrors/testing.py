"""pytest plugin: the ``redis_state_server`` fixture, a real ``redis-server``.

Registered through the ``pytest11`` entry point. The fixture starts Debian's
(or any) ``redis-server`` on a Unix socket in the test's temporary directory
(no TCP port, no clash between parallel runs, nothing saved to disk) and stops
it by its PID at the end of the test::

    def test_shared_state(redis_state_server):
        settings = {
            "PROXYERRORS_STATE": "scrapy_proxyerrors.RedisState",
            "PROXYERRORS_REDIS_URL": redis_state_server.url,
        }
        ...

Without ``redis-server`` on ``PATH`` the test is skipped with a visible
reason, except when the environment variable ``CI`` is ``true``: then it
fails, so that a missing install never becomes a silent skip in CI.

pytest loads every ``pytest11`` plugin at start-up: this module imports
nothing heavy and starts nothing until the fixture is used.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator


class RedisServer:
    """A ``redis-server`` process listening on a Unix socket only."""

    def __init__(self, directory: Path, executable: str = "redis-server") -> None:
        self.directory = directory
        self.executable = executable
        self.socket = str(directory / "redis.sock")
        self.process: subprocess.Popen[bytes] | None = None
        self._admin: Any = None

    @property
    def url(self) -> str:
        """``unix://`` URL of the server, for ``PROXYERRORS_REDIS_URL``."""
        return f"unix://{self.socket}"

    def start(self, *extra: str) -> RedisServer:
        """Start the server and wait until it answers ``PING``."""
        self.process = subprocess.Popen(
            [self.executable, "--port", "0", "--unixsocket", self.socket,
             "--unixsocketperm", "700", "--save", "", "--appendonly", "no",
             "--dir", str(self.directory), *extra],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited with {self.process.returncode}")
            try:
                if self.client().ping():
                    return self
            except Exception:
                time.sleep(0.02)
        raise RuntimeError("redis-server did not answer within 10 s")

    def client(self, **params: Any) -> Any:
        """A (sync) ``redis.Redis`` client of this server."""
        import redis

        return redis.Redis(unix_socket_path=self.socket, socket_timeout=2, **params)

    def stop(self) -> None:
        """Kill the server (``SIGKILL``: as a crash would) and wait for it."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        self.process = None
        self._admin = None
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)

    def restart(self) -> RedisServer:
        """Stop, then start again empty (as after a crash without persistence)."""
        self.stop()
        return self.start()

    def keys(self, namespace: str) -> dict[str, float]:
        """The namespace's keys and their TTLs in seconds (-1: none)."""
        client = self.client()
        pattern = f"proxyerrors:{{{namespace}}}:*"
        return {k.decode(): client.ttl(k) for k in client.scan_iter(match=pattern)}

    def command_stats(self) -> dict[str, int]:
        """Calls of each command since start (or ``CONFIG RESETSTAT``), without
        the ``INFO`` and connection set-up of this reading itself."""
        if self._admin is None:
            self._admin = self.client()
        info = self._admin.info("commandstats")
        return {k.removeprefix("cmdstat_"): int(v["calls"]) for k, v in info.items()
                if k not in ("cmdstat_info", "cmdstat_client|setinfo")}

    def command_count(self) -> int:
        """Commands the server ran (see :meth:`command_stats`)."""
        return sum(self.command_stats().values())


def redis_server_path() -> str | None:
    """Path of ``redis-server`` or ``None``."""
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None)


def _in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in ("true", "1", "yes")


def _missing(reason: str) -> None:
    if _in_ci():
        pytest.fail(f"CI=true but {reason}: the Redis tests are mandatory in CI", pytrace=False)
    pytest.skip(reason, allow_module_level=True)


def require_redis_server() -> str:
    """``redis-server``'s path; skip the test without it (fail when ``CI=true``)."""
    path = redis_server_path()
    if path is None:
        _missing("redis-server is not installed (apt-get install redis-server; "
                 ".ci/install-system-deps installs it)")
    assert path is not None
    return path


def require_redis_package() -> Any:
    """The ``redis`` module; skip without it (fail when ``CI=true``)."""
    try:
        import redis
    except ImportError:
        _missing("the redis package is not installed (pip install scrapy-proxyerrors[redis])")
    return redis


@pytest.fixture
def redis_state_server() -> Iterator[RedisServer]:
    """A started ``redis-server`` on a Unix socket, killed at the end of the test."""
    require_redis_package()
    # A short directory: a Unix socket's path is limited to about 100 bytes.
    directory = Path(tempfile.mkdtemp(prefix="pe-redis-"))
    server = RedisServer(directory, require_redis_server()).start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
