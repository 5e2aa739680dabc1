"""The scheduler's pure parts and MemoryState, with a fake clock: no sleeping."""

from __future__ import annotations

import itertools
import random

import pytest
from scrapy.exceptions import DontCloseSpider, IgnoreRequest
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from scrapy_proxyerrors._identity import LRU, Identity
from scrapy_proxyerrors._scheduler import NOT_BEFORE, RoutePool, Scheduler, SchedulerConfig
from scrapy_proxyerrors._state import MemoryState, RouteState
from scrapy_proxyerrors.profiles import BUILTIN_PROFILES


class Clock:
    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _scheduler(clock: Clock, **config: object) -> Scheduler:
    crawler = get_crawler()
    state = MemoryState(clock=clock)
    identity = Identity(BUILTIN_PROFILES, None, state, lambda *a: None)
    return Scheduler(crawler, state, identity, SchedulerConfig(**config),  # type: ignore[arg-type]
                     clock=clock, rng=random.Random(0))


# ------------------------------------------------------------------ MemoryState


def test_memory_state_implements_the_contract() -> None:
    state = MemoryState()
    assert isinstance(state, RouteState)
    state.learn("gw:1", "soax")
    assert state.learned("gw:1") == "soax"
    assert state.stopped() is None
    state.stop("proxyerrors_auth", "soax/AUTH_FAILED@gw:1")
    state.stop("proxyerrors_quota", "later")
    assert state.stopped() == ("proxyerrors_auth", "soax/AUTH_FAILED@gw:1")
    state.add_listener(lambda kind, key: None)
    state.close()


def test_pausing_past_the_cap_never_drops_an_active_pause() -> None:
    """The old table deleted still-active pauses that ended earlier than a new one."""
    clock = Clock(0.0)
    state = MemoryState(max_entries=100, clock=clock)
    for i in range(300):
        state.pause(f"k{i}", 10.0 + i)
    assert all(state.paused_until(f"k{i}") == 10.0 + i for i in range(300))
    clock.now = 150.0
    state.pause("new", 1_000.0)
    # Expired ones went, every active one stayed.
    assert state.paused_until("k0") == 0.0
    assert all(state.paused_until(f"k{i}") == 10.0 + i for i in range(141, 300))
    assert len(state._pauses) <= 160


def test_extending_a_few_keys_again_and_again_keeps_the_expiry_heap_small() -> None:
    """A small pool whose pauses and cooldowns are extended over and over: the
    table never reaches its cap, and the heap must not grow with every push."""
    clock = Clock(0.0)
    state = MemoryState(clock=clock)
    for i in range(20_000):
        clock.now = i / 10
        state.pause(f"route{i % 20}", clock.now + 30)
        state.record_failure(f"route{i % 50}", clock.now, 1.0)
    assert len(state._pauses._heap) <= 2 * 20 + 64  # type: ignore[attr-defined]
    assert len(state._cooling._heap) <= 2 * 50 + 64  # type: ignore[attr-defined]
    assert state.paused_until("route7") > clock.now


def test_cooldowns_are_bounded_without_losing_active_ones() -> None:
    state = MemoryState(max_entries=50)
    for i in range(500):
        state.record_failure(f"r{i}", float(i), 10.0)
    assert state.cooling_until("r499") == 509.0
    assert state.cooling_until("r495") == 505.0
    assert len(state._cooling) <= 60
    assert len(state._streaks) <= 50


def test_take_paces_at_the_rate() -> None:
    clock = Clock(0.0)
    state = MemoryState(clock=clock)
    assert state.take("acct", 0.0) == 0.0  # not paced
    state.set_rate("acct", 4.0, until=100.0)
    assert state.rate("acct") == 4.0
    assert state.take("acct", 10.0) == 0.0
    # The next token is 0.25 s later, with a tolerance of 5 ms (timers).
    assert state.take("acct", 10.0) == pytest.approx(0.245)
    assert state.take("acct", 10.1) == pytest.approx(0.145)
    assert state.take("acct", 10.245) == 0.0
    taken = sum(1 for i in range(1000) if state.take("acct", 20.0 + i / 100) == 0.0)
    assert taken == 40  # 10 s at 4/s
    # Under a sliding window paced at 95 % of it, no window of its length
    # ever holds more than the limit (5 per second here).
    state.set_rate("paced", 0.95 * 5, until=1_000.0)
    times = [t / 1000 for t in range(30_000, 60_000) if state.take("paced", t / 1000) == 0.0]
    assert max(sum(1 for u in times if t <= u < t + 1.0) for t in times) == 5
    assert state.take("acct", 200.0) == 0.0  # expired: no longer paced
    state.set_rate("acct", 0, until=300.0)
    assert state.take("acct", 201.0) == 0.0


