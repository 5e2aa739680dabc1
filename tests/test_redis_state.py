"""RedisState against a real redis-server on a Unix socket.

Two RedisState instances stand for two crawl processes' views of one namespace.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from scrapy_proxyerrors import BadSettingError, RouteState
from scrapy_proxyerrors._redis import ERRORS_STAT, RedisState, read_settings
from scrapy_proxyerrors.testing import require_redis_package

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from scrapy_proxyerrors.testing import RedisServer

redis = require_redis_package()

NS = "testns"
SECRET = "s3cr3t-Pa55"


def wait_for(condition: Callable[[], object], timeout: float = 10.0) -> None:
    """Poll until *condition* holds (a deadline against hangs, not a timed assertion)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met before the deadline")
        time.sleep(0.01)


class Events:
    """A listener that records (kind, key) calls, thread-safely."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def __call__(self, kind: str, key: str) -> None:
        with self._lock:
            self.calls.append((kind, key))


class ShortState(RedisState):
    """TTLs short enough to watch them run out in a test."""

    MAX_TTL = 3.0
    LEARN_TTL = 3.0
    STREAK_TTL = 1.0
    TTL_GRACE = 1.0
    STOP_TTL = 60.0
    BACKOFF = (0.05, 0.2)
    PRUNE_EVERY = 0.5


@pytest.fixture
def states(redis_state_server: RedisServer) -> Iterator[Callable[..., RedisState]]:
    made: list[RedisState] = []

    def make(cls: type[RedisState] = ShortState, url: str | None = None, **kwargs: Any
             ) -> RedisState:
        state = cls(url or redis_state_server.url, namespace=NS, timeout=1.0, **kwargs)
        made.append(state)
        return state

    yield make
    for state in made:
        state.close()


def connected(*states: RedisState) -> None:
    wait_for(lambda: all(s.connected for s in states))
    # The listener subscribes on its own connection: wait for both subscriptions.
    wait_for(lambda: all(s._listener.is_alive() for s in states))


def subscribed(server: RedisServer, count: int) -> None:
    wait_for(lambda: server.client().pubsub_numsub(f"proxyerrors:{{{NS}}}:events")[0][1]
             >= count)


def pair(states: Callable[..., RedisState], server: RedisServer,
         cls: type[RedisState] = ShortState, **kwargs: Any
         ) -> tuple[RedisState, RedisState, Events]:
    """Two connected, subscribed processes' views; the second one's listener."""
    a, b = states(cls, **kwargs), states(cls)
    events = Events()
    b.add_listener(events)
    connected(a, b)
    subscribed(server, 2)
    return a, b, events


def stats() -> Any:
    crawler = get_crawler()
    from scrapy.statscollectors import MemoryStatsCollector

    return MemoryStatsCollector(crawler)


# ------------------------------------------------------------------ settings


def _settings(**values: Any) -> Any:
    return get_crawler(settings_dict=values).settings


def test_settings_defaults_follow_scrapy_redis_and_bot_name() -> None:
    url, params, namespace, timeout = read_settings(
        _settings(REDIS_URL="redis://h:6380/2", BOT_NAME="mybot"))
    assert (url, params, namespace, timeout) == ("redis://h:6380/2", {}, "mybot", 1.0)
    url, params, namespace, timeout = read_settings(_settings(
        REDIS_URL="redis://h:6380/2", PROXYERRORS_REDIS_URL="unix:///run/r.sock?db=1",
        PROXYERRORS_REDIS_PARAMS={"health_check_interval": 30},
        PROXYERRORS_REDIS_NAMESPACE="shop", PROXYERRORS_REDIS_TIMEOUT="0.5"))
    assert (url, params, namespace, timeout) == (
        "unix:///run/r.sock?db=1", {"health_check_interval": 30}, "shop", 0.5)


@pytest.mark.parametrize(
    ("values", "setting"),
    [
        ({"PROXYERRORS_REDIS_URL": f"http://u:{SECRET}@h:1"}, "PROXYERRORS_REDIS_URL"),
        ({"REDIS_URL": f"ftp://:{SECRET}@h"}, "REDIS_URL"),
        ({"PROXYERRORS_REDIS_URL": f"redis://:{SECRET}@h:port"}, "PROXYERRORS_REDIS_URL"),
        ({"PROXYERRORS_REDIS_URL": f"unix://?password={SECRET}"}, "PROXYERRORS_REDIS_URL"),
        ({"PROXYERRORS_REDIS_URL": 6379}, "PROXYERRORS_REDIS_URL"),
        ({"PROXYERRORS_REDIS_PARAMS": "socket_timeout=1"}, "PROXYERRORS_REDIS_PARAMS"),
        ({"PROXYERRORS_REDIS_NAMESPACE": "a{b}"}, "PROXYERRORS_REDIS_NAMESPACE"),
        ({"PROXYERRORS_REDIS_NAMESPACE": "two words"}, "PROXYERRORS_REDIS_NAMESPACE"),
        ({"PROXYERRORS_REDIS_TIMEOUT": 0}, "PROXYERRORS_REDIS_TIMEOUT"),
        ({"PROXYERRORS_REDIS_TIMEOUT": "soon"}, "PROXYERRORS_REDIS_TIMEOUT"),
        ({"PROXYERRORS_REDIS_TIMEOUT": math.inf}, "PROXYERRORS_REDIS_TIMEOUT"),
    ],
)
def test_bad_settings_name_the_setting_and_hide_the_password(values: dict[str, Any],
                                                             setting: str) -> None:
    with pytest.raises(BadSettingError, match=setting) as info:
        read_settings(_settings(**values))
    assert SECRET not in str(info.value)


_junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30), st.lists(st.text(max_size=5), max_size=2),
    st.dictionaries(st.text(max_size=5), st.integers(), max_size=2),
    st.sampled_from(["redis://h", f"redis://:{SECRET}@h:x", "unix://", f"rediss://u:{SECRET}@"]),
)


@given(values=st.dictionaries(st.sampled_from(
    ["PROXYERRORS_REDIS_URL", "REDIS_URL", "PROXYERRORS_REDIS_PARAMS",
     "PROXYERRORS_REDIS_NAMESPACE", "PROXYERRORS_REDIS_TIMEOUT", "BOT_NAME"]), _junk,
    min_size=1, max_size=3))
def test_junk_settings_raise_only_bad_setting_errors(values: dict[str, Any]) -> None:
    try:
        read_settings(Settings(values))
    except BadSettingError as exc:
        message = str(exc)
        assert any(name in message for name in values), message
        assert SECRET not in message


def test_unknown_client_parameter_stops_the_crawl_naming_the_setting() -> None:
    crawler = get_crawler(settings_dict={
        "PROXYERRORS_REDIS_URL": f"redis://:{SECRET}@127.0.0.1:1/0",
        "PROXYERRORS_REDIS_PARAMS": {"no_such_parameter": 1}})
    with pytest.raises(BadSettingError, match="PROXYERRORS_REDIS_PARAMS") as info:
        RedisState.from_crawler(crawler)
    assert SECRET not in str(info.value)


def test_from_crawler_builds_a_route_state(redis_state_server: RedisServer) -> None:
    crawler = get_crawler(settings_dict={"PROXYERRORS_REDIS_URL": redis_state_server.url,
                                         "BOT_NAME": NS})
    state = RedisState.from_crawler(crawler)
    try:
        assert isinstance(state, RouteState)
        assert state.namespace == NS
        wait_for(lambda: state.connected)
    finally:
        state.close()


# ----------------------------------------------------------- sharing


def test_a_pause_by_one_process_is_seen_by_the_other(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a, b, events = pair(states, redis_state_server, RedisState)
    until = time.time() + 30
    a.pause("soax#f1a2", until)
    wait_for(lambda: b.paused_until("soax#f1a2") > 0)
    assert b.paused_until("soax#f1a2") == pytest.approx(until, abs=0.05)
    wait_for(lambda: ("pause", "soax#f1a2") in events.calls)
    # Later until wins; an earlier one changes nothing anywhere.
    a.pause("soax#f1a2", until - 10)
    b.pause("soax#f1a2", until + 5)
    wait_for(lambda: a.paused_until("soax#f1a2") > until + 1)
    assert b.paused_until("soax#f1a2") == pytest.approx(until + 5)
    # A process's own changes do not call its own listeners.
    own = Events()
    a.add_listener(own)
    a.pause("own", until)
    wait_for(lambda: b.paused_until("own") > 0)
    assert own.calls == []


def test_failure_streaks_cooldowns_and_learned_facts_are_shared(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a, b, events = pair(states, redis_state_server, RedisState)
    now = time.time()
    first = a.record_failure("isp:1.2.3.4", now, 10.0)
    assert first == pytest.approx(now + 10)
    wait_for(lambda: b.cooling_until("isp:1.2.3.4") > 0)
    assert b.cooling_until("isp:1.2.3.4") == pytest.approx(first, abs=0.05)
    # The streak travelled too: b's next failure of that route rests it longer.
    assert b.record_failure("isp:1.2.3.4", now, 10.0) == pytest.approx(now + 20)
    wait_for(lambda: a.cooling_until("isp:1.2.3.4") > first + 5)
    a.record_success("isp:1.2.3.4")
    wait_for(lambda: "isp:1.2.3.4" not in b._streaks)
    assert b.record_failure("isp:1.2.3.4", now, 10.0) == pytest.approx(now + 10)
    a.learn("5.6.7.8:3128", "helodata")
    wait_for(lambda: b.learned("5.6.7.8:3128") == "helodata")
    assert ("cooldown", "isp:1.2.3.4") in events.calls
    wait_for(lambda: ("learn", "5.6.7.8:3128") in events.calls)


def test_a_process_starting_later_resyncs_what_others_wrote(
        states: Callable[..., RedisState]) -> None:
    a = states(RedisState)
    connected(a)
    a.pause("acct", time.time() + 60)
    a.record_failure("route", time.time(), math.inf)  # a dead IP: shared for MAX_TTL
    a.learn("9.9.9.9:80", "soax")
    a.set_rate("acct", 40.0, time.time() + 60)
    wait_for(lambda: not a._queue)
    b = states(RedisState)
    connected(b)
    wait_for(lambda: b.learned("9.9.9.9:80") == "soax")
    assert b.paused_until("acct") > time.time() + 50
    assert b.cooling_until("route") > time.time() + RedisState.MAX_TTL - 60
    assert b.rate("acct") == 40.0


def test_pacing_is_one_token_bucket_for_all_processes(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a, b, _ = pair(states, redis_state_server)
    rate = 20.0
    a.set_rate("acct", rate, time.time() + 60)
    wait_for(lambda: b.rate("acct") == rate)
    taken: list[float] = []
    stop_at = time.time() + 1.5
    while time.time() < stop_at:
        for state in (a, b):
            now = time.time()
            if state.take("acct", now) == 0.0:
                taken.append(now)
        time.sleep(0.001)
    # Both processes together keep to the rate: at most rate + 1 in any second.
    worst = max(sum(1 for t in taken if start <= t < start + 1.0) for start in taken)
    assert worst <= rate + 1
    assert len(taken) >= rate  # and pacing did let requests through
    # Far fewer Redis calls than tokens: slots are leased in batches.
    a.set_rate("acct", 0, 0)
    wait_for(lambda: b.rate("acct") == 0.0)
    assert b.take("acct", time.time()) == 0.0


def test_a_stop_reaches_every_process(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a, b, events = pair(states, redis_state_server)
    a.stop("proxyerrors_auth", "soax/AUTH_FAILED@host-1")
    assert a.stopped() == ("proxyerrors_auth", "soax/AUTH_FAILED@host-1")
    wait_for(lambda: b.stopped() is not None)
    assert b.stopped() == ("proxyerrors_auth", "soax/AUTH_FAILED@host-1")
    wait_for(lambda: ("stop", "proxyerrors_auth") in events.calls)
    # A process of the same run that connects just after finds it on resync.
    c = states()
    connected(c)
    assert c.stopped() == ("proxyerrors_auth", "soax/AUTH_FAILED@host-1")


def test_a_stop_from_an_earlier_run_does_not_block_a_new_run(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    client = redis_state_server.client()
    seconds, _ = client.time()
    client.set(f"proxyerrors:{{{NS}}}:stop",
               json.dumps(["proxyerrors_auth", "soax/AUTH_FAILED@old", seconds - 600]), ex=3600)
    fresh = states()
    connected(fresh)
    wait_for(lambda: not fresh._resync_wanted.is_set())
    assert fresh.stopped() is None
    fresh.pause("k", time.time() + 1)  # the new run works normally
    assert fresh.paused_until("k") > 0


def test_after_the_longest_ttl_only_a_live_stop_remains(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a, b = states(), states()
    connected(a, b)
    now = time.time()
    a.pause("acct", now + 1)
    a.pause("forever", math.inf)
    a.record_failure("r1", now, 0.5)
    b.record_failure("r2", now, math.inf)
    a.learn("1.1.1.1:80", "soax")
    a.set_rate("acct", 50.0, now + 1)
    for _ in range(10):
        a.take("acct", time.time())
    b.stop("proxyerrors_auth", "soax/AUTH_FAILED@b")
    for state in (a, b):
        wait_for(lambda s=state: not s._queue)
    keys = redis_state_server.keys(NS)
    assert {k.rsplit(":", 1)[1] for k in keys} >= {
        "pause", "cooling", "streak", "learned", "rate", "tat", "stop"}
    assert all(ttl > 0 for ttl in keys.values()), keys
    a.close()
    b.close()
    longest = ShortState.MAX_TTL + ShortState.STREAK_TTL + ShortState.TTL_GRACE + 1
    wait_for(lambda: set(redis_state_server.keys(NS)) == {f"proxyerrors:{{{NS}}}:stop"},
             timeout=longest + 5)
    assert 0 < redis_state_server.keys(NS)[f"proxyerrors:{{{NS}}}:stop"] <= ShortState.STOP_TTL


def test_success_path_makes_no_redis_call(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a = states()
    connected(a)
    subscribed(redis_state_server, 1)
    wait_for(lambda: not a._resync_wanted.is_set() and not a._queue)
    time.sleep(0.2)  # let the connect-time resyncs finish
    before = redis_state_server.command_count()
    now = time.time()
    for i in range(10_000):
        route = f"route-{i % 50}"
        assert a.paused_until("acct") == 0.0
        assert a.cooling_until(route) == 0.0
        assert a.take("acct", now) == 0.0  # not paced
        a.record_success(route)
        assert a.learned("1.2.3.4:80") is None
    assert redis_state_server.command_count() == before


# -------------------------------------------------------------- failures


def test_redis_unreachable_at_start_the_state_works_locally(
        tmp_path: Any, caplog: pytest.LogCaptureFixture) -> None:
    collector = stats()
    caplog.set_level(logging.WARNING, logger="scrapy_proxyerrors._redis")
    state = ShortState(f"unix://:{SECRET}@{tmp_path}/none.sock", namespace=NS, timeout=0.2,
                       stats=collector)
    try:
        until = time.time() + 5
        state.pause("acct", until)
        assert state.paused_until("acct") == until
        assert state.record_failure("r", 100.0, 1.0) == 101.0
        state.set_rate("acct", 10.0, time.time() + 60)
        assert state.take("acct", time.time()) == 0.0
        assert state.take("acct", time.time()) > 0.0  # paced locally
        state.stop("proxyerrors_auth", "x")
        assert state.stopped() == ("proxyerrors_auth", "x")
        wait_for(lambda: state.errors >= 3)
    finally:
        state.close()
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert SECRET not in caplog.text
    assert "***" in warnings[0].getMessage()
    assert collector.get_value(ERRORS_STAT) == state.errors


def test_redis_killed_mid_crawl_one_warning_then_reconnect_and_resync(
        states: Callable[..., RedisState], redis_state_server: RedisServer,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="scrapy_proxyerrors._redis")
    collector = stats()
    a, b, _ = pair(states, redis_state_server, stats=collector)
    a.pause("before", time.time() + 60)
    wait_for(lambda: b.paused_until("before") > 0)

    redis_state_server.stop()  # killed: no persistence, it comes back empty
    until = time.time() + 60
    a.pause("during", until)  # never raises; kept locally and queued
    b.record_failure("route-b", time.time(), 30.0)
    assert a.paused_until("during") == until
    wait_for(lambda: a.errors > 0 and b.errors > 0)
    assert not a.connected or a._queue

    redis_state_server.start()
    wait_for(lambda: a.connected and b.connected, timeout=15)
    subscribed(redis_state_server, 2)
    # The queued writes went out after the reconnect, and each side resynced.
    wait_for(lambda: b.paused_until("during") > 0, timeout=15)
    wait_for(lambda: a.cooling_until("route-b") > 0, timeout=15)
    # And pub/sub works again.
    a.pause("after", time.time() + 60)
    wait_for(lambda: b.paused_until("after") > 0)
    warnings = [r for r in caplog.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 2  # one per process (a and b)
    assert collector.get_value(ERRORS_STAT) == a.errors > 0


def test_an_acl_user_limited_to_the_namespace_is_enough(
        states: Callable[..., RedisState], redis_state_server: RedisServer,
        caplog: pytest.LogCaptureFixture) -> None:
    # The exact line docs/scale-out.md gives.
    doc = (Path(__file__).parent.parent / "docs" / "scale-out.md").read_text()
    (line,) = [ln for ln in doc.splitlines() if ln.startswith("ACL SETUSER crawler")]
    acl = line.replace("shop-crawl", NS).replace("PASSWORD", SECRET)
    redis_state_server.client().execute_command(*acl.split())
    url = f"unix://crawler:{SECRET}@{redis_state_server.socket}"
    a, b = states(url=url), states(url=url)
    connected(a, b)
    subscribed(redis_state_server, 2)
    now = time.time()
    a.pause("acct", now + 60)
    a.record_failure("r", now, 10.0)
    a.record_success("r")
    a.learn("1.1.1.1:80", "soax")
    a.set_rate("acct", 100.0, now + 60)
    wait_for(lambda: b.rate("acct") == 100.0)
    for _ in range(20):
        a.take("acct", time.time())
    a.stop("proxyerrors_auth", "x")
    wait_for(lambda: b.stopped() is not None)
    wait_for(lambda: not a._queue)
    a._prune_remote()
    assert b.paused_until("acct") > 0 and b.learned("1.1.1.1:80") == "soax"
    assert a.errors == b.errors == 0
    # Another namespace is out of reach for that user.
    client = redis.Redis(unix_socket_path=redis_state_server.socket, username="crawler",
                         password=SECRET)
    with pytest.raises(redis.exceptions.NoPermissionError):
        client.get("proxyerrors:{other}:stop")
    # A wrong password: one warning, without the password.
    wrong = states(url=f"unix://crawler:wrong-{SECRET}@{redis_state_server.socket}")
    wait_for(lambda: wrong.errors > 0)
    assert SECRET not in caplog.text


def test_a_refused_lease_paces_locally_instead_of_stalling(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    # A user that may not run scripts: every lease is refused.
    redis_state_server.client().execute_command(
        "ACL", "SETUSER", "noscripts", "on", f">{SECRET}", f"~proxyerrors:{{{NS}}}:*",
        "&*", "+@all", "-@scripting")
    state = states(url=f"unix://noscripts:{SECRET}@{redis_state_server.socket}")
    connected(state)
    rate = 20.0
    state.set_rate("acct", rate, time.time() + 60)
    taken: list[float] = []
    stop_at = time.time() + 1.5
    while time.time() < stop_at:
        now = time.time()
        if state.take("acct", now) == 0.0:
            taken.append(now)
        time.sleep(0.002)
    assert state.errors > 0
    worst = max(sum(1 for t in taken if start <= t < start + 1.0) for start in taken)
    assert rate / 2 <= len(taken) and worst <= rate + 1


class _Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


_keys = st.sampled_from(["a", "b", "soax#1|shop.test"])
_ops = st.lists(st.one_of(
    st.tuples(st.just("pause"), _keys, st.floats(0, 100)),
    st.tuples(st.just("record_failure"), _keys, st.floats(0, 50)),
    st.tuples(st.just("record_success"), _keys),
    st.tuples(st.just("learn"), _keys, st.sampled_from(["soax", "helodata"])),
    st.tuples(st.just("set_rate"), _keys, st.sampled_from([0.0, -1.0, 2.0, 10.0, math.inf]),
              st.floats(1, 100)),
    st.tuples(st.just("take"), _keys),
    st.tuples(st.just("stop"), st.sampled_from(["proxyerrors_auth", "proxyerrors_quota"])),
    st.tuples(st.just("tick"), st.floats(0, 5)),
), max_size=25)


@given(ops=_ops)
def test_without_redis_it_answers_exactly_as_memory_state(ops: list[tuple[Any, ...]]) -> None:
    """Redis away, a RedisState is the in-memory state: same answers to everything."""
    from scrapy_proxyerrors import MemoryState

    base = time.time()
    clock = _Clock()
    clock.now = base
    memory = MemoryState(clock=clock)
    shared = RedisState("unix:///nonexistent/redis.sock", namespace=NS, timeout=0.1)
    shared._warned = True  # keep the log quiet across examples
    try:
        for op in ops:
            kind, *args = op
            now = clock.now
            if kind == "tick":
                clock.now += args[0]
                continue
            if kind == "pause":
                calls: list[tuple[str, tuple[Any, ...]]] = [("pause", (args[0], now + args[1]))]
            elif kind == "record_failure":
                calls = [("record_failure", (args[0], now, args[1]))]
            elif kind == "set_rate":
                calls = [("set_rate", (args[0], args[1], base + 1e6 + args[2]))]
            elif kind == "take":
                calls = [("take", (args[0], now))]
            elif kind == "stop":
                calls = [("stop", (args[0], "x"))]
            else:
                calls = [(kind, tuple(args))]
            for name, call_args in calls:
                assert getattr(shared, name)(*call_args) == getattr(memory, name)(*call_args)
            for key in ("a", "b", "soax#1|shop.test"):
                assert shared.paused_until(key) == memory.paused_until(key)
                assert shared.cooling_until(key) == memory.cooling_until(key)
                assert shared.learned(key) == memory.learned(key)
                assert shared.rate(key) == memory.rate(key)
            assert shared.stopped() == memory.stopped()
    finally:
        shared.close()


def test_junk_in_redis_is_skipped_and_decoded_replies_work(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    client = redis_state_server.client()
    seconds, _ = client.time()
    prefix = f"proxyerrors:{{{NS}}}:"
    client.hset(prefix + "pause", mapping={"good": seconds + 60, "bad": "soon"})
    client.hset(prefix + "rate", mapping={"good": f"5.0 {seconds + 60}", "bad": "fast"})
    client.hset(prefix + "streak", mapping={"bad": "many"})
    client.set(prefix + "stop", "not json")
    state = states(RedisState, params={"decode_responses": True})
    listener = states(RedisState)
    connected(state, listener)
    wait_for(lambda: state.paused_until("good") > 0 and listener.paused_until("good") > 0)
    assert state.rate("good") == 5.0 and state.stopped() is None
    assert state.paused_until("bad") == 0.0
    subscribed(redis_state_server, 2)
    client.publish(prefix + "events", "junk")
    client.publish(prefix + "events", json.dumps(["other", "pause", "x", None]))
    state.pause("after", time.time() + 60)
    wait_for(lambda: listener.paused_until("after") > 0)
    assert state.errors == listener.errors == 0


def test_a_stop_announced_just_before_close_still_reaches_the_others(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a, b, _ = pair(states, redis_state_server)
    a.stop("proxyerrors_auth", "soax/AUTH_FAILED@a")
    a.close()  # at once, as a closing crawl does
    wait_for(lambda: b.stopped() is not None)
    assert b.stopped() == ("proxyerrors_auth", "soax/AUTH_FAILED@a")


@pytest_twisted.inlineCallbacks
def test_from_crawler_hands_listener_calls_to_the_reactor_thread(
        redis_state_server: RedisServer) -> Any:
    from twisted.internet import reactor
    from twisted.internet.task import deferLater

    crawler = get_crawler(settings_dict={"PROXYERRORS_REDIS_URL": redis_state_server.url,
                                         "BOT_NAME": NS})
    state = RedisState.from_crawler(crawler)
    other = RedisState(redis_state_server.url, namespace=NS)
    threads: list[str] = []
    state.add_listener(lambda kind, key: threads.append(threading.current_thread().name))
    try:
        for _ in range(500):
            subscribers = redis_state_server.client().pubsub_numsub(state.channel)[0][1]
            if state.connected and other.connected and subscribers >= 2:
                break
            yield deferLater(reactor, 0.01, lambda: None)
        other.pause("acct", time.time() + 60)
        for _ in range(500):
            if threads:
                break
            yield deferLater(reactor, 0.01, lambda: None)
        assert threads == [threading.main_thread().name]
        assert state.paused_until("acct") > 0
    finally:
        state.close()
        other.close()


@pytest.mark.parametrize(("setting", "value"), [
    ("PROXYERRORS_REDIS_URL", f"http://:{SECRET}@127.0.0.1:6379"),
    ("PROXYERRORS_REDIS_TIMEOUT", -1),
    ("PROXYERRORS_REDIS_PARAMS", {"no_such_parameter": True}),
])
@pytest_twisted.inlineCallbacks
def test_a_bad_redis_setting_fails_the_crawl_before_any_request(setting: str, value: Any) -> Any:
    from scrapy_proxyerrors.emulator import Emulator
    from tests.crawling import Outcome, make_crawler

    with Emulator("soax") as emu:
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_STATE": "scrapy_proxyerrors.RedisState",
                                "PROXYERRORS_REDIS_URL": f"redis://:{SECRET}@127.0.0.1:1/0",
                                setting: value})
        with pytest.raises(BadSettingError, match=setting) as info:
            yield crawler.crawl(requests=[(emu.target_url("/page/1"),
                                           {"proxy": emu.proxy_url()})], outcome=outcome)
        assert emu.requests == []
    assert SECRET not in str(info.value)


def test_the_local_mirror_is_bounded_but_keeps_active_windows() -> None:
    state = RedisState("unix:///nonexistent/redis.sock", namespace=NS, timeout=0.1,
                       max_entries=100)
    state._warned = True
    try:
        for i in range(10_000):
            state.record_failure(f"route-{i}", float(i), 1.0)  # long over
            state.pause(f"acct-{i}", float(i) + 1)
            state.learn(f"10.0.0.{i}:80", "soax")
        assert len(state) < 1_000 and len(state._learned) <= 100
        future = time.time() + 3600
        for i in range(500):
            state.pause(f"live-{i}", future)
        assert all(state.paused_until(f"live-{i}") == future for i in range(500))
    finally:
        state.close()


def test_a_listener_added_after_the_first_resync_hears_of_known_rates_and_the_stop(
        states: Callable[..., RedisState], redis_state_server: RedisServer) -> None:
    a = states(RedisState)
    connected(a)
    a.set_rate("acct", 10.0, time.time() + 60)
    a.stop("proxyerrors_auth", "soax/AUTH_FAILED@a")
    wait_for(lambda: not a._queue)
    b = states(RedisState)
    assert b.wait_synced(10)
    events = Events()
    b.add_listener(events)  # as the scheduler does, after the state is built
    assert events.calls == [("rate", "acct"), ("stop", "proxyerrors_auth")]
