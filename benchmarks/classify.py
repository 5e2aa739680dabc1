"""The cost of ``classify()``: the 2xx fast path and one reply of each error shape.

``python -m benchmarks.classify [--repeat 7] [--number 20000]``

Each reply is the emulator's own wire shape for the code (its tables are
written from the provider docs independently of the plugin's profiles), turned
into a Scrapy ``Headers`` object once, outside the timed loop: only
``classify()`` itself is measured. Figures are the best of ``--repeat`` runs of
``--number`` calls each (the minimum is the figure least disturbed by other
processes on the machine), in microseconds per call.
"""

from __future__ import annotations

import argparse
import timeit
from dataclasses import dataclass
from typing import Any

from scrapy.http.headers import Headers

from benchmarks._common import machine, table, write_json
from scrapy_proxyerrors import Transport, classify
from scrapy_proxyerrors.emulator import SPECS

#: The fast path must stay well under this (the issue's target).
SUCCESS_TARGET_US = 5.0


@dataclass(frozen=True)
class Case:
    """One reply to classify, with where it came from."""

    name: str
    status: int
    headers: Headers
    body: bytes
    transport: Transport
    request_url: str = "http://example.com/page/1"
    proxy_url: str | None = None
    expect: str | None = None  # "provider/code" classify() must return


def _case(
    name: str,
    provider: str,
    code: str,
    transport: Transport,
    expect: str,
    **where: str,
) -> Case:
    reply = SPECS[provider].reply(code)
    return Case(
        name,
        reply.status,
        Headers(reply.header_items()),
        reply.body,
        transport,
        expect=expect,
        **where,
    )


def cases() -> list[Case]:
    """The fast path, then one reply per error shape the providers use."""
    ok = Case(
        "2xx, no provider signal",
        200,
        Headers({"Content-Type": "text/html; charset=utf-8", "Server": "nginx"}),
        b"<html>" + b"x" * 2000 + b"</html>",
        Transport.PLAIN,
        proxy_url="http://package-1-sessionid-abc:key@proxy.soax.com:5000",
    )
    return [
        ok,
        _case(
            "SOAX header code (502 NODE_UNAVAILABLE)",
            "soax",
            "NODE_UNAVAILABLE",
            Transport.PLAIN,
            "soax/NODE_UNAVAILABLE",
            proxy_url="http://package-1-sessionid-abc:key@proxy.soax.com:5000",
        ),
        _case(
            "chocodata JSON (502 extraction_failed)",
            "chocodata",
            "extraction_failed",
            Transport.API,
            "chocodata/extraction_failed",
            request_url="https://api.chocodata.com/v1/product?id=42&api_key=k",
        ),
        _case(
            "proxiesfo plaintext (454 invalid country)",
            "proxiesfo",
            "invalid-country-code",
            Transport.PLAIN,
            "proxiesfo/invalid-country-code",
            proxy_url="http://user-country-zz:pw@gw.proxies.fo:1337",
        ),
        _case(
            "Proxy-Status (504 connection_timeout)",
            "generic",
            "connection_timeout",
            Transport.PLAIN,
            "generic/connection_timeout",
            proxy_url="http://user:pw@10.0.0.7:3128",
        ),
    ]


def measure(case: Case, repeat: int, number: int) -> float:
    """Best-of-*repeat* microseconds per ``classify()`` call on *case*."""
    kwargs: dict[str, Any] = {
        "transport": case.transport,
        "request_url": case.request_url,
        "proxy_url": case.proxy_url,
    }
    status, headers, body = case.status, case.headers, case.body
    result = classify(status, headers, body, **kwargs)
    got = None if result is None else result.reason
    if got != case.expect:
        raise AssertionError(f"{case.name}: classify() gave {got!r}, expected {case.expect!r}")

    def call() -> None:
        classify(status, headers, body, **kwargs)

    best = min(timeit.repeat(call, repeat=repeat, number=number))
    return best / number * 1e6


def run(repeat: int = 7, number: int = 20_000) -> dict[str, Any]:
    """Measure every case; return the figures (also written to results/classify.json)."""
    rows = []
    for case in cases():
        # Error paths cost more per call: fewer calls keep each run short.
        n = number if case.expect is None else max(1, number // 4)
        rows.append(
            {
                "case": case.name,
                "result": case.expect or "None",
                "us_per_call": measure(case, repeat, n),
                "calls": n,
            }
        )
    fast = rows[0]["us_per_call"]
    data = {
        "benchmark": "classify",
        "machine": machine(),
        "repeat": repeat,
        "rows": rows,
        "target": {
            "success_path_us_max": SUCCESS_TARGET_US,
            "success_path_us": fast,
            "met": fast < SUCCESS_TARGET_US,
        },
    }
    write_json("classify.json", data)
    return data


def render(data: dict[str, Any]) -> str:
    rows = [[r["case"], r["result"], r["us_per_call"]] for r in data["rows"]]
    target = data["target"]
    verdict = "met" if target["met"] else "MISSED"
    return "\n".join(
        [
            f"classify(): microseconds per call, best of {data['repeat']}",
            table(["reply", "classified as", "us/call"], rows),
            f"2xx fast path {target['success_path_us']:.2f} us "
            f"(target < {target['success_path_us_max']:.0f} us: {verdict})",
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--number", type=int, default=20_000)
    args = parser.parse_args()
    print(render(run(args.repeat, args.number)))


if __name__ == "__main__":
    main()
