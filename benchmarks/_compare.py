"""Full-crawl throughput, plugin on/off, for two source trees, interleaved.

``python -m benchmarks._compare NAME=TREE NAME=TREE [--pages 10000] [--reps 4]``

Each TREE is a directory holding ``scrapy_proxyerrors/`` and ``benchmarks/``
(e.g. ``git archive <commit> scrapy_proxyerrors benchmarks | tar -x -C
/tmp/old``). Crawls alternate between the trees and, within each, between
plugin on and off (ABBA), so that the load other processes put on the
machine falls on both alike; each crawl runs ``benchmarks.runner`` of its
tree with ``PYTHONPATH`` set to it. The emulator (``ok`` scenario,
``--pages`` pages, every link followed) runs in this process. Prints each
crawl, then per tree the medians, the back-to-back on/off ratios and the
CPU-per-page ratio; writes ``results/compare.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from typing import Any

from benchmarks._common import machine, write_json
from scrapy_proxyerrors.emulator import Emulator


def crawl(tree: str, enabled: bool, pages: int) -> dict[str, Any]:
    """One crawl of *pages* pages through the emulator's proxy, with *tree*'s code."""
    with Emulator("generic", "ok", pages=pages) as emu:
        spec = {
            "spider": {"urls": [emu.target_url("/page/1")], "follow": True,
                       "proxy": emu.proxy_url()},
            "settings": {"ADDONS": {"scrapy_proxyerrors.Addon": 0} if enabled else {}},
        }
        proc = subprocess.run(
            [sys.executable, "-m", "benchmarks.runner"],
            input=json.dumps(spec), capture_output=True, text=True, cwd=tree,
            env=dict(os.environ, PYTHONPATH=tree), timeout=600, check=False,
        )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"crawl in {tree} failed:\n{proc.stderr[-2000:]}")
    result = json.loads(lines[-1])
    return {
        "enabled": enabled,
        "pages": result["ok"],
        "pages_per_s": result["ok"] / result["elapsed"],
        "cpu_ms_per_page": result["cpu"] / max(1, result["ok"]) * 1e3,
        "load": os.getloadavg()[0],
    }


def run(trees: dict[str, str], pages: int, reps: int) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in trees}
    names = list(trees)
    for rep in range(reps):
        for name in names if rep % 2 == 0 else names[::-1]:
            for enabled in (True, False) if rep % 2 == 0 else (False, True):
                r = crawl(trees[name], enabled, pages)
                runs[name].append(r)
                print(f"  {name:<10} {'on ' if enabled else 'off'} {r['pages']} pages "
                      f"{r['pages_per_s']:.0f}/s {r['cpu_ms_per_page']:.2f} ms CPU/page "
                      f"(load {r['load']:.2f})", flush=True)
    summary = {}
    for name, mine in runs.items():
        on = [r for r in mine if r["enabled"]]
        off = [r for r in mine if not r["enabled"]]
        summary[name] = {
            "pages_per_s_on": statistics.median(r["pages_per_s"] for r in on),
            "pages_per_s_off": statistics.median(r["pages_per_s"] for r in off),
            "cpu_on": statistics.median(r["cpu_ms_per_page"] for r in on),
            "cpu_off": statistics.median(r["cpu_ms_per_page"] for r in off),
            "pairs": [a["pages_per_s"] / b["pages_per_s"] for a, b in zip(on, off, strict=True)],
        }
        s = summary[name]
        s["ratio"] = s["pages_per_s_on"] / s["pages_per_s_off"]
        s["cpu_ratio"] = s["cpu_on"] / s["cpu_off"]
    data = {"machine": machine(), "trees": trees, "pages": pages, "reps": reps,
            "runs": runs, "summary": summary}
    write_json("compare.json", data)
    return data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("trees", nargs=2, metavar="NAME=TREE")
    parser.add_argument("--pages", type=int, default=10_000)
    parser.add_argument("--reps", type=int, default=4, help="crawls per tree and setting")
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.trees)
    data = run(trees, args.pages, args.reps)
    for name, s in data["summary"].items():
        print(f"{name}: on/off ratio of medians {s['ratio']:.3f} "
              f"({s['pages_per_s_on']:.0f} vs {s['pages_per_s_off']:.0f} pages/s), pairs "
              + ", ".join(f"{p:.3f}" for p in s["pairs"])
              + f"; CPU per page {s['cpu_ratio']:.3f}")


if __name__ == "__main__":
    main()
