"""Scenarios: named fault patterns, with their parameters and their state.

Every piece of state sits behind a lock, because each connection is served
by its own thread. Faults are a function of the seed and of each URL's
attempt number, so a run is reproducible given its seed however concurrent
requests interleave.
"""

from __future__ import annotations

import hashlib
import math
import random
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

#: Every scenario and its parameters with their defaults.
SCENARIOS: Mapping[str, Mapping[str, Any]] = {
    "ok": {},
    "flaky": {"rate": 0.2, "codes": ()},
    "budget": {"credits": 100},
    "ratelimit": {"limit": 10, "window": 1.0},
    "concurrency": {"max_concurrent": 4},
    "sticky": {"node_lifetime": 5},
    "isp": {"bad_ips": frozenset({1})},
    "auth_failed": {},
    # A pool of proxy ports (proxy providers): by index into proxy_urls(),
    # ports that refuse connections, ports that accept and never answer, and
    # ports that answer 503 + Retry-After for ``unavailable_for`` seconds from
    # their first request; the other ports are healthy.
    "pool": {"size": 4, "refused": frozenset(), "hanging": frozenset(),
             "unavailable": frozenset(), "unavailable_for": 5.0},
    # One sticky session dies: ``session`` (empty: the first session id seen)
    # serves ``after`` requests, then every request naming it fails.
    "dead_session": {"session": "", "after": 0},
    # The service is down: after ``after`` requests, every request fails with
    # the provider's 5xx for ``duration`` seconds, then it recovers.
    "outage": {"duration": 3.0, "after": 0},
    # The key is revoked after ``after`` requests: the auth error from then on.
    "revoked": {"after": 10},
    # A rate limit per target site through the account (Zyte API
    # /limits/over-domain-limit): ``limit`` per ``window`` seconds for each
    # host in ``sites`` (empty: every host), each site counted on its own.
    "site_limit": {"limit": 1, "window": 1.0, "sites": ()},
}

#: Parameters every scenario takes.
COMMON_PARAMS: Mapping[str, Any] = {
    #: Seconds to wait before answering any provider request.
    "delay": 0.0,
    #: The target site's link graph spans ``/page/1`` .. ``/page/<pages>``.
    "pages": 100,
    #: helodata ISP: how many IPs (ports) the batch has.
    "ips": 3,
    #: soax: rule names the username must carry (else ``ERR_MISSING_PARAMS``).
    "require_rules": (),
    #: The error code the scenario answers with, instead of the provider's default.
    "code": "",
    #: brightdata: errors carry only RFC 9209 ``Proxy-Status`` (no ``x-brd-*``).
    "proxy_status_only": False,
}

#: Common parameters that only some providers take (``ProviderSpec.takes``).
PROVIDER_PARAMS = ("require_rules", "proxy_status_only")


def _coerce(name: str, value: Any, default: Any) -> Any:
    """*value* in the type of *default*; strings (from the CLI) are parsed."""
    try:
        if isinstance(default, bool):
            if isinstance(value, str):
                return value.strip().lower() in ("1", "true", "yes", "on")
            return bool(value)
        if isinstance(default, int):
            result = int(value)
            if result < 0:
                raise ValueError(value)
            return result
        if isinstance(default, float):
            number = float(value)
            if not math.isfinite(number) or number < 0:
                raise ValueError(value)
            return number
        if isinstance(default, frozenset):
            items: Iterable[Any] = value.split(",") if isinstance(value, str) else value
            return frozenset(int(i) for i in items if str(i).strip())
        if isinstance(default, tuple):
            items = value.split(",") if isinstance(value, str) else value
            return tuple(str(i).strip() for i in items if str(i).strip())
        return str(value)
    except (TypeError, ValueError):
        raise ValueError(f"bad value for scenario parameter {name}: {value!r}") from None


