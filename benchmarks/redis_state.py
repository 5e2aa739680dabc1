"""Benchmark: RedisState, route state shared by crawl processes through Redis.

``python -m benchmarks.redis_state [--pages 10000] [--processes 50] [--routes 10000]
[--seconds 10] [--skip-crawl]``

Needs Debian's ``redis-server`` (started here on a Unix socket in a temporary
directory, killed at the end) and the ``redis`` package.

1. **Commands on a fault-free crawl**: a ``--pages`` crawl of the emulator's
   target site through its proxy with ``PROXYERRORS_STATE = RedisState``;
   Redis's ``INFO commandstats`` before and after. Target: fewer than 100.
2. **Success path**: what the middleware asks the state on every successful
   response (pauses of route and account, the route's rest, the account's
   token, the success), RedisState vs MemoryState, best of ``--repeat``.
   Target: RedisState within 0.5 us of MemoryState.
3. **50 processes, 10,000 routes**: ``--processes`` forked processes, each
   with its own RedisState (two threads, two connections), share one
   namespace holding ``--routes`` cooling routes with streaks; each process
   records failures and pauses on random routes for ``--seconds``; every
   process measures the delay from a change's write to its arrival (one
   machine, one clock). Reported: propagation delay (median, p99, max),
   Redis commands/s, Redis CPU, memory per entry.
"""

from __future__ import annotations

import argparse
import math
import multiprocessing
import os
import random
import shutil
import statistics
import tempfile
import time
import timeit
from pathlib import Path
from typing import Any

from benchmarks._common import machine, run_crawl, table, write_json
from scrapy_proxyerrors import MemoryState
from scrapy_proxyerrors._redis import RedisState
from scrapy_proxyerrors.emulator import Emulator
from scrapy_proxyerrors.testing import RedisServer

NS = "bench"
#: A change's ``until`` is its write time plus this: receivers recover the
#: write time from it (one machine, one clock).
MARK = 10_000.0


def _server() -> tuple[RedisServer, Path]:
    directory = Path(tempfile.mkdtemp(prefix="pe-bench-"))
    path = shutil.which("redis-server")
    if path is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    return RedisServer(directory, path).start(), directory


# ------------------------------------------------------------ 1. fault-free crawl


def crawl_commands(pages: int) -> dict[str, Any]:
    server, directory = _server()
    try:
        with Emulator("generic", "ok", pages=pages) as emu:
            before = server.command_stats()
            spec = {
                "spider": {"urls": [emu.target_url("/page/1")], "follow": True,
                           "proxy": emu.proxy_url()},
                "settings": {
                    "ADDONS": {"scrapy_proxyerrors.Addon": 0},
                    "PROXYERRORS_STATE": "scrapy_proxyerrors.RedisState",
                    "PROXYERRORS_REDIS_URL": server.url,
                    "PROXYERRORS_REDIS_NAMESPACE": NS,
                },
            }
            result = run_crawl(spec, timeout=900)
            after = server.command_stats()
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    by_command = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    return {
        "pages": result["ok"],
        "finish_reason": result["finish_reason"],
        "elapsed": result["elapsed"],
        "commands": sum(by_command.values()),
        "by_command": by_command,
        "redis_errors": result["stats"].get("proxyerrors/redis/errors", 0),
    }


# ------------------------------------------------------------- 2. success path


def _success_path(state: Any) -> Any:
    route, account = "127.0.0.1:8000~abc", "soax#1a2b3c4d"
    paused_until, cooling_until = state.paused_until, state.cooling_until
    take, record_success = state.take, state.record_success
    now = time.time()

    def call() -> None:
        if max(paused_until(route), paused_until(account), cooling_until(route)) <= now:
            take(account, now)
        record_success(route)

    return call


def success_path(repeat: int = 7, number: int = 200_000) -> dict[str, Any]:
    server, directory = _server()
    redis_state = RedisState(server.url, namespace=NS)
    try:
        deadline = time.monotonic() + 10
        while not redis_state.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        # A realistic mirror: 10,000 other routes cooling.
        now = time.time()
        memory = MemoryState(max_entries=100_000)
        for i in range(10_000):
            redis_state.record_failure(f"other-{i}", now, 600.0)
            memory.record_failure(f"other-{i}", now, 600.0)
        # Timed once the writes are out: the writer thread would hold the GIL.
        while redis_state._queue:
            time.sleep(0.05)
        time.sleep(0.5)
        results = {}
        for name, state in (("MemoryState", memory), ("RedisState", redis_state)):
            call = _success_path(state)
            best = min(timeit.repeat(call, repeat=repeat, number=number))
            results[name] = best / number * 1e6
    finally:
        redis_state.close()
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    return {"memory_us": results["MemoryState"], "redis_us": results["RedisState"],
            "delta_us": results["RedisState"] - results["MemoryState"]}


