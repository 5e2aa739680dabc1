"""Crawl efficiency under provider faults: stock Scrapy, scrapy-rotating-proxies, this plugin.

``python -m benchmarks.efficiency [--scale 1.0]``

The same 5,000-URL crawl, split into five sub-scenarios (one emulator each,
since one emulator is one provider with one fault pattern; see ``SUBS`` and
benchmarks/README.md for the exact mix), is run under three configurations:

* ``stock``: Scrapy's defaults (``RetryMiddleware``, ``RETRY_TIMES = 2``),
  every request (retries too) sent to the next proxy of the list, round-robin;
* ``rotating``: scrapy-rotating-proxies 0.6.2 with ``ROTATING_PROXY_LIST``
  and its two middlewares, default settings;
* ``plugin``: ``ADDONS = {"scrapy_proxyerrors.Addon": 0}`` with
  ``PROXYERRORS_PROXIES``, default settings.

Every figure comes from the emulator's ``RequestRecord`` list (what reached
the provider, when, through which route, and what it answered), never from
the crawler's stats. A request is WASTED when it reached the provider

* inside a ``Retry-After`` window the provider had announced (``window``),
* after the account's quota / fatal error (``after_fatal``),
* through a route that had already answered that it is dead (``dead_route``),
* or as a retry of a URL that had already got a permanent error (``permanent``).

The first ``IN_FLIGHT`` (``CONCURRENT_REQUESTS - 1``) requests arriving after
an announcement are not counted: the downloader may have sent them before it
could read the answer (figures without that allowance are in the JSON as
``wasted_strict``).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from benchmarks._common import RESULTS, machine, run_crawl, table, write_json
from scrapy_proxyerrors.emulator import Emulator, Reply, RequestRecord

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

#: Issue targets.
WASTE_TARGET = 0.01  # the plugin's waste, as a share of stock Scrapy's
WALL_TARGET = 1.2  # the plugin's wall time, as a multiple of the oracle's
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
_PAGE_NUMBER = re.compile(r"/page/(\d+)")


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
    #: Codes after which the account can serve nothing more.
    fatal_codes: frozenset[str] = frozenset()
    #: Codes that tell the route answering them is dead.
    dead_route_codes: frozenset[str] = frozenset()
    #: Codes that no retry can change for that URL.
    permanent_codes: frozenset[str] = frozenset()

    def scaled(self, scale: float) -> Sub:
        params = dict(self.params)
        if "credits" in params:
            params["credits"] = max(1, round(params["credits"] * scale))
        return Sub(**{**self.__dict__, "urls": max(1, round(self.urls * scale)), "params": params})

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
        """Seconds of waiting the provider's documented limits force on any crawler."""
        if self.scenario != "ratelimit":
            return 0.0
        limit, window = self.params["limit"], self.params["window"]
        # The first `limit` pages go at once, then one window per `limit` more.
        return (math.ceil(len(self.recoverable()) / limit) - 1) * window

    def oracle_wall(self, pages_per_s: float) -> float:
        """The least wall time any crawler here needs: the forced waits, plus
        fetching, at the fault-free rate, what cannot overlap them.

        Without waits that is every recoverable page. Under the rate limit, a
        crawler that knew the limit would fetch each batch of ``limit`` pages
        while the window slides, so only the last batch comes on top.
        """
        pages = len(self.recoverable())
        if self.scenario != "ratelimit":
            return pages / pages_per_s
        last_batch = pages - (math.ceil(pages / self.params["limit"]) - 1) * self.params["limit"]
        return self.forced_wait() + last_batch / pages_per_s

    def retry_after(self) -> float:
        """The Retry-After every 429 of this sub-scenario carries.

        Records keep the status and code, not the reply's headers, so this is
        derived from the emulator's documented rule: seconds until the
        sliding window frees a slot (at most ``window``), rounded up, at
        least 1. With ``window <= 1`` that is exactly 1 on every 429.
        """
        window = self.params.get("window", 1.0)
        if window > 1:
            raise ValueError("Retry-After is only derivable from the records for window <= 1")
        return 1.0

    def _permanent(self, number: int) -> bool:
        return bool(self.permanent_every) and number % self.permanent_every == 0


#: The fault mix: 5,000 URLs in all.
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


def config_spec(config: str, proxies: list[str], sub: Sub) -> dict[str, Any]:
    """The runner spec (minus URLs) for one configuration."""
    settings: dict[str, Any] = dict(COMMON_SETTINGS)
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


