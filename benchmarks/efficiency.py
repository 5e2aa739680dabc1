"""Crawl efficiency under provider faults: stock Scrapy, scrapy-rotating-proxies, this plugin.

``python -m benchmarks.efficiency [--scale 1.0] [--urls NAME=N ...] [--only NAME ...]``

One crawl per sub-scenario (one emulator each, since one emulator is one
provider with one fault pattern; see ``SUBS`` and benchmarks/README.md for
the exact mix), each run under three configurations:

* ``stock``: Scrapy's defaults (``RetryMiddleware``, ``RETRY_TIMES = 2``),
  every request (retries too) sent to the next proxy of the list, round-robin;
* ``rotating``: scrapy-rotating-proxies 0.6.2 configured as its README says
  (``ROTATING_PROXY_LIST`` and its two middlewares at 610 and 620), defaults;
* ``plugin``: ``ADDONS = {"scrapy_proxyerrors.Addon": 0}`` with
  ``PROXYERRORS_PROXIES``, default settings.

Every figure comes from the emulator's ``RequestRecord`` list (what reached
the provider, when, through which route, and what it answered), never from
the crawler's stats; a port that refuses connections cannot count them, so
those attempts come from a probe middleware in the crawler
(``benchmarks._crawl.AttemptProbe``), and a proxy that hangs is a loopback
server of ``benchmarks._faults`` that records every request it reads.

Waste is counted strictly: a request is WASTED when the provider refused it
(anything but a 200, or no answer) and a correct client would not have sent
it, because it came

* inside a ``Retry-After`` window the provider (or that proxy) had announced
  (``window``),
* after the account's quota / fatal error (``after_fatal``),
* through a route that had already answered, refused or hung (``dead_route``),
* as a refused request over a concurrency limit the account had already
  announced (``over_limit``),
* or as a retry of a URL that had already got a permanent error (``permanent``).

No allowance is made for requests in flight: how many of the wasted ones
were sent before the announcement could have been read (the next
``CONCURRENT_REQUESTS - 1`` arrivals, or for the hanging proxy every arrival
before the first ``DOWNLOAD_TIMEOUT`` ran out) is reported apart, as
``in_flight``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import tempfile
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks._common import RESULTS, machine, run_crawl, table, write_json
from benchmarks._faults import HangingProxy, RefusedPort
from scrapy_proxyerrors.emulator import SCENARIOS, Emulator, Reply, RequestRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Issue targets.
WASTE_TARGET = 0.01  # the plugin's waste, as a share of stock Scrapy's
WALL_TARGET = 1.1  # the plugin's wall time, as a multiple of the forced minimum
RATE429_TARGET = 0.02  # 429s provoked under a stated limit, share of requests
CONFIGS = ("stock", "rotating", "plugin")
#: The same for every configuration: one global limit, no per-slot one, so
#: that per-proxy download slots (rotating, plugin) give no extra concurrency.
COMMON_SETTINGS: dict[str, Any] = {
    "CONCURRENT_REQUESTS": 16,
    "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
    "RETRY_TIMES": 2,
}
#: Requests that may already be on their way when an announcement is
#: answered: Scrapy's downloader holds at most CONCURRENT_REQUESTS requests,
#: so at most that many minus the announced one were sent before it.
IN_FLIGHT = COMMON_SETTINGS["CONCURRENT_REQUESTS"] - 1
PROBE = "benchmarks._crawl.AttemptProbe"
PROBE_PRIORITY = 990
#: The emulator's code on a request a hanging pool port read and never answered.
HUNG = "hanging"
_PAGE_NUMBER = re.compile(r"/page/(\d+)")
#: The emulator serves pools with refused, hanging and unavailable ports itself.
NATIVE_POOL = "pool" in SCENARIOS
REASONS = ("window", "after_fatal", "dead_route", "over_limit", "permanent")


@dataclass(frozen=True)
class Sub:
    """One sub-scenario: an emulator, its URLs, and what counts as waste there."""

    name: str
    description: str
    provider: str
    scenario: str
    urls: int
    params: dict[str, Any] = field(default_factory=dict)
    user: str = "user"
    #: Pages whose number is a multiple of this fail permanently (a responder).
    permanent_every: int = 0
    #: Settings only the plugin needs here (what a user of that provider sets).
    plugin_settings: dict[str, Any] = field(default_factory=dict)
    #: Settings every configuration gets here (e.g. DOWNLOAD_TIMEOUT).
    settings: dict[str, Any] = field(default_factory=dict)
    #: Codes after which the account can serve nothing more.
    fatal_codes: frozenset[str] = frozenset()
    #: Codes that tell the route answering them is dead.
    dead_route_codes: frozenset[str] = frozenset()
    #: Codes that no retry can change for that URL.
    permanent_codes: frozenset[str] = frozenset()
    #: Codes that refuse a request over the account's concurrency limit.
    limit_codes: frozenset[str] = frozenset()
    #: A pool of proxies with bad ones, by index (the emulator's ``pool``
    #: scenario's parameters): ``size``, ``refused``, ``hanging``,
    #: ``unavailable`` (503 + Retry-After for ``unavailable_for`` seconds from
    #: the port's first request, then serving). Without that scenario in the
    #: emulator, the same pool is built from helodata ISP ports and
    #: ``benchmarks._faults``.
    pool: dict[str, Any] | None = None
    #: The provider states its limit: the 429 target applies.
    stated_limit: bool = False

    def scaled(self, scale: float) -> Sub:
        params = dict(self.params)
        if "credits" in params:
            params["credits"] = max(1, round(params["credits"] * scale))
        return Sub(**{**self.__dict__, "urls": max(1, round(self.urls * scale)), "params": params})

    @property
    def extra_proxies(self) -> tuple[str, ...]:
        pool = self.pool or {}
        return tuple(k for k in ("refused", "hanging") if pool.get(k))

    @property
    def route_retry_after(self) -> tuple[int, int, float] | None:
        """(proxy index, Retry-After, outage seconds) of an unavailable port."""
        pool = self.pool or {}
        if not pool.get("unavailable"):
            return None
        outage = float(pool.get("unavailable_for", 5.0))
        return (min(pool["unavailable"]), math.ceil(outage), outage)

    def sized(self, urls: int) -> Sub:
        """This sub-scenario with *urls* URLs (credits scaled alike)."""
        return self.scaled(urls / self.urls)

    def page_numbers(self) -> range:
        return range(1, self.urls + 1)

    def recoverable(self) -> set[int]:
        """The pages an all-knowing crawler fetches within the provider's limits."""
        pages = [n for n in self.page_numbers() if not self._permanent(n)]
        if self.scenario == "budget":
            # Every success costs a credit: no crawler gets more pages than that.
            return set(pages[: self.params["credits"]])
        return set(pages)

    def forced_wait(self) -> float:
        """Seconds of waiting the provider's limits force on any crawler."""
        pages = len(self.recoverable())
        if self.scenario == "ratelimit":
            limit, window = self.params["limit"], self.params["window"]
            # The first `limit` pages go at once, then one window per `limit` more.
            return float((math.ceil(pages / limit) - 1) * window)
        if self.scenario == "concurrency":
            # At most `max_concurrent` at once, each held `delay` by the provider.
            return math.ceil(pages / self.params["max_concurrent"]) * self.params["delay"]
        if "hanging" in self.extra_proxies:
            # The first request given to the hanging proxy is only known lost
            # when its DOWNLOAD_TIMEOUT runs out; its page comes after that.
            return float(self.settings["DOWNLOAD_TIMEOUT"])
        return 0.0

    def oracle_wall(self, pages_per_s: float) -> float:
        """The least wall time any crawler here needs: the forced waits, plus
        fetching, at the fault-free rate, what cannot overlap them.

        Without waits that is every recoverable page. Under the rate limit, a
        crawler that knew the limit would fetch each batch of ``limit`` pages
        while the window slides, so only the last batch comes on top. Under a
        concurrency limit or a hang, fetching overlaps the wait entirely.
        """
        pages = len(self.recoverable())
        fetch = pages / pages_per_s
        if self.scenario == "ratelimit":
            limit = self.params["limit"]
            last_batch = pages - (math.ceil(pages / limit) - 1) * limit
            return self.forced_wait() + last_batch / pages_per_s
        return max(self.forced_wait(), fetch)

    def retry_after(self) -> float:
        """The Retry-After the announcing replies of this sub-scenario carry.

        Records keep the status and code, not the reply's headers, so this is
        derived from the emulator's documented rule (ratelimit: seconds until
        the sliding window frees a slot, at most ``window``, rounded up, at
        least 1; with ``window <= 1`` exactly 1 on every 429), or is the
        constant the responder sends.
        """
        if self.route_retry_after is not None:
            return float(self.route_retry_after[1])
        if self.scenario != "ratelimit":
            return 0.0
        if self.params.get("window", 1.0) > 1:
            raise ValueError("Retry-After is only derivable from the records for window <= 1")
        return 1.0

    def _permanent(self, number: int) -> bool:
        return bool(self.permanent_every) and number % self.permanent_every == 0


