"""Parsers for the signals providers send: pure functions, no I/O.

Every parser takes untrusted input and returns ``None`` (or skips an item)
rather than raising: a malformed header must never break a crawl.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

from scrapy.http.headers import Headers

#: Only this much of a body is ever looked at.
BODY_LIMIT = 64 * 1024
#: Longest code, detail or request id kept from a provider's reply.
TEXT_LIMIT = 300
#: Unix timestamps are told apart from delays by size (year 2001 onwards).
_EPOCH_THRESHOLD = 1_000_000_000

HeadersLike = Headers | Mapping[Any, Any] | None


def as_headers(headers: HeadersLike) -> Headers:
    """Scrapy's case-insensitive :class:`~scrapy.http.headers.Headers`."""
    if isinstance(headers, Headers):
        return headers
    return Headers(headers or {})


def header_text(headers: Headers, name: str) -> str | None:
    """The last value of header *name*, decoded and trimmed, or ``None``.

    Header bytes are decoded as latin-1 (the HTTP default), which maps every
    byte, so non-UTF-8 values cannot raise.
    """
    value = headers.get(name)
    if not value:
        return None
    text = value.decode("latin-1").strip()[:TEXT_LIMIT]
    return text or None


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    if not math.isfinite(value):
        return None
    return value


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (RFC 9110 section 10.2.3).

    Accepts delay-seconds and HTTP-dates; a date in the past means no wait.
    Negative numbers and garbage are ignored (``None``).
    """
    if not value:
        return None
    value = value.strip()
    if value[:1].isdigit() or value[:1] in "+-.":
        seconds = _number(value)
        if seconds is None or seconds < 0:
            return None
        return seconds
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when is None or when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now)


@dataclass(frozen=True, slots=True)
class RateLimit:
    """The ``X-RateLimit-*`` family, as far as it was sent."""

    limit: int | None = None
    remaining: int | None = None
    #: Seconds until the window frees a slot, from ``X-RateLimit-Reset``.
    reset_after: float | None = None
    window: float | None = None


_RATE_HEADERS = (
    "X-RateLimit-Limit",
    "X-RateLimit-Remaining",
    "X-RateLimit-Reset",
    "X-RateLimit-Window",
)


def parse_rate_limit(headers: Headers, now: float) -> RateLimit | None:
    """Read ``X-RateLimit-Limit/Remaining/Reset/Window``; ``None`` if absent.

    ``Reset`` is a Unix timestamp for some providers and a delay for others;
    values that look like a timestamp are turned into a delay.
    """
    values = [header_text(headers, name) for name in _RATE_HEADERS]
    if not any(values):
        return None
    numbers = [_number(v) if v else None for v in values]
    limit, remaining, reset, window = numbers
    reset_after: float | None = None
    if reset is not None and reset >= 0:
        reset_after = max(0.0, reset - now) if reset >= _EPOCH_THRESHOLD else reset
    return RateLimit(
        limit=int(limit) if limit is not None and limit >= 0 else None,
        remaining=int(remaining) if remaining is not None and remaining >= 0 else None,
        reset_after=reset_after,
        window=window if window is not None and window > 0 else None,
    )


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or ``None`` (not JSON, not an object, cut)."""
    head = body[:BODY_LIMIT].lstrip()
    if not head.startswith(b"{"):
        return None
    try:
        data = json.loads(head)
    except (ValueError, RecursionError):
        return None
    return data if isinstance(data, dict) else None


