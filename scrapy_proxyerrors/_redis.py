"""Route state shared by many crawl processes through Redis.

:class:`RedisState` implements :class:`~scrapy_proxyerrors.RouteState` with a
local mirror: every read is a dictionary look-up in this process, so the
success path makes no Redis call. Changes (pauses, cooldowns and failure
streaks, learned proxy -> provider facts, pacing rates, the stop) are applied
locally at once, then written to Redis by a background thread, which publishes
them on the namespace's channel. A second thread receives other processes'
changes by pub/sub, applies them to the mirror and hands the listeners'
callbacks to the reactor thread.

Redis is an optimisation, never a point of failure: unreachable at start or
lost mid-crawl, the crawl carries on with the local mirror, one warning is
logged, errors are counted in ``proxyerrors/redis/errors``, and the threads
reconnect with backoff and resync (read everything the namespace holds,
later-until wins) when Redis is back. No method raises into the crawl.

Clocks: every time Redis holds is the *server's* clock (``TIME``), converted
from and to this process's ``time.time()`` with an offset measured on each
connect, so machines' clocks need not agree.

Keys (all under one ``{namespace}`` hash tag, so a namespace sits on one Redis
Cluster slot)::

    proxyerrors:{ns}:pause     hash key -> until        (pauses: routes, accounts, sites)
    proxyerrors:{ns}:cooling   hash route -> until      (route cooldowns)
    proxyerrors:{ns}:streak    hash route -> failures   (failure streaks)
    proxyerrors:{ns}:learned   hash proxy -> provider
    proxyerrors:{ns}:rate      hash key -> "rate until"
    proxyerrors:{ns}:tat       hash key -> next free slot of the shared token bucket
    proxyerrors:{ns}:stop      string: JSON [reason, origin, at]
    proxyerrors:{ns}:events    the pub/sub channel

Every key has a TTL, pushed forward by each write to the longest entry it
holds (plus a grace); expired fields of the hashes are pruned by a script run
once a minute by a process that has written something.
"""

from __future__ import annotations

import collections
import json
import logging
import math
import os
import re
import socket
import threading
import time
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

from ._config import DEFAULTS
from ._redact import redact_text
from ._state import gcra_take
from ._stats import stat_key
from .exceptions import BadSettingError

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Mapping

    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

logger = logging.getLogger(__name__)

ERRORS_STAT = stat_key("redis", "errors")
RECEIVED_STAT = stat_key("redis", "events_received")
SENT_STAT = stat_key("redis", "writes")
STOP_FROM_STAT = stat_key("redis", "stop_from")

#: Listener kinds (CONTRACTS.md item 1).
KINDS = frozenset({"pause", "cooldown", "rate", "stop", "learn"})

DEFAULT_URL = "redis://localhost:6379/0"

# Lua: set a hash field to a number when the new one is later ("later until
# wins", so duplicated or reordered writes are harmless); keep the key's TTL at
# least ``ttl`` seconds; publish the change. Returns 1 when it changed.
_SET_MAX = """
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
local new = tonumber(ARGV[2])
if new <= cur then return 0 end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
local ttl = tonumber(ARGV[3])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
redis.call('PUBLISH', ARGV[4], ARGV[5])
return 1
"""

# Lua: a failure of a route: cooling = max, streak = max, both with TTLs.
_FAILURE = """
local cur = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tonumber(ARGV[2]) > cur then redis.call('HSET', KEYS[1], ARGV[1], ARGV[2]) end
local streak = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
if tonumber(ARGV[3]) > streak then redis.call('HSET', KEYS[2], ARGV[1], ARGV[3]) end
local ttl = tonumber(ARGV[4])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
if redis.call('TTL', KEYS[2]) < tonumber(ARGV[5]) then redis.call('EXPIRE', KEYS[2], ARGV[5]) end
redis.call('PUBLISH', ARGV[6], ARGV[7])
return 1
"""

# Lua: the shared token bucket (GCRA). Reserve ARGV[3] slots spaced
# ARGV[2] seconds, from the later of the bucket's next free slot and the
# server's TIME; return the first slot (as text: Lua numbers are truncated to
# integers on the way out).
_LEASE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local tat = tonumber(redis.call('HGET', KEYS[1], ARGV[1]) or '0')
if tat < now then tat = now end
local nxt = tat + tonumber(ARGV[2]) * tonumber(ARGV[3])
redis.call('HSET', KEYS[1], ARGV[1], string.format('%.6f', nxt))
local ttl = math.ceil(nxt - now) + tonumber(ARGV[4])
if redis.call('TTL', KEYS[1]) < ttl then redis.call('EXPIRE', KEYS[1], ttl) end
return string.format('%.6f', tat)
"""

# Lua: drop the fields whose time has passed from the time-valued hashes.
# Streaks are dropped with their route's cooldown, once it ended ARGV[1] s ago.
_PRUNE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local dropped = 0
local all = redis.call('HGETALL', KEYS[2])
for j = 1, #all, 2 do
  local c = tonumber(redis.call('HGET', KEYS[1], all[j]) or '0')
  if c + tonumber(ARGV[1]) < now then redis.call('HDEL', KEYS[2], all[j]); dropped = dropped + 1 end
end
for i = 1, #KEYS do
  if i ~= 2 then
    all = redis.call('HGETALL', KEYS[i])
    for j = 1, #all, 2 do
      local v = tonumber(string.match(all[j + 1], '[^ ]+$')) or 0
      if v < now then redis.call('HDEL', KEYS[i], all[j]); dropped = dropped + 1 end
    end
  end
end
return dropped
"""