#: The fault mix.
SUBS: tuple[Sub, ...] = (
    Sub(
        "transient",
        "soax gateway, flaky: 5% of attempts fail with 502 NODE_UNAVAILABLE or "
        "504 GATEWAY_TIMEOUT (a function of seed, URL and attempt number)",
        "soax",
        "flaky",
        2000,
        params={"rate": 0.05},
        user="package-1-sessionid-bench",
    ),
    Sub(
        "ratelimit",
        "soax gateway, sliding window of 40 requests per 1 s per account: "
        "429 RATE_LIMIT_EXCEEDED with Retry-After: 1",
        "soax",
        "ratelimit",
        600,
        params={"limit": 40, "window": 1.0},
        user="package-1-sessionid-bench",
    ),
    Sub(
        "sustained",
        "soax gateway, a sustained, stated limit of 10 requests/s per account "
        "(sliding 1 s window; 429 RATE_LIMIT_EXCEEDED with Retry-After: 1); "
        "the plugin is told the package's limit, as its dashboard shows it",
        "soax",
        "ratelimit",
        150,
        params={"limit": 10, "window": 1.0},
        user="package-1-sessionid-bench",
        # On loopback the gateway's host names no provider (proxy.soax.com would).
        plugin_settings={
            "PROXYERRORS_PROVIDER": "soax",
            "PROXYERRORS_PROVIDERS": {"soax": {"extends": "soax", "rate_limit_rps": 10}},
        },
        stated_limit=True,
    ),
    Sub(
        "concurrency",
        "proxies.fo gateway, at most 3 requests at once per account, each held "
        "50 ms: 453 thread limit over it",
        "proxiesfo",
        "concurrency",
        300,
        params={"max_concurrent": 3, "delay": 0.05},
        plugin_settings={"PROXYERRORS_PROVIDER": "proxiesfo"},
        limit_codes=frozenset({"453"}),
    ),
    Sub(
        "dead_ip",
        "helodata ISP list of 4 IPs, IP #1 dead: every request through it "
        "gets 522 upstream-timeout",
        "helodata",
        "isp",
        1000,
        params={"ips": 4, "bad_ips": frozenset({1})},
        dead_route_codes=frozenset({"upstream-timeout"}),
    ),
    Sub(
        "refused",
        "pool of 4 proxies, #3 refuses every connection (ECONNREFUSED)",
        "generic",
        "pool",
        1000,
        pool={"size": 4, "refused": (3,)},
    ),
    Sub(
        "hanging",
        "pool of 4 proxies, #3 accepts and never answers (DOWNLOAD_TIMEOUT = 2 s "
        "for every configuration)",
        "generic",
        "pool",
        600,
        settings={"DOWNLOAD_TIMEOUT": 2},
        pool={"size": 4, "hanging": (3,)},
    ),
    Sub(
        "retry_after",
        "pool of 4 proxies, #1 answers 503 with Retry-After (2 s, counting down) "
        "for 2 s from its first request, then serves",
        "generic",
        "pool",
        1000,
        pool={"size": 4, "unavailable": (1,), "unavailable_for": 2.0},
    ),
    Sub(
        "retry_after_named",
        "the same with proxies.fo ports (its documented 503) and the provider "
        "named, as quota's: the plugin trusts a bare reply only from a named provider",
        "proxiesfo",
        "pool",
        1000,
        plugin_settings={"PROXYERRORS_PROVIDER": "proxiesfo"},
        pool={"size": 4, "unavailable": (1,), "unavailable_for": 2.0},
    ),
    Sub(
        "quota",
        "proxies.fo gateway with 700 credits (one per page): then 452 "
        "bandwidth exceeded on every request",
        "proxiesfo",
        "budget",
        1000,
        params={"credits": 700},
        plugin_settings={"PROXYERRORS_PROVIDER": "proxiesfo"},
        fatal_codes=frozenset({"452"}),
    ),
    Sub(
        "permanent",
        "generic proxy: every 20th page's host does not resolve, on every "
        "attempt (502, Proxy-Status error=dns_error)",
        "generic",
        "ok",
        400,
        permanent_every=20,
        permanent_codes=frozenset({"dns_error"}),
    ),
)
SUB_NAMES = tuple(s.name for s in SUBS)