def test_a_window_pace_lets_a_windows_worth_go_at_once_and_never_more() -> None:
    """``set_rate(key, rate, until, window)``: rate x window may go together,
    and no window of that length ever holds more (a sliding log)."""
    state = MemoryState(clock=Clock(0.0))
    state.set_rate("acct", 9.5, until=1_000.0, window=1 / 0.95)  # 10 per 1.053 s
    assert [state.take("acct", 10.0) for _ in range(10)] == [0.0] * 10
    assert state.take("acct", 10.0) == pytest.approx(1 / 0.95 - 0.005)
    times = [t / 1000 for t in range(11_000, 31_000) if state.take("acct", t / 1000) == 0.0]
    span = 1 / 0.95
    assert max(sum(1 for u in times if t <= u < t + span - 0.005) for t in times) == 10
    assert len(times) == pytest.approx(20 * 0.95 * 10, abs=10)  # the full rate
    # A larger allowance is kept as the same share of a shorter window:
    # 1,000 per 10 s is 62 per 0.625 s at most, never 1,000 at once.
    state.set_rate("big", 100.0, until=1_000.0, window=10.0)
    assert sum(1 for _ in range(1_000) if state.take("big", 50.0) == 0.0) == 62
    # Under a rate too low for a window's pair, the pace is even.
    state.set_rate("slow", 0.5, until=1_000.0, window=3.0)
    assert state.take("slow", 50.0) == 0.0
    assert state.take("slow", 50.0) == pytest.approx(1.995)


def test_a_reply_frees_its_window_place_a_window_after_it() -> None:
    """The provider counted a request before it answered, so the request's
    place in the window frees one window after the reply, when that is
    sooner than a window and the margin after the send."""
    state = MemoryState(clock=Clock(0.0))
    span = 1 / 0.95
    state.set_rate("acct", 9.5, until=1_000.0, window=span)  # 10 per 1.053 s
    assert [state.take("acct", 10.0) for _ in range(10)] == [0.0] * 10
    assert state.take("acct", 10.0) == pytest.approx(span - 0.005)
    # The reply came 10 ms after the send: its place frees at 11.01.
    places = state.answered("acct", 10.0, 10.01 + 1.0)
    assert places == pytest.approx([11.01] + [10.0 + span - 0.005] * 9)
    assert state.take("acct", 11.009) == pytest.approx(0.001)
    assert state.take("acct", 11.01) == 0.0
    assert state.take("acct", 11.01) > 0  # one reply, one place
    # A reply later than the margin moves nothing; nor does a send the
    # window does not hold (a place taken again, or never taken).
    assert state.answered("acct", 10.0, 10.06 + 1.0) is None
    assert state.answered("acct", 10.5, 10.51 + 1.0) is None
    assert state.answered("unpaced", 10.0, 11.0) is None


def test_a_new_window_keeps_the_sends_of_the_old_one() -> None:
    """A pace set again (a limit stated after one learnt) keeps the last
    sends: a longer window holds them longer, a shorter one never frees
    them sooner than the old window did."""
    state = MemoryState(clock=Clock(0.0))
    state.set_rate("acct", 9.5, until=1_000.0, window=1 / 0.95)  # 10 per 1.053 s
    for _ in range(10):
        state.take("acct", 10.0)
    state.answered("acct", 10.0, 10.01 + 1.0)
    state.set_rate("acct", 9.5 / 60, until=1_000.0, window=60 / 0.95)  # 10 per 63 s
    assert state.take("acct", 12.0) == pytest.approx(10.0 + 60 / 0.95 - 12.0 - 0.005, abs=0.1)
    state.set_rate("short", 9.5 / 60, until=1_000.0, window=60 / 0.95)
    for _ in range(10):
        state.take("short", 10.0)
    state.set_rate("short", 9.5, until=1_000.0, window=1 / 0.95)
    assert state.take("short", 12.0) == pytest.approx(10.0 + 60 / 0.95 - 12.0 - 0.005)