_URL_PASSWORD = re.compile(r"(?P<keep>://[^/@:]*:)[^@/]*@")
_QUERY_PASSWORD = re.compile(r"(?P<keep>[?&]password=)[^&#]*", re.I)


def mask_redis_url(url: str) -> str:
    """*url* with its password (``user:password@`` or ``?password=``) masked."""
    url = _URL_PASSWORD.sub(r"\g<keep>***@", url)
    return _QUERY_PASSWORD.sub(r"\g<keep>***", url)


def _url_password(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        if parts.password:
            return unquote(parts.password)
        for name, value in parse_qsl(parts.query):
            if name == "password" and value:
                return value
    except ValueError:
        return None
    return None


def read_settings(settings: BaseSettings) -> tuple[str, dict[str, Any], str, float]:
    """The four Redis settings, validated: ``PROXYERRORS_REDIS_URL``,
    ``PROXYERRORS_REDIS_PARAMS``, ``PROXYERRORS_REDIS_NAMESPACE`` and
    ``PROXYERRORS_REDIS_TIMEOUT``.

    Returns ``(url, params, namespace, timeout)``; raises
    :class:`~scrapy_proxyerrors.BadSettingError` naming the bad setting, with
    the URL's password masked.
    """
    try:
        return _read_settings(settings)
    except BadSettingError as exc:
        # Whatever setting a URL with a password was put in, it is masked.
        raise BadSettingError(mask_redis_url(redact_text(str(exc)))) from None


def _read_settings(settings: BaseSettings) -> tuple[str, dict[str, Any], str, float]:
    raw_url = settings.get("PROXYERRORS_REDIS_URL") or settings.get("REDIS_URL") or DEFAULT_URL
    name = "PROXYERRORS_REDIS_URL" if settings.get("PROXYERRORS_REDIS_URL") else (
        "REDIS_URL" if settings.get("REDIS_URL") else "PROXYERRORS_REDIS_URL")
    if not isinstance(raw_url, str):
        raise BadSettingError(f"{name}={type(raw_url).__name__}: expected a redis:// URL string")
    shown = mask_redis_url(raw_url)
    try:
        parts = urlsplit(raw_url)
        parts.port  # noqa: B018 - validates the port
    except ValueError as exc:
        raise BadSettingError(
            f"{name}={shown!r}: malformed URL ({redact_text(str(exc), [raw_url])})") from None
    if parts.scheme not in ("redis", "rediss", "unix"):
        raise BadSettingError(
            f"{name}={shown!r}: expected redis://[[user]:password@]host[:port][/db], "
            "rediss://... or unix:///path/to/redis.sock")
    if parts.scheme == "unix" and not parts.path:
        raise BadSettingError(f"{name}={shown!r}: a unix:// URL needs the socket's path")
    if parts.scheme != "unix" and not parts.hostname:
        raise BadSettingError(f"{name}={shown!r}: the URL needs a host")

    params = settings.get("PROXYERRORS_REDIS_PARAMS") or {}
    if hasattr(params, "copy_to_dict"):
        params = params.copy_to_dict()
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        raise BadSettingError(
            "PROXYERRORS_REDIS_PARAMS: expected a dict of redis.Redis parameters")

    name = "PROXYERRORS_REDIS_NAMESPACE"
    namespace = settings.get(name)
    if not namespace:
        name, namespace = "BOT_NAME", settings.get("BOT_NAME") or "scrapybot"
    if (not isinstance(namespace, str) or not namespace.strip()
            or any(c in namespace for c in "{}*?[]\\") or any(c.isspace() for c in namespace)):
        raise BadSettingError(
            f"{name}={namespace!r}: expected a non-empty name without blanks, braces or "
            "glob characters (the PROXYERRORS_REDIS_NAMESPACE of RedisState)")

    raw_timeout = settings.get("PROXYERRORS_REDIS_TIMEOUT", DEFAULTS["PROXYERRORS_REDIS_TIMEOUT"])
    try:
        timeout = float(raw_timeout)
    except (TypeError, ValueError, OverflowError):
        timeout = math.nan
    if not 0 < timeout < math.inf:
        raise BadSettingError(
            f"PROXYERRORS_REDIS_TIMEOUT={raw_timeout!r}: expected a number of seconds above 0")
    return raw_url, dict(params), namespace, timeout


class _Lease:
    """Slots of the shared token bucket this process reserved (local clock)."""

    __slots__ = ("asked", "broken_until", "pending", "size", "slots")

    def __init__(self) -> None:
        self.slots: collections.deque[float] = collections.deque()
        self.size = 0  # slots of the last lease
        self.pending = False  # a lease request is queued
        self.asked = 0.0  # when it was queued
        self.broken_until = 0.0  # a lease failed: pace locally until then


class RedisState:
    """A :class:`~scrapy_proxyerrors.RouteState` shared through Redis.

    Enable it with ``PROXYERRORS_STATE = "scrapy_proxyerrors.RedisState"``
    (``pip install scrapy-proxyerrors[redis]``). Processes with the same
    ``PROXYERRORS_REDIS_NAMESPACE`` (default: ``BOT_NAME``) share pauses,
    cooldowns and failure streaks, learned proxy -> provider facts, pacing
    (one token bucket per key) and the stop.

    A stop is honoured by processes running when it is published, and by a
    process that finds it on start only when it is at most
    :attr:`STOP_GRACE` seconds older than that process's start: a stop left by
    an earlier run never blocks a new run.
    """

    #: Seconds a stop stays in Redis.
    STOP_TTL = 3600.0
    #: A stop found on start is honoured if it is at most this much older than
    #: this process's start (processes of one run start a little apart).
    STOP_GRACE = 2.0
    #: Seconds learned proxy -> provider facts and failure streaks are kept.
    LEARN_TTL = 86400.0
    STREAK_TTL = 600.0
    #: Longest TTL of any entry (a cooldown of ``inf`` is shared this long).
    MAX_TTL = 86400.0
    #: Seconds added to every key's TTL beyond the entry it holds.
    TTL_GRACE = 5.0
    #: Seconds between prunes of expired hash fields (by a process that wrote).
    PRUNE_EVERY = 60.0
    #: Reconnect backoff: first and longest wait, in seconds.
    BACKOFF = (0.2, 5.0)
    #: take() paces evenly (one shared token bucket), whatever set_rate()'s window.
    windowed = False
    #: The most slots of the shared token bucket reserved at once.
    LEASE_MAX = 8
    #: Writes kept while Redis is away; older ones are dropped beyond this.
    QUEUE_MAX = 100_000
    #: A failure streak multiplies the base cooldown by 2**streak, at most this
    #: (as :class:`~scrapy_proxyerrors.MemoryState`).
    MAX_GROWTH = 16.0

    def __init__(
        self,
        url: str = DEFAULT_URL,
        params: Mapping[str, Any] | None = None,
        namespace: str = "scrapybot",
        timeout: float = 1.0,
        *,
        dispatch: Callable[..., object] | None = None,
        stats: Any = None,
        max_entries: int = 100_000,
    ) -> None:
        """*dispatch(func, *args)* runs listener callbacks (and stats updates)
        on the crawl's thread; ``from_crawler`` passes the reactor's
        ``callFromThread``. Without it they run on the listener thread."""
        self.namespace = namespace
        self.timeout = timeout
        self._url = url
        self._shown_url = mask_redis_url(url)
        password = _url_password(url)
        self._secrets = [s for s in (password, (params or {}).get("password")) if s]
        self._params = dict(params or {})
        self._dispatch = dispatch
        self._home = threading.current_thread()  # the crawl's thread
        self._stats = stats
        self._max_entries = max_entries
        self._prune_at: dict[int, int] = {}
        self._id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._start = time.time()
        prefix = f"proxyerrors:{{{namespace}}}:"
        self._k_pause = prefix + "pause"
        self._k_cooling = prefix + "cooling"
        self._k_streak = prefix + "streak"
        self._k_learned = prefix + "learned"
        self._k_rate = prefix + "rate"
        self._k_tat = prefix + "tat"
        self._k_stop = prefix + "stop"
        self.channel = prefix + "events"

        # The local mirror (local clock). Reads are plain look-ups, without
        # the lock; every change takes the lock (the listener thread and the
        # crawl thread both write).
        self._lock = threading.Lock()
        self._pauses: dict[str, float] = {}
        self._cooling: dict[str, float] = {}
        self._streaks: dict[str, int] = {}
        self._learned: dict[str, str] = {}
        self._rates: dict[str, tuple[float, float]] = {}
        self._leases: dict[str, _Lease] = {}
        self._local_tat: dict[str, float] = {}
        self._stop: tuple[str, str] | None = None
        self._stop_remote = False  # the stop came from another process
        self._stop_announced = False
        self._wait_for_open = False  # from_crawler: announce a found stop on spider_opened
        self._listeners: list[Callable[[str, str], None]] = []

        self._offset = 0.0  # server clock - local clock
        self._connected = False
        self._warned = False
        self.errors = 0
        self.received = 0
        self.writes = 0
        self._closing = False
        self._closed = False
        self._queue: collections.deque[tuple[Any, ...]] = collections.deque()
        self._cond = threading.Condition()
        self._resync_wanted = threading.Event()
        self._synced = threading.Event()
        self._wrote_since_prune = False
        self._client: Any = None
        self._scripts: dict[str, Any] = {}
        self._writer = threading.Thread(
            target=self._run_writer, name=f"proxyerrors-redis-writer-{namespace}", daemon=True)
        self._listener = threading.Thread(
            target=self._run_listener, name=f"proxyerrors-redis-listener-{namespace}", daemon=True)
        self._writer.start()
        self._listener.start()

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RedisState:
        """Build from the crawl's settings; closed when the engine stops."""
        url, params, namespace, timeout = read_settings(crawler.settings)
        try:
            import redis  # noqa: F401
        except ImportError:
            raise BadSettingError(
                "PROXYERRORS_STATE=scrapy_proxyerrors.RedisState: needs the redis package "
                "(pip install scrapy-proxyerrors[redis])") from None
        _check_params(url, params)
        state = cls(url, params, namespace, timeout,
                    dispatch=_crawl_thread_dispatch(), stats=crawler.stats)
        # Once, before the first request: what other processes already know
        # (a dead IP, a pause, a stop), so that this one does not rediscover
        # it. Bounded by the timeout; Redis away, the crawl starts regardless.
        state.wait_synced(timeout)
        from scrapy import signals

        # A stop found on start is announced once the spider is open: a
        # scheduler can only close a spider that is open.
        state._wait_for_open = True

        def opened() -> None:
            state._wait_for_open = False
            state._announce_stop()

        crawler.signals.connect(opened, signal=signals.spider_opened, weak=False)
        crawler.signals.connect(state.close, signal=signals.engine_stopped)
        return state

    # ------------------------------------------------------------- the interface

    def pause(self, key: str, until: float) -> None:
        try:
            with self._lock:
                if until <= self._pauses.get(key, 0.0):
                    return
                self._pauses[key] = until
                self._prune_local(self._pauses, time.time())
            self._enqueue(("pause", key, until))
        except Exception:  # never into the crawl
            self._error("pause")

    def paused_until(self, key: str) -> float:
        return self._pauses.get(key, 0.0)

    def record_failure(self, route: str, now: float, cooldown: float) -> float:
        try:
            with self._lock:
                # Popped and put back: the least recently failed streak is
                # the first to go when the table is full (as MemoryState).
                streak = self._streaks.pop(route, 0)
                self._streaks[route] = streak + 1
                growth = min(2.0 ** min(streak, 16), self.MAX_GROWTH)
                rest = cooldown if math.isinf(cooldown) else cooldown * growth
                until = now + rest
                if until > self._cooling.get(route, 0.0):
                    self._cooling[route] = until
                self._prune_local(self._cooling, now)
                self._bound(self._streaks)
            self._enqueue(("failure", route, until, streak + 1))
            return until
        except Exception:
            self._error("record_failure")
            return now

    def record_success(self, route: str) -> None:
        # The success path: one dictionary look-up, no Redis call, no lock
        # unless the route had a failure streak.
        if route in self._streaks:
            try:
                with self._lock:
                    self._streaks.pop(route, None)
                self._enqueue(("success", route))
            except Exception:
                self._error("record_success")

    def cooling_until(self, route: str) -> float:
        return self._cooling.get(route, 0.0)

    def learn(self, proxy: str, provider: str) -> None:
        try:
            if self._learned.get(proxy) == provider:
                return
            with self._lock:
                self._learned[proxy] = provider
                self._bound(self._learned)
            self._enqueue(("learn", proxy, provider))
        except Exception:
            self._error("learn")

    def learned(self, proxy: str) -> str | None:
        return self._learned.get(proxy)

    def set_rate(self, key: str, rate: float, until: float, window: float = 0.0) -> None:
        # Shared pacing is one token bucket for all processes: even, at
        # *rate*, which keeps any window (*window* is not used).
        try:
            rate = float(rate)
            with self._lock:
                if not 0 < rate < math.inf:
                    if self._rates.pop(key, None) is None:
                        return
                    rate = 0.0
                else:
                    if self._rates.get(key) == (rate, until):
                        return
                    self._rates[key] = (rate, until)
            self._enqueue(("rate", key, rate, until))
        except Exception:
            self._error("set_rate")

    def rate(self, key: str) -> float:
        entry = self._rates.get(key)
        if entry is None:
            return 0.0
        rate, until = entry
        return rate if until > time.time() else 0.0

    def take(self, key: str, now: float) -> float:
        try:
            rate = self.rate(key)
            if rate <= 0:
                return 0.0
            interval = 1.0 / rate
            if not self._connected:
                return self._take_local(key, now, interval)
            local = False
            with self._lock:
                lease = self._leases.get(key)
                if lease is None:
                    lease = self._leases[key] = _Lease()
                slots = lease.slots
                # Slots left unused for more than one interval are given up:
                # spent all at once they would be a burst above the rate.
                while slots and slots[0] < now - interval:
                    slots.popleft()
                # Ask for the next batch when half of this one is used, so
                # that it is there before the last slot is.
                want_more = (len(slots) * 2 <= lease.size and not lease.pending
                             and lease.broken_until <= now)
                if want_more:
                    lease.pending = True
                    lease.asked = now
                wait = interval
                if slots:
                    wait = max(0.0, slots[0] - now)
                    if wait == 0.0:
                        slots.popleft()
                elif lease.broken_until > now or (
                        lease.pending and now - lease.asked > self.timeout):
                    # No slot from Redis in time (a long write queue, a refused
                    # script): pace this process by itself rather than stall.
                    local = True
            if want_more:
                size = max(1, min(self.LEASE_MAX, int(rate / 5)))
                self._enqueue(("lease", key, interval, size))
            return self._take_local(key, now, interval) if local else wait
        except Exception:
            self._error("take")
            return 0.0

    def stop(self, reason: str, origin: str) -> None:
        try:
            with self._lock:
                if self._stop is None:
                    self._stop = (reason, origin)
            self._enqueue(("stop", reason, origin, time.time()))
        except Exception:
            self._error("stop")

    def stopped(self) -> tuple[str, str] | None:
        return self._stop

    def add_listener(self, listener: Callable[[str, str], None]) -> None:
        """Call ``listener(kind, key)`` on each change made by another process.

        The rates already known (found on start, typically before the
        scheduler adds its listener) are announced to the new listener at
        once: a key is only paced once someone says it is. A stop found on
        start is announced when the spider opens (``from_crawler``), or here
        without a crawler.
        """
        self._listeners.append(listener)
        for key in list(self._rates):
            self._call(_safe_listener, listener, "rate", key)
        if not self._wait_for_open:
            self._announce_stop()

    def _announce_stop(self) -> None:
        """Tell the listeners about a stop from another process, once."""
        stop = self._stop
        if stop is not None and self._stop_remote and self._listeners \
                and not self._stop_announced:
            self._stop_announced = True
            self._notify("stop", stop[0])

    def close(self) -> None:
        """Send what is queued (a stop above all: bounded by a few timeouts),
        then end both threads. Idempotent."""
        if self._closed:
            return
        self._closed = True
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        # The stopping process must finish announcing its stop before it goes.
        self._writer.join(max(3 * self.timeout, 1.0))
        self._listener.join(max(2 * self.timeout, 1.0))
        if self._stats is not None:
            for key, value in ((SENT_STAT, self.writes), (RECEIVED_STAT, self.received)):
                if value:
                    self._stats.set_value(key, value)

    def wait_synced(self, timeout: float) -> bool:
        """Wait at most *timeout* seconds for the first resync; True if done."""
        return self._synced.wait(timeout)

    def __len__(self) -> int:
        return len(self._pauses) + len(self._cooling) + len(self._streaks)

    @property
    def connected(self) -> bool:
        """Whether the writer is connected to Redis (for tests and reports)."""
        return self._connected

    # ---------------------------------------------------------------- internals

    def _enqueue(self, op: tuple[Any, ...]) -> None:
        with self._cond:
            if len(self._queue) >= self.QUEUE_MAX:
                self._queue.popleft()
            self._queue.append(op)
            self._cond.notify()

    def _take_local(self, key: str, now: float, interval: float) -> float:
        """Pacing with Redis away: this process's own bucket."""
        with self._lock:
            wait, self._local_tat[key] = gcra_take(self._local_tat.get(key, 0.0), now, interval)
            return wait

    def _bound(self, table: dict[str, Any]) -> None:
        """Keep *table* (streaks, learned facts) to max_entries: oldest go first."""
        while len(table) > self._max_entries:
            del table[next(iter(table))]

    def _prune_local(self, table: dict[str, float], now: float) -> None:
        """Drop expired entries once *table* outgrows its threshold; an active
        entry is never dropped (that would let requests into a window)."""
        if len(table) <= self._prune_at.get(id(table), self._max_entries):
            return
        for key in [k for k, until in table.items() if until <= now]:
            del table[key]
        # Many active entries: scan again only after the table doubled.
        self._prune_at[id(table)] = max(self._max_entries, 2 * len(table))

    def _call(self, func: Callable[..., object], *args: Any) -> None:
        # On the crawl's own thread (a listener added, the spider opened) at
        # once: handed over, it would run after requests already went out.
        if self._dispatch is None or threading.current_thread() is self._home:
            func(*args)
        else:
            self._dispatch(func, *args)

    def _notify(self, kind: str, key: str) -> None:
        for listener in self._listeners:
            self._call(_safe_listener, listener, kind, key)

    def _error(self, where: str, exc: BaseException | None = None) -> None:
        self.errors += 1
        if self._stats is not None:
            try:
                self._call(self._stats.inc_value, ERRORS_STAT)
            except Exception:
                logger.debug("cannot count a Redis error", exc_info=True)
        detail = redact_text(f"{type(exc).__name__}: {exc}", self._secrets) if exc else where
        if not self._warned:
            self._warned = True
            logger.warning(
                "Redis at %(url)s: %(detail)s; the crawl carries on with this process's "
                "state, and resyncs when Redis is back (errors counted in %(stat)s)",
                {"url": self._shown_url, "detail": detail, "stat": ERRORS_STAT})
        else:
            logger.debug("Redis (%(where)s): %(detail)s", {"where": where, "detail": detail})

    def _new_client(self, timeout: float | None) -> Any:
        import redis

        params = {"socket_timeout": timeout, "socket_connect_timeout": self.timeout,
                  **self._params}
        return redis.Redis.from_url(self._url, **params)

    def _server_time(self, client: Any) -> None:
        before = time.time()
        seconds, micros = client.time()
        after = time.time()
        self._offset = seconds + micros / 1e6 - (before + after) / 2

    def _ttl(self, server_until: float, server_now: float) -> int:
        return math.ceil(min(server_until - server_now, self.MAX_TTL) + self.TTL_GRACE)

    def _cap(self, local_until: float) -> float:
        """*local_until* on the server's clock, at most MAX_TTL ahead."""
        now = time.time()
        return min(local_until, now + self.MAX_TTL) + self._offset

    def _event(self, *fields: Any) -> str:
        return json.dumps([self._id, *fields])

    # ------------------------------------------------------------ writer thread

    def _run_writer(self) -> None:
        backoff = self.BACKOFF[0]
        last_prune = time.monotonic()
        while True:
            if not self._connected:
                if self._closing and not self._queue:
                    break
                try:
                    self._connect()
                    backoff = self.BACKOFF[0]
                except Exception as exc:
                    self._lost(exc)
                    self._synced.set()  # nothing to wait for: start on local state
                    if self._closing:
                        break  # nothing more can be sent
                    with self._cond:
                        self._cond.wait(backoff)
                    backoff = min(backoff * 2, self.BACKOFF[1])
                    continue
            with self._cond:
                while not self._queue and not self._closing and not self._resync_wanted.is_set():
                    if not self._cond.wait(self.PRUNE_EVERY / 4):
                        break
                op = self._queue[0] if self._queue else None
            try:
                if self._resync_wanted.is_set():
                    self._resync_wanted.clear()
                    self._resync()
                if op is not None:
                    self._write(op)
                    with self._cond:
                        if self._queue and self._queue[0] is op:
                            self._queue.popleft()
                elif self._closing:
                    break
                if self._wrote_since_prune and time.monotonic() - last_prune > self.PRUNE_EVERY:
                    self._prune_remote()
                    last_prune = time.monotonic()
            except Exception as exc:
                if op is not None and not _is_connection_error(exc):
                    # A refused write (e.g. an ACL without a permission) is
                    # dropped, not retried for ever.
                    self._error("write", exc)
                    with self._cond:
                        if self._queue and self._queue[0] is op:
                            self._queue.popleft()
                    continue
                self._connected = False
                self._lost(exc)
                if self._closing:
                    break
        self._connected = False
        if self._client is not None:
            try:
                self._client.close()
            except Exception:
                logger.debug("closing the Redis client", exc_info=True)

    def _lost(self, exc: BaseException) -> None:
        self._error("writer", exc)
        client, self._client = self._client, None
        if client is not None:
            try:
                client.close()
            except Exception:
                logger.debug("closing the Redis client", exc_info=True)

    def _connect(self) -> None:
        client = self._new_client(self.timeout)
        self._client = client
        self._server_time(client)
        self._scripts = {
            "set_max": client.register_script(_SET_MAX),
            "failure": client.register_script(_FAILURE),
            "lease": client.register_script(_LEASE),
            "prune": client.register_script(_PRUNE),
        }
        self._resync()
        was_warned = self._warned
        self._connected = True
        if was_warned:
            logger.info("Redis at %(url)s is back: state resynced", {"url": self._shown_url})

    def _write(self, op: tuple[Any, ...]) -> None:
        kind = op[0]
        client = self._client
        scripts = self._scripts
        server_now = time.time() + self._offset
        if kind == "pause":
            _, key, until = op
            s_until = self._cap(until)
            scripts["set_max"](
                keys=[self._k_pause],
                args=[key, repr(s_until), self._ttl(s_until, server_now), self.channel,
                      self._event("pause", key, s_until)],
                client=client)
        elif kind == "failure":
            _, route, until, streak = op
            s_until = self._cap(until)
            scripts["failure"](
                keys=[self._k_cooling, self._k_streak],
                args=[route, repr(s_until), str(streak), self._ttl(s_until, server_now),
                      int(self._ttl(s_until, server_now) + self.STREAK_TTL), self.channel,
                      self._event("cooldown", route, s_until, streak)],
                client=client)
        elif kind == "success":
            _, route = op
            pipe = client.pipeline(transaction=False)
            pipe.hdel(self._k_streak, route)
            pipe.publish(self.channel, self._event("success", route))
            pipe.execute()
        elif kind == "learn":
            _, proxy, provider = op
            pipe = client.pipeline(transaction=False)
            pipe.hset(self._k_learned, proxy, provider)
            pipe.expire(self._k_learned, int(self.LEARN_TTL))
            pipe.publish(self.channel, self._event("learn", proxy, provider))
            pipe.execute()
        elif kind == "rate":
            _, key, rate, until = op
            pipe = client.pipeline(transaction=False)
            if rate <= 0:
                pipe.hdel(self._k_rate, key)
            else:
                s_until = self._cap(until)
                pipe.hset(self._k_rate, key, f"{rate!r} {s_until!r}")
                pipe.expire(self._k_rate, self._ttl(s_until, server_now), gt=True)
                pipe.expire(self._k_rate, self._ttl(s_until, server_now), nx=True)
                pipe.publish(self.channel, self._event("rate", key, rate, s_until))
            if rate <= 0:
                pipe.publish(self.channel, self._event("rate", key, 0.0, 0.0))
            pipe.execute()
        elif kind == "stop":
            _, reason, origin, at = op
            payload = json.dumps([reason, origin, at + self._offset])
            pipe = client.pipeline(transaction=False)
            pipe.set(self._k_stop, payload, ex=int(self.STOP_TTL))
            pipe.publish(self.channel, self._event("stop", reason, origin, at + self._offset))
            pipe.execute()
        elif kind == "lease":
            _, key, interval, size = op
            try:
                start = float(scripts["lease"](
                    keys=[self._k_tat], args=[key, repr(interval), size, int(self.TTL_GRACE)],
                    client=client))
            except Exception:
                with self._lock:
                    lease = self._leases.get(key)
                    if lease is not None:
                        lease.pending = False
                        lease.broken_until = time.time() + self.BACKOFF[1]
                raise
            with self._lock:
                lease = self._leases.setdefault(key, _Lease())
                first = start - self._offset
                lease.slots.extend(first + i * interval for i in range(size))
                lease.size = size
                lease.pending = False
            return  # a lease is no state change: nothing to prune
        self.writes += 1
        self._wrote_since_prune = True

    def _prune_remote(self) -> None:
        self._scripts["prune"](
            keys=[self._k_cooling, self._k_streak, self._k_pause, self._k_rate, self._k_tat],
            args=[int(self.STREAK_TTL)], client=self._client)
        self._wrote_since_prune = False

    def _resync(self) -> None:
        """Merge everything the namespace holds into the mirror (later wins)."""
        pipe = self._client.pipeline(transaction=False)
        for key in (self._k_pause, self._k_cooling, self._k_streak, self._k_learned,
                    self._k_rate):
            pipe.hgetall(key)
        pipe.get(self._k_stop)
        pauses, cooling, streaks, learned, rates, stop = pipe.execute()
        off = self._offset
        changed: list[tuple[str, str]] = []
        with self._lock:
            for table, raw, kind in ((self._pauses, pauses, "pause"),
                                     (self._cooling, cooling, "cooldown")):
                for key, until in _entries(raw, lambda v: float(v) - off):
                    if until > table.get(key, 0.0):
                        table[key] = until
                        changed.append((kind, key))
                self._prune_local(table, time.time())
            for key, streak in _entries(streaks, int):
                if streak > self._streaks.get(key, 0):
                    self._streaks[key] = streak
            self._bound(self._streaks)
            for key, provider in _entries(learned, _text):
                if self._learned.get(key) != provider:
                    self._learned[key] = provider
                    changed.append(("learn", key))
            self._bound(self._learned)
            for key, entry in _entries(rates, lambda v: _rate_entry(v, off)):
                local = self._rates.get(key)
                # Later until wins: a rate set here and not yet written stays.
                if local is None or entry[1] > local[1]:
                    self._rates[key] = entry
                    changed.append(("rate", key))
            found = _parse_stop(stop) if stop is not None else None
            if found is not None and self._stop is None:
                reason, origin, at = found
                if at - off >= self._start - self.STOP_GRACE:
                    self._stop = (reason, origin)
                    self._stop_remote = True
                    if self._stats is not None:
                        self._call(self._stats.set_value, STOP_FROM_STAT, origin)
        self._synced.set()
        for kind, key in changed:
            self._notify(kind, key)
        if not self._wait_for_open:
            self._announce_stop()

    # ---------------------------------------------------------- listener thread

    def _run_listener(self) -> None:
        backoff = self.BACKOFF[0]
        while not self._closing:
            pubsub = None
            try:
                client = self._new_client(None)
                pubsub = client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.channel)
                # Changes made while this process was not subscribed: resync.
                self._resync_wanted.set()
                with self._cond:
                    self._cond.notify_all()
                backoff = self.BACKOFF[0]
                while not self._closing:
                    message = pubsub.get_message(timeout=0.2)
                    if message is not None and message.get("type") == "message":
                        try:
                            self._apply(message["data"])
                        except (ValueError, TypeError, IndexError, KeyError):
                            # Someone else's (or another version's) message.
                            logger.debug("an unreadable event is ignored")
            except Exception as exc:
                if self._closing:
                    break
                self._error("listener", exc)
                time.sleep(backoff)
                backoff = min(backoff * 2, self.BACKOFF[1])
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        logger.debug("closing the Redis subscription", exc_info=True)

    def _apply(self, data: bytes) -> None:
        """Apply one change published by a process (our own are skipped)."""
        sender, kind, *fields = json.loads(data)
        if sender == self._id:
            return
        self.received += 1
        off = self._offset
        notify: tuple[str, str] | None = None
        with self._lock:
            if kind == "pause":
                key, until = fields[0], float(fields[1]) - off
                if until > self._pauses.get(key, 0.0):
                    self._pauses[key] = until
                    self._prune_local(self._pauses, time.time())
                    notify = ("pause", key)
            elif kind == "cooldown":
                route, until, streak = fields[0], float(fields[1]) - off, int(fields[2])
                if streak > self._streaks.get(route, 0):
                    self._streaks[route] = streak
                    self._bound(self._streaks)
                if until > self._cooling.get(route, 0.0):
                    self._cooling[route] = until
                    self._prune_local(self._cooling, time.time())
                    notify = ("cooldown", route)
            elif kind == "success":
                self._streaks.pop(fields[0], None)
            elif kind == "learn":
                if self._learned.get(fields[0]) != fields[1]:
                    self._learned[fields[0]] = fields[1]
                    self._bound(self._learned)
                    notify = ("learn", fields[0])
            elif kind == "rate":
                key, rate, until = fields[0], float(fields[1]), float(fields[2]) - off
                if rate <= 0:
                    self._rates.pop(key, None)
                else:
                    self._rates[key] = (rate, until)
                notify = ("rate", key)
            elif kind == "stop" and self._stop is None:
                # Published while this process runs: honoured whatever its age.
                self._stop = (fields[0], fields[1])
                self._stop_remote = True
                if self._stats is not None:
                    self._call(self._stats.set_value, STOP_FROM_STAT, fields[1])
        if notify is not None:
            self._notify(*notify)
        if kind == "stop" and not self._wait_for_open:
            self._announce_stop()


