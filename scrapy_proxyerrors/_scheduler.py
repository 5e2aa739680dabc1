"""The scheduler of attempts: when and where each request goes next.

It owns everything that happens in time and across routes: parking requests
that must wait (outside Scrapy, holding no ``CONCURRENT_REQUESTS`` unit and no
download slot), pacing accounts at their learned rate, adaptive concurrency
limits per account, the choice of a route from the pool, pauses, cooldowns,
sticky-session replacement, the circuit breaker per account, and the stop.
It is the only code that touches Scrapy's engine internals.

How a request waits: the middleware returns it (from ``process_request``,
``process_response`` or ``process_exception``) with a private "not before"
time in its meta. The engine hands a returned request to ``crawl()``, which
gives it to Scrapy's scheduler; its ``enqueue_request``, wrapped when the
spider opens, keeps a request that is not due in a heap here instead (a
``request_scheduled`` receiver that raises ``IgnoreRequest`` is the fallback
when the scheduler cannot be wrapped). When it is due, a timer gives it back
to ``engine.crawl()``. While anything is parked,
``spider_idle`` keeps the spider open; when the spider closes, parked requests
go to Scrapy's scheduler (so ``JOBDIR`` keeps them) just before that closes.
"""

from __future__ import annotations

import gc
import heapq
import itertools
import logging
import math
import random
import time
import weakref
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit, urlunsplit

from scrapy import signals
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from twisted.python.threadable import isInIOThread

from . import _stats as S
from ._compat import call_later, close_spider
from ._identity import LRU
from ._policy import RATE_MARGIN
from ._probe import Corroborator
from ._routes import Credentials, basic_header, route_proxy, session_of, with_new_session
from ._state import window_shape

if TYPE_CHECKING:
    from collections.abc import Callable, Coroutine, Sequence

    from scrapy import Request
    from scrapy.crawler import Crawler

    from ._classifier import ProviderError
    from ._identity import Identity
    from ._profile import Profile
    from ._state import RouteState

# Logged under the middleware's logger: the redaction filters cover it.
logger = logging.getLogger("scrapy_proxyerrors.middleware")

META_ROUTE = "proxyerrors_route"
# Private meta keys: the plugin talks to itself across attempts.
NOT_BEFORE = "_proxyerrors_not_before"
WAIT_ON = "_proxyerrors_wait_on"
INFLIGHT = "_proxyerrors_inflight"
ASSIGNED = "_proxyerrors_assigned"
AVOID = "_proxyerrors_avoid"
SLOT = "_proxyerrors_slot"
PROBE = "_proxyerrors_probe"
SENT = "_proxyerrors_sent"
#: How many requests of the account were in flight when this one was sent.
SENT_WITH = "_proxyerrors_sent_with"
ACCOUNT = "_proxyerrors_account"
RESERVED = "_proxyerrors_reserved"
#: The pooled route a request went to before that route ever answered.
WARMING = "_proxyerrors_warming"
#: The key a parked request was woken on (its turn for a freed place).
WOKEN = "_proxyerrors_woken"
#: The keys paced per window whose places this request took (see _free_places()).
PLACED = "_proxyerrors_placed"

#: Paced keys kept before the expired ones are looked for.
_PACED_PRUNE_MIN = 1024
#: A request parked behind a concurrency limit or a breaker probe is
#: re-checked at the latest after this many seconds (it is normally released
#: as soon as a request of its account finishes).
_RECHECK = 2.0
#: A concurrency limit held at the level below a refusal tries one more
#: after this many successes per unit of the limit.
_PROBE_EVERY = 100
#: Proxy URLs rewritten for a replaced session, kept (one per dead session and
#: spelling of its URL: a pool of sticky sessions replaces many).
_MOVED_URLS_MAX = 1024
#: Two refusals one below the limit within this many successes per unit of
#: the limit: the level below them is the provider's.
_NEAR_REPEAT = 3
#: Scrapy's queue feeds the engine while fewer than this many requests per
#: unit of CONCURRENT_REQUESTS (and at least _INTAKE_MIN) wait for a first answer.
_INTAKE_FACTOR = 2
_INTAKE_MIN = 16
#: Accounts whose successes of the last two seconds are counted.
_SERVED_KEPT = 4096
#: A stall of the whole process this long or longer (a full garbage
#: collection: 60-90 ms every 3-4 s in a 600-page crawl, measured) holds back
#: what was admitted just before it; sends admitted this long before it may
#: have left only after it (the turn that admitted them writes them).
_STALL_MIN = 0.005
_STALL_LOOKBACK = 0.03
#: Schedulers pacing per window: told of the garbage collector's stalls.
_stall_watchers: weakref.WeakSet[Scheduler] = weakref.WeakSet()
#: Due within this much: sent now (timers are not more precise).
_EPSILON = 0.002


def _on_gc(phase: str, info: dict[str, int]) -> None:
    for watcher in list(_stall_watchers):
        watcher.gc_phase(phase)


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """The scheduler's settings (read and validated by ``Config``)."""

    slot_per_route: bool = False
    #: Consecutive outage failures (provider 5xx, API connection failures) that open a breaker.
    breaker_threshold: int = 5
    #: Seconds an open breaker waits before its probe; doubles on each failed probe.
    breaker_recovery: float = 30.0
    breaker_max: float = 600.0
    #: Spacing of releases after a pause when no rate is known.
    release_spacing: float = 0.05
    #: How long a learned pacing rate is kept without a new signal.
    rate_ttl: float = 600.0
    #: Adaptive concurrency: the factor of a decrease, and the lowest limit.
    concurrency_decrease: float = 0.5
    concurrency_floor: int = 1


class RoutePool:
    """``PROXYERRORS_PROXIES``: a ring of healthy routes and a heap of resting ones.

    A pick costs O(1) amortised whatever the pool size and however many routes
    rest: a resting route leaves the ring once, and comes back when its time
    comes, instead of being looked at on every pick.
    """

    def __init__(self, proxies: Sequence[str], route_of: Callable[[str], str]) -> None:
        self._proxies = list(proxies)
        self._route_of = route_of
        # index -> (generation, route id): forget_routes() is O(1)
        self._routes: list[tuple[int, str] | None] = [None] * len(self._proxies)
        self._generation = 0
        self._ring: deque[int] = deque(range(len(self._proxies)))
        self._in_ring = [True] * len(self._proxies)
        self._resting: list[tuple[float, int]] = []

    def __len__(self) -> int:
        return len(self._proxies)

    def route(self, index: int) -> str:
        cached = self._routes[index]
        if cached is None or cached[0] != self._generation:
            cached = self._routes[index] = (self._generation, self._route_of(self._proxies[index]))
        return cached[1]

    def forget_routes(self) -> None:
        """Route ids may have changed (a provider was learned): name each
        entry again when it is next picked."""
        self._generation += 1

    def pick(
        self,
        ready_of: Callable[[str], float],
        now: float,
        avoid: str | None = None,
        skip: Callable[[str], bool] | None = None,
    ) -> tuple[str, str]:
        """The next healthy proxy URL and its route id.

        Resting routes and *avoid* (the route that just failed) are skipped;
        when every route rests, the one that recovers first is used, still
        never *avoid* while another route exists. *skip* passes over a route
        for this request only (paused for its site), leaving it in the ring
        for other sites.
        """
        resting, ring, in_ring = self._resting, self._ring, self._in_ring
        while resting and resting[0][0] <= now:
            _, index = heapq.heappop(resting)
            if not in_ring[index]:
                in_ring[index] = True
                ring.append(index)
        avoided: int | None = None
        skipped: int | None = None
        for _ in range(len(ring)):
            index = ring.popleft()
            route = self.route(index)
            ready = ready_of(route)
            if ready > now:
                in_ring[index] = False
                heapq.heappush(resting, (ready, index))
                continue
            ring.append(index)
            if route == avoid and len(self._proxies) > 1:
                avoided = index
                continue
            if skip is not None and skip(route):
                if skipped is None:
                    skipped = index
                continue
            return self._proxies[index], route
        if skipped is not None:
            return self._proxies[skipped], self.route(skipped)
        if avoided is not None:
            return self._proxies[avoided], self.route(avoided)
        if resting:
            index = resting[0][1]
            if self.route(index) == avoid and len(resting) > 1:
                # The next to recover: in a heap, one of the root's children.
                index = min(resting[1:3])[1]
            return self._proxies[index], self.route(index)
        return self._proxies[0], self.route(0)