def scenario_params(scenario: str, given: Mapping[str, Any]) -> dict[str, Any]:
    """The full parameter set: defaults overridden by *given*, checked and typed."""
    if scenario not in SCENARIOS:
        raise ValueError(f"unknown scenario {scenario!r}; known: {', '.join(SCENARIOS)}")
    defaults = {**COMMON_PARAMS, **SCENARIOS[scenario]}
    unknown = set(given) - set(defaults)
    if unknown:
        raise TypeError(
            f"scenario {scenario!r} takes no parameter {', '.join(sorted(unknown))}; "
            f"it takes: {', '.join(sorted(defaults))}"
        )
    params = {k: _coerce(k, given[k], v) if k in given else v for k, v in defaults.items()}
    if "rate" in params and not 0 <= params["rate"] <= 1:
        raise ValueError(f"scenario parameter rate must be within 0..1, got {params['rate']}")
    if scenario in ("ratelimit", "site_limit") and (params["limit"] < 1
                                                     or params["window"] <= 0):
        raise ValueError(f"scenario {scenario} needs limit >= 1 and window > 0")
    if scenario == "pool":
        size = params["size"]
        if size < 1:
            raise ValueError("scenario pool needs size >= 1")
        groups = ("refused", "hanging", "unavailable")
        for name in groups:
            bad = sorted(i for i in params[name] if not 0 <= i < size)
            if bad:
                raise ValueError(f"scenario pool: {name} {bad} out of range for size={size}")
        taken = [i for name in groups for i in params[name]]
        if len(taken) != len(set(taken)):
            raise ValueError("scenario pool: a port can be refused, hanging or "
                             "unavailable, not two of them")
    if params["ips"] < 1:
        raise ValueError("scenario parameter ips must be at least 1")
    return params