def _text(value: bytes | str) -> str:
    """A reply as text (bytes, or str with ``decode_responses=True``)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def _rate_entry(value: bytes | str, offset: float) -> tuple[float, float]:
    rate_text, until_text = _text(value).split()
    return float(rate_text), float(until_text) - offset


def _parse_stop(value: bytes | str) -> tuple[str, str, float] | None:
    try:
        reason, origin, at = json.loads(value)
        return str(reason), str(origin), float(at)
    except (ValueError, TypeError):
        logger.debug("an unreadable stop in Redis is ignored")
        return None


def _entries(raw: Mapping[Any, Any], parse: Callable[[Any], Any]) -> Iterator[tuple[str, Any]]:
    """The hash's fields parsed; one that does not parse (written by someone
    else, or by another version) is skipped, not a reason to stop syncing."""
    for field, value in raw.items():
        try:
            yield _text(field), parse(value)
        except (ValueError, TypeError, UnicodeDecodeError):
            logger.debug("an unreadable entry in Redis is ignored")


def _is_connection_error(exc: BaseException) -> bool:
    import redis

    return isinstance(exc, (redis.ConnectionError, redis.TimeoutError, OSError))


def _safe_listener(listener: Callable[[str, str], None], kind: str, key: str) -> None:
    try:
        listener(kind, key)
    except Exception:
        logger.exception("a RouteState listener failed on %(kind)s %(key)s",
                         {"kind": kind, "key": key})


def _crawl_thread_dispatch() -> Callable[..., object] | None:
    """A callable that runs ``func(*args)`` on the crawl's (reactor's) thread."""
    from scrapy.utils.reactor import is_reactor_installed

    if is_reactor_installed():
        from twisted.internet import reactor

        return reactor.callFromThread  # type: ignore[no-any-return]
    import asyncio

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    return loop.call_soon_threadsafe


def _check_params(url: str, params: dict[str, Any]) -> None:
    """Build one connection object (without connecting) so that an unknown
    parameter stops the crawl now, naming the setting."""
    import redis

    try:
        client = redis.Redis.from_url(url, **params)
        client.connection_pool.make_connection()
    except (TypeError, ValueError) as exc:
        secrets = [p for p in (_url_password(url), params.get("password")) if p]
        raise BadSettingError(
            f"PROXYERRORS_REDIS_PARAMS: {redact_text(str(exc), secrets)}") from None
