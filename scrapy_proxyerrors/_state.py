"""Route health, cooldowns, pauses, pacing and the stop, behind one small interface.

Everything is keyed by plain strings (route ids such as ``127.0.0.1:8000~abc``,
account ids such as ``soax#1a2b3c4d`` and site keys ``<account>|<host>``) and
timed in wall-clock seconds (``time.time()``), so that another implementation
can share it between crawl processes (e.g. through Redis) without changing the
middleware or the scheduler.
"""

from __future__ import annotations

import heapq
import math
import time
from collections import OrderedDict
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from collections.abc import Callable


@runtime_checkable
class RouteState(Protocol):
    """What the scheduler needs to remember about routes and accounts.

    No method may raise into the crawl: implementations catch and count their
    own errors. An implementation whose :meth:`take` keeps the *window* of
    :meth:`set_rate` says so with a class attribute ``windowed = True``: the
    scheduler then releases waiting requests in bursts of a window's worth.
    Such a state may also have ``delay_sends(since, to)`` (see
    :meth:`MemoryState.delay_sends`), which the scheduler calls after a stall
    of the process (a full garbage collection) so that sends admitted just
    before it count from its end, and ``answered(key, sent, free_at)`` (see
    :meth:`MemoryState.answered`), which it calls when a reply is back so
    that the reply's place in the window frees a window after it.
    """

    def pause(self, key: str, until: float) -> None:
        """Send nothing through *key* (a route, account or site) before *until*."""

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

    def learn(self, proxy: str, provider: str) -> None:
        """Remember that the proxy ``host:port`` answered as *provider*."""

    def learned(self, proxy: str) -> str | None:
        """The provider learned for the proxy ``host:port``, if any."""

    def set_rate(self, key: str, rate: float, until: float, window: float = 0.0) -> None:
        """Pace *key* at *rate* requests per second until *until*; ``rate <= 0`` removes it.

        *window*: the provider counts requests per window of this many seconds
        (margin included), so ``rate * window`` of them may go together as
        long as no window holds more. An implementation that cannot keep a
        window (see :attr:`windowed`) paces evenly at *rate*, which is always
        within it.
        """

    def rate(self, key: str) -> float:
        """The pacing rate of *key*; ``0`` when it is not paced."""

    def take(self, key: str, now: float) -> float:
        """Take one token of *key*: ``0`` when taken, else seconds until the next one."""

    def stop(self, reason: str, origin: str) -> None:
        """Record a stop (e.g. ``proxyerrors_auth`` from ``soax/AUTH_FAILED@route``)."""

    def stopped(self) -> tuple[str, str] | None:
        """``(reason, origin)`` of a live stop, else ``None``."""

    def add_listener(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(kind, key)`` on changes made by OTHER processes."""

    def close(self) -> None:
        """Release what the state holds (connections...)."""


#: Seconds a paced request may come early (see gcra_take).
_GCRA_TOLERANCE = 0.005
#: A window pace keeps at most this many send times per key; a larger
#: allowance is kept as the same share of a shorter window.
WINDOW_LOG_MAX = 64


def window_shape(rate: float, window: float) -> tuple[int, float]:
    """``(n, span)``: at most *n* requests in any *span* seconds, never more
    than ``rate * window`` per *window*; ``n < 2`` means even pacing."""
    n = int(rate * window + 1e-6)
    if n < 2 or not math.isfinite(window):
        return 1, 0.0
    scale = -(-n // WINDOW_LOG_MAX)
    return n // scale, window / scale


def window_take(places: list[float], n: int, span: float, now: float) -> float:
    """One step of a window pace (at most *n* sends in any *span* seconds):
    ``0`` records a send at *now*, else the wait.

    *places*: when each of the last *n* sends' place frees: a window and its
    margin after the send (*span*), or earlier once the reply is back (see
    :meth:`MemoryState.answered`). A send takes the place that frees first.
    Same tolerance as :func:`gcra_take`: the margin is in *span*."""
    if len(places) < n:
        places.append(now + span)
        return 0.0
    # By index, in one step: a garbage collection's delay_sends() may move a
    # place (never earlier) at any allocation.
    i = min(range(n), key=places.__getitem__)
    early = places[i] - now - _GCRA_TOLERANCE
    if early > 1e-9:
        return early
    places[i] = now + span
    return 0.0


def gcra_take(tat: float, now: float, interval: float) -> tuple[float, float]:
    """One GCRA step: ``(wait, new theoretical arrival time)``; ``wait`` 0 takes a token.

    A tolerance of a few milliseconds (at most half an interval): a request
    released a little early (timers are not exact) still conforms. It is no
    more, because any tolerance lets two requests come that much closer than
    ``interval``, and under a sliding window of ``limit`` per ``window``, paced
    at 95 % of it, the slack is only 5 % of the window.
    """
    early = tat - now - min(interval / 2, _GCRA_TOLERANCE)
    if early > 1e-9:  # not a float's rounding of a slot handed out earlier
        return early, tat
    return 0.0, max(tat, now) + interval


class _Expiring:
    """``key -> until`` with an expiry heap: pruning pops only expired entries.

    An entry that is still active is never dropped (a pause or cooldown that
    is forgotten early would let requests through inside the window).
    """

    __slots__ = ("_heap", "_table")

    def __init__(self) -> None:
        self._table: dict[str, float] = {}
        self._heap: list[tuple[float, str]] = []

    def __len__(self) -> int:
        return len(self._table)

    def get(self, key: str) -> float:
        return self._table.get(key, 0.0)

    def extend(self, key: str, until: float) -> bool:
        if until <= self._table.get(key, 0.0):
            return False
        self._table[key] = until
        heapq.heappush(self._heap, (until, key))
        if len(self._heap) > 2 * len(self._table) + 64:
            # Superseded entries (windows extended again and again, a few
            # keys in a small pool) pile up in the heap: rebuilt from the
            # table, after as many pushes as it holds (amortised O(1)).
            self._compact()
        return True

    def _compact(self) -> None:
        self._heap = [(u, k) for k, u in self._table.items()]
        heapq.heapify(self._heap)

    def prune(self, now: float) -> None:
        heap, table = self._heap, self._table
        while heap and heap[0][0] <= now:
            until, key = heapq.heappop(heap)
            if table.get(key) == until:
                del table[key]
        if len(heap) > 2 * len(table) + 64:
            self._compact()


class _Pace:
    """One key's pace: GCRA (even), or the places of a window (see window_take)."""

    __slots__ = ("n", "places", "rate", "span", "tat", "until")

    def __init__(self, rate: float, until: float, window: float, old: _Pace | None) -> None:
        self.rate = rate
        self.until = until
        self.n, self.span = window_shape(rate, window)
        # A new pace keeps what the old one knows of the last sends.
        self.tat: float = old.tat if old else 0.0
        self.places: list[float] | None = None
        if self.n > 1:
            kept: list[float] = []
            if old is not None and old.places:
                # A longer window holds each send longer; a shorter one never
                # frees a place sooner than the old window did.
                longer = max(self.span - old.span, 0.0)
                kept = [free + longer for free in sorted(old.places)[-self.n :]]
            self.places = kept
        if old is not None and old.places:
            last_send = max(old.places) - old.span
            self.tat = max(self.tat, last_send + 1.0 / rate)


class MemoryState:
    """The default :class:`RouteState`: tables in this process.

    Bounded without scans: pauses and cooldowns leave when they expire (an
    expiry heap), failure streaks, pacing and learned facts are
    least-recently-used tables of at most *max_entries*.
    """

    #: A failure streak multiplies the base cooldown by 2**streak, at most this.
    MAX_GROWTH = 16.0
    #: take() keeps set_rate()'s window.
    windowed = True

    def __init__(
        self, max_entries: int = 10_000, clock: Callable[[], float] = time.time
    ) -> None:
        self._max_entries = max_entries
        self._clock = clock
        self._pauses = _Expiring()
        self._cooling = _Expiring()
        self._streaks: OrderedDict[str, int] = OrderedDict()
        self._learned: OrderedDict[str, str] = OrderedDict()
        self._rates: OrderedDict[str, _Pace] = OrderedDict()
        self._stop: tuple[str, str] | None = None

    # pauses ---------------------------------------------------------------
    def pause(self, key: str, until: float) -> None:
        if self._pauses.extend(key, until) and len(self._pauses) > self._max_entries:
            self._pauses.prune(self._clock())

    def paused_until(self, key: str) -> float:
        return self._pauses.get(key)

    # cooldowns --------------------------------------------------------------
    def record_failure(self, route: str, now: float, cooldown: float) -> float:
        streaks = self._streaks
        streak = streaks.pop(route, 0)
        streaks[route] = streak + 1
        # The exponent is clamped first: 2.0**1024 overflows a float.
        growth = min(2.0 ** min(streak, 16), self.MAX_GROWTH)
        rest = cooldown if math.isinf(cooldown) else cooldown * growth
        until = now + rest
        self._cooling.extend(route, until)
        if len(self._cooling) > self._max_entries:
            self._cooling.prune(now)
        if len(streaks) > self._max_entries:
            # The least recently failed streak goes (a resting route keeps its
            # cooldown, only the growth of its next one restarts).
            streaks.popitem(last=False)
        return until

    def record_success(self, route: str) -> None:
        if self._streaks:
            self._streaks.pop(route, None)

    def cooling_until(self, route: str) -> float:
        return self._cooling.get(route)

    # learned facts ----------------------------------------------------------
    def learn(self, proxy: str, provider: str) -> None:
        learned = self._learned
        learned.pop(proxy, None)
        learned[proxy] = provider
        if len(learned) > self._max_entries:
            learned.popitem(last=False)

    def learned(self, proxy: str) -> str | None:
        return self._learned.get(proxy)

    # pacing ---------------------------------------------------------------
    def set_rate(self, key: str, rate: float, until: float, window: float = 0.0) -> None:
        rates = self._rates
        old = rates.pop(key, None)
        if not rate > 0 or math.isinf(rate):
            return
        rates[key] = _Pace(rate, until, window, old)
        if len(rates) > self._max_entries:
            rates.popitem(last=False)

    def _live(self, key: str, now: float) -> _Pace | None:
        entry = self._rates.get(key)
        if entry is not None and entry.until <= now:
            del self._rates[key]
            return None
        return entry

    def rate(self, key: str) -> float:
        entry = self._live(key, self._clock())
        return entry.rate if entry else 0.0

    def take(self, key: str, now: float) -> float:
        entry = self._live(key, now)
        if entry is None:
            return 0.0
        if entry.places is not None:
            return window_take(entry.places, entry.n, entry.span, now)
        wait, entry.tat = gcra_take(entry.tat, now, 1.0 / entry.rate)
        return wait

    def delay_sends(self, since: float, to: float) -> None:
        """Sends logged since *since* may have left only at *to* (the process
        stalled after admitting them): under a window they count from *to*.

        Called from ``gc.callbacks``, which may run in any thread: the table is
        copied first (at once, under the GIL), the places only move forward."""
        for entry in list(self._rates.values()):
            places = entry.places
            if not places:
                continue
            sent_since, moved = since + entry.span, to + entry.span
            for i, free in enumerate(places):
                if sent_since <= free < moved:
                    places[i] = moved

    def answered(self, key: str, sent: float, free_at: float) -> list[float] | None:
        """The reply to *key*'s send at *sent* is back: the provider counted
        that request by now, so its place frees at *free_at* (now and the
        provider's window) when that is sooner than its margin.

        Returns when each place of the window can be taken again, in order,
        when one moved; else ``None`` (a pace set since, a place taken again,
        or no gain)."""
        entry = self._rates.get(key)
        if entry is None or not entry.places:
            return None
        places = entry.places
        try:
            i = places.index(sent + entry.span)
        except ValueError:
            return None
        # The tolerance take() allows is not for a bound that is exact.
        free_at += _GCRA_TOLERANCE
        if free_at >= places[i]:
            return None
        places[i] = free_at
        return sorted(free - _GCRA_TOLERANCE for free in places)

    # the stop -------------------------------------------------------------
    def stop(self, reason: str, origin: str) -> None:
        if self._stop is None:
            self._stop = (reason, origin)

    def stopped(self) -> tuple[str, str] | None:
        return self._stop

    def add_listener(self, listener: Callable[[str, str], None]) -> None:
        """In one process nothing else changes the state: never called."""

    def close(self) -> None:
        """Nothing to release."""

    def __len__(self) -> int:
        """Entries held, for tests and soak benchmarks."""
        return (
            len(self._pauses)
            + len(self._cooling)
            + len(self._streaks)
            + len(self._learned)
            + len(self._rates)
        )