class SlidingWindow:
    """A true sliding-window limiter: at most *limit* admissions per *window*.

    Refused requests do not count, so the window refuses exactly the
    requests over the limit.
    """

    def __init__(self, limit: int, window: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self._clock = clock
        self._lock = threading.Lock()
        self._seen: dict[str, deque[float]] = {}

    def acquire(self, key: str) -> tuple[bool, int, float]:
        """``(admitted, remaining, wait)``; *wait* is seconds until a slot frees."""
        with self._lock:
            now = self._clock()
            seen = self._seen.setdefault(key, deque())
            horizon = now - self.window
            while seen and seen[0] <= horizon:
                seen.popleft()
            if len(seen) < self.limit:
                seen.append(now)
                return True, self.limit - len(seen), 0.0
            return False, 0, seen[0] + self.window - now

    def remaining(self, key: str) -> int:
        with self._lock:
            seen = self._seen.get(key, ())
            horizon = self._clock() - self.window
            return self.limit - sum(1 for t in seen if t > horizon)


class ConcurrencyLimit:
    """At most *limit* requests (or open tunnels) at once, per key."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._active: dict[str, int] = {}
        #: The most seen at once, per key (for tests and reports).
        self.peak: dict[str, int] = {}

    def acquire(self, key: str) -> Callable[[], None] | None:
        """A release function, or ``None`` when the key is at its limit."""
        with self._lock:
            active = self._active.get(key, 0)
            if active >= self.limit:
                return None
            self._active[key] = active + 1
            self.peak[key] = max(self.peak.get(key, 0), active + 1)
        released = False

        def release() -> None:
            nonlocal released
            with self._lock:
                if not released:
                    released = True
                    self._active[key] -= 1

        return release


class Budget:
    """Credits that successful requests spend, one each; never overdrawn."""

    def __init__(self, credits: int) -> None:
        self.initial = credits
        self._left = credits
        self._lock = threading.Lock()

    @property
    def left(self) -> int:
        with self._lock:
            return self._left

    def take(self) -> bool:
        with self._lock:
            if self._left <= 0:
                return False
            self._left -= 1
            return True

    def give_back(self) -> None:
        with self._lock:
            self._left += 1

    def refill(self, credits: int | None) -> None:
        """Add *credits*, or with ``None`` top up to the initial amount."""
        with self._lock:
            self._left = max(self._left, self.initial) if credits is None else \
                self._left + credits


class Sessions:
    """Sticky sessions whose node dies after *lifetime* requests.

    A dead session stays dead: only a new session id gets a new node.
    """

    def __init__(self, lifetime: int) -> None:
        self.lifetime = lifetime
        self._lock = threading.Lock()
        self._used: dict[str, int] = {}

    def use(self, session: str) -> bool:
        """Count one request on *session*; ``False`` once its node is dead."""
        with self._lock:
            used = self._used.get(session, 0)
            if used >= self.lifetime:
                return False
            self._used[session] = used + 1
            return True


class DeadSession:
    """One sticky session whose node dies after *after* requests, for good;
    every other session lives. With no *session*, the first one seen dies."""

    def __init__(self, session: str, after: int) -> None:
        self.session: str | None = session or None
        self.after = after
        self._lock = threading.Lock()
        self._used = 0

    def dead(self, session: str) -> bool:
        """Count one request on *session*; ``True`` when it is the dead one."""
        with self._lock:
            if self.session is None:
                self.session = session
            if session != self.session:
                return False
            self._used += 1
            return self._used > self.after


class Outage:
    """The service is down for *duration* seconds, from the request after the
    first *after* ones (so the outage starts when the crawl is running)."""

    def __init__(self, duration: float, after: int,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.duration = duration
        self.after = after
        self._clock = clock
        self._lock = threading.Lock()
        self._seen = 0
        #: ``clock()`` when the outage began and ends (``None`` before it began).
        self.start: float | None = None
        self.end: float | None = None

    def down(self) -> bool:
        """Count one request; ``True`` when it falls inside the outage."""
        with self._lock:
            self._seen += 1
            if self.start is None:
                if self._seen <= self.after:
                    return False
                self.start = self._clock()
                self.end = self.start + self.duration
            assert self.end is not None
            return self._clock() < self.end

    def over(self) -> bool:
        """The outage has begun and ended."""
        with self._lock:
            return self.end is not None and self._clock() >= self.end


class Countdown:
    """``True`` from the request after the first *after* ones (a revoked key)."""

    def __init__(self, after: int) -> None:
        self.after = after
        self._lock = threading.Lock()
        self._seen = 0

    def expired(self) -> bool:
        with self._lock:
            self._seen += 1
            return self._seen > self.after


class Windows:
    """Per-key windows that open on a key's first request: ``wait(key)`` is
    the seconds left in *key*'s window (0.0 once it has passed)."""

    def __init__(self, length: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.length = length
        self._clock = clock
        self._lock = threading.Lock()
        self._ends: dict[Any, float] = {}

    def wait(self, key: Any) -> tuple[float, bool]:
        """``(seconds left, first)``; *first*: this request opened the window."""
        with self._lock:
            now = self._clock()
            end = self._ends.get(key)
            first = end is None
            if end is None:
                end = self._ends[key] = now + self.length
            return max(0.0, end - now), first


class Dice:
    """Seeded randomness shared by all threads."""

    def __init__(self, seed: int | str) -> None:
        self._seed = str(seed)
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._attempts: dict[str, int] = {}

    def fault(self, key: str, rate: float, codes: tuple[str, ...]) -> str | None:
        """One of *codes* with probability *rate*, else ``None``, for *key*.

        The outcome is a hash of the seed, *key* (the request's URL) and how
        many requests for that key came before, not a draw from a shared
        sequence: a concurrent crawl interleaves requests differently on
        every run, and each URL must still meet the same faults.
        """
        with self._lock:
            attempt = self._attempts.get(key, 0)
            self._attempts[key] = attempt + 1
        digest = hashlib.blake2b(
            f"{self._seed}\0{key}\0{attempt}".encode(), digest_size=16
        ).digest()
        if int.from_bytes(digest[:8], "big") / 2**64 >= rate:
            return None
        return codes[int.from_bytes(digest[8:], "big") % len(codes)]

    def hex(self, digits: int) -> str:
        with self._lock:
            return f"{self._rng.getrandbits(digits * 4):0{digits}x}"
