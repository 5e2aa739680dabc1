"""Route health, cooldowns and pauses, behind one small interface.

Everything is keyed by plain strings (route ids such as ``127.0.0.1:8000~abc``
and account ids such as ``soax``) and timed in wall-clock seconds
(``time.time()``), so that a later implementation can share it between crawl
processes (e.g. through Redis) without changing the middleware.
"""

from __future__ import annotations

import math
from typing import Protocol, runtime_checkable


@runtime_checkable
class RouteState(Protocol):
    """What the middleware needs to remember about routes and accounts."""

    def pause(self, key: str, until: float) -> None:
        """Send nothing through *key* (a route or account) before *until*."""

    def paused_until(self, key: str) -> float:
        """When the pause on *key* ends; ``0`` when it is not paused."""

    def record_failure(self, route: str, now: float, cooldown: float) -> float:
        """Count a failure of *route* and rest it; return when the rest ends.

        *cooldown* is the base rest; repeated failures in a row grow it.
        """

    def record_success(self, route: str) -> None:
        """Forget the failure streak of *route*."""

    def cooling_until(self, route: str) -> float:
        """When *route*'s rest ends; ``0`` when it is healthy."""


class MemoryState:
    """The default :class:`RouteState`: dictionaries in this process.

    Bounded: expired entries are pruned once the tables grow past
    *max_entries*, so a crawl over millions of sessions does not grow memory.
    """

    #: A failure streak multiplies the base cooldown by 2**streak, at most this.
    MAX_GROWTH = 16.0

    def __init__(self, max_entries: int = 10_000) -> None:
        self._pauses: dict[str, float] = {}
        self._cooling: dict[str, float] = {}
        self._streaks: dict[str, int] = {}
        self._max_entries = max_entries

    def pause(self, key: str, until: float) -> None:
        if until > self._pauses.get(key, 0.0):
            self._pauses[key] = until
            self._prune(self._pauses, until)

    def paused_until(self, key: str) -> float:
        return self._pauses.get(key, 0.0)

    def record_failure(self, route: str, now: float, cooldown: float) -> float:
        streak = self._streaks.get(route, 0)
        self._streaks[route] = streak + 1
        # The exponent is clamped first: 2.0**1024 overflows a float.
        growth = min(2.0 ** min(streak, 16), self.MAX_GROWTH)
        rest = cooldown if math.isinf(cooldown) else cooldown * growth
        until = now + rest
        if until > self._cooling.get(route, 0.0):
            self._cooling[route] = until
        self._prune(self._cooling, now)
        if len(self._streaks) > self._max_entries:
            # Streaks of routes that are no longer resting are forgotten first.
            for key in [k for k in self._streaks if self._cooling.get(k, 0.0) <= now]:
                del self._streaks[key]
        return until

    def record_success(self, route: str) -> None:
        self._streaks.pop(route, None)

    def cooling_until(self, route: str) -> float:
        return self._cooling.get(route, 0.0)

    def __len__(self) -> int:
        """Entries held, for tests and soak benchmarks."""
        return len(self._pauses) + len(self._cooling) + len(self._streaks)

    def _prune(self, table: dict[str, float], now: float) -> None:
        if len(table) <= self._max_entries:
            return
        for key in [k for k, until in table.items() if until <= now]:
            del table[key]