def config_spec(config: str, proxies: list[str], sub: Sub) -> dict[str, Any]:
    """The runner spec (minus URLs) for one configuration."""
    settings: dict[str, Any] = {**COMMON_SETTINGS, **sub.settings}
    spec: dict[str, Any] = {"settings": settings}
    if config == "stock":
        settings["ADDONS"] = {}
        spec["round_robin"] = proxies
    elif config == "rotating":
        settings["ADDONS"] = {}
        settings["DOWNLOADER_MIDDLEWARES"] = {
            "rotating_proxies.middlewares.RotatingProxyMiddleware": 610,
            "rotating_proxies.middlewares.BanDetectionMiddleware": 620,
        }
        settings["ROTATING_PROXY_LIST"] = proxies
    elif config == "plugin":
        settings["ADDONS"] = {"scrapy_proxyerrors.Addon": 0}
        settings["PROXYERRORS_PROXIES"] = proxies
        settings.update(sub.plugin_settings)
    else:
        raise ValueError(config)
    return spec


def _page(url: str) -> int | None:
    match = _PAGE_NUMBER.search(url)
    return int(match[1]) if match else None


@dataclass(frozen=True)
class Attempt:
    """A request that reached a bad proxy of ours (not the emulator)."""

    time: float
    url: str
    #: When the crawler could know the route was bad, at the earliest.
    known_bad_at: float | None = None