@pytest.mark.parametrize("seed", range(5))
def test_places_freed_by_replies_never_put_more_than_the_limit_in_a_window(seed: int) -> None:
    """A provider counting 10 per sliding second at arrival, requests
    arriving 0-30 ms after they are sent and answered 0-30 ms after that:
    with each place freed a window after its reply, no second at the provider
    holds more than 10, and more go than with the margin alone."""
    sends: dict[bool, int] = {}
    for replies in (False, True):
        rng = random.Random(seed)
        state = MemoryState(clock=Clock(0.0))
        state.set_rate("acct", 9.5, until=1_000.0, window=1 / 0.95)
        pending: list[tuple[float, float]] = []  # (reply time, send time)
        arrived: list[float] = []
        for ms in range(10_000, 70_000):
            now = ms / 1000
            if replies:
                for back, sent in [p for p in pending if p[0] <= now]:
                    pending.remove((back, sent))
                    state.answered("acct", sent, back + 1.0)
            while state.take("acct", now) == 0.0:
                arrival = now + rng.choice([0.0, rng.uniform(0.0, 0.03)])
                arrived.append(arrival)
                pending.append((arrival + rng.choice([0.0, rng.uniform(0.0, 0.03)]), now))
        arrived.sort()
        # (A float's rounding off a second apart is a second apart.)
        fullest = max(sum(1 for u in arrived if a <= u < a + 1.0 - 1e-9) for a in arrived)
        assert fullest <= 10
        sends[replies] = len(arrived)
    # 58 windows of 10 in 60 s with the margin alone; about 59 with replies.
    assert sends[False] == 580
    assert sends[True] > sends[False]


def test_lru_keeps_the_most_recently_used() -> None:
    cache: LRU[str, int] = LRU(3)
    for key in "abc":
        cache.put(key, 1)
    assert cache.get("a") == 1
    cache.put("d", 1)
    assert "b" not in cache and "a" in cache and len(cache) == 3


# ------------------------------------------------------------------ the pool


def test_pool_skips_resting_routes_and_takes_them_back_in_time() -> None:
    state = MemoryState()
    proxies = [f"http://10.0.0.{i}:80" for i in range(5)]
    pool = RoutePool(proxies, lambda url: url[7:])

    def ready(route: str) -> float:
        return max(state.cooling_until(route), state.paused_until(route))

    state.record_failure("10.0.0.1:80", 0.0, 10.0)
    state.pause("10.0.0.3:80", 20.0)
    picked = [pool.pick(ready, 1.0)[1] for _ in range(9)]
    assert set(picked) == {"10.0.0.0:80", "10.0.0.2:80", "10.0.0.4:80"}
    assert pool.pick(ready, 1.0, avoid="10.0.0.0:80")[1] != "10.0.0.0:80"
    picked = [pool.pick(ready, 15.0)[1] for _ in range(8)]
    assert "10.0.0.1:80" in picked and "10.0.0.3:80" not in picked
    picked = [pool.pick(ready, 25.0)[1] for _ in range(10)]
    assert set(picked) == {f"10.0.0.{i}:80" for i in range(5)}


def test_pool_with_everything_resting_uses_the_first_to_recover() -> None:
    state = MemoryState()
    pool = RoutePool(["http://a:1", "http://b:2"], lambda url: url[7:])

    def ready(route: str) -> float:
        return state.cooling_until(route)

    state.record_failure("a:1", 0.0, 50.0)
    state.record_failure("b:2", 0.0, 20.0)
    assert pool.pick(ready, 1.0)[1] == "b:2"
    assert pool.pick(ready, 1.0, avoid="b:2")[1] == "a:1"


# ------------------------------------------------------------------ parking


def test_a_request_not_due_is_parked_and_keeps_the_spider_open() -> None:
    clock = Clock()
    scheduler = _scheduler(clock)
    due = scheduler.park(Request("http://example.com/"), clock.now + 5)
    assert due.dont_filter
    with pytest.raises(IgnoreRequest):
        scheduler._on_scheduled(due)
    assert scheduler.parked == 1
    with pytest.raises(DontCloseSpider):
        scheduler._on_idle()
    # A due request goes to Scrapy's scheduler, without the private meta.
    ready = scheduler.park(Request("http://example.com/2"), clock.now)
    scheduler._on_scheduled(ready)
    assert NOT_BEFORE not in ready.meta
    if scheduler._timer is not None:
        scheduler._timer.cancel()


