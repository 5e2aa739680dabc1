"""Run every benchmark (classify, overhead, efficiency) and print their tables.

``python -m benchmarks.run [--reps 5] [--pages 10000] [--scale 1.0]``

Figures go to ``benchmarks/results/`` (git-ignored): ``classify.json``,
``overhead.json``, ``efficiency.json``, ``efficiency.png`` and ``run.json``
(the targets, met or missed, and the run time). About 6 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from benchmarks import classify, efficiency, overhead
from benchmarks._common import machine, write_json


def _log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--reps", type=int, default=5, help="full crawls per configuration")
    parser.add_argument("--pages", type=int, default=10_000, help="pages per full crawl")
    parser.add_argument("--scale", type=float, default=1.0, help="efficiency URL-count factor")
    args = parser.parse_args()
    start = time.perf_counter()
    timings: dict[str, float] = {}

    _log("classify() ...")
    t = time.perf_counter()
    cls = classify.run()
    timings["classify"] = time.perf_counter() - t
    print(classify.render(cls), end="\n\n", flush=True)

    _log(f"overhead: microbenchmark, then {2 * args.reps} crawls of {args.pages:,} pages ...")
    t = time.perf_counter()
    ovh = overhead.run(reps=args.reps, pages=args.pages, log=_log)
    timings["overhead"] = time.perf_counter() - t
    print(overhead.render(ovh), end="\n\n", flush=True)

    _log("efficiency: 5 sub-scenarios x 3 configurations ...")
    t = time.perf_counter()
    eff = efficiency.run(scale=args.scale, log=_log)
    timings["efficiency"] = time.perf_counter() - t
    print(efficiency.render(eff), end="\n\n", flush=True)

    total = time.perf_counter() - start
    targets: dict[str, Any] = {
        "classify_fast_path": cls["target"]["met"],
        "success_overhead": ovh["targets"]["success_met"],
        "throughput": ovh["targets"].get("throughput_met"),
        "waste": eff["targets"]["waste_met"],
        "every_recoverable_url": eff["targets"]["lost_met"],
        "wall_time": eff["targets"]["wall_met"],
    }
    write_json(
        "run.json",
        {"machine": machine(), "seconds": total, "timings": timings, "targets": targets},
    )
    print("Targets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in targets.items()))
    crawl = ovh["crawl"]
    # The throughput verdict uses the figure (ratio of the medians);
    # on a loaded machine the back-to-back pairs tell whether to trust it.
    print(
        f"(throughput: ratio of medians {crawl['throughput_ratio']:.3f}, back-to-back pairs "
        f"median {crawl['paired_throughput_ratio_median']:.3f}; CPU per page "
        f"{crawl['cpu_ratio']:.3f}: when these disagree, the noise is larger than the effect)"
    )
    print(f"benchmarks/run.py took {total:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in timings.items())})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
