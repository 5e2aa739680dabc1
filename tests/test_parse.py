"""Header parsers with a fixed clock."""

from __future__ import annotations

from datetime import datetime, timezone
from email.utils import format_datetime

import pytest

from scrapy_proxyerrors import parse_retry_after
from scrapy_proxyerrors._parse import as_headers, parse_proxy_status, parse_rate_limit

NOW = 1_800_000_000.0


def _http_date(ts: float) -> str:
    return format_datetime(datetime.fromtimestamp(ts, timezone.utc), usegmt=True)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("12", 12.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        (_http_date(NOW + 30), 30.0),
        (_http_date(NOW - 30), 0.0),  # a date in the past: no wait
        ("-5", None),
        ("garbage", None),
        ("", None),
        (None, None),
        ("inf", None),
        ("nan", None),
        ("Mon, 99 Foo 2026 99:99:99 GMT", None),
        ("12 seconds", None),
    ],
)
def test_retry_after(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value, NOW) == expected


def test_rate_limit_reset_as_timestamp_or_delay() -> None:
    as_ts = parse_rate_limit(as_headers({"X-RateLimit-Reset": str(int(NOW) + 40)}), NOW)
    as_delay = parse_rate_limit(as_headers({"X-RateLimit-Reset": "40"}), NOW)
    assert as_ts is not None and as_ts.reset_after == 40
    assert as_delay is not None and as_delay.reset_after == 40
    assert parse_rate_limit(as_headers({}), NOW) is None


def test_proxy_status_picks_the_member_with_an_error() -> None:
    parsed = parse_proxy_status('cdn, "gw.example"; error=dns_timeout; received-status=504')
    assert parsed is not None
    assert (parsed.proxy, parsed.error, parsed.received_status) == (
        "gw.example",
        "dns_timeout",
        504,
    )
    assert parse_proxy_status("cdn, gw") is None