def test_flush_hands_parked_requests_to_scrapys_scheduler() -> None:
    clock = Clock()
    scheduler = _scheduler(clock)
    for i in range(3):
        with pytest.raises(IgnoreRequest):
            scheduler._on_scheduled(scheduler.park(Request(f"http://e.com/{i}"), clock.now + i + 1))
    kept: list[Request] = []

    class Queue:
        def enqueue_request(self, request: Request) -> bool:
            kept.append(request)
            return True

    assert scheduler.flush(Queue()) == 3
    assert [r.url for r in kept] == [f"http://e.com/{i}" for i in range(3)]
    assert all(NOT_BEFORE not in r.meta for r in kept)
    assert scheduler.parked == 0
    # After the flush (the spider is closing), Scrapy keeps what comes.
    scheduler._on_scheduled(scheduler.park(Request("http://e.com/late"), clock.now + 9))


def test_releases_after_a_pause_are_spread_at_the_learned_rate() -> None:
    clock = Clock()
    scheduler = _scheduler(clock)
    scheduler.learn_rate("acct", 2.0, 1.0, clock.now, limited=True)
    dues = [scheduler.spread("acct", clock.now + 10) for _ in range(6)]
    assert dues == sorted(dues)
    gaps = [b - a for a, b in itertools.pairwise(dues)]
    assert all(gap > 0 for gap in gaps)
    assert dues[-1] - dues[0] >= 2.0  # 6 releases at 2/s span at least 2 s
    assert min(dues) >= clock.now + 10


def test_pauses_with_nothing_to_recall_take_no_release_slot_of_a_window_pace() -> None:
    """A burst of 429s pauses the account once per reply. Each pause recalls
    what still waits in a download slot; when nothing does, it must not take a
    release slot: those slots are the account's sends, and 16 phantom ones (more
    than the window holds) put the first real retry a window late."""
    clock = Clock()
    scheduler = _scheduler(clock)
    scheduler.pace_stated("acct", 9.5, clock.now, window=1.0)  # 10 per window
    n, _span = scheduler._windows["acct"]
    assert n == 10
    until = clock.now + 1.0
    for i in range(16):
        scheduler.pause("acct", until + i / 1000)
    assert not scheduler._hints["acct"]
    # The first retry goes when the pause ends, not a part of the window later.
    retry = Request("http://example.com/1")
    due, _ = scheduler.admit(retry, "route", "acct", None, clock.now + 0.5)
    assert due == pytest.approx(until + 15 / 1000)


def test_requests_parked_for_a_windows_places_move_up_as_replies_free_them() -> None:
    """Ten requests wait for the places of ten sent at once (a window and
    the margin after them). Replies 20 ms after the sends free the places a
    window after the replies: the waiting ones move up to that, in order,
    never before a pause on the key ends; a failed request frees nothing."""
    clock = Clock(10.0)
    scheduler = _scheduler(clock)
    scheduler.pace_stated("acct", 9.5, clock.now, window=1.0)  # 10 per 1.053 s
    sent = [Request(f"http://example.com/{i}") for i in range(10)]
    for request in sent:
        assert scheduler.admit(request, "route", "acct", None, clock.now) == (0.0, None)
    parked = []
    for i in range(12):
        request = Request(f"http://example.com/w{i}")
        due, wait_on = scheduler.admit(request, "route", "acct", None, clock.now)
        parked.append(scheduler.park(request, due, wait_on))
        with pytest.raises(IgnoreRequest):
            scheduler._on_scheduled(parked[-1])
    margin = 10.0 + 1 / 0.95
    assert [p.meta[NOT_BEFORE] for p in parked[:10]] == pytest.approx([margin] * 10, abs=0.006)

    def dues() -> list[float]:
        return [e.due for e in sorted(scheduler._parked) if e.alive]

    clock.now = 10.02
    scheduler.done(sent[0], answered=False)  # a download error proves nothing
    assert dues()[0] == pytest.approx(margin, abs=0.006)
    scheduler.pause("acct", 11.0)
    for request in sent[1:4]:
        scheduler.done(request, answered=True)
    assert dues()[:3] == pytest.approx([11.02] * 3)  # a window after the replies
    assert dues()[3] == pytest.approx(margin, abs=0.006)
    clock.now = 10.03
    scheduler.pause("acct", 11.04)
    for request in sent[4:]:
        scheduler.done(request, answered=True)
    # Not before the pause ends; the place of the failed send is the margin's.
    assert dues()[:9] == pytest.approx([11.02] * 3 + [11.04] * 6)
    assert dues()[9] == pytest.approx(margin, abs=0.006)
    assert scheduler.parked == 12  # moved, not doubled
    assert all(e.request.meta[NOT_BEFORE] == e.due for e in scheduler._parked if e.alive)
    # Released when due (the first three wait out the pause that came after
    # they moved), each takes a place.
    for entry in [e for e in sorted(scheduler._parked) if e.alive][:9]:
        clock.now = max(entry.due, 11.04)
        entry.request.meta.pop(NOT_BEFORE)
        assert scheduler.admit(entry.request, "route", "acct", None, clock.now) == (0.0, None)
    if scheduler._timer is not None:
        scheduler._timer.cancel()