def analyze(
    sub: Sub,
    records: Sequence[RequestRecord],
    faults: dict[str, list[Attempt]] | None = None,
) -> dict[str, Any]:
    """Every figure of one crawl, from the emulator's records (and, for the
    bad proxies of ``extra_proxies``, their own attempt lists).

    Waste is strict; ``in_flight`` counts the wasted requests that arrived
    among the ``IN_FLIGHT`` requests right after the announcement that made
    them waste (or, at a bad proxy, before the crawler could know it was bad).
    """
    # A hanging port's records (never answered) are counted with the faults.
    plain = sorted(
        (r for r in records if r.kind == "plain" and r.code != HUNG), key=lambda r: r.seq
    )
    fetched = {p for r in plain if r.status == 200 and (p := _page(r.url)) is not None}
    recoverable = sub.recoverable()
    retry_after = sub.retry_after()
    by_route = sub.route_retry_after is not None
    window_end: dict[str | None, float] = {}
    window_exempt: dict[str | None, int] = {}
    fatal_at: dict[str | None, int] = {}
    limit_at: dict[str | None, int] = {}
    dead_at: dict[str, int] = {}
    permanent_seq: dict[str, int] = {}
    reasons = dict.fromkeys(REASONS, 0)
    wasted = in_flight = 0
    answered_429 = first_round_429 = 0
    first_round = COMMON_SETTINGS["CONCURRENT_REQUESTS"]
    for i, r in enumerate(plain):
        # The scope of a window: the account (rate limits), or the route (a
        # proxy's own 503).
        scope = r.route if by_route else r.password
        account = r.password
        refused = r.status != 200
        answered_429 += r.status == 429
        # Sent before any reply could be read: no client knows the limit yet.
        first_round_429 += r.status == 429 and i < first_round
        why: dict[str, bool] = {}  # reason -> in flight
        if refused:
            if r.time < window_end.get(scope, -math.inf):
                why["window"] = i <= window_exempt[scope]
            if account in fatal_at and i > fatal_at[account]:
                why["after_fatal"] = i <= fatal_at[account] + IN_FLIGHT
            if r.route in dead_at and i > dead_at[r.route]:
                why["dead_route"] = i <= dead_at[r.route] + IN_FLIGHT
            if r.code in sub.limit_codes and account in limit_at:
                why["over_limit"] = i <= limit_at[account] + IN_FLIGHT
            if r.url in permanent_seq:
                why["permanent"] = False  # a later request for the same URL
        for reason in why:
            reasons[reason] += 1
        if why:
            wasted += 1
            in_flight += all(why.values())
        # What this answer announces, for the requests that come after it.
        if r.status in (429, 503) and retry_after:
            if r.time >= window_end.get(scope, -math.inf):
                window_exempt[scope] = i + IN_FLIGHT  # a new window: some are in flight
            # A proxy's own 503 announces the rest of its outage: every later
            # 503 of that port falls inside the window (its Retry-After counts
            # down to the outage's end, rounded up).
            end = math.inf if by_route else r.time + retry_after
            window_end[scope] = max(window_end.get(scope, -math.inf), end)
        if r.code in sub.fatal_codes:
            fatal_at.setdefault(account, i)
        if r.code in sub.dead_route_codes:
            dead_at.setdefault(r.route, i)
        if r.code in sub.limit_codes:
            limit_at.setdefault(account, i)
        if r.code in sub.permanent_codes:
            permanent_seq.setdefault(r.url, r.seq)
    reached = len(plain)
    bad_proxy: dict[str, int] = {}
    for name, attempts in (faults or {}).items():
        # Every attempt at a bad proxy failed; the first one is how a crawler
        # learns, every later one is waste, in flight when it was sent before
        # the first could be known bad.
        ordered = sorted(attempts, key=lambda a: a.time)
        reached += len(ordered)
        bad_proxy[name] = len(ordered)
        if not ordered:
            continue
        known = ordered[0].known_bad_at
        for a in ordered[1:]:
            reasons["dead_route"] += 1
            wasted += 1
            in_flight += known is not None and a.time < known
    if sub.scenario == "budget":
        # Any `credits` pages will do: the all-knowing crawler's pages are not
        # the first ones by number, only as many.
        lost_pages: list[int] = []
        lost = max(0, len(recoverable) - len(fetched))
        fetched_recoverable = min(len(fetched), len(recoverable))
    else:
        lost_pages = sorted(recoverable - fetched)
        lost = len(lost_pages)
        fetched_recoverable = len(fetched & recoverable)
    return {
        "urls": sub.urls,
        "recoverable": len(recoverable),
        "fetched": len(fetched),
        "fetched_recoverable": fetched_recoverable,
        "reached": reached,
        "wasted": wasted,
        "in_flight": in_flight,
        "wasted_by_reason": reasons,
        "answered_429": answered_429,
        "share_429": answered_429 / reached if reached else 0.0,
        "first_round_429": first_round_429,
        "share_429_after_first_round": (
            (answered_429 - first_round_429) / reached if reached else 0.0
        ),
        "bad_proxy_attempts": bad_proxy,
        "lost": lost,
        "lost_pages": lost_pages,
        "answers": _answers(plain),
    }


