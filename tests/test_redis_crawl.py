"""Four real crawl processes, one provider account, one Redis: the emulator's
records are the truth.

Each check runs twice: with RedisState (it must hold) and with the in-memory
state as a control (it must fail), so that a check that cannot fail is caught.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import pytest

from scrapy_proxyerrors._identity import account_user, fingerprint
from scrapy_proxyerrors.emulator import Emulator
from scrapy_proxyerrors.testing import require_redis_package

if TYPE_CHECKING:
    from scrapy_proxyerrors.testing import RedisServer

require_redis_package()

ROOT = Path(__file__).resolve().parent.parent
WORKERS = 4

MODES = [pytest.param(True, id="redis"), pytest.param(False, id="memory-control")]

def _state_settings(shared: bool, server: RedisServer, state: str | None = None) -> dict[str, Any]:
    if not shared:
        return {"PROXYERRORS_STATE": state or "scrapy_proxyerrors.MemoryState"}
    return {
        "PROXYERRORS_STATE": state or "scrapy_proxyerrors.RedisState",
        "PROXYERRORS_REDIS_URL": server.url,
        "PROXYERRORS_REDIS_NAMESPACE": "crawltest",
    }


def start_worker(worker: int, urls: list[str], proxy: str | None,
                 settings: dict[str, Any]) -> subprocess.Popen[str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.redis_worker"], stdin=subprocess.PIPE,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
    assert proc.stdin is not None
    proc.stdin.write(json.dumps({"urls": urls, "proxy": proxy, "settings": settings}))
    proc.stdin.close()
    proc.stdin = None  # communicate() must not flush it again
    return proc


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> dict[str, Any]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
    lines = [line for line in out.splitlines() if line.startswith("{")]
    assert proc.returncode == 0 and lines, err[-3000:]
    result: dict[str, Any] = json.loads(lines[-1])
    result["log"] = err
    return result


def urls_for(emu: Emulator, worker: int, count: int, offset: int = 0) -> list[str]:
    return [emu.target_url(f"/page/{i % 100 + 1}") + f"?w={worker}&i={i}"
            for i in range(offset, offset + count)]


def worker_of(url: str) -> int:
    return int(parse_qs(urlsplit(url).query).get("w", ["-1"])[0])


class Trigger:
    """A responder that answers *reply()* to worker 0 once every worker has
    sent something and worker 0 has sent *after* more requests; then to every
    later request of worker 0 when *repeat*."""

    def __init__(self, emu: Emulator, reply: Any, after: int = 20, repeat: bool = False) -> None:
        self.emu, self.reply, self.after, self.repeat = emu, reply, after, repeat
        self.lock = threading.Lock()
        self.seen: set[int] = set()
        self.count = 0
        self.fired: list[float] = []

    def __call__(self, record: Any) -> Any:
        if record.kind == "connect":
            # The plugin's corroborating CONNECT probe through worker 0's
            # session: the account's refusal holds for CONNECT too, as live.
            with self.lock:
                fired = bool(self.fired)
            return self.reply() if fired and record.session == "w0" else None
        if record.kind != "plain":
            return None
        worker = worker_of(record.url)
        with self.lock:
            self.seen.add(worker)
            if worker != 0 or len(self.seen) < WORKERS:
                return None
            if self.fired:
                return self.reply() if self.repeat else None
            self.count += 1
            if self.count < self.after:
                return None
            self.fired.append(record.time)
            return self.reply()


@pytest.mark.parametrize(("shared", "named"), [
    pytest.param(True, True, id="redis"),
    pytest.param(False, True, id="memory-control"),
    # No PROXYERRORS_PROVIDER: every process must key the account the same
    # way before it has seen a SOAX error itself (shared learned facts).
    # (The scheduler drops identity's cached profile of a proxy on another
    # process's 'learn' event.)
    pytest.param(True, False, id="redis-provider-learned"),
])
def test_retry_after_in_one_process_holds_every_process(
        shared: bool, named: bool, redis_state_server: RedisServer) -> None:
    with Emulator("soax", "ok", delay=0.05) as emu:
        trigger = Trigger(emu, lambda: emu.error_reply("RATE_LIMIT_EXCEEDED", retry_after=3))
        emu.set_responder(trigger)
        settings = {**_state_settings(shared, redis_state_server), "CONCURRENT_REQUESTS": 2}
        if named:
            settings["PROXYERRORS_PROVIDER"] = "soax"
        procs = [start_worker(w, urls_for(emu, w, 300), emu.proxy_url(
            user=f"package-1-sessionid-w{w}"), settings) for w in range(WORKERS)]
        results = [finish(p) for p in procs]
        records = [r for r in emu.requests if r.kind == "plain"]
    assert trigger.fired, "worker 0 never got its 429"
    start = trigger.fired[0]
    # Requests already in flight when the 429 was answered may still arrive.
    inside = [r for r in records if start + 0.5 < r.time < start + 2.8]
    others = [r for r in inside if worker_of(r.url) != 0]
    assert (others == []) is shared, f"{len(others)} requests inside the window"
    # Nothing lost: every URL fetched by every process.
    assert all(res["ok"] == 300 for res in results), [res["ok"] for res in results]


@pytest.mark.parametrize("shared", MODES)
def test_auth_failed_in_one_process_stops_all_four(
        shared: bool, redis_state_server: RedisServer) -> None:
    with Emulator("soax", "ok", delay=0.05) as emu:
        trigger = Trigger(emu, lambda: emu.error_reply("AUTH_FAILED"), repeat=True)
        emu.set_responder(trigger)
        settings = {**_state_settings(shared, redis_state_server), "CONCURRENT_REQUESTS": 2}
        procs = [start_worker(w, urls_for(emu, w, 400), emu.proxy_url(
            user=f"package-1-sessionid-w{w}"), settings) for w in range(WORKERS)]
        results = [finish(p) for p in procs]
        records = [r for r in emu.requests if r.kind == "plain"]
    assert trigger.fired
    late = [r for r in records if r.time > trigger.fired[0] + 1.0]
    reasons = {res["finish_reason"] for res in results}
    holds = not late and reasons == {"proxyerrors_auth"}
    assert holds is shared, (len(late), reasons)
    if shared:
        origins = {res["stats"].get("proxyerrors/redis/stop_from") for res in results[1:]}
        assert all(o and "AUTH_FAILED" in o for o in origins), origins


@pytest.mark.parametrize("shared", MODES)
def test_a_dead_isp_ip_found_by_one_process_is_avoided_by_the_others(
        shared: bool, redis_state_server: RedisServer) -> None:
    with Emulator("helodata", "isp", ips=3, bad_ips=[1]) as emu:
        proxies = emu.proxy_urls()
        bad = f"127.0.0.1:{emu.ports['proxy'][1]}"
        settings = {**_state_settings(shared, redis_state_server),
                    "PROXYERRORS_PROXIES": proxies, "PROXYERRORS_ROUTE_COOLDOWN": 120,
                    "CONCURRENT_REQUESTS": 2}
        first = finish(start_worker(0, urls_for(emu, 0, 30), None, settings))
        found = [r for r in emu.requests if r.kind == "plain" and r.route.startswith(bad)]
        procs = [start_worker(w, urls_for(emu, w, 30), None, settings)
                 for w in range(1, WORKERS)]
        results = [finish(p) for p in procs]
        later = [r for r in emu.requests if r.kind == "plain" and r.route.startswith(bad)
                 and worker_of(r.url) != 0]
    assert found, "worker 0 never met the dead IP"
    assert first["ok"] == 30 and all(res["ok"] == 30 for res in results)
    assert (later == []) is shared, f"{len(later)} requests to the dead IP from later processes"


@pytest.mark.parametrize("shared", MODES)
def test_a_shared_limit_at_95_percent_provokes_at_most_1_percent_429s(
        shared: bool, redis_state_server: RedisServer) -> None:
    limit = 20
    with Emulator("soax", "ratelimit", limit=limit, window=1.0) as emu:
        user = "package-1"
        account = f"soax#{fingerprint(account_user(user, 'sessionid'))}"
        state = ("tests.redis_worker.SeededRedisState" if shared
                 else "tests.redis_worker.SeededMemoryState")
        settings = {**_state_settings(shared, redis_state_server, state),
                    "TEST_SEED_RATE": [account, 0.95 * limit], "CONCURRENT_REQUESTS": 8,
                    # The limit is configured for a known account: the provider
                    # is named, so the first requests already use that account.
                    "PROXYERRORS_PROVIDER": "soax"}
        procs = [start_worker(w, urls_for(emu, w, 40), emu.proxy_url(user=user), settings)
                 for w in range(WORKERS)]
        results = [finish(p) for p in procs]
        records = [r for r in emu.requests if r.kind == "plain"]
    refused = [r for r in records if r.status == 429]
    if shared:  # without sharing, requests may also run out of retries
        assert all(res["ok"] == 40 for res in results)
    assert (len(refused) <= 0.01 * len(records)) is shared, (len(refused), len(records))


def _redis_warnings(log: str) -> list[str]:
    return [line for line in log.splitlines()
            if "[scrapy_proxyerrors._redis] WARNING" in line]


def test_redis_unreachable_the_crawl_runs_on_local_state(tmp_path: Path) -> None:
    with Emulator("soax", "flaky", rate=0.2, seed=5) as emu:
        settings = {"PROXYERRORS_STATE": "scrapy_proxyerrors.RedisState",
                    "PROXYERRORS_REDIS_URL": f"unix://:hunter2-secret@{tmp_path}/none.sock",
                    "PROXYERRORS_REDIS_TIMEOUT": 0.2, "RETRY_TIMES": 10}
        result = finish(start_worker(0, urls_for(emu, 0, 60), emu.proxy_url(), settings))
        control = finish(start_worker(0, urls_for(emu, 0, 60), emu.proxy_url(),
                                      {"RETRY_TIMES": 10}))
    assert result["ok"] == control["ok"] == 60  # nothing lost, as with the in-memory state
    assert result["finish_reason"] == control["finish_reason"] == "finished"
    assert len(_redis_warnings(result["log"])) == 1
    assert result["stats"]["proxyerrors/redis/errors"] > 0
    assert "hunter2-secret" not in result["log"]


def test_redis_killed_mid_crawl_nothing_lost_one_warning_then_resync(
        redis_state_server: RedisServer) -> None:
    with Emulator("soax", "flaky", rate=0.2, seed=7, delay=0.02) as emu:
        settings = {**_state_settings(True, redis_state_server), "CONCURRENT_REQUESTS": 2,
                    "RETRY_TIMES": 10, "PROXYERRORS_REDIS_TIMEOUT": 0.5}
        proc = start_worker(0, urls_for(emu, 0, 200), emu.proxy_url(
            user="package-1-sessionid-a"), settings)
        emu.wait_for(lambda records: len(records) > 60, timeout=60)
        redis_state_server.stop()
        seen = len(emu.requests)
        emu.wait_for(lambda records: len(records) > seen + 60, timeout=60)
        redis_state_server.start()  # back, empty
        result = finish(proc)
    assert result["ok"] == 200
    assert result["finish_reason"] == "finished"
    assert len(_redis_warnings(result["log"])) == 1
    assert result["stats"]["proxyerrors/redis/errors"] > 0
    # Reconnected: the failures after the restart reached the new, empty Redis.
    assert redis_state_server.keys("crawltest")