def test_paced_keys_whose_rate_expired_are_forgotten() -> None:
    """A site's own limit paces ``<account>|<host>``: a broad crawl paces one
    key per site. Keys whose rate expired go (with their windows) as more
    come; the live ones stay paced."""
    clock = Clock()
    scheduler = _scheduler(clock)
    for i in range(3_000):
        scheduler.pace_stated(f"acct|site-{i}", 9.5, clock.now, window=1.0)
    assert len(scheduler._paced) == 3_000  # all live: nothing dropped
    # Counted, not given a rate stat each; an account's rate has its stat.
    scheduler.pace_stated("acct", 4.75, clock.now)
    stats = scheduler.stats.get_stats()
    assert stats["proxyerrors/pacing/sites"] == 3_000
    assert [k for k in stats if k.endswith("/rate")] == ["proxyerrors/pacing/acct/rate"]
    clock.now += scheduler.config.rate_ttl + 1
    for i in range(3_000):
        scheduler.pace_stated(f"acct|later-{i}", 9.5, clock.now, window=1.0)
    assert len(scheduler._paced) <= 3_000
    assert "acct|site-0" not in scheduler._windows
    assert "acct|later-2999" in scheduler._paced and "acct|later-0" in scheduler._paced
    assert len(scheduler._hints) == len(scheduler._windows) <= 3_000


def test_sends_admitted_just_before_a_stall_count_from_its_end() -> None:
    """A full garbage collection stalls the process for tens of ms; sends
    admitted just before it leave after it. Under a window they count from
    the stall's end, so the next window's part does not meet them early."""
    clock = Clock(10.0)
    scheduler = _scheduler(clock)
    scheduler.pace_stated("acct", 9.5, clock.now, window=1.0)  # 10 per 1.053 s
    early = Request("http://example.com/early")
    assert scheduler.admit(early, "route", "acct", None, clock.now) == (0.0, None)
    clock.now += 0.5  # the window's other nine go half a second later
    for i in range(9):
        assert scheduler.admit(Request(f"http://example.com/{i}"), "route", "acct", None,
                               clock.now) == (0.0, None)
    sent = clock.now
    assert scheduler._gc_started == 0.0
    scheduler.gc_phase("start")
    clock.now += 0.07
    scheduler.gc_phase("stop")
    # One window after the early send, one slot is free again...
    clock.now = 10.0 + 1 / 0.95 + 0.001
    assert scheduler.state.take("acct", clock.now) == 0.0
    # ... but the nine count from the stall's end, not from their admission.
    assert scheduler.state.take("acct", sent + 1 / 0.95) > 0
    assert scheduler.state.take("acct", sent + 0.07 + 1 / 0.95) == 0.0


def test_a_short_collection_or_no_window_pace_changes_nothing() -> None:
    clock = Clock(10.0)
    state = MemoryState(clock=clock)
    state.set_rate("acct", 9.5, until=100.0, window=1 / 0.95)
    for _ in range(10):
        state.take("acct", 10.0)
    state.delay_sends(11.0, 12.0)  # nothing sent since 11.0
    assert state.take("acct", 10.0 + 1 / 0.95) == 0.0
    scheduler = _scheduler(clock)
    scheduler.gc_phase("start")
    clock.now += 0.002
    scheduler.gc_phase("stop")  # paces nothing per window: nothing to do
    assert not scheduler._windows


def test_the_collector_hook_is_there_while_a_window_pace_is_and_goes_at_close() -> None:
    import gc

    from scrapy_proxyerrors import _scheduler as module

    clock = Clock()
    scheduler = _scheduler(clock)
    assert scheduler not in module._stall_watchers
    scheduler.pace_stated("acct", 9.5, clock.now, window=1.0)
    assert scheduler in module._stall_watchers
    assert module._on_gc in gc.callbacks
    gc.collect()  # a real collection calls it (the fake clock: no stall)
    scheduler._on_closed()
    assert scheduler not in module._stall_watchers
    if not module._stall_watchers:
        assert module._on_gc not in gc.callbacks