class _Breaker:
    """A circuit breaker of one account."""

    __slots__ = ("failures", "open_until", "opened_at", "probing", "recovery")

    def __init__(self, recovery: float) -> None:
        self.failures = 0
        self.open_until = 0.0
        self.opened_at = 0.0
        self.probing = False
        self.recovery = recovery


class _Limited:
    """An account's 429s without a stated limit: when the last one was seen,
    and the successes since (what it sustained between them)."""

    __slots__ = ("seen", "successes")

    def __init__(self, seen: float) -> None:
        self.seen = seen
        self.successes: deque[float] = deque(maxlen=2_000)


class _Parked:
    __slots__ = ("alive", "due", "request", "seq", "warming")

    def __init__(self, due: float, seq: int, request: Request, *, warming: bool) -> None:
        self.due = due
        self.seq = seq
        self.request = request
        self.alive = True
        # It waits for a proxy's (or an account's) first answer.
        self.warming = warming

    def __lt__(self, other: _Parked) -> bool:
        return (self.due, self.seq) < (other.due, other.seq)


class Scheduler:
    """Parking, pacing, concurrency limits, route choice, breakers and the stop."""

    def __init__(
        self,
        crawler: Crawler,
        state: RouteState,
        identity: Identity,
        config: SchedulerConfig,
        proxies: Sequence[str] = (),
        *,
        clock: Callable[[], float] = time.time,
        rng: random.Random | None = None,
    ) -> None:
        self.crawler = crawler
        self.state = state
        self.identity = identity
        self.config = config
        self.clock = clock
        self.rng = rng or random.Random()
        assert crawler.stats is not None
        self.stats = crawler.stats
        # A pool entry's account, by route: a site is paused per account
        # (``<account>|<host>``), and a pool may hold several accounts.
        self._pool_accounts: dict[str, str] = {}
        self.pool = RoutePool(proxies, self._pool_route) if proxies else None
        # What the downloader sends at once: the most a burst can be.
        self._concurrency = crawler.settings.getint("CONCURRENT_REQUESTS")
        self.stopping: str | None = None
        self._flushed = False
        self._parked: list[_Parked] = []
        self._n_parked = 0
        self._n_warming = 0
        self._seq = itertools.count()
        self._waiting: dict[str, deque[_Parked]] = {}
        self._timer: Any = None
        self._timer_due = math.inf
        self._inflight: dict[str, int] = {}
        self._limits: dict[str, float] = {}
        self._streaks: dict[str, int] = {}
        self._since_near: dict[str, int] = {}
        self._ceilings: dict[str, float] = {}
        # account -> when its first concurrency refusal came back; accounts
        # whose ceiling is a first burst's guess (see lower_concurrency)
        self._first_refusal: dict[str, float] = {}
        self._guessed: dict[str, int] = {}
        # (proxy URL, replacement credentials, header too) -> the rewritten URL
        self._moved_urls: LRU[tuple[str, Credentials, bool], str] = LRU(_MOVED_URLS_MAX)
        # Paced keys, each until its rate expires (pruned as more come: a
        # site's own limit paces ``<account>|<host>``, one key per site).
        self._paced: dict[str, float] = {}
        self._prune_paced_at = _PACED_PRUNE_MIN
        self._tails: LRU[str, float] = LRU()
        # Keys paced per window ((n, span): n in any span seconds) when the
        # state keeps windows, and the sends and release times handed out
        # under each, the last n, in order: a queue of waiting requests is
        # released a window's worth at a time.
        self._windowed = bool(getattr(state, "windowed", False))
        self._delay_sends: Callable[[float, float], None] | None = getattr(
            state, "delay_sends", None
        )
        self._gc_started = 0.0
        self._windows: dict[str, tuple[int, float]] = {}
        self._hints: dict[str, deque[float]] = {}
        # A window's place frees earlier than its margin once its reply is
        # back (the state's answered(), where it keeps windows): the requests
        # parked for the key's places, in the order they were given them.
        self._answer: Callable[[str, float, float], list[float] | None] | None = getattr(
            state, "answered", None
        )
        self._placed: dict[str, deque[_Parked]] = {}
        self._limited: LRU[str, _Limited] = LRU()
        # What each account served in its last two seconds: an entry older
        # than that counts nothing, so a few thousand (the accounts that can
        # answer within two seconds) bound it; a crawl without proxies, where
        # every host is an account, kept tens of MB at the default size.
        self._served: LRU[str, list[float]] = LRU(_SERVED_KEPT)
        # key -> (the stated rate, when to write it again)
        self._stated: LRU[str, tuple[float, float]] = LRU()
        # Keys that answered once, and those whose first request is still out:
        # a proxy of the pool serves one request at a time until it has
        # answered (a dead or hanging proxy costs one request, not a round),
        # and so does an account whose first reply states its limit.
        self._warm: LRU[str, bool] = LRU()
        self._cold: set[str] = set()
        self._breakers: dict[str, _Breaker] = {}
        # Whether any site key (Scope.SITE, a bare Retry-After) was paused.
        self._site_paused = False
        # dead session's route -> (its replacement's credentials, route)
        self._replaced: LRU[str, tuple[Credentials, str]] = LRU()
        self.corroborator = Corroborator(identity.profiles)
        # The HTML report's recorder (None when the report is off): looked up
        # once, when the spider opens (the extensions exist by then).
        self._recorder: Any = None
        # account -> corroborations (CONNECT probes) under way
        self._corroborating: dict[str, int] = {}
        # Requests that must wait are parked as they reach Scrapy's scheduler:
        # its enqueue_request is wrapped when the spider opens (cheaper, per
        # request, than a request_scheduled receiver), the signal otherwise.
        crawler.signals.connect(self._on_idle, signal=signals.spider_idle)
        crawler.signals.connect(self._on_opened, signal=signals.spider_opened)
        crawler.signals.connect(self._on_closed, signal=signals.spider_closed)
        # A request can end without reaching this middleware's process_response
        # (RedirectMiddleware, at 600, returns its redirect first): its place
        # is freed when it leaves the downloader.
        crawler.signals.connect(self.done, signal=signals.request_left_downloader)
        state.add_listener(self._listener)

    # ------------------------------------------------------------- parking

    @property
    def site_pauses(self) -> bool:
        """Whether any site key (``Scope.SITE``) was paused in this crawl."""
        return self._site_paused

    @property
    def parked(self) -> int:
        """Requests waiting outside Scrapy."""
        return self._n_parked

    def park(self, request: Request, due: float, wait_on: str | None = None) -> Request:
        """A copy of *request* that, once handed to the engine, waits until *due*.

        *wait_on*: a key (account, ``breaker:<account>``) whose progress
        releases it earlier.
        """
        meta = dict(request.meta)
        meta[NOT_BEFORE] = due
        meta.pop(INFLIGHT, None)
        meta.pop(WOKEN, None)
        if wait_on is not None:
            meta[WAIT_ON] = wait_on
        else:
            meta.pop(WAIT_ON, None)
        # Already seen by the dupefilter: it must not filter its own request out.
        return request.replace(dont_filter=True, meta=meta)

    def _held_back(self, request: Request) -> bool:
        """Park *request* instead of letting it into Scrapy's scheduler when it
        is not due yet (or the crawl is stopping); ``True`` if parked."""
        if self._flushed:
            return False  # closing: Scrapy's scheduler keeps it
        meta = request.meta
        if self.stopping is not None:
            # Nothing is sent after a stop: everything waits for the flush.
            self._hold(request, math.inf, None)
            return True
        due = meta.get(NOT_BEFORE)
        if due is None:
            return False
        if due > self.clock() + _EPSILON:
            self._hold(request, due, meta.get(WAIT_ON))
            return True
        del meta[NOT_BEFORE]
        meta.pop(WAIT_ON, None)
        return False

    def _on_scheduled(self, request: Request) -> None:
        """``request_scheduled``: where Scrapy's scheduler could not be wrapped."""
        if self._held_back(request):
            raise IgnoreRequest

    def _hold(self, request: Request, due: float, wait_on: str | None) -> None:
        warming = wait_on is not None and wait_on.startswith("warm:")
        entry = _Parked(due, next(self._seq), request, warming=warming)
        heapq.heappush(self._parked, entry)
        self._n_parked += 1
        if warming:
            self._n_warming += 1
        self.stats.inc_value(S.stat_key("scheduler", "parked"))
        if wait_on is not None:
            self._waiting.setdefault(wait_on, deque()).append(entry)
        elif self._windows:
            key = request.meta.get(RESERVED)
            if key is not None and key in self._windows:
                self._placed.setdefault(key, deque()).append(entry)
        if due < self._timer_due and not math.isinf(due):
            try:
                self._arm(due)
            except Exception:
                # The request is parked already: it must not reach Scrapy's
                # queue too (the caller raises IgnoreRequest whatever happens).
                logger.exception("Could not arm the release timer")

    def _arm(self, due: float) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer_due = due
        self._timer = call_later(max(due - self.clock(), 0.0), self._release_due)

    def _release_due(self) -> None:
        self._timer = None
        self._timer_due = math.inf
        now = self.clock()
        heap = self._parked
        while heap and heap[0].due <= now + _EPSILON:
            self._release(heapq.heappop(heap))
        while heap and not heap[0].alive:
            heapq.heappop(heap)
        if heap and not math.isinf(heap[0].due):
            self._arm(heap[0].due)

    def _engine(self) -> Any:
        """The running engine, or ``None`` (before the crawl, reading it raises)."""
        try:
            engine = self.crawler.engine
        except (RuntimeError, AttributeError):
            return None
        if engine is None or getattr(engine, "spider", None) is None:
            return None
        return engine

    def recall(
        self, key: str, due: float, wait_on: str | None = None, *, own_slot: bool = False
    ) -> int:
        """Take the requests of *key* (an account, route or site key) that were
        admitted but still wait in a download slot's queue back out, parked
        until *due*: a pause or a stop must hold them too.

        *own_slot*: each one takes its own release slot of *key* from *due* (see
        :meth:`spread`), as a request parked for the pause would; none is taken
        when nothing is pulled (a paced key's slots are its sends).

        Looks at the downloader's queues only (at most ``CONCURRENT_REQUESTS``
        requests), once per pause; ``"*"`` matches every request.
        """
        engine = self._engine()
        slots = getattr(getattr(engine, "downloader", None), "slots", None)
        if not slots:
            return 0
        pulled: list[tuple[Request, Any]] = []
        for slot in list(slots.values()):
            queue = getattr(slot, "queue", None)
            if not queue:
                continue
            kept = [(r, d) for r, d in queue if not self._holds(key, r)]
            if len(kept) != len(queue):
                pulled.extend((r, d) for r, d in queue if self._holds(key, r))
                queue.clear()
                queue.extend(kept)
        for request, deferred in pulled:
            cold = request.meta.pop(WARMING, None)
            if cold is not None:
                # Never sent: its route (or account) is no warmer for it.
                self._end_warming(cold, answered=False)
            self.done(request)
            if key != "*" and request.meta.get(META_ROUTE) == key and self.can_move(request):
                # Its proxy is paused, another of the pool serves it now.
                request.meta[AVOID] = key
                when = self.clock()
            else:
                when = self._queue(request, key, due) if own_slot else due
            # A Request as the download's result goes back to engine.crawl().
            deferred.callback(self.park(request, when, wait_on))
        if pulled:
            self.stats.inc_value(S.stat_key("scheduler", "recalled"), len(pulled))
        return len(pulled)

    @staticmethod
    def _holds(key: str, request: Request) -> bool:
        meta = request.meta
        if key == "*" or meta.get(INFLIGHT) == key or meta.get(META_ROUTE) == key:
            return True
        account = meta.get(INFLIGHT)
        return bool(account) and "|" in key and key == f"{account}|{urlsplit(request.url).hostname}"

    def _release(self, entry: _Parked) -> None:
        if not entry.alive:
            return
        entry.alive = False
        self._n_parked -= 1
        if entry.warming:
            self._n_warming -= 1
        request = entry.request
        request.meta.pop(NOT_BEFORE, None)
        request.meta.pop(WAIT_ON, None)
        engine = self._engine()
        if engine is None:
            return
        self.stats.inc_value(S.stat_key("scheduler", "released"))
        engine.crawl(request)

    def _wake(self, key: str, count: int = 1) -> None:
        """Release up to *count* requests waiting on *key* (all for ``-1``)."""
        waiting = self._waiting.get(key)
        while waiting and count:
            entry = waiting.popleft()
            if entry.alive:
                # Its turn: it may pass those that came after it (admit()).
                entry.request.meta[WOKEN] = key
                self._release(entry)
                count -= 1
        if waiting is not None and not waiting:
            del self._waiting[key]

    def _queued(self, key: str) -> bool:
        """Whether requests still wait on *key* (dead entries are dropped)."""
        waiting = self._waiting.get(key)
        while waiting and not waiting[0].alive:
            waiting.popleft()
        return bool(waiting)

    def _on_idle(self) -> None:
        if self._n_parked and self.stopping is None:
            heap = self._parked
            if heap and heap[0].due <= self.clock() + _EPSILON and (
                self._timer is None or not self._timer.active()
            ):
                # A release that no timer will make (e.g. one that failed to arm).
                self._release_due()
            raise DontCloseSpider

    def _on_opened(self) -> None:
        """Hook the flush of parked requests in front of the scheduler's close.

        The engine closes the downloader, the scraper, then the scheduler:
        parked requests must reach the scheduler before it closes, whatever
        closed the spider, so that ``JOBDIR`` keeps them.
        """
        from .report import recorder_for  # the report imports what imports this

        self._recorder = recorder_for(self.crawler)
        stopped = self.state.stopped()
        if stopped is not None:
            # A shared state whose namespace another process already stopped.
            self.stop(stopped[0])
        engine = self._engine()
        slot = getattr(engine, "_slot", None)
        scheduler: Any = getattr(slot, "scheduler", None)
        enqueue = getattr(scheduler, "enqueue_request", None)
        if enqueue is None:
            self.crawler.signals.connect(self._on_scheduled, signal=signals.request_scheduled)
        else:
            held_back = self._held_back

            def enqueue_or_park(request: Request) -> bool:
                # True: the engine counts it as stored (it is, here).
                return True if held_back(request) else bool(enqueue(request))

            scheduler.enqueue_request = enqueue_or_park
        next_request = getattr(scheduler, "next_request", None)
        if next_request is not None:
            # Parked requests hold no place in the downloader, so while a
            # proxy's (or an account's) first request is out, the engine
            # would drain Scrapy's whole queue into requests parked for its
            # answer: each parked and released again (twice the work), held
            # in memory rather than JOBDIR's disk queues. Past a bound the
            # engine finds nothing to send; the answer releases them all at
            # once (engine.crawl wakes the engine). Only these waits count:
            # others end one by one, and a released request, behind newer
            # ones of a higher priority in Scrapy's queue, would starve.
            bound = max(_INTAKE_MIN, _INTAKE_FACTOR * self._concurrency)

            def next_unless_full() -> Any:
                if self._n_warming >= bound:
                    self.stats.inc_value(S.INTAKE_HELD)
                    return None
                return next_request()

            scheduler.next_request = next_unless_full
        if scheduler is None or not hasattr(scheduler, "close"):
            return
        close = scheduler.close

        def close_after_flush(reason: str) -> Any:
            self.flush(scheduler)
            return close(reason)

        scheduler.close = close_after_flush

    def flush(self, scheduler: Any) -> int:
        """Give every parked request to Scrapy's *scheduler*; return how many."""
        self._flushed = True
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        count = 0
        for entry in sorted(self._parked):
            if not entry.alive:
                continue
            entry.alive = False
            request = entry.request
            for key in (NOT_BEFORE, WAIT_ON, INFLIGHT):
                request.meta.pop(key, None)
            try:
                scheduler.enqueue_request(request)
            except Exception:  # a request that cannot be serialised, e.g.
                logger.exception("Could not keep %(request)s", {"request": request})
                continue
            count += 1
        self._parked.clear()
        self._waiting.clear()
        self._placed.clear()
        self._n_parked = self._n_warming = 0
        if count:
            self.stats.inc_value(S.REQUEUED, count)
            logger.info(
                "Kept %(count)d waiting request(s) in the scheduler%(jobdir)s",
                {
                    "count": count,
                    "jobdir": " (JOBDIR)" if self.crawler.settings.get("JOBDIR") else "",
                },
                extra={"spider": self.crawler.spider},
            )
        return count

    def _on_closed(self) -> None:
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        _stall_watchers.discard(self)
        if not _stall_watchers and _on_gc in gc.callbacks:
            gc.callbacks.remove(_on_gc)
        now = self.clock()
        for account, breaker in self._breakers.items():
            if breaker.open_until:
                self._record_outage(account, breaker, now)

    def _listener(self, kind: str, key: str) -> None:
        # Shared states may call from their own thread: act in the reactor's.
        if isInIOThread():  # type: ignore[no-untyped-call]
            self._on_change(kind, key)
        else:
            from twisted.internet import reactor

            reactor.callFromThread(self._on_change, kind, key)

    def _on_change(self, kind: str, key: str) -> None:
        """Another process changed the shared state."""
        if kind == "stop":
            stopped = self.state.stopped()
            if stopped is not None and self.stopping is None:
                self.stop(stopped[0])
        elif kind == "rate":
            self._add_paced(key, self.clock())
        elif kind == "learn":
            self.identity.forget(key)
            if self.pool is not None:
                self.pool.forget_routes()

    # ------------------------------------------------------- corroboration

    def corroborate(
        self, request: Request, error: ProviderError
    ) -> Coroutine[Any, Any, ProviderError]:
        """*error*, met on a plain-HTTP reply through ``meta["proxy"]``, as a
        CONNECT probe through the same proxy and credentials lets the crawl act
        on it (:mod:`._probe`): the claim stands only if the proxy itself
        refuses the tunnel the same way; otherwise it is capped.

        The account's hold starts here, synchronously, before the returned
        coroutine is first awaited: Scrapy 2.13 runs a coroutine from
        ``process_response`` one event-loop turn later, and a request admitted
        in that turn would run into the very refusal the probe is about.
        """
        # While the probe is out, the account's other requests wait for its
        # verdict (briefly: one CONNECT) instead of running into the same
        # refusal; a remembered verdict is back at once.
        account = request.meta.get(ACCOUNT)
        if account is not None:
            if account not in self._corroborating:
                # Those already queued in a download slot wait for it too.
                self.recall(account, self.clock() + _RECHECK, f"corroborate:{account}")
            self._corroborating[account] = self._corroborating.get(account, 0) + 1
        return self._probe(request, error, account)

    async def _probe(
        self, request: Request, error: ProviderError, account: str | None
    ) -> ProviderError:
        corroborator = self.corroborator
        before = corroborator.probes
        try:
            checked = await corroborator.check(
                error,
                proxy_url=request.meta["proxy"],
                target_host=urlsplit(request.url).hostname or "",
                proxy_authorization=request.headers.get(b"Proxy-Authorization"),
            )
        finally:
            if account is not None:
                left = self._corroborating.pop(account, 1) - 1
                if left > 0:
                    self._corroborating[account] = left
                else:
                    self._wake(f"corroborate:{account}", -1)
        if corroborator.probes != before:
            self.stats.inc_value(S.CORROBORATION_PROBES)
        return self._verdict(error, checked)

    def corroborated(self, request: Request, error: ProviderError) -> ProviderError | None:
        """:meth:`corroborate` from a remembered probe, at once; ``None`` when
        a probe must go out first."""
        checked = self.corroborator.known(
            error,
            proxy_url=request.meta["proxy"],
            proxy_authorization=request.headers.get(b"Proxy-Authorization"),
        )
        return None if checked is None else self._verdict(error, checked)

    def _verdict(self, error: ProviderError, checked: ProviderError) -> ProviderError:
        confirmed = checked.claimed is None
        self.stats.inc_value(S.CORROBORATION_CONFIRMED if confirmed else S.CORROBORATION_REFUTED)
        if not confirmed:
            logger.debug(
                "%(reason)s on a plain-HTTP reply: the proxy's CONNECT reply did not "
                "confirm it; not acting on it beyond %(action)s",
                {"reason": error.reason, "action": checked.action},
                extra={"spider": self.crawler.spider},
            )
        return checked

    # ------------------------------------------------------------ the stop

    def stop(self, reason: str, origin: str | None = None) -> bool:
        """Stop the crawl at once; ``False`` if it was already stopping."""
        if self.stopping is not None:
            return False
        self.stopping = reason
        if origin is not None:
            self.state.stop(reason, origin)
        if self._recorder is not None:
            # ``provider/code`` as the stats name it (the route stays out of the page).
            self._recorder.record_stop(reason, (origin or "").partition("@")[0], self.clock())
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        # Nothing is sent after a stop: admitted requests still queued in
        # download slots come back (and wait for the flush).
        self.recall("*", math.inf)
        if self._engine() is not None:  # (no engine before the crawl starts)
            close_spider(self.crawler, reason)
        return True

    # ----------------------------------------------------------- admission

    def assign(self, request: Request, now: float) -> None:
        """Point a pooled request at a healthy route (keeping its own while it is)."""
        assert self.pool is not None
        meta = request.meta
        current = meta.get(META_ROUTE) if meta.get(ASSIGNED) else None
        avoid = meta.pop(AVOID, None)
        skip: Callable[[str], bool] | None = None
        if self._site_paused or self._cold:
            # A route may be paused for this site only (a bare Retry-After),
            # or busy with its first request (it has not answered yet).
            host = urlsplit(request.url).hostname or ""
            paused_until = self.state.paused_until
            cold, sites, accounts = self._cold, self._site_paused, self._pool_accounts

            def skip(route: str) -> bool:
                return route_proxy(route) in cold or (
                    sites and paused_until(f"{accounts.get(route, route)}|{host}") > now
                )

        if (
            current is not None
            and avoid is None
            and self._ready(current) <= now
            and (skip is None or not skip(current))
        ):
            return
        proxy, route = self.pool.pick(self._ready, now, avoid or current, skip)
        # The URL carries the credentials; HttpProxyMiddleware (750) turns them
        # into Proxy-Authorization and drops the old proxy's header.
        meta["proxy"] = proxy
        meta[ASSIGNED] = True
        meta[META_ROUTE] = route
        if self.config.slot_per_route and (
            "download_slot" not in meta or meta.get(SLOT) == meta.get("download_slot")
        ):
            # Opt-in (PROXYERRORS_SLOT_PER_ROUTE): one download slot per route
            # and site, which multiplies a site's rate by the pool size.
            meta["download_slot"] = meta[SLOT] = f"{urlsplit(request.url).hostname}|{route}"

    def _pool_route(self, proxy: str) -> str:
        route, account = self.identity.route_of_proxy(proxy)
        if account != route:  # (a generic proxy is its own account)
            self._pool_accounts[route] = account
        return route

    def _ready(self, route: str) -> float:
        state = self.state
        return max(state.cooling_until(route), state.paused_until(route))

    def sticky(self, request: Request, route: str, now: float) -> bool:
        """Move *request* off a dead sticky session to its one replacement
        (following replacements that died in turn)."""
        if not self._replaced or route not in self._replaced:
            return False
        start, fresh, hops = route, None, 0
        while hops < 64:
            found = self._replaced.get(route)
            if found is None or self.state.cooling_until(route) <= now:
                break
            fresh, route = found
            hops += 1
        if fresh is None:
            return False
        if hops > 1:
            # A chain of sessions that died in turn: the next request of the
            # first one goes straight to the live end.
            self._replaced.put(start, (fresh, route))
        self._apply_credentials(request, fresh)
        self.stats.inc_value(S.stat_key("session", "moved"))
        return True

    def _apply_credentials(self, request: Request, creds: Credentials) -> None:
        """Give *request* *creds* wherever it carries proxy credentials: the
        header (set by HttpProxyMiddleware on an earlier attempt) and the proxy
        URL in meta, or the URL alone. A URL with the old credentials left
        beside a new header would win: HttpProxyMiddleware rebuilds the header
        from the URL (a pool sets the URL on every attempt)."""
        header = bool(request.headers.get(b"Proxy-Authorization"))
        if header:
            request.headers[b"Proxy-Authorization"] = basic_header(creds)
        proxy = request.meta.get("proxy")
        if proxy:
            # Every request still queued with a dead session moves here, all
            # with the same proxy URL: it is rewritten once, not per request
            # (measured: 2,064 moves for 77 replacements in a 2,000-page crawl).
            key = (proxy, creds, header)
            moved = self._moved_urls.get(key)
            if moved is None:
                moved = self._moved_url(proxy, creds, header)
                self._moved_urls.put(key, moved)
            request.meta["proxy"] = moved

    @staticmethod
    def _moved_url(proxy: str, creds: Credentials, header: bool) -> str:
        """*proxy* with *creds* in it (as it is, when the credentials travel
        in the header only: they never travel in meta)."""
        parts = urlsplit(proxy)
        if header and parts.username is None:
            return proxy
        netloc = (
            f"{quote(creds.user, safe='')}:{quote(creds.password, safe='')}@"
            f"{parts.hostname}:{parts.port}"
        )
        return urlunsplit(parts._replace(netloc=netloc))

    def admit(
        self,
        request: Request,
        route: str,
        account: str,
        site: str | None,
        now: float,
        *,
        first_reply: bool = False,
    ) -> tuple[float, str | None]:
        """``(0, None)`` when *request* may go now (it is then counted in flight),
        else ``(due, wait_on)``: when to try again, and what releases it earlier.

        *first_reply*: the account's provider states its limit on every reply
        (``X-RateLimit-*``): until one reply is back, the account carries one
        request, so that a first burst never runs into a limit it would state.
        """
        state = self.state
        probe: _Breaker | None = None
        if self._breakers:
            breaker = self._breakers.get(account)
            if breaker is not None and breaker.open_until:
                if now < breaker.open_until:
                    return self.spread(account, breaker.open_until), f"breaker:{account}"
                if breaker.probing:
                    return now + _RECHECK, f"breaker:{account}"
                # Recovery time is over: this request is the probe, if it goes
                # (claimed below, once nothing else holds it back: a probe
                # parked for a pause or a pacing slot would never come back).
                probe = breaker
        if self._corroborating and account in self._corroborating:
            return now + _RECHECK, f"corroborate:{account}"
        paused = max(state.paused_until(route), state.paused_until(account))
        if site is not None and self._site_paused:
            paused = max(paused, state.paused_until(site))
        meta = request.meta
        reserved_for = meta.pop(RESERVED, None)
        if paused > now:
            return self._queue(request, account, paused), None
        inflight = self._inflight.get(account, 0)
        limit = self._limits.get(account)
        woken = meta.pop(WOKEN, None) == account
        # First come, first served: a request woken for a freed place finds it
        # free (newcomers queue behind the parked ones).
        if limit is not None and (
            inflight >= int(limit) or (not woken and self._queued(account))
        ):
            return now + _RECHECK, account
        # Warming before pacing: a request that waits for a first answer
        # takes no paced slot.
        cold: tuple[str, ...] = ()
        if meta.get(ASSIGNED):
            # The proxy itself (host:port), whatever session the route names:
            # a dead or hanging proxy is one, and a fresh session on a proxy
            # that answered is a new exit node, not an unknown proxy.
            endpoint = route_proxy(route)
            if endpoint not in self._warm:
                if endpoint in self._cold:
                    # Its first request is still out: wait for the answer.
                    return now + _RECHECK, f"warm:{endpoint}"
                cold = (endpoint,)
        if first_reply and account not in self._warm:
            if account in self._cold:
                # Its first reply states the limit: wait for it.
                return now + _RECHECK, f"warm:{account}"
            cold = (*cold, account)
        if self._paced:
            if site is not None and site in self._paced:
                # A site's own limit (Scope.SITE) paces that site's key.
                due = self._take_paced(request, site, now, reserved_for == site)
                if due is not None:
                    return due, None
            if account in self._paced:
                due = self._take_paced(request, account, now, reserved_for == account)
                if due is not None:
                    return due, None
        if cold:
            self._cold.update(cold)
            meta[WARMING] = cold
        if probe is not None:
            probe.probing = True
            meta[PROBE] = True
            self.stats.inc_value(S.stat_key("breaker", "probes"))
        self._inflight[account] = inflight + 1
        meta[INFLIGHT] = meta[ACCOUNT] = account
        meta[SENT] = now
        meta[SENT_WITH] = inflight
        return 0.0, None

    def _take_paced(
        self, request: Request, key: str, now: float, reserved: bool
    ) -> float | None:
        """``None`` when *request* takes a send of the paced *key* now, else when
        to try again (a release slot of *key*, in order; *reserved*: it was
        given one already)."""
        if not reserved and self._behind(key, now):
            # Others wait for their paced slots: queue behind them.
            return self._queue(request, key, now)
        wait = self.state.take(key, now)
        if wait > 0:
            if reserved:
                # Its slot came a little early for the pace (a timer, or the
                # burst before it went late): it keeps its turn (and is
                # released no earlier than the pace allows).
                request.meta[RESERVED] = key
                return now + wait + _EPSILON
            return self._queue(request, key, now + wait)
        if key in self._windows:
            meta = request.meta
            placed = meta.get(PLACED)
            meta[PLACED] = (*placed, key) if placed else (key,)
            if not reserved:
                # A send no release slot was handed out for: later slots come after it.
                hints = self._hints[key]
                hints.append(max(now, hints[-1]) if hints else now)
        return None

    def _behind(self, key: str, now: float) -> bool:
        """Whether requests of the paced *key* wait for release times ahead."""
        hints = self._hints.get(key) if self._windows else None
        tail = hints[-1] if hints else self._tails.get(key) or 0.0
        return tail > now + _EPSILON

    def spread(self, key: str, start: float) -> float:
        """A release time at or after *start*: releases of one key are spaced
        (at the learned rate, in order; a window's worth at a time when the
        key is paced per window) or jittered, never all at once."""
        rate = self.state.rate(key) if key in self._paced else 0.0
        if rate > 0 and key in self._windows:
            n, span = self._windows[key]
            hints = self._hints[key]
            slot = start
            if hints:
                slot = max(slot, hints[-1])
                if len(hints) == n:
                    slot = max(slot, hints[0] + span)
            hints.append(slot)
            return slot
        tail = self._tails.get(key) or 0.0
        if rate > 0:
            # A paced key: each release has its own slot, in order, 1/rate apart.
            slot = max(start, tail)
            self._tails.put(key, slot + 1.0 / rate)
            return slot
        spacing = self.config.release_spacing
        begin = max(start, tail)
        self._tails.put(key, begin + spacing)
        return begin + self.rng.uniform(0.0, spacing)

    def _queue(self, request: Request, account: str, start: float) -> float:
        """Park *request* for a release slot of *account* from *start*; a paced
        account's slot is reserved for it (it does not queue again at release)."""
        due = self.spread(account, start)
        if account in self._paced:
            request.meta[RESERVED] = account
        return due

    def done(self, request: Request, answered: bool | None = None) -> str | None:
        """*request* finished (a reply or an exception): free its place.

        *answered*: whether a reply came back (``None``: not known yet, as in
        ``request_left_downloader``; the middleware tells). Returns its account
        (``None`` when it was not admitted here)."""
        meta = request.meta
        if answered is not None and PLACED in meta:
            keys = meta.pop(PLACED)
            if answered:
                self._free_places(keys, meta.get(SENT))
        if WARMING in meta:
            # The first request is back. Its route counts as alive unless the
            # failure that follows (process_exception, after this signal)
            # rests it: a rested route is cold again (see cool()).
            self._end_warming(meta.pop(WARMING), answered=True)
        account: str | None = meta.pop(INFLIGHT, None)
        if account is None:
            # Freed already (request_left_downloader), or never admitted here.
            return meta.get(ACCOUNT)
        if meta.pop(PROBE, None):
            breaker = self._breakers.get(account)
            if breaker is not None:
                # Whatever the probe met, the next one may go: a success closes
                # the breaker (succeeded), an outage re-opens it (outage).
                breaker.probing = False
        left = self._inflight.get(account, 1) - 1
        if left > 0:
            self._inflight[account] = left
        else:
            self._inflight.pop(account, None)
        if self._waiting and account in self._waiting:
            # As many as there are free places (a request woken earlier may
            # have lost its place; none may wait for a timer with nothing out).
            limit = self._limits.get(account)
            self._wake(account, max(int(limit) - left, 1) if limit is not None else 1)
        return account

    def _free_places(self, keys: tuple[str, ...], sent: float | None) -> None:
        """A reply to a request sent at *sent* under the windows of *keys* is
        back. The provider counted the request before it answered, so its
        place frees one window from now, which is sooner than the margin
        (a window and 5 %) whenever the round trip is shorter than the margin:
        requests parked for the window's places move up to when they free.

        Never later than the margin allows, and never sooner than the reply
        proves: whatever the latency, no window at the provider holds more
        than its limit (each send reuses the place of one already counted a
        window before it arrives)."""
        answer = self._answer
        if answer is None or sent is None:
            return
        now = self.clock()
        for key in keys:
            shape = self._windows.get(key)
            if shape is None:
                continue
            n, span = shape
            places = answer(key, sent, now + span * RATE_MARGIN)
            queue = self._placed.get(key)
            if places is None or not queue:
                continue
            while queue and not queue[0].alive:
                queue.popleft()
            # Places never used are free now; the first n waiting take the
            # places in the order they free, no sooner than a pause allows.
            frees = [now] * (n - len(places)) + places
            floor = max(now, self.state.paused_until(key))
            j = 0
            for i in range(len(queue)):
                if j == n:
                    break
                entry = queue[i]
                if not entry.alive:
                    continue
                when = max(frees[j], floor)
                if when < entry.due - _EPSILON:
                    queue[i] = entry = self._retime(entry, when)
                floor = max(floor, entry.due)
                j += 1
            if not queue:
                del self._placed[key]

    def _retime(self, entry: _Parked, due: float) -> _Parked:
        """Park *entry*'s request again, due earlier, at *due*."""
        entry.alive = False
        moved = _Parked(due, next(self._seq), entry.request, warming=entry.warming)
        entry.request.meta[NOT_BEFORE] = due
        heapq.heappush(self._parked, moved)
        if due < self._timer_due:
            try:
                self._arm(due)
            except Exception:
                # Called from process_response, which must not fail for it:
                # the release timer already armed (or the idle check) still
                # releases it, later.
                logger.exception("Could not arm the release timer")
        return moved

    def _end_warming(self, keys: tuple[str, ...], *, answered: bool) -> None:
        """The first request of *keys* is back (*answered*), or was taken back
        unsent: the requests waiting for it may go (all of them, or the next)."""
        for key in keys:
            self._cold.discard(key)
            if answered:
                self._warm.put(key, True)
            self._wake(f"warm:{key}", -1 if answered else 1)

    # ----------------------------------------------------------- outcomes

    def succeeded(self, route: str, account: str | None, sent: float | None = None) -> None:
        """A reply without a provider error on *route* (the success path) to a
        request sent at *sent*."""
        self.state.record_success(route)
        if account is None:
            return
        if self._breakers and account in self._breakers:
            self._breaker_success(account)
        if self._limits and account in self._limits:
            self._increase(account, sent)
        now = self.clock()
        if self._limited and account in self._limited:
            limited = self._limited.get(account)
            if limited is not None:
                limited.successes.append(now)
        # Successes per second, in two one-second buckets: what the account
        # sustained just before a first 429, should one come.
        served = self._served.get(account)
        if served is None:
            self._served.put(account, [now, 1.0, 0.0])
        elif now - served[0] < 1.0:
            served[1] += 1.0
        else:
            served[2] = served[1] if now - served[0] < 2.0 else 0.0
            served[0] = now
            served[1] = 1.0

    def served_last_second(self, account: str, now: float) -> float:
        """About how many replies *account* served in the second before *now*."""
        served = self._served.get(account)
        if served is None:
            return 0.0
        age = now - served[0]
        if age >= 2.0:
            return 0.0
        if age >= 1.0:
            return served[1] * (2.0 - age)
        return served[1] + served[2] * (1.0 - age)

    def cool(self, route: str, cooldown: float, now: float) -> float:
        # Back from its rest, a proxy carries one request until it answers
        # again. (A session's failure leaves its proxy warm: the next session
        # there is a new exit node on a proxy that answers.)
        self._warm.pop(route)
        until = self.state.record_failure(route, now, cooldown)
        self.stats.inc_value(S.COOLDOWNS)
        if self._recorder is not None:
            self._recorder.record_cooldown(route, now, until)
        return until

    def can_move(self, request: Request) -> bool:
        """Whether another route of the pool can take *request* now."""
        return self.pool is not None and len(self.pool) > 1 and bool(request.meta.get(ASSIGNED))

    def move(self, retry: Request, route: str) -> None:
        """Send *retry* to another route of the pool (its own is paused)."""
        retry.meta[AVOID] = route
        retry.meta[ASSIGNED] = True
        self.stats.inc_value(S.ROTATE_PROXY)

    def rotate(
        self,
        request: Request,
        retry: Request,
        route: str,
        profile: Profile | None,
        cooldown: float,
        now: float,
    ) -> bool:
        """Rest *route* and point *retry* at another proxy or the session's
        replacement; ``True`` if it moved."""
        self.cool(route, cooldown, now)
        if self.can_move(request):
            self.move(retry, route)
            return True
        param = profile.session_param if profile else None
        creds = self.identity.credentials(request)
        if param and creds and session_of(creds.user, param):
            found = self._replaced.get(route)
            if found is None:
                # Replaced once: every request still carrying the dead session
                # moves to this same replacement.
                fresh = Credentials(with_new_session(creds.user, param), creds.password)
                self._apply_credentials(retry, fresh)
                found = (fresh, self.identity.route(retry, profile)[0])
                self._replaced.put(route, found)
                self.stats.inc_value(S.stat_key("session", "replaced"))
            else:
                self._apply_credentials(retry, found[0])
            retry.meta[META_ROUTE] = found[1]
            self.stats.inc_value(S.ROTATE_SESSION)
            return True
        self.stats.inc_value(S.ROTATE_NONE)
        return False

    def pause(self, key: str, until: float, *, site: bool = False, reason: str = "") -> bool:
        """Hold back every request of *key* until *until*; ``True`` if it is a new pause.

        *reason* (e.g. the provider's error) labels the pause in the HTML report."""
        state = self.state
        before = state.paused_until(key)
        if until <= before:
            return False
        state.pause(key, until)
        if self._recorder is not None:
            self._recorder.record_pause(key, self.clock(), until, reason)
        if site:
            self._site_paused = True
        self.stats.inc_value(S.PAUSES)
        self.recall(key, until, own_slot=True)
        return before <= self.clock()

    def pace_stated(self, key: str, rate: float, now: float, window: float = 0.0) -> bool:
        """Pace *key* at *rate*, a limit its provider states (a reply's
        ``X-RateLimit-*``, or a documented rate), margin included, counted per
        *window* seconds (``0``: unknown, paced evenly).

        Called for every request or reply that carries the statement: cheap
        when nothing changed (the state is written again only when the rate
        changes or half its lifetime has passed). A lower rate learnt from
        429s under it stands until then. Returns whether the pace was set.
        """
        seen = self._stated.get(key)
        if seen is not None and seen[0] == rate and now < seen[1]:
            return False
        self._stated.put(key, (rate, now + self.config.rate_ttl / 2))
        self._set_pace(key, rate, now, window)
        return True

    def learn_rate(
        self,
        key: str,
        stated: float | None,
        wait: float,
        now: float,
        *,
        limited: bool,
        sent: float | None = None,
        admitted_as: str | None = None,
        window: float = 0.0,
    ) -> float | None:
        """Pace *key*: at the *stated* rate (per *window* seconds, when the
        provider says), else (429s repeat) at the rate the account sustained
        before its last 429. Returns the new rate, if any.

        *sent*: when the refused request was sent. A 429 for a request sent
        before the previous one was seen (it was in flight) is the same signal,
        not a repeat. *admitted_as*: the account the refused request was sent
        under, whose successes count when the account was only just named (a
        provider learnt from this very 429: until then the proxy was its own
        account).
        """
        rate = stated
        if rate is None and limited:
            record = self._limited.get(key)
            if record is None:
                self._limited.put(key, _Limited(now))
                # The first 429. With a window of a second at most, what the
                # account served in the second before it is what the limit
                # lets through; a longer window is learnt from the successes
                # between this 429 and the next.
                served = 0.0
                if wait <= 1.0:
                    served = self.served_last_second(key, now)
                    if admitted_as is not None and admitted_as != key:
                        served = max(served, self.served_last_second(admitted_as, now))
                if served < 1.0 or key in self._paced:
                    return None
                rate = max(served * RATE_MARGIN, 0.5)
                window = 1.0
            else:
                if sent is not None and sent < record.seen:
                    return None
                seconds = max(wait, 1.0)
                recent = sum(1 for t in record.successes if t > now - seconds)
                current = self.state.rate(key) if key in self._paced else 0.0
                observed = recent * RATE_MARGIN / seconds
                if current and not recent:
                    rate = current * 0.75
                else:
                    rate = max(observed, 0.5)
                    if current:
                        rate = min(rate, current * RATE_MARGIN)
                # A window's worth at once only of what the window let through.
                window = seconds if rate == observed else 0.0
                record.seen = now
                record.successes.clear()
        if rate is None or not rate > 0:
            return None
        self._set_pace(key, rate, now, window)
        return rate

    def _set_pace(self, key: str, rate: float, now: float, window: float = 0.0) -> None:
        """Pace *key* at *rate* (margin included); *window*: the seconds the
        provider counts over (``0``: unknown), which the margin widens."""
        span = window / RATE_MARGIN if window > 0 else 0.0
        self.state.set_rate(key, rate, now + self.config.rate_ttl, span)
        # A site's own limit (``<account>|<host>``): one key per site in a
        # broad crawl, so such keys are counted, not each given a stat.
        site = "|" in key
        if site and key not in self._paced:
            self.stats.inc_value(S.stat_key("pacing", "sites"))
        self._add_paced(key, now)
        n, part = window_shape(rate, span) if self._windowed else (1, 0.0)
        if n > 1:
            if self._windows.get(key) != (n, part):
                self._windows[key] = (n, part)
                self._hints[key] = deque(self._hints.get(key, ()), maxlen=n)
                if self._delay_sends is not None and self not in _stall_watchers:
                    _stall_watchers.add(self)
                    if _on_gc not in gc.callbacks:
                        gc.callbacks.append(_on_gc)
        else:
            self._drop_window(key)
        if not site:
            self.stats.set_value(S.stat_key("pacing", key, "rate"), round(rate, 3))

    def _add_paced(self, key: str, now: float) -> None:
        self._paced[key] = now + self.config.rate_ttl
        if len(self._paced) > self._prune_paced_at:
            # Keys whose rate expired pace nothing: forget them with their
            # windows and release times (amortised: the bound doubles).
            for gone in [k for k, until in self._paced.items() if until <= now]:
                del self._paced[gone]
                self._drop_window(gone)
            self._prune_paced_at = max(_PACED_PRUNE_MIN, 2 * len(self._paced))

    def _drop_window(self, key: str) -> None:
        """*key* is no longer paced per window: its window and release times go together."""
        if self._windows.pop(key, None) is not None:
            del self._hints[key]
            self._placed.pop(key, None)

    def gc_phase(self, phase: str) -> None:
        """A garbage collection starts or stops (``gc.callbacks``)."""
        if phase == "start":
            self._gc_started = self.clock()
        elif self._windows:
            now = self.clock()
            if now - self._gc_started >= _STALL_MIN:
                self.stalled(self._gc_started, now)

    def stalled(self, start: float, end: float) -> None:
        """The process did nothing from *start* to *end*: sends admitted just
        before may have left only at *end*. Under a window they count from
        then, or the window after them meets them less than a window apart
        at the provider (measured: a 70 ms collection against a 5 % margin of
        a second, 10 429s and a second's pause, in 3 crawls of 6)."""
        if self._delay_sends is not None:
            self._delay_sends(start - _STALL_LOOKBACK, end)

    def count_limited(self) -> None:
        self.stats.inc_value(S.stat_key("ratelimit", "provoked"))

    # --------------------------------------------------- adaptive concurrency

    def lower_concurrency(
        self, account: str, sent_with: int | None = None, sent: float | None = None
    ) -> int:
        """A concurrency error: lower *account*'s limit.

        *sent_with*: how many of the account's requests were in flight when the
        refused one was sent; the provider was then serving about its limit.

        - Sent with as many as the current limit or more: it left before the
          limit took effect (a burst's other refusals): nothing changes.
        - Sent with fewer than the limit less one: the limit is far too high
          and drops to that count at once, which becomes the ceiling.
        - Sent with the limit less one: one step down. The provider may still
          have been releasing a request the crawl already saw finish, so the
          level stays reachable; a second such refusal soon after makes the
          level below the refused one the ceiling (tried again after many
          successes, see ``_increase``).

        *sent*: when the refused request was sent. A request sent before the
        account's first refusal came back belongs to the first burst, whose
        requests reach the provider in any order: what it was sent with only
        guesses the limit (measured: the second request of a burst of 16
        refused under a limit of 3). The burst's refusals lower the guess to
        the least they were sent with, its successes raise it to how many
        of them the provider served (see ``_burst_success``); the one-step
        rule above does not apply to them.

        Without *sent_with* (a request from before the scheduler saw it): a
        multiplicative decrease of the in-flight count.
        """
        floor = float(self.config.concurrency_floor)
        current = self._limits.get(account, math.inf)
        first_seen = self._first_refusal.get(account)
        if first_seen is None:
            first_seen = self._first_refusal[account] = self.clock()
        burst = sent is not None and sent < first_seen
        if sent_with is not None and burst:
            # Refused in the first burst, whose requests reach the provider in
            # any order: a guess, never below what the burst's successes
            # showed, and raised as more of them come (see _burst_success).
            served = self._guessed.setdefault(account, 0)
            limit = max(floor, float(served), min(current, float(sent_with)))
            if limit >= current:
                return int(current)
            self._ceilings[account] = limit + 1
        elif sent_with is not None:
            # The whole requests the limit lets through.
            level = math.inf if math.isinf(current) else float(int(current))
            if sent_with >= level:
                return int(current) if level < math.inf else sent_with
            self._guessed.pop(account, None)  # past the burst: its count is in
            if sent_with == level - 1:
                limit = max(floor, level - 1)
                since = self._since_near.get(account)
                if since is not None and since < _NEAR_REPEAT * level:
                    self._ceilings[account] = min(self._ceilings.get(account, math.inf), level)
                self._since_near[account] = 0
            else:
                limit = max(floor, float(sent_with))
                self._ceilings[account] = min(self._ceilings.get(account, math.inf), limit + 1)
        else:
            inflight = self._inflight.get(account, 0) + 1  # this request was in flight
            current = self._limits.get(account, float(inflight))
            self._ceilings[account] = float(inflight)
            decreased = math.floor(min(current, inflight) * self.config.concurrency_decrease)
            limit = max(floor, decreased)
        self._streaks.pop(account, None)
        if limit < current:
            self.stats.inc_value(S.stat_key("concurrency", "decreases"))
        self._limits[account] = limit
        self._show_limit(account, limit)
        return int(limit)

    def _show_limit(self, account: str, limit: float) -> None:
        """The account's concurrency limit in the stats: the whole requests it lets through."""
        self.stats.set_value(S.stat_key("concurrency", account, "limit"), int(limit))

    def _burst_success(self, account: str, sent: float | None) -> bool:
        """A success of the first burst, whose limit is a guess: the burst's
        requests were all out at once, so as many of them as the provider
        served were served together. A guess below that count (a refused
        request of the burst reached the provider after later ones) rises to
        it at once, instead of waiting for a probe after many successes.
        Returns whether the limit rose."""
        if sent is None or sent >= self._first_refusal.get(account, -math.inf):
            return False
        served = self._guessed[account] = self._guessed[account] + 1
        limit = self._limits[account]
        if served <= limit:
            return False
        self._limits[account] = float(served)
        self._ceilings[account] = max(self._ceilings.get(account, math.inf), served + 1.0)
        self._show_limit(account, served)
        self._wake(account)
        return True

    def _increase(self, account: str, sent: float | None = None) -> None:
        if account in self._guessed and self._burst_success(account, sent):
            return
        limit = self._limits[account]
        if account in self._since_near:
            self._since_near[account] += 1
        # Additive increase of one per "limit" successes, up to just under the
        # level at which the provider refused...
        ceiling = self._ceilings.get(account, math.inf) - 1
        if limit >= ceiling:
            # ... which is tried again after many successes in a row (the
            # provider's limit may have been raised, or the refusals came from
            # requests sent while earlier ones were still being released): at
            # most one refusal per _PROBE_EVERY x limit requests.
            streak = self._streaks.get(account, 0) + 1
            if streak < _PROBE_EVERY * max(limit, 1.0):
                self._streaks[account] = streak
                return
            self._streaks.pop(account, None)
            ceiling += 1
            self._ceilings[account] = ceiling + 1
        raised = min(limit + 1.0 / max(limit, 1.0), max(ceiling, limit))
        if int(raised) != int(limit):
            self._show_limit(account, raised)
            self._wake(account)
        self._limits[account] = raised

    def concurrency_limit(self, account: str) -> int | None:
        limit = self._limits.get(account)
        return None if limit is None else int(limit)

    # ------------------------------------------------------ circuit breaker

    def outage(
        self,
        request: Request,
        account: str,
        now: float,
        profile: Profile | None = None,
    ) -> bool:
        """A failure of the provider's own service; ``True`` while the breaker is open.

        A profile may carry its provider's documented ``breaker_threshold`` and
        ``breaker_recovery``; the settings apply otherwise."""
        breaker = self._breakers.get(account)
        if breaker is None:
            recovery = getattr(profile, "breaker_recovery", None) or self.config.breaker_recovery
            breaker = self._breakers[account] = _Breaker(recovery)
        breaker.failures += 1
        if breaker.open_until:
            if now >= breaker.open_until:
                # A failure after the recovery time: the probe failed.
                breaker.probing = False
                breaker.recovery = min(breaker.recovery * 2, self.config.breaker_max)
                breaker.open_until = now + breaker.recovery
                logger.debug(
                    "Probe of %(account)s failed: open for %(wait).0f s more",
                    {"account": account, "wait": breaker.recovery},
                    extra={"spider": self.crawler.spider},
                )
            return True
        threshold = getattr(profile, "breaker_threshold", None) or self.config.breaker_threshold
        if breaker.failures < threshold:
            return False
        breaker.open_until = now + breaker.recovery
        breaker.opened_at = now
        self.recall(account, breaker.open_until, own_slot=True)
        self.stats.inc_value(S.stat_key("breaker", "opened"))
        logger.warning(
            "%(account)s failed %(n)d times in a row: holding its requests for "
            "%(wait).0f s, then one probe",
            {"account": account, "n": breaker.failures, "wait": breaker.recovery},
            extra={"spider": self.crawler.spider},
        )
        return True

    def _breaker_success(self, account: str) -> None:
        breaker = self._breakers.pop(account)
        if breaker.open_until:
            now = self.clock()
            self._record_outage(account, breaker, now)
            logger.info(
                "%(account)s recovered after %(wait).0f s",
                {"account": account, "wait": now - breaker.opened_at},
                extra={"spider": self.crawler.spider},
            )
            self._wake(f"breaker:{account}", -1)

    def _record_outage(self, account: str, breaker: _Breaker, now: float) -> None:
        if self._recorder is not None:
            self._recorder.record_breaker(
                account, breaker.opened_at, now, f"outage, {breaker.failures} failures"
            )
        self.stats.inc_value(S.stat_key("breaker", "outages"))
        self.stats.inc_value(
            S.stat_key("breaker", "outage_seconds"),
            round(now - breaker.opened_at, 3),  # type: ignore[arg-type]
        )
        breaker.open_until = 0.0
