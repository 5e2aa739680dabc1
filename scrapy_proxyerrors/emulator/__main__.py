"""``python -m scrapy_proxyerrors.emulator``: run an emulator until Ctrl-C.

Prints the URLs to point a crawler at, serves until interrupted (SIGINT or
SIGTERM), then prints what it answered.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._timeline import Table, Timeline, render_html
from ._emulator import Emulator
from ._providers import PROVIDERS
from ._scenario import COMMON_PARAMS, SCENARIOS

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType


def _parser() -> argparse.ArgumentParser:
    scenarios = "; ".join(
        f"{name}: {', '.join(f'{k}={_show(v)}' for k, v in params.items()) or '-'}"
        for name, params in SCENARIOS.items()
    )
    parser = argparse.ArgumentParser(
        prog="python -m scrapy_proxyerrors.emulator",
        description="Emulate a proxy provider or scraping API on 127.0.0.1.",
        epilog=f"Scenarios and their parameters: {scenarios}. "
               f"Every scenario also takes: {', '.join(COMMON_PARAMS)}.",
    )
    parser.add_argument("--provider", choices=PROVIDERS, default="generic")
    parser.add_argument("--scenario", choices=tuple(SCENARIOS), default="ok")
    parser.add_argument("--port", type=int, default=0,
                        help="proxy port (helodata: the first of consecutive ports) or API port")
    parser.add_argument("--target-port", type=int, default=0, help="the HTTP target site's port")
    parser.add_argument("--tls-port", type=int, default=0, help="the HTTPS target site's port")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--user", default="user")
    parser.add_argument("--password", default="secret", help="the proxy password or API key")
    parser.add_argument("--max-records", type=int, default=100_000,
                        help="requests kept in memory (counters count all); default 100000")
    parser.add_argument("--param", "-p", action="append", default=[], metavar="KEY=VALUE",
                        help="a scenario parameter (repeatable); lists are comma-separated")
    parser.add_argument("--timeline", metavar="PATH.html", default=None,
                        help="on exit, write what it received over time as one "
                             "self-contained HTML page (like PROXYERRORS_REPORT_HTML)")
    return parser


def _params(items: Sequence[str], parser: argparse.ArgumentParser) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            parser.error(f"--param wants KEY=VALUE, got {item!r}")
        params[key.strip()] = value
    return params


def _show(value: Any) -> str:
    if isinstance(value, (tuple, frozenset)):
        return ",".join(str(v) for v in sorted(value)) or "-"
    return str(value)


def describe(emu: Emulator) -> list[str]:
    """The lines announcing where the emulator listens."""
    shown = {k: v for k, v in emu.params.items()
             if k in SCENARIOS[emu.scenario] or v != COMMON_PARAMS.get(k)}
    settings = ", ".join(f"{k}={_show(v)}" for k, v in shown.items())
    lines = [f"scrapy-proxyerrors emulator: provider {emu.provider}, scenario {emu.scenario}"
             + (f" ({settings})" if settings else "")]
    if emu.ports["api"] is not None:
        lines.append(f"api:        {emu.api_url('/', key=False)}  (key: {emu.password})")
    else:
        lines += [f"proxy:      {url}" for url in emu.proxy_urls()]
    lines.append(f"target:     {emu.target_url('/page/1')}")
    lines.append(f"target TLS: {emu.target_url('/page/1', https=True)}")
    return lines


def summary(emu: Emulator) -> list[str]:
    """The counters, one line each."""
    counters = emu.counters
    lines = [f"requests: {counters['total']}"]
    for kind, count in sorted(counters["by_kind"].items()):
        lines.append(f"  {kind:<8} {count}")
    lines.append("answers:")
    for (status, code), count in sorted(counters["by_status"].items(),
                                        key=lambda item: (item[0][0], item[0][1] or "")):
        lines.append(f"  {status} {code or '':<26} {count}")
    lines.append("routes:")
    for route, count in sorted(counters["by_route"].items()):
        lines.append(f"  {route:<32} {count}")
    if counters["client_closed"]:
        lines.append(f"refused CONNECTs closed by the client: {counters['client_closed']}")
    return lines


def timeline_html(emu: Emulator, *, bucket_seconds: float = 0.05) -> str:
    """What *emu* received over time, as a page like the crawl's HTML report.

    Built from the documented API only: the answered ``requests`` (the latest
    ``max_records`` of them) for the picture, ``counters`` (every request) for
    the tables. No password or key is shown.
    """
    records = emu.requests
    # Records carry time.monotonic(); the page shows wall-clock times.
    offset = time.time() - time.monotonic()
    timeline = Timeline(bucket_seconds, max_buckets=512)
    for record in records:
        at = record.time + offset
        timeline.count(f"kind/{record.kind}", at)
        if record.kind != "target":
            answer = str(record.status) + (f" {record.code}" if record.code else "")
            timeline.count(f"answer/{answer}", at)
    counters = emu.counters
    answers = sorted(counters["by_status"].items(),
                     key=lambda item: (-item[1], item[0][0], item[0][1] or ""))
    routes = sorted(counters["by_route"].items(), key=lambda item: (-item[1], item[0]))
    note = ""
    if counters["total"] > len(records):
        note = (f"The charts show the latest {len(records)} of {counters['total']} requests "
                "(--max-records); the tables count every request.")
    tables = [
        Table("Answers", ("status", "code", "count"),
              [(status, code or "", n) for (status, code), n in answers], note, "answers"),
        Table("Requests by route", ("route", "requests"), routes, css_class="routes"),
    ]
    summary = [f"Requests: {counters['total']}"] + [
        f"{kind}: {n}" for kind, n in sorted(counters["by_kind"].items())]
    if counters["client_closed"]:
        summary.append(f"Refused CONNECTs closed by the client: {counters['client_closed']}")
    title = f"scrapy-proxyerrors emulator: {emu.provider}, scenario {emu.scenario}"
    return render_html(title, timeline, tables, summary=summary,
                       subtitle="what the emulator received")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        emu = Emulator(
            args.provider, args.scenario, args.seed, user=args.user, password=args.password,
            port=args.port, target_port=args.target_port, tls_port=args.tls_port,
            max_records=args.max_records, **_params(args.param, parser),
        )
    except (TypeError, ValueError) as exc:
        parser.error(str(exc))
    try:
        emu.start()
    except OSError as exc:
        print(f"cannot listen: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        done.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    print("\n".join([*describe(emu), "Serving until Ctrl-C."]), flush=True)
    try:
        while not done.wait(0.5):
            pass
    finally:
        emu.stop()
        print("\n".join(["", *summary(emu)]), flush=True)
    if args.timeline:
        try:
            Path(args.timeline).write_text(timeline_html(emu), encoding="utf-8")
        except OSError as exc:
            print(f"cannot write the timeline: {exc}", file=sys.stderr)
            return 1
        print(f"timeline: {args.timeline}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