def test_a_site_pace_hands_out_slots_in_order_as_an_accounts_does() -> None:
    """A site's own limit (Scope.SITE) paces ``<account>|<host>`` the way an
    account is paced: a request that must wait is given a slot it keeps, and
    a newcomer queues behind it instead of racing it for the next send."""
    from scrapy_proxyerrors._scheduler import RESERVED

    clock = Clock()
    scheduler = _scheduler(clock)
    site = "acct|shop.example"
    scheduler.pace_stated(site, 9.5, clock.now, window=1.0)  # 10 per 1.053 s
    for i in range(10):
        assert scheduler.admit(Request(f"http://shop.example/{i}"), "route", "acct", site,
                               clock.now) == (0.0, None)
    waiting = Request("http://shop.example/waiting")
    due, _ = scheduler.admit(waiting, "route", "acct", site, clock.now)
    assert due > clock.now and waiting.meta[RESERVED] == site
    clock.now += 0.01
    newcomer = Request("http://shop.example/newcomer")
    later, _ = scheduler.admit(newcomer, "route", "acct", site, clock.now)
    assert later >= due
    clock.now = due
    assert scheduler.admit(waiting, "route", "acct", site, clock.now) == (0.0, None)


def test_what_accounts_served_is_kept_for_the_recent_ones_only() -> None:
    """A crawl without proxies makes every host an account: the successes
    counted for a first 429 stay bounded, and the busy account keeps its count."""
    clock = Clock()
    scheduler = _scheduler(clock)
    for i in range(20_000):
        clock.now += 0.0001
        scheduler.succeeded(f"host-{i}:80", f"host-{i}:80")
        if i % 100 == 0:
            scheduler.succeeded("busy:80", "busy:80")
    assert len(scheduler._served._data) <= 4096
    # 200 successes over the 2 s: 100 in the last second.
    assert scheduler.served_last_second("busy:80", clock.now) == pytest.approx(100, abs=2)


def test_repeated_429s_without_a_stated_limit_learn_a_rate() -> None:
    clock = Clock()
    scheduler = _scheduler(clock)
    assert scheduler.learn_rate("acct", None, 1.0, clock.now, limited=True) is None
    for _ in range(5):
        clock.now += 0.2
        scheduler.succeeded("route", "acct")
    rate = scheduler.learn_rate("acct", None, 1.0, clock.now, limited=True)
    assert rate is not None and 0 < rate <= 5
    lower = scheduler.learn_rate("acct", None, 1.0, clock.now, limited=True)
    assert lower is not None and lower < rate


def test_a_crawl_joining_a_stopped_namespace_stops() -> None:
    clock = Clock()
    scheduler = _scheduler(clock)
    scheduler.state.stop("proxyerrors_auth", "soax/AUTH_FAILED@gw:1")
    scheduler._on_opened()
    assert scheduler.stopping == "proxyerrors_auth"
    with pytest.raises(IgnoreRequest):
        scheduler._on_scheduled(Request("http://example.com/"))


def test_a_pause_recalls_admitted_requests_still_queued_in_a_download_slot() -> None:
    """A request admitted before the pause but still waiting in a download
    slot's queue (DOWNLOAD_DELAY) comes back, parked until the pause ends;
    requests of other accounts stay queued."""
    from collections import deque
    from types import SimpleNamespace

    from twisted.internet.defer import Deferred

    clock = Clock()
    scheduler = _scheduler(clock)
    mine = Request("http://example.com/1")
    other = Request("http://example.com/2")
    for request, account in ((mine, "acct-a"), (other, "acct-b")):
        assert scheduler.admit(request, "route", account, None, clock.now) == (0.0, None)
    results: list[object] = []
    d_mine: Deferred[object] = Deferred()
    d_mine.addCallback(results.append)
    d_other: Deferred[object] = Deferred()
    slot = SimpleNamespace(queue=deque([(mine, d_mine), (other, d_other)]))
    engine = SimpleNamespace(spider="s", downloader=SimpleNamespace(slots={"example.com": slot}))
    scheduler.crawler.engine = engine  # type: ignore[assignment]
    assert scheduler.pause("acct-a", clock.now + 30) is True
    assert [r for r, _ in slot.queue] == [other]
    (parked,) = results
    assert isinstance(parked, Request) and parked.meta[NOT_BEFORE] >= clock.now + 30
    assert scheduler._inflight == {"acct-b": 1}
    assert scheduler.recall("*", float("inf")) == 1  # a stop takes everything back
    assert not slot.queue