# ---------------------------------------------------------- 3. 50 processes


def _worker(url: str, index: int, routes: int, seconds: float, per_second: float,
            start_at: float, out: Any) -> None:
    delays: list[float] = []
    state = RedisState(url, namespace=NS, timeout=2.0)

    def listener(kind: str, key: str) -> None:
        received = time.time()
        if kind == "pause":
            written = state.paused_until(key) - MARK
        elif kind == "cooldown":
            written = state.cooling_until(key) - MARK
        else:
            return
        if written >= start_at - 0.5:  # not the seeded entries found on resync
            delays.append(received - written)

    state.add_listener(listener)
    rng = random.Random(index)
    while time.time() < start_at:
        time.sleep(0.01)
    end = start_at + seconds
    cpu0 = time.process_time()
    next_at = time.time()
    sent = 0
    while time.time() < end:
        now = time.time()
        if now >= next_at:
            key = f"route-{rng.randrange(routes)}"
            if rng.random() < 0.5:
                state.pause(key, now + MARK)
            else:
                # A cooldown whose end marks the write time (streak growth is
                # undone by picking the base so that the end is now + MARK).
                streak = state._streaks.get(key, 0)
                growth = min(2.0 ** min(streak, 16), RedisState.MAX_GROWTH)
                state.record_failure(key, now, MARK / growth)
            sent += 1
            next_at += 1.0 / per_second
        time.sleep(max(0.0, min(next_at - time.time(), 0.05)))
    cpu = time.process_time() - cpu0
    time.sleep(1.0)  # the last changes arrive
    state.close()
    out.put({"index": index, "sent": sent, "delays": delays, "errors": state.errors,
             "cpu": cpu})