def analyze(
    sub: Sub, records: Sequence[RequestRecord], in_flight: int | None = None
) -> dict[str, Any]:
    """Every figure of one crawl, from the emulator's records alone.

    *in_flight*: how many requests arriving right after an announcement (a
    429 opening a window, the first fatal or dead-route answer) are not
    counted, because they may have been sent before the crawler could read
    it; default ``IN_FLIGHT``.
    """
    exempt = IN_FLIGHT if in_flight is None else in_flight
    plain = sorted((r for r in records if r.kind == "plain"), key=lambda r: r.seq)
    fetched = {p for r in plain if r.status == 200 and (p := _page(r.url)) is not None}
    recoverable = sub.recoverable()
    retry_after = sub.retry_after() if sub.scenario == "ratelimit" else 0.0
    # Per account (rate limits and quotas are per account) or per route.
    window_end: dict[str | None, float] = {}
    window_exempt: dict[str | None, int] = {}
    fatal_at: dict[str | None, int] = {}
    dead_at: dict[str, int] = {}
    permanent_seq: dict[str, int] = {}
    reasons = {"window": 0, "after_fatal": 0, "dead_route": 0, "permanent": 0}
    wasted = 0
    for i, r in enumerate(plain):
        why = []
        account = r.password
        in_window = r.time < window_end.get(account, -math.inf)
        if in_window and i > window_exempt[account]:
            why.append("window")
        if account in fatal_at and i > fatal_at[account] + exempt:
            why.append("after_fatal")
        if r.route in dead_at and i > dead_at[r.route] + exempt:
            why.append("dead_route")
        if r.url in permanent_seq:
            why.append("permanent")  # a later request for the same URL: never in flight
        for reason in why:
            reasons[reason] += 1
        wasted += bool(why)
        # What this answer announces, for the requests that come after it.
        if r.status == 429 and retry_after:
            if not in_window:
                window_exempt[account] = i + exempt  # a new window: some are in flight
            window_end[account] = max(window_end.get(account, -math.inf), r.time + retry_after)
        if r.code in sub.fatal_codes:
            fatal_at.setdefault(account, i)
        if r.code in sub.dead_route_codes:
            dead_at.setdefault(r.route, i)
        if r.code in sub.permanent_codes:
            permanent_seq.setdefault(r.url, r.seq)
    return {
        "urls": sub.urls,
        "recoverable": len(recoverable),
        "fetched": len(fetched),
        "fetched_recoverable": len(fetched & recoverable),
        "reached": len(plain),
        "wasted": wasted,
        "wasted_by_reason": reasons,
        "lost": len(recoverable - fetched),
        "lost_pages": sorted(recoverable - fetched),
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


def run_one(sub: Sub, config: str) -> dict[str, Any]:
    """One sub-scenario under one configuration, on a fresh emulator."""
    emu = _emulator(sub)
    try:
        urls = [emu.target_url(f"/page/{n}") for n in sub.page_numbers()]
        spec = config_spec(config, emu.proxy_urls(), sub)
        spec["spider"] = {"urls": urls}
        result = run_crawl(spec, timeout=600)
        time.sleep(0.2)  # let the emulator file the last records
        records = emu.requests
    finally:
        emu.stop()
    figures = analyze(sub, records)
    figures["wasted_strict"] = analyze(sub, records, in_flight=0)["wasted"]
    figures.update(
        elapsed=result["elapsed"],
        cpu=result["cpu"],
        client_ok=result["ok"],
        client_failed=result["failed"],
        client_failure_types=result["failure_types"],
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


def run(scale: float = 1.0, log: Callable[[str], None] = print) -> dict[str, Any]:
    """Every sub-scenario under every configuration; figures, JSON and chart."""
    subs = [s.scaled(scale) for s in SUBS] if scale != 1.0 else list(SUBS)
    rate = calibrate(max(200, round(1000 * scale)))
    log(f"  calibration: {rate:.0f} pages/s fault-free (stock Scrapy)")
    per_sub: dict[str, dict[str, Any]] = {}
    load_before = os.getloadavg()
    for index, sub in enumerate(subs):
        oracle = sub.oracle_wall(rate)
        per_sub[sub.name] = {
            "description": sub.description,
            "oracle_wall": oracle,
            "forced_wait": sub.forced_wait(),
        }
        # A different configuration goes first in each sub-scenario, so that
        # a burst of load from elsewhere on the machine does not always hit
        # the same one.
        for config in CONFIGS[index % 3 :] + CONFIGS[: index % 3]:
            figures = run_one(sub, config)
            per_sub[sub.name][config] = figures
            log(
                f"  {sub.name:<10} {config:<8} fetched {figures['fetched']}/"
                f"{figures['recoverable']}, reached {figures['reached']}, "
                f"wasted {figures['wasted']}, lost {figures['lost']}, "
                f"{figures['elapsed']:.1f} s (oracle {oracle:.1f} s)"
            )
    totals = {config: _total(per_sub, config) for config in CONFIGS}
    # URLs the plugin lost that stock Scrapy fetched: losses of its own making.
    own_losses = sum(
        len(set(s["plugin"]["lost_pages"]) - set(s["stock"]["lost_pages"]))
        for s in per_sub.values()
    )
    oracle_total = sum(s["oracle_wall"] for s in per_sub.values())
    stock_waste, plugin = totals["stock"]["wasted"], totals["plugin"]
    data: dict[str, Any] = {
        "benchmark": "efficiency",
        "machine": machine(),
        "load_average_before_after": [load_before[0], os.getloadavg()[0]],
        "in_flight_exempt": IN_FLIGHT,
        "calibration_pages_per_s": rate,
        "subs": per_sub,
        "totals": totals,
        "oracle_wall": oracle_total,
        "targets": {
            "waste_share_of_stock_max": WASTE_TARGET,
            "waste_share_of_stock": plugin["wasted"] / stock_waste if stock_waste else None,
            "waste_met": plugin["wasted"] <= WASTE_TARGET * stock_waste,
            "lost": plugin["lost"],
            "lost_also_by_stock": plugin["lost"] - own_losses,
            "lost_met": plugin["lost"] == 0,
            "wall_over_oracle_max": WALL_TARGET,
            "wall_over_oracle": plugin["wall"] / oracle_total,
            "wall_met": plugin["wall"] <= WALL_TARGET * oracle_total,
        },
    }
    write_json("efficiency.json", data)
    data["chart"] = str(chart(data))
    return data


def _total(per_sub: dict[str, dict[str, Any]], config: str) -> dict[str, Any]:
    keys = ("urls", "recoverable", "fetched", "reached", "wasted", "wasted_strict", "lost")
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
    colors = ["#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3"]
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
        "Crawl efficiency under provider faults (5,000 URLs; emulator records)", fontsize=12
    )
    fig.tight_layout()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / "efficiency.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def render(data: dict[str, Any]) -> str:
    totals = data["totals"]
    rows = []
    for config in CONFIGS:
        t = totals[config]
        rows.append(
            [
                config,
                f"{t['fetched']:,}/{t['recoverable']:,}",
                t["reached"],
                t["wasted"],
                t["lost"],
                t["wall"],
                data["oracle_wall"],
                f"{t['wall'] / data['oracle_wall']:.2f}x",
            ]
        )
    out = [
        f"Efficiency under faults, {totals['stock']['urls']:,} URLs (figures from the "
        f"emulator's records; {data['in_flight_exempt']} in-flight requests exempt "
        "per announcement)",
        table(
            ["config", "fetched", "reached", "wasted", "lost", "wall s", "oracle s", "wall/oracle"],
            rows,
        ),
        "",
        "Per sub-scenario (fetched / reached / wasted / lost / wall s):",
    ]
    sub_rows = []
    for name, sub in data["subs"].items():
        row: list[Any] = [name, sub["oracle_wall"]]
        for config in CONFIGS:
            f = sub[config]
            row.append(
                f"{f['fetched']}/{f['reached']}/{f['wasted']}/{f['lost']}/{f['elapsed']:.1f}"
            )
        sub_rows.append(row)
    out.append(table(["sub-scenario", "oracle s", *CONFIGS], sub_rows))
    t = data["targets"]
    share = t["waste_share_of_stock"]
    out += [
        "",
        f"plugin waste = {'n/a' if share is None else f'{share:.2%}'} of stock's "
        f"(target <= {t['waste_share_of_stock_max']:.0%}: {_verdict(t['waste_met'])}); "
        f"recoverable URLs lost: {t['lost']}, {t['lost_also_by_stock']} of them lost by stock "
        f"too ({_verdict(t['lost_met'])}); "
        f"wall {t['wall_over_oracle']:.2f}x the oracle "
        f"(target <= {t['wall_over_oracle_max']}x: {_verdict(t['wall_met'])})",
        f"chart: {data['chart']}",
    ]
    return "\n".join(out)


def _verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scale", type=float, default=1.0,
                        help="multiply every sub-scenario's URL count (and credits)")
    args = parser.parse_args()
    print(render(run(args.scale)))


if __name__ == "__main__":
    main()
