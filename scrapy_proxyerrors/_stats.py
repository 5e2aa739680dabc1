"""Every stats key the plugin writes, built in one place under one prefix."""

from __future__ import annotations

import re

PREFIX = "proxyerrors"
# Codes come from providers (possibly hostile ones): keep keys to printable
# ASCII without the separator, so no control character reaches a stats backend.
_UNSAFE = re.compile(r"[^!-.0-~]+")


def stat_part(value: object) -> str:
    """*value* as one key-safe part of a stats key."""
    text = str(value).strip().strip("/")
    return _UNSAFE.sub("_", text)[:80] or "unknown"


def stat_key(*parts: object) -> str:
    """``proxyerrors/<part>/<part>...`` with each part made key-safe."""
    return "/".join((PREFIX, *(stat_part(p) for p in parts)))


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
ROTATE_BUDGET = f"{PREFIX}/rotate/budget"
REQUEUED = f"{PREFIX}/stop/requeued"
INTAKE_HELD = f"{PREFIX}/scheduler/intake_held"
STOPPED = f"{PREFIX}/stop/reason"
STOPPED_BY = f"{PREFIX}/stop/error"
CORROBORATION_PROBES = f"{PREFIX}/corroboration/probes"
CORROBORATION_CONFIRMED = f"{PREFIX}/corroboration/confirmed"
CORROBORATION_REFUTED = f"{PREFIX}/corroboration/refuted"