def _answers(plain: Sequence[RequestRecord]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in plain:
        key = f"{r.status} {r.code}" if r.code else str(r.status)
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def _emulator(sub: Sub) -> Emulator:
    pages = max(100, sub.urls)
    if sub.pool is not None:
        return _pool_emulator(sub, pages)
    emu = Emulator(sub.provider, sub.scenario, seed=0, user=sub.user, pages=pages, **sub.params)
    emu.start()
    if sub.permanent_every:
        def responder(record: RequestRecord) -> Reply | None:
            number = _page(record.url)
            if number is not None and sub._permanent(number):
                return emu.error_reply("dns_error")
            return None

        emu.set_responder(responder)
    return emu


def _pool_emulator(sub: Sub, pages: int) -> Emulator:
    """The emulator's own ``pool`` scenario; without it, the healthy and
    unavailable ports of helodata's ISP list (refused and hanging ports are
    then added by ``run_one``, last in the list)."""
    assert sub.pool is not None
    pool = {k: frozenset(v) if isinstance(v, tuple) else v for k, v in sub.pool.items()}
    if NATIVE_POOL:
        emu = Emulator(sub.provider, "pool", seed=0, user=sub.user, pages=pages, **pool)
        return emu.start()
    bad = len(pool.get("refused", ())) + len(pool.get("hanging", ()))
    emu = Emulator("helodata", "ok", seed=0, user=sub.user, pages=pages,
                   ips=pool["size"] - bad)
    emu.start()
    unavailable = sub.route_retry_after
    if unavailable is not None:
        index, _, outage = unavailable
        route = f"127.0.0.1:{emu.ports['proxy'][index]}"
        started: list[float] = []
        lock = threading.Lock()

        def maintenance(record: RequestRecord) -> Reply | None:
            if record.route != route or record.kind != "plain":
                return None
            with lock:
                if not started:
                    started.append(record.time)
            left = started[0] + outage - record.time
            if left > 0:
                return Reply(
                    503,
                    [("Retry-After", str(max(1, math.ceil(left)))),
                     ("Content-Type", "text/plain")],
                    b"Service Unavailable: down for maintenance\n",
                )
            return None

        emu.set_responder(maintenance)
    return emu


def run_one(sub: Sub, config: str) -> dict[str, Any]:
    """One sub-scenario under one configuration, on a fresh emulator."""
    timeout = float(sub.settings.get("DOWNLOAD_TIMEOUT", 30))
    with ExitStack() as stack:
        emu = _emulator(sub)
        stack.callback(emu.stop)
        proxies = emu.proxy_urls()
        refused_ports: list[int] = []
        hanging = None
        pool = sub.pool or {}
        if NATIVE_POOL:
            refused_ports = [emu.ports["proxy"][i] for i in pool.get("refused", ())]
        else:
            for _ in pool.get("refused", ()):
                port = stack.enter_context(RefusedPort())
                refused_ports.append(port.port)
                proxies.append(port.url(emu.user, emu.password))
            if pool.get("hanging"):
                hanging = stack.enter_context(HangingProxy(hold=2 * timeout + 5))
                proxies.append(hanging.url(emu.user, emu.password))
        urls = [emu.target_url(f"/page/{n}") for n in sub.page_numbers()]
        spec = config_spec(config, proxies, sub)
        spec["spider"] = {"urls": urls}
        probe_dir = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-probe-"))
        probe_file = Path(probe_dir) / "attempts.json"
        middlewares = dict(spec["settings"].get("DOWNLOADER_MIDDLEWARES", {}))
        middlewares[PROBE] = PROBE_PRIORITY
        spec["settings"]["DOWNLOADER_MIDDLEWARES"] = middlewares
        spec["settings"]["BENCH_PROBE_FILE"] = str(probe_file)
        result = run_crawl(spec, timeout=600)
        time.sleep(0.2)  # let the emulator file the last records
        records = emu.requests
        counters = emu.counters
        attempts = json.loads(probe_file.read_text(encoding="utf-8"))
        faults: dict[str, list[Attempt]] = {}
        if refused_ports:
            # Nothing listens: the crawler's probe is the only count.
            where = {f"127.0.0.1:{port}" for port in refused_ports}
            mine = sorted((a for a in attempts if a["proxy"] in where), key=lambda a: a["sent"])
            first_done = mine[0]["done"] if mine else None
            faults["refused"] = [Attempt(a["sent"], a["url"], first_done) for a in mine]
        if pool.get("hanging"):
            hung = (
                [Attempt(r.time, r.url) for r in records if r.code == HUNG]
                if hanging is None
                else [Attempt(a.time, a.url) for a in hanging.records]
            )
            hung.sort(key=lambda a: a.time)
            # Known bad when the first hung request's DOWNLOAD_TIMEOUT ran out.
            known = hung[0].time + timeout if hung else None
            faults["hanging"] = [Attempt(a.time, a.url, known) for a in hung]
    figures = analyze(sub, records, faults)
    figures["emulator_scenario_counters"] = counters.get("scenario", {})
    outcomes: dict[str, int] = {}
    for a in attempts:
        outcomes[a["outcome"]] = outcomes.get(a["outcome"], 0) + 1
    stats = result["stats"]
    figures.update(
        elapsed=result["elapsed"],
        cpu=result["cpu"],
        client_ok=result["ok"],
        client_failed=result["failed"],
        client_failure_types=result["failure_types"],
        client_attempts=len(attempts),
        client_outcomes=dict(sorted(outcomes.items())),
        retry_count=stats.get("retry/count", 0),
        proxyerrors_stats={k: v for k, v in stats.items() if k.startswith("proxyerrors/")},
        finish_reason=result["finish_reason"],
        log_warnings=result["warnings"],
        log_errors=result["errors"],
    )
    return figures


def calibrate(urls: int = 1000, runs: int = 2) -> float:
    """Fault-free pages/second of stock Scrapy through the emulator's proxy:
    how fast a crawler here fetches pages when nothing forces a wait. The
    best of *runs*, so that a noisy neighbour makes the oracle stricter, not
    looser."""
    rates = []
    for _ in range(runs):
        with Emulator("generic", "ok", pages=urls) as emu:
            spec = config_spec("stock", emu.proxy_urls(), SUBS[-1])
            spec["spider"] = {"urls": [emu.target_url(f"/page/{n}") for n in range(1, urls + 1)]}
            result = run_crawl(spec, timeout=600)
        rates.append(result["ok"] / result["elapsed"])
    return float(max(rates))


def select(
    scale: float = 1.0, urls: dict[str, int] | None = None, only: Sequence[str] | None = None
) -> list[Sub]:
    """The sub-scenarios to run: *only* these names (default all), each
    scaled by *scale*, or sized by *urls* (name -> URL count)."""
    unknown = set(only or ()) | set(urls or ())
    unknown -= set(SUB_NAMES)
    if unknown:
        raise ValueError(f"unknown sub-scenario {sorted(unknown)}; known: {SUB_NAMES}")
    out = []
    for sub in SUBS:
        if only and sub.name not in only:
            continue
        if urls and sub.name in urls:
            out.append(sub.sized(urls[sub.name]))
        else:
            out.append(sub.scaled(scale) if scale != 1.0 else sub)
    return out


def run(
    scale: float = 1.0,
    log: Callable[[str], None] = print,
    urls: dict[str, int] | None = None,
    only: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Every sub-scenario under every configuration; figures, JSON and chart."""
    subs = select(scale, urls, only)
    rate = calibrate(max(200, round(1000 * scale)))
    log(f"  calibration: {rate:.0f} pages/s fault-free (stock Scrapy); load {_load()}")
    per_sub: dict[str, dict[str, Any]] = {}
    load_before = os.getloadavg()
    for index, sub in enumerate(subs):
        oracle = sub.oracle_wall(rate)
        per_sub[sub.name] = {
            "description": sub.description,
            "urls": sub.urls,
            "oracle_wall": oracle,
            "forced_wait": sub.forced_wait(),
            "stated_limit": sub.stated_limit,
        }
        # A different configuration goes first in each sub-scenario, so that
        # a burst of load from elsewhere on the machine does not always hit
        # the same one.
        for config in CONFIGS[index % 3 :] + CONFIGS[: index % 3]:
            figures = run_one(sub, config)
            figures["load"] = os.getloadavg()[0]
            per_sub[sub.name][config] = figures
            log(
                f"  {sub.name:<11} {config:<8} fetched {figures['fetched']}/"
                f"{figures['recoverable']}, reached {figures['reached']}, "
                f"wasted {figures['wasted']} ({figures['in_flight']} in flight), "
                f"429s {figures['answered_429']}, lost {figures['lost']}, "
                f"{figures['elapsed']:.1f} s (minimum {oracle:.1f} s); load {_load()}"
            )
    # The fault-free rate behind every minimum: the calibration's, or, when
    # the load on the machine eased later, the fastest rate any crawl of
    # the run fetched pages at (the minimum only gets stricter).
    fastest = max(
        (s[c]["fetched"] / s[c]["elapsed"] for s in per_sub.values() for c in CONFIGS
         if s[c]["elapsed"] > 0),
        default=0.0,
    )
    best_rate = max(rate, fastest)
    for sub in subs:
        per_sub[sub.name]["oracle_wall"] = sub.oracle_wall(best_rate)
    totals = {config: _total(per_sub, config) for config in CONFIGS}
    # URLs the plugin lost that stock Scrapy fetched: losses of its own making.
    own_losses = sum(
        len(set(s["plugin"]["lost_pages"]) - set(s["stock"]["lost_pages"]))
        for s in per_sub.values()
    )
    oracle_total = sum(s["oracle_wall"] for s in per_sub.values())
    stock_waste, plugin = totals["stock"]["wasted"], totals["plugin"]
    stated = [s["plugin"]["share_429"] for s in per_sub.values() if s["stated_limit"]]
    stated_later = [
        s["plugin"]["share_429_after_first_round"] for s in per_sub.values() if s["stated_limit"]
    ]
    data: dict[str, Any] = {
        "benchmark": "efficiency",
        "machine": machine(),
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "in_flight_window": IN_FLIGHT,
        "calibration_pages_per_s": rate,
        "fastest_pages_per_s": fastest,
        "minimum_pages_per_s": best_rate,
        "subs": per_sub,
        "totals": totals,
        "oracle_wall": oracle_total,
        "targets": {
            "waste_share_of_stock_max": WASTE_TARGET,
            "waste_share_of_stock": plugin["wasted"] / stock_waste if stock_waste else None,
            "waste_met": plugin["wasted"] <= WASTE_TARGET * stock_waste,
            "waste_in_flight": plugin["in_flight"],
            "lost": plugin["lost"],
            "lost_also_by_stock": plugin["lost"] - own_losses,
            "lost_met": plugin["lost"] == 0,
            "share_429_max": RATE429_TARGET,
            "share_429": max(stated) if stated else None,
            "share_429_met": all(x <= RATE429_TARGET for x in stated) if stated else None,
            "share_429_after_first_round": max(stated_later) if stated_later else None,
            "wall_over_oracle_max": WALL_TARGET,
            "wall_over_oracle": plugin["wall"] / oracle_total,
            "wall_met": plugin["wall"] <= WALL_TARGET * oracle_total,
        },
    }
    write_json("efficiency.json", data)
    try:
        data["chart"] = str(chart(data))
    except ImportError:  # matplotlib is optional
        data["chart"] = "not drawn (no matplotlib)"
    return data


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _total(per_sub: dict[str, dict[str, Any]], config: str) -> dict[str, Any]:
    keys = ("urls", "recoverable", "fetched", "reached", "wasted", "in_flight", "lost",
            "answered_429")
    out: dict[str, Any] = {k: sum(s[config][k] for s in per_sub.values()) for k in keys}
    out["wall"] = sum(s[config]["elapsed"] for s in per_sub.values())
    reasons: dict[str, int] = {}
    for s in per_sub.values():
        for reason, count in s[config]["wasted_by_reason"].items():
            reasons[reason] = reasons.get(reason, 0) + count
    out["wasted_by_reason"] = reasons
    return out


def chart(data: dict[str, Any]) -> Any:
    """A PNG of the efficiency table: waste, loss, requests and time per config."""
    # Imported here: matplotlib is only needed for the chart.
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    subs = list(data["subs"])
    fig, axes = plt.subplots(2, 2, figsize=(11, 7.5))
    panels = [
        ("wasted", "Wasted requests"),
        ("lost", "Recoverable URLs lost"),
        ("reached", "Requests that reached the provider"),
        ("elapsed", "Wall time (s)"),
    ]
    colors = list(plt.get_cmap("tab10").colors)
    for ax, (key, title) in zip(axes.flat, panels, strict=True):
        bottoms = [0.0] * len(CONFIGS)
        for color, sub in zip(colors, subs, strict=False):
            values = [float(data["subs"][sub][c][key]) for c in CONFIGS]
            ax.bar(CONFIGS, values, bottom=bottoms, label=sub, color=color)
            bottoms = [b + v for b, v in zip(bottoms, values, strict=True)]
        for x, total in enumerate(bottoms):
            ax.annotate(f"{total:,.0f}" if key != "elapsed" else f"{total:.1f}",
                        (x, total), ha="center", va="bottom", fontsize=9)
        top = max(bottoms)
        if key == "elapsed":
            ax.axhline(data["oracle_wall"], color="black", linestyle="--", linewidth=1)
            ax.annotate(f"oracle {data['oracle_wall']:.1f} s", (-0.45, data["oracle_wall"]),
                        ha="left", va="bottom", fontsize=8)
            top = max(top, data["oracle_wall"])
        ax.set_title(title)
        ax.set_ylim(0, top * 1.15 or 1.0)
    axes.flat[0].legend(fontsize=8, title="sub-scenario", title_fontsize=8)
    fig.suptitle(
        f"Crawl efficiency under provider faults ({data['totals']['stock']['urls']:,} URLs; "
        "emulator records)",
        fontsize=12,
    )
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "efficiency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render(data: dict[str, Any]) -> str:
    totals = data["totals"]
    t = data["targets"]
    rows = []
    for config in CONFIGS:
        c = totals[config]
        rows.append(
            [
                config,
                f"{c['fetched']:,}/{c['recoverable']:,}",
                c["reached"],
                c["wasted"],
                c["in_flight"],
                c["answered_429"],
                c["lost"],
                c["wall"],
                data["oracle_wall"],
                f"{c['wall'] / data['oracle_wall']:.2f}x",
            ]
        )
    m = data["machine"]
    out = [
        f"Efficiency under faults, {totals['stock']['urls']:,} URLs in "
        f"{len(data['subs'])} sub-scenarios (figures from the emulator's records; "
        "waste strict, 'in flight' = the part of it sent before the announcement "
        "could be read)",
        f"commit {m['commit']}, {m['cpus']} CPUs, Python {m['python']}, Scrapy {m['scrapy']}; "
        f"load average before/after {data['load_average_before_after'][0]:.2f}/"
        f"{data['load_average_before_after'][1]:.2f}; fault-free rate behind the minimums "
        f"{data['minimum_pages_per_s']:.0f} pages/s (calibration "
        f"{data['calibration_pages_per_s']:.0f}, fastest crawl {data['fastest_pages_per_s']:.0f})",
        table(
            ["config", "fetched", "reached", "wasted", "in flight", "429s", "lost",
             "wall s", "minimum s", "wall/min"],
            rows,
        ),
        "",
        "Per sub-scenario: fetched / reached / wasted (in flight) / 429s / lost / wall s "
        "(wall/minimum)",
    ]
    sub_rows = []
    for name, sub in data["subs"].items():
        row: list[Any] = [name, sub["urls"], sub["forced_wait"], sub["oracle_wall"]]
        for config in CONFIGS:
            f = sub[config]
            row.append(
                f"{f['fetched']}/{f['reached']}/{f['wasted']}({f['in_flight']})/"
                f"{f['answered_429']}/{f['lost']}/{f['elapsed']:.1f}"
                f"({f['elapsed'] / sub['oracle_wall']:.2f}x)"
            )
        sub_rows.append(row)
    out.append(table(["sub-scenario", "URLs", "forced wait s", "minimum s", *CONFIGS], sub_rows))
    share = t["waste_share_of_stock"]
    share_429 = t["share_429"]
    share_later = t.get("share_429_after_first_round")
    out += [
        "",
        "Targets (plugin):",
        f"  every recoverable URL fetched: {t['lost']} lost, {t['lost_also_by_stock']} of them "
        f"lost by stock too (target 0: {_verdict(t['lost_met'])})",
        f"  waste <= {t['waste_share_of_stock_max']:.0%} of stock's: "
        f"{totals['plugin']['wasted']} vs {totals['stock']['wasted']} = "
        f"{'n/a' if share is None else f'{share:.2%}'}, strict; {t['waste_in_flight']} of them "
        f"in flight ({_verdict(t['waste_met'])})",
        f"  429s under a stated limit <= {t['share_429_max']:.0%} of requests: "
        f"{'n/a' if share_429 is None else f'{share_429:.1%}'} "
        f"({'n/a' if t['share_429_met'] is None else _verdict(t['share_429_met'])}); "
        "beyond the first round (the requests sent before any reply could be read): "
        f"{'n/a' if share_later is None else f'{share_later:.1%}'}",
        f"  wall time <= {t['wall_over_oracle_max']}x the minimum the providers' waits force: "
        f"{totals['plugin']['wall']:.1f} s vs {data['oracle_wall']:.1f} s = "
        f"{t['wall_over_oracle']:.2f}x ({_verdict(t['wall_met'])})",
        f"chart: {data['chart']}",
    ]
    return "\n".join(out)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def _sizes(values: list[str]) -> dict[str, int]:
    out = {}
    for value in values:
        name, _, count = value.partition("=")
        out[name] = int(count)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every sub-scenario's URL count (and credits)")
    parser.add_argument("--urls", nargs="*", default=[], metavar="NAME=N",
                        help=f"URL count of one sub-scenario ({', '.join(SUB_NAMES)})")
    parser.add_argument("--only", nargs="*", default=None, metavar="NAME",
                        help="run only these sub-scenarios")
    args = parser.parse_args()
    print(render(run(args.scale, urls=_sizes(args.urls), only=args.only)))


if __name__ == "__main__":
    main()
