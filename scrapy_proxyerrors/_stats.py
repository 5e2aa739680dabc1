"""Every stats key the plugin writes, built in one place under one prefix."""

from __future__ import annotations

import re

PREFIX = "proxyerrors"
_UNSAFE = re.compile(r"[\s/]+")


def _part(value: object) -> str:
    text = str(value).strip().strip("/")
    return _UNSAFE.sub("_", text)[:80] or "unknown"


def stat_key(*parts: object) -> str:
    """``proxyerrors/<part>/<part>...`` with each part made key-safe."""
    return "/".join((PREFIX, *(_part(p) for p in parts)))


def error_key(provider: str, code: str) -> str:
    return stat_key("error", provider, code)


RETRY_BASE = f"{PREFIX}/retry"
WAIT_SECONDS = f"{PREFIX}/wait_seconds"
DROPPED = f"{PREFIX}/dropped"
COOLDOWNS = f"{PREFIX}/route/cooldowns"
PAUSES = f"{PREFIX}/route/pauses"
ROTATE_PROXY = f"{PREFIX}/rotate/proxy"
ROTATE_SESSION = f"{PREFIX}/rotate/session"
ROTATE_NONE = f"{PREFIX}/rotate/same_route"
REQUEUED = f"{PREFIX}/stop/requeued"
STOPPED = f"{PREFIX}/stop/reason"
STOPPED_BY = f"{PREFIX}/stop/error"
