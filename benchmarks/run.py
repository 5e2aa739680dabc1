"""Run every benchmark (classify, overhead, efficiency) and print their tables.

``python -m benchmarks.run [--reps 4] [--pages 10000] [--scale 1.0] [--urls NAME=N ...]
[--scale-routes 1 100 10000 100000] [--skip-crawl] [--skip-scale]``

Figures go to ``benchmarks/results/`` (git-ignored): ``classify.json``,
``overhead.json``, ``efficiency.json``, ``efficiency.png`` (with matplotlib)
and ``run.json`` (the targets, met or missed, the run time, the commit and the
load average). 6-8 minutes on 2 cores (379 s on 2026-12-01, load 2.5-5).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import Any

from benchmarks import classify, efficiency, overhead
from benchmarks._common import machine, table, write_json


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def _verdict(met: bool | None) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")


def targets_table(
    cls: dict[str, Any], ovh: dict[str, Any], eff: dict[str, Any]
) -> tuple[list[list[Any]], dict[str, bool | None]]:
    """One row per target of the issues: target, figure, verdict."""
    o, e = ovh["targets"], eff["targets"]
    totals = eff["totals"]
    share = e["waste_share_of_stock"]
    rows: list[list[Any]] = [
        ["classify() 2xx fast path < 5 us", f"{cls['target']['success_path_us']:.2f} us",
         cls["target"]["met"]],
        ["success path < 5 us per response (+ over stock)",
         f"+{o['success_delta_us']:.2f} us ({o['success_plugin_us']:.2f} us in all)",
         o["success_met"]],
    ]
    if "scale_met" in o:
        rows.append(
            ["per-response/per-failure cost within 2x of 1 route (1..100,000 routes, "
             "0%/90% resting)", f"worst {o['scale_worst_ratio']:.2f}x", o["scale_met"]]
        )
    if "throughput_met" in o:
        rows.append(["full-crawl throughput on/off >= 0.97",
                     f"{o['throughput_ratio']:.3f}", o["throughput_met"]])
    rows += [
        ["every recoverable URL fetched",
         f"{totals['plugin']['fetched']:,}/{totals['plugin']['recoverable']:,} "
         f"({e['lost']} lost)", e["lost_met"]],
        ["waste <= 1% of stock's (strict)",
         f"{totals['plugin']['wasted']:,} vs {totals['stock']['wasted']:,} = "
         f"{'n/a' if share is None else f'{share:.1%}'} ({e['waste_in_flight']} in flight)",
         e["waste_met"]],
        ["429s under a stated limit <= 2% of requests",
         "n/a" if e["share_429"] is None else f"{e['share_429']:.1%}", e["share_429_met"]],
        ["wall time <= 1.1x the minimum forced waits",
         f"{totals['plugin']['wall']:.1f} s vs {eff['oracle_wall']:.1f} s = "
         f"{e['wall_over_oracle']:.2f}x", e["wall_met"]],
    ]
    verdicts = {str(r[0]): r[2] for r in rows}
    return [[r[0], r[1], _verdict(r[2])] for r in rows], verdicts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=4, help="full crawls per configuration")
    parser.add_argument("--pages", type=int, default=10_000, help="pages per full crawl")
    parser.add_argument("--scale", type=float, default=1.0, help="efficiency URL-count factor")
    parser.add_argument("--urls", nargs="*", default=[], metavar="NAME=N",
                        help="URL count of one efficiency sub-scenario")
    parser.add_argument("--scale-routes", type=int, nargs="*",
                        default=list(overhead.SCALE_ROUTES), help="pool sizes (overhead)")
    parser.add_argument("--skip-crawl", action="store_true", help="no full crawls on/off")
    parser.add_argument("--skip-scale", action="store_true", help="no pool-size benchmark")
    args = parser.parse_args()
    start = time.perf_counter()
    timings: dict[str, float] = {}
    loads: dict[str, str] = {"start": _load()}

    _log(f"classify() ... (load {_load()})")
    t = time.perf_counter()
    cls = classify.run()
    timings["classify"] = time.perf_counter() - t
    print(classify.render(cls), end="\n\n", flush=True)

    _log(f"overhead: microbenchmark, scale, then {2 * args.reps} crawls of "
         f"{args.pages:,} pages ... (load {_load()})")
    t = time.perf_counter()
    ovh = overhead.run(
        reps=args.reps, pages=args.pages, skip_crawl=args.skip_crawl,
        skip_scale=args.skip_scale, scale_routes=tuple(args.scale_routes), log=_log,
    )
    timings["overhead"] = time.perf_counter() - t
    loads["after overhead"] = _load()
    print(overhead.render(ovh), end="\n\n", flush=True)

    _log(f"efficiency: {len(efficiency.SUBS)} sub-scenarios x 3 configurations ... "
         f"(load {_load()})")
    t = time.perf_counter()
    eff = efficiency.run(scale=args.scale, urls=efficiency._sizes(args.urls), log=_log)
    timings["efficiency"] = time.perf_counter() - t
    loads["end"] = _load()
    print(efficiency.render(eff), end="\n\n", flush=True)

    total = time.perf_counter() - start
    rows, verdicts = targets_table(cls, ovh, eff)
    m = machine()
    write_json(
        "run.json",
        {"machine": m, "seconds": total, "timings": timings, "load_average": loads,
         "targets": verdicts},
    )
    print(f"Targets (commit {m['commit']}, {m['cpus']} CPUs; load average 1/5/15 min: "
          + ", ".join(f"{k} {v}" for k, v in loads.items()) + ")")
    print(table(["target", "figure", "verdict"], rows))
    crawl = ovh["crawl"]
    if crawl is not None:
        # The throughput verdict uses the figure (ratio of the medians);
        # on a loaded machine the back-to-back pairs tell whether to trust it.
        print(
            f"(throughput: ratio of medians {crawl['throughput_ratio']:.3f}, back-to-back "
            f"pairs median {crawl['paired_throughput_ratio_median']:.3f}; CPU per page "
            f"{crawl['cpu_ratio']:.3f}: when these disagree, the noise is larger than the "
            "effect)"
        )
    print(f"benchmarks/run.py took {total:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