def json_lookup(data: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """Follow *path* through nested objects; ``None`` where it breaks."""
    node: Any = data
    for part in path:
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node


def json_text(data: Mapping[str, Any] | None, paths: tuple[tuple[str, ...], ...]) -> str | None:
    """The first string (or number) found at one of *paths*, trimmed."""
    if data is None:
        return None
    for path in paths:
        value = json_lookup(data, path)
        if isinstance(value, bool):
            continue
        if isinstance(value, (str, int, float)):
            text = str(value).strip()[:TEXT_LIMIT]
            if text:
                return text
    return None


def json_seconds(
    data: Mapping[str, Any] | None, paths: tuple[tuple[str, ...], ...]
) -> float | None:
    """A non-negative number of seconds found at one of *paths*."""
    if data is None:
        return None
    for path in paths:
        value = json_lookup(data, path)
        if isinstance(value, bool):
            continue
        if isinstance(value, (int, float)):
            try:
                seconds = float(value)
            except OverflowError:
                # An integer beyond any float (JSON allows it): garbage, like inf.
                continue
            if math.isfinite(seconds) and seconds >= 0:
                return seconds
        if isinstance(value, str):
            number = _number(value)
            if number is not None and number >= 0:
                return number
    return None


def plaintext(body: bytes, limit: int = TEXT_LIMIT) -> str:
    """The start of a plaintext body, decoded leniently and case-folded:
    at most *limit* characters (case folding may lengthen a text: ``ß`` is ``ss``)."""
    return body[: limit * 4].decode("utf-8", "replace").strip()[:limit].casefold()[:limit]


@dataclass(frozen=True, slots=True)
class ProxyStatus:
    """The error member of an RFC 9209 ``Proxy-Status`` header."""

    proxy: str
    error: str
    details: str | None = None
    received_status: int | None = None


# One list member: a token (or quoted string) naming the proxy, then
# ``;key=value`` parameters whose values are tokens, numbers or quoted strings.
_SF_PARAM = re.compile(
    r';\s*([a-z*][a-z0-9_.*-]*)(?:=("(?:[^"\\]|\\.)*"|[^;,\s]*))?', re.IGNORECASE
)


def parse_proxy_status(value: str | None) -> ProxyStatus | None:
    """The first member of a ``Proxy-Status`` list that carries ``error=``.

    A small parser for the Structured Field list the RFC defines: members are
    split on commas outside quoted strings, parameters on semicolons. Anything
    it cannot read is skipped.
    """
    if not value or "error" not in value:
        return None
    for member in _split_members(value):
        name, _, rest = member.partition(";")
        params: dict[str, str] = {}
        for match in _SF_PARAM.finditer(";" + rest):
            raw = match.group(2) or ""
            if raw.startswith('"'):
                raw = re.sub(r"\\(.)", r"\1", raw[1:-1])
            params[match.group(1).lower()] = raw
        error = params.get("error", "").strip().lower()
        if not error:
            continue
        received = _number(params.get("received-status", ""))
        return ProxyStatus(
            proxy=name.strip().strip('"')[:TEXT_LIMIT],
            error=error[:TEXT_LIMIT],
            details=params.get("details", "")[:TEXT_LIMIT] or None,
            received_status=int(received) if received is not None else None,
        )
    return None


def _split_members(value: str) -> list[str]:
    members: list[str] = []
    current: list[str] = []
    quoted = escaped = False
    for char in value:
        if escaped:
            escaped = False
        elif char == "\\" and quoted:
            escaped = True
        elif char == '"':
            quoted = not quoted
        elif char == "," and not quoted:
            members.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    members.append("".join(current).strip())
    return [m for m in members if m]


# A provider code leading ``Proxy-Status`` details: ``client-10060: ...`` or
# ``client_10060``; the hyphen and the underscore spellings are one code.
_DETAILS_CODE = re.compile(r"\s*([a-z]+)[-_](\d+)\b", re.IGNORECASE)


def details_code(details: str | None) -> str | None:
    """The ``word_digits`` code that leads a ``Proxy-Status`` details text."""
    if not details:
        return None
    match = _DETAILS_CODE.match(details)
    if match is None:
        return None
    return f"{match.group(1).lower()}_{match.group(2)}"


def status_value(text: str | None) -> int | None:
    """An HTTP status (100-999) from a header value such as ``pc_status: 503``."""
    if not text:
        return None
    text = text.strip()
    if len(text) != 3 or not (text.isascii() and text.isdigit()):
        return None
    value = int(text)
    return value if value >= 100 else None


def hint_text(value: Any) -> str | None:
    """A retry hint's value as text: JSON booleans as ``true``/``false``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int)):
        text = str(value).strip()[:TEXT_LIMIT]
        return text or None
    return None


def header_seconds(headers: Headers, name: str, factor: float = 1.0) -> float | None:
    """A non-negative wait in header *name*, times *factor* (``0.001`` for ms)."""
    text = header_text(headers, name)
    if text is None:
        return None
    number = _number(text)
    if number is None or number < 0:
        return None
    return number * factor