def simulation(processes: int = 50, routes: int = 10_000, seconds: float = 10.0,
               events_per_second: float = 200.0) -> dict[str, Any]:
    server, directory = _server()
    try:
        client = server.client()
        # The namespace as a long crawl leaves it: every route cooling with a streak.
        seed = RedisState(server.url, namespace=NS)
        deadline = time.monotonic() + 10
        while not seed.connected and time.monotonic() < deadline:
            time.sleep(0.01)
        now = time.time()
        for i in range(routes):
            seed.record_failure(f"route-{i}", now, 3600.0)
        while seed._queue:
            time.sleep(0.05)
        seed.close()
        memory_before = int(client.info("memory")["used_memory"])
        entries = len(server.keys(NS))
        hashes = {k: client.hlen(k) for k in server.keys(NS) if client.type(k) == b"hash"}
        stored = sum(hashes.values())
        ctx = multiprocessing.get_context("fork")
        out = ctx.Queue()
        start_at = time.time() + 3 + processes * 0.05
        workers = [
            ctx.Process(target=_worker, args=(server.url, i, routes, seconds,
                                              events_per_second / processes, start_at, out))
            for i in range(processes)
        ]
        for worker in workers:
            worker.start()
        while time.time() < start_at:
            time.sleep(0.01)
        cpu0 = client.info("cpu")
        cmd0 = server.command_count()
        time.sleep(seconds)
        cpu1 = client.info("cpu")
        cmd1 = server.command_count()
        results = [out.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(30)
        memory_after = int(client.info("memory")["used_memory"])
        stored_after = sum(client.hlen(k) for k in server.keys(NS) if client.type(k) == b"hash")
    finally:
        server.stop()
        shutil.rmtree(directory, ignore_errors=True)
    delays = sorted(d for r in results for d in r["delays"])
    sent = sum(r["sent"] for r in results)
    redis_cpu = (cpu1["used_cpu_sys"] + cpu1["used_cpu_user"]
                 - cpu0["used_cpu_sys"] - cpu0["used_cpu_user"])

    def pct(p: float) -> float:
        return delays[min(len(delays) - 1, int(p * len(delays)))] * 1e3 if delays else math.nan

    return {
        "processes": processes,
        "routes": routes,
        "seconds": seconds,
        "changes_sent": sent,
        "changes_received": len(delays),
        "expected_received": sent * (processes - 1),
        "delay_ms_median": statistics.median(delays) * 1e3 if delays else math.nan,
        "delay_ms_p99": pct(0.99),
        "delay_ms_max": delays[-1] * 1e3 if delays else math.nan,
        "redis_commands_per_s": (cmd1 - cmd0) / seconds,
        "redis_cpu_percent": redis_cpu / seconds * 100,
        "redis_memory_mb": memory_after / 1e6,
        "bytes_per_entry": (memory_before / max(1, stored)),
        "entries": stored_after,
        "keys": entries,
        "errors": sum(r["errors"] for r in results),
        # All of a process's CPU in the window (sending, receiving, its loop),
        # per change it received: what the fan-out costs each process.
        "process_cpu_percent": statistics.median(r["cpu"] for r in results) / seconds * 100,
        "cpu_us_per_received": sum(r["cpu"] for r in results) / max(1, len(delays)) * 1e6,
    }


# ------------------------------------------------------------------ report


def render(data: dict[str, Any]) -> str:
    lines = [f"RedisState benchmark ({data['machine']['cpus']} CPUs, "
             f"load {data['machine']['load_average']:.1f})", ""]
    rows: list[list[Any]] = []
    crawl = data.get("crawl")
    if crawl:
        rows.append([f"Redis commands, {crawl['pages']:,}-page fault-free crawl",
                     crawl["commands"], "< 100",
                     "met" if crawl["commands"] < 100 else "MISSED"])
    sp = data["success_path"]
    rows.append(["success path, MemoryState (us)", round(sp["memory_us"], 3), "", ""])
    rows.append(["success path, RedisState (us)", round(sp["redis_us"], 3), "", ""])
    rows.append(["RedisState - MemoryState (us)", round(sp["delta_us"], 3), "<= 0.5",
                 "met" if sp["delta_us"] <= 0.5 else "MISSED"])
    sim = data["simulation"]
    rows += [
        [f"propagation, {sim['processes']} processes, median (ms)",
         round(sim["delay_ms_median"], 2), "(report)", ""],
        ["propagation p99 / max (ms)",
         f"{sim['delay_ms_p99']:.1f} / {sim['delay_ms_max']:.1f}", "(report)", ""],
        ["changes received / expected",
         f"{sim['changes_received']:,} / {sim['expected_received']:,}", "(report)", ""],
        ["CPU of one process (% of a core, median)", round(sim["process_cpu_percent"], 1),
         "(report)", ""],
        ["process CPU per change received (us)", round(sim["cpu_us_per_received"], 1),
         "(report)", ""],
        ["Redis commands/s", round(sim["redis_commands_per_s"]), "(report)", ""],
        ["Redis CPU (% of one core)", round(sim["redis_cpu_percent"], 1), "(report)", ""],
        [f"Redis memory, {sim['entries']:,} entries (MB)", round(sim["redis_memory_mb"], 1),
         "(report)", ""],
        ["bytes per shared entry", round(sim["bytes_per_entry"]), "(report)", ""],
    ]
    lines.append(table(["measure", "figure", "target", ""], rows))
    if crawl:
        lines.append("")
        lines.append("commands of the crawl: " + ", ".join(
            f"{k} {v}" for k, v in sorted(crawl["by_command"].items())))
    return "\n".join(lines)


def run(pages: int, processes: int, routes: int, seconds: float, skip_crawl: bool,
        events_per_second: float) -> dict[str, Any]:
    require = shutil.which("redis-server")
    if require is None:
        raise SystemExit("redis-server is not installed (apt-get install redis-server)")
    data: dict[str, Any] = {"machine": machine()}
    data["crawl"] = None if skip_crawl else crawl_commands(pages)
    data["success_path"] = success_path()
    data["simulation"] = simulation(processes, routes, seconds, events_per_second)
    write_json("redis_state.json", data)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--processes", type=int, default=50)
    parser.add_argument("--routes", type=int, default=10_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--events", type=float, default=200.0,
                        help="changes per second, all processes together")
    parser.add_argument("--skip-crawl", action="store_true")
    args = parser.parse_args()
    os.environ.setdefault("PYTHONHASHSEED", "0")
    print(render(run(args.pages, args.processes, args.routes, args.seconds, args.skip_crawl,
                     args.events)))


if __name__ == "__main__":
    main()
