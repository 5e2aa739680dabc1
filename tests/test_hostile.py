"""Hostile input: a plugin that sits on every response must never break a crawl.

Property tests feed junk to everything that reads a provider's reply, a
refused CONNECT or a user's profile: the classifier, every parser, the
tunnel fallback, the route helpers and the user-profile loader. None of
them may raise; whatever they return must be well formed (enum members,
finite non-negative waits, bounded texts). A real crawl then checks the same
at the middleware level: hostile replies from an emulated provider leave the
crawl finished, with no error logged.

Profiles: ``HYPOTHESIS_PROFILE=long`` digs deeper (see ``conftest.py``).
"""

from __future__ import annotations

import base64
import itertools
import json
import logging
import math
import re
import string
import threading
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from aiohttp import ClientHttpProxyError, RequestInfo
from hypothesis import assume, example, given
from hypothesis import strategies as st
from multidict import CIMultiDict, CIMultiDictProxy
from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.exceptions import IgnoreRequest, NotConfigured
from scrapy.http import HtmlResponse, Request, Response
from scrapy.http.headers import Headers
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler
from yarl import URL

from scrapy_proxyerrors import (
    BUILTIN_PROFILES,
    Action,
    Category,
    ProviderError,
    ProviderErrorDropped,
    ProxyErrorsMiddleware,
    Scope,
    Transport,
    classify,
    rate_limit_wait,
)
from scrapy_proxyerrors import _stats as S
from scrapy_proxyerrors._parse import (
    BODY_LIMIT,
    TEXT_LIMIT,
    json_seconds,
    json_text,
    parse_json_object,
    parse_proxy_status,
    parse_rate_limit,
    parse_retry_after,
    plaintext,
)
from scrapy_proxyerrors._policy import decide
from scrapy_proxyerrors._redact import distinctive
from scrapy_proxyerrors._routes import (
    Credentials,
    basic_credentials,
    basic_header,
    route_id,
    session_of,
    url_credentials,
    with_new_session,
)
from scrapy_proxyerrors._tunnel import ConnectReply, connect_reply, redacted_message
from scrapy_proxyerrors._userprofiles import load_user_profiles
from scrapy_proxyerrors.emulator import Emulator, Reply
from scrapy_proxyerrors.exceptions import ProxyTunnelError

from .crawling import Outcome, make_crawler

if TYPE_CHECKING:
    from scrapy_proxyerrors.emulator import RequestRecord

#: A fixed clock: HTTP-date Retry-After values are relative to it.
NOW = 1_700_000_000.0
PROFILE_NAMES = sorted(BUILTIN_PROFILES)

# ------------------------------------------------------------------ strategies

#: Every header a profile reads, plus the generic ones: junk where it hurts.
_PROFILE_HEADERS = sorted(
    {
        name
        for p in BUILTIN_PROFILES.values()
        for name in (
            *p.code_headers,
            *p.detail_headers,
            *p.request_id_headers,
            *p.signature_headers,
        )
    }
    | {
        "Retry-After",
        "X-RateLimit-Limit",
        "X-RateLimit-Remaining",
        "X-RateLimit-Reset",
        "X-RateLimit-Window",
        "Proxy-Status",
        "Content-Type",
        "Content-Length",
    }
)
#: Every JSON key a profile reads, so that wrong shapes land on real paths.
_JSON_KEYS = sorted(
    {
        part
        for p in BUILTIN_PROFILES.values()
        for paths in (p.json_code, p.json_message, p.json_request_id, p.json_wait)
        for path in paths
        for part in path
    }
    | {"type", "title", "detail", "error", "code", "message"}
)
#: Codes the profiles know, so that junk also comes with plausible codes.
_CODES = sorted({r.code for p in BUILTIN_PROFILES.values() for r in p.rules if r.code})

statuses = st.one_of(
    st.integers(min_value=0, max_value=999),
    st.sampled_from([400, 401, 402, 403, 404, 407, 408, 429, 452, 500, 502, 503, 504, 522]),
    st.integers(min_value=-(2**63), max_value=2**63),
)

numbers_text = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(["1e400", "-1e400", "nan", "NaN", "inf", "-0", "+5", ".5", "5.", "0x10",
                     "1_000", "9" * 300, "1" * 5000, "  7  ", "\t3", "\u0663", "\uff11\uff12"]),
    st.text(alphabet="0123456789+-.eE_ xX", max_size=30),
)


@st.composite
def http_dates(draw: st.DrawFn) -> str:
    """HTTP-dates in every shape: valid, far past/future, odd zones, broken."""
    moment = draw(
        st.datetimes(
            min_value=datetime(1, 1, 1),  # naive on purpose: a zone is added below
            max_value=datetime(9999, 12, 31),
        )
    )
    offset = draw(st.integers(min_value=-23 * 60, max_value=23 * 60))
    text = format_datetime(moment.replace(tzinfo=timezone(timedelta(minutes=offset))))
    return draw(
        st.sampled_from(
            [
                text,
                text.replace("+", "-"),
                text.rsplit(" ", 1)[0],  # no zone: naive, must be ignored
                text.rsplit(" ", 1)[0] + " GMT",
                text.rsplit(" ", 1)[0] + " +9999",
                text.replace(":", ""),
                text[: draw(st.integers(0, len(text)))],
            ]
        )
    )


retry_after_values = st.one_of(
    numbers_text,
    http_dates(),
    st.sampled_from(
        ["", " ", "Wed, 21 Oct 2015 07:28:00 GMT", "Wed, 31 Feb 2024 25:61:61 GMT",
         "Mon, 01 Jan 0000 00:00:00 +0000", "Fri, 31 Dec 9999 23:59:59 GMT", "tomorrow",
         "99999999999999999999", "-5", "120, 60", "\x00", "\xff\xfe"]
    ),
    st.text(max_size=40),
)

header_bytes = st.one_of(
    st.binary(max_size=80),  # non-UTF-8, NUL, control characters
    st.text(max_size=80).map(lambda t: t.encode("utf-8")),
    retry_after_values.map(lambda t: t.encode("utf-8", "surrogatepass")),
    st.sampled_from(_CODES).map(str.encode),
    st.just(b"x" * 100_000),  # huge
    st.just("É".encode("latin-1") * 400),
)
header_names = st.one_of(
    st.sampled_from(_PROFILE_HEADERS),
    st.sampled_from(_PROFILE_HEADERS).map(str.lower),
    st.text(alphabet=string.ascii_letters + "-_", min_size=1, max_size=20),
)


@st.composite
def headers_st(draw: st.DrawFn) -> Any:
    """Scrapy Headers with duplicated values, or a plain mapping, or None."""
    items = draw(
        st.lists(
            st.tuples(header_names, st.lists(header_bytes, min_size=1, max_size=3)),
            max_size=8,
        )
    )
    shape = draw(st.sampled_from(["headers", "dict", "none"]))
    if shape == "none":
        return None
    merged: dict[str, list[bytes]] = {}
    for name, values in items:
        merged.setdefault(name, []).extend(values)  # the same header, several times
    if shape == "dict":
        return {name: values[-1] for name, values in merged.items()}
    return Headers(merged)


json_leaves = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.integers(min_value=-(10**400), max_value=10**400),  # overflows a float
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=30),
    st.sampled_from(_CODES),
    numbers_text,
)
json_values = st.recursive(
    json_leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.sampled_from(_JSON_KEYS), st.text(max_size=6)), children,
                        max_size=5),
    ),
    max_leaves=25,
)


@st.composite
def json_bodies(draw: st.DrawFn) -> bytes:
    """JSON of every shape (arrays, nesting, numbers where strings go), whole or broken."""
    value = draw(json_values)
    if draw(st.booleans()):
        # Put the junk exactly where a profile looks: {"error": {"details": junk}}.
        for key in reversed(draw(st.lists(st.sampled_from(_JSON_KEYS), min_size=1,
                                          max_size=3))):
            value = {key: value}
    text = json.dumps(value, allow_nan=True).encode()
    cut = draw(st.sampled_from(["whole", "cut", "prefixed", "padded"]))
    if cut == "cut":
        text = text[: draw(st.integers(0, len(text)))]
    elif cut == "prefixed":
        text = draw(st.binary(max_size=4)) + text
    elif cut == "padded":
        text = b" \n\t" + text + draw(st.binary(max_size=20))
    return text


bodies = st.one_of(
    st.binary(max_size=300),
    json_bodies(),
    st.text(max_size=300).map(lambda t: t.encode("utf-8")),
    st.sampled_from(
        [
            b"",
            b"{" * 100_000,  # nesting deep enough for a RecursionError
            b"[" * 100_000,
            b'{"a": ' * 50_000,
            b'{"error": "' + b"x" * 200_000 + b'"}',
            b"\xef\xbb\xbf{}",  # a UTF-8 BOM
            b"\x00" * 1000,
        ]
    ),
)

url_text = st.one_of(
    st.text(max_size=60),
    st.sampled_from(
        [
            "http://u:p@127.0.0.1:8000", "http://[::1", "http://h:99999", "http://h:port",
            "https://proxy.soax.com:9000", "http://user:pa:ss@host:1", "//h:1", "h:1", "",
            "http://\u2100.com:1", "http://a@b@c:1", "socks5://h:1", "http://h:-1",
            "https://api.chocodata.com/v1?api_key=K", "http://%zz:%zz@h:1",
        ]
    ),
    st.builds(
        "{}://{}:{}@{}:{}".format,
        st.sampled_from(["http", "https", "HTTP", "x"]),
        st.text(max_size=8),
        st.text(max_size=8),
        st.text(max_size=12),
        st.text(max_size=6),
    ),
)

providers = st.one_of(st.none(), st.sampled_from(PROFILE_NAMES),
                      st.sampled_from(PROFILE_NAMES).map(BUILTIN_PROFILES.__getitem__),
                      st.text(max_size=8))

# ------------------------------------------------------------------- checks


def _finite_wait(value: float | None) -> bool:
    return value is None or (isinstance(value, float) and math.isfinite(value) and value >= 0)


def check_error(error: object, status: int, transport: Transport) -> None:
    """*error* is None or a well-formed ProviderError."""
    if error is None:
        return
    assert isinstance(error, ProviderError)
    assert transport is not Transport.TARGET
    assert type(error.action) is Action
    assert type(error.category) is Category
    assert type(error.scope) is Scope
    assert type(error.transport) is Transport
    assert error.status == status
    assert error.provider in BUILTIN_PROFILES
    assert isinstance(error.code, str) and error.code
    assert len(error.code) <= max(TEXT_LIMIT, len(str(status)))
    for text in (error.detail, error.request_id):
        assert text is None or (isinstance(text, str) and len(text) <= TEXT_LIMIT)
    assert _finite_wait(error.retry_after)
    assert _finite_wait(error.body_wait)
    assert error.wait is None or (math.isfinite(error.wait) and error.wait >= 0)
    if error.rate_limit is not None:
        assert _finite_wait(error.rate_limit.reset_after)
        assert error.rate_limit.window is None or error.rate_limit.window > 0
    # What the middleware does next with it must not raise either.
    assert S.error_key(error.provider, error.code).startswith("proxyerrors/error/")
    decision = decide(error, attempt=3, actions={}, backoff_base=0.5, backoff_max=30,
                      max_wait=300, rng=__import__("random").Random(0))
    assert type(decision.action) is Action
    assert math.isfinite(decision.wait) and 0 <= decision.wait <= 300


# --------------------------------------------------------------- classify()


@given(
    status=statuses,
    headers=headers_st(),
    body=bodies,
    transport=st.sampled_from(Transport),
    provider=providers,
    proxy_url=st.one_of(st.none(), url_text),
    request_url=url_text,
)
@example(429, None, b'{"error": {"code": "rate_limited", "details": {"retry_after_seconds": '
         + b"9" * 400 + b"}}}", Transport.API, "wxapros", None, "").via("huge integer wait")
@example(429, {"Retry-After": "1" * 5000}, b"", Transport.PLAIN, None, None, "").via("long RA")
def test_classify_never_raises_and_returns_a_valid_error(
    status: int, headers: Any, body: bytes, transport: Transport, provider: Any,
    proxy_url: str | None, request_url: str,
) -> None:
    """Any status, headers, body, transport and provider: None or a valid error."""
    error = classify(status, headers, body, transport=transport, request_url=request_url,
                     proxy_url=proxy_url, provider=provider, now=NOW)
    check_error(error, status, transport)


@given(transport=st.sampled_from(Transport), status=statuses, body=bodies)
def test_transport_given_as_text(transport: Transport, status: int, body: bytes) -> None:
    """``transport="plain"`` is accepted like ``Transport.PLAIN``."""
    as_text = classify(status, {}, body, transport=transport.value, now=NOW)  # type: ignore[arg-type]
    assert as_text == classify(status, {}, body, transport=transport, now=NOW)


@given(
    status=st.integers(400, 599),
    headers=headers_st(),
    head=st.one_of(json_bodies(), st.binary(max_size=200)),
    tail=st.binary(min_size=1, max_size=2000),
    transport=st.sampled_from([Transport.PLAIN, Transport.CONNECT, Transport.API]),
    provider=st.sampled_from(PROFILE_NAMES),
)
def test_only_the_first_body_limit_bytes_matter(
    status: int, headers: Any, head: bytes, tail: bytes, transport: Transport, provider: str
) -> None:
    """Whatever follows the first BODY_LIMIT bytes cannot change the result."""
    capped = head[:BODY_LIMIT].ljust(BODY_LIMIT, b" ")
    kw: dict[str, Any] = {"transport": transport, "provider": provider, "now": NOW}
    assert classify(status, headers, capped + tail, **kw) == classify(status, headers, capped,
                                                                      **kw)


class _CapSpy(bytes):
    """A body that fails the test if anything reads past BODY_LIMIT.

    Slicing returns plain bytes; any other way of reading the whole body
    (decode, find, iteration, json) is refused.
    """

    slices: list[slice]

    def __getitem__(self, key: Any) -> Any:
        assert isinstance(key, slice), key
        stop = key.stop if key.stop is not None else len(self)
        assert stop <= BODY_LIMIT, f"read up to byte {stop}"
        type(self).slices.append(key)
        return bytes.__getitem__(self, key)

    def _refuse(self, *args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the whole body was read")

    decode = find = startswith = lstrip = strip = split = __iter__ = __contains__ = _refuse  # type: ignore[assignment]


@pytest.mark.parametrize("provider", PROFILE_NAMES)
@pytest.mark.parametrize("transport", [Transport.PLAIN, Transport.CONNECT, Transport.API])
def test_a_10_mb_body_is_read_only_up_to_the_cap(provider: str, transport: Transport) -> None:
    """A 10 MB body: only its first BODY_LIMIT bytes are touched, and they decide."""
    error = b'{"error": {"code": "internal_error", "message": "m"}, "error_code": "x"}'
    for head in (error, b"exceeded bandwidth limit", b"\xff" * 100):
        _CapSpy.slices = []
        big = _CapSpy(head.ljust(BODY_LIMIT, b" ") + b"Z" * (10 * 1024 * 1024))
        got = classify(502, {}, big, transport=transport, provider=provider, now=NOW)
        assert _CapSpy.slices, "the body was never sliced"
        want = classify(502, {}, head.ljust(BODY_LIMIT, b" "), transport=transport,
                        provider=provider, now=NOW)
        assert got == want


# ------------------------------------------------------------------ parsers


@given(value=st.one_of(st.none(), retry_after_values))
@example("1e400").via("overflows to inf")
@example("Fri, 31 Dec 9999 23:59:59 GMT")
def test_parse_retry_after(value: str | None) -> None:
    """None, or a finite number of seconds >= 0; delay-seconds are taken as given."""
    wait = parse_retry_after(value, NOW)
    assert _finite_wait(wait)
    if value is not None and wait is not None:
        try:
            number = float(value)
        except ValueError:
            return
        if math.isfinite(number) and number >= 0:
            assert wait == number


@given(moment=st.floats(min_value=-86400 * 365, max_value=86400 * 365 * 50))
def test_retry_after_dates_round_trip(moment: float) -> None:
    """A future HTTP-date gives the seconds until then; a past one gives 0."""
    when = datetime.fromtimestamp(NOW + moment, tz=timezone.utc).replace(microsecond=0)
    wait = parse_retry_after(format_datetime(when, usegmt=True), NOW)
    assert wait is not None
    assert wait == max(0.0, when.timestamp() - NOW)


@given(headers=headers_st())
def test_parse_rate_limit_and_rate_limit_wait(headers: Any) -> None:
    """Junk X-RateLimit-* values give None fields, never a negative or infinite wait."""
    hdrs = headers if isinstance(headers, Headers) else Headers(headers or {})
    limits = parse_rate_limit(hdrs, NOW)
    if limits is not None:
        assert limits.limit is None or limits.limit >= 0
        assert limits.remaining is None or limits.remaining >= 0
        assert _finite_wait(limits.reset_after)
        assert limits.window is None or (math.isfinite(limits.window) and limits.window > 0)
    assert _finite_wait(rate_limit_wait(headers, NOW))


@given(body=bodies)
def test_parse_json_object(body: bytes) -> None:
    data = parse_json_object(body)
    assert data is None or isinstance(data, dict)


@given(
    data=st.one_of(st.none(), st.dictionaries(st.sampled_from(_JSON_KEYS), json_values,
                                              max_size=5)),
    paths=st.lists(st.lists(st.sampled_from(_JSON_KEYS), min_size=1, max_size=3).map(tuple),
                   max_size=4).map(tuple),
)
def test_json_text_and_json_seconds(data: Any, paths: Any) -> None:
    """Arrays, objects, bools, NaN and huge numbers where text or seconds go."""
    text = json_text(data, paths)
    assert text is None or (isinstance(text, str) and 0 < len(text) <= TEXT_LIMIT)
    seconds = json_seconds(data, paths)
    assert seconds is None or (math.isfinite(seconds) and seconds >= 0)


@given(body=st.one_of(st.binary(max_size=2000), bodies), limit=st.integers(0, 500))
@example(body=b"\x00" * 11 + "ß".encode(), limit=12).via("case folding lengthens ß")
def test_plaintext(body: bytes, limit: int) -> None:
    text = plaintext(body, limit)
    assert isinstance(text, str) and len(text) <= limit
    assert text == text.casefold()


_SF = st.text(alphabet=string.ascii_letters + string.digits + ' ;,="\\-_.*:\t', max_size=120)


@given(value=st.one_of(st.none(), st.text(max_size=300), _SF,
                       _SF.map(lambda t: "proxy; error=" + t),
                       _SF.map(lambda t: 'p; error=x; details="' + t)))
@example('p; error="unterminated').via("an unterminated quoted string")
@example("p; error=x; received-status=1e400")
@example("p; error=x; received-status=" + "9" * 400)
def test_parse_proxy_status(value: str | None) -> None:
    found = parse_proxy_status(value)
    if found is not None:
        assert found.error and len(found.error) <= TEXT_LIMIT
        assert found.details is None or len(found.details) <= TEXT_LIMIT
        assert found.received_status is None or isinstance(found.received_status, int)


# ------------------------------------------------------------ CONNECT replies


def check_reply(reply: ConnectReply | None) -> None:
    if reply is None:
        return
    assert isinstance(reply, ConnectReply)
    assert isinstance(reply.status, int)
    assert isinstance(reply.reason, str)
    assert isinstance(reply.headers, Headers)
    assert isinstance(reply.body, bytes)
    assert "@" not in reply.proxy, "credentials in the proxy of a ConnectReply"
    error = classify(reply.status, reply.headers, reply.body, transport=Transport.CONNECT,
                     now=NOW)
    check_error(error, reply.status, Transport.CONNECT)


@given(message=st.one_of(
    st.text(max_size=300),
    st.builds(
        "Could not open CONNECT tunnel with proxy {} [{{'status': {}, 'reason': {}}}]".format,
        url_text, st.integers(-1000, 100_000), st.one_of(st.text(max_size=40),
                                                          st.binary(max_size=40).map(repr)),
    ),
))
def test_connect_reply_on_any_tunnel_error_message(message: str) -> None:
    """Scrapy's TunnelError message is parsed without ever raising."""
    check_reply(connect_reply(TunnelError(message)))
    assert isinstance(redacted_message(TunnelError(message)), str)


@given(proxy=st.from_regex(r"[a-z0-9.]{1,20}:[0-9]{1,5}", fullmatch=True),
       status=st.integers(100, 999), reason=st.binary(max_size=32))
def test_connect_reply_round_trips_scrapys_message(proxy: str, status: int,
                                                   reason: bytes) -> None:
    """What Scrapy writes (status and the repr of the reason) is read back exactly."""
    extra = {"status": status, "reason": reason}
    found = connect_reply(TunnelError(
        f"Could not open CONNECT tunnel with proxy {proxy} [{extra!r}]"))
    assert found is not None
    assert (found.status, found.reason, found.proxy, found.source) == (
        status, reason.decode("latin-1").strip(), proxy, "message")


@given(
    status=st.integers(-(2**70), 2**70),
    reason=st.binary(max_size=64),
    headers=headers_st(),
    body=bodies,
    proxy=url_text,
    cycle=st.booleans(),
)
def test_connect_reply_on_hostile_proxy_tunnel_errors(
    status: int, reason: bytes, headers: Any, body: bytes, proxy: str, cycle: bool
) -> None:
    """The handler's exception with any reply a proxy can send, wrapped, in a cycle.

    (Its fields are typed by the handler that builds it: only their values
    come from the wire.)
    """
    hdrs = headers if isinstance(headers, Headers) else Headers(headers or {})
    error = ProxyTunnelError(proxy, status, reason, hdrs, body)
    outer = RuntimeError("wrapped")
    outer.__cause__ = error
    if cycle:
        error.__context__ = outer
    check_reply(connect_reply(outer))
    assert isinstance(redacted_message(outer), str)


@given(status=st.integers(-(2**40), 2**40), message=st.text(max_size=40),
       headers=st.lists(st.tuples(st.text(min_size=1, max_size=10), st.text(max_size=20)),
                        max_size=5),
       user=st.text(max_size=10), password=st.text(max_size=10))
def test_connect_reply_on_hostile_aiohttp_errors(
    status: int, message: str, headers: list[tuple[str, str]], user: str, password: str
) -> None:
    """aiohttp's proxy error with any status and headers; its message is redacted."""
    try:
        proxy = URL.build(scheme="http", host="127.0.0.1", port=8080, user=user or None,
                          password=password or None)
    except (TypeError, ValueError):
        proxy = URL("http://127.0.0.1:8080")
    info = RequestInfo(proxy, "CONNECT", CIMultiDictProxy(CIMultiDict()), proxy)
    error = ClientHttpProxyError(info, (), status=status, message=message,
                                 headers=CIMultiDictProxy(CIMultiDict(headers)))
    check_reply(connect_reply(error))
    shown = redacted_message(error)
    # The proxy URL's password is masked where it stands as a credential
    # (user:password@); elsewhere as a whole token when it cannot be an
    # ordinary word (a password "0000" or "test" must not eat other text).
    assert not password or f":{password}@" not in shown
    assert not password or f":{proxy.raw_password}@" not in shown
    if distinctive(password):
        assert not re.search(rf"(?<![A-Za-z0-9]){re.escape(password)}(?![A-Za-z0-9])", shown)


# ------------------------------------------------------------------- routes


@given(header=st.one_of(
    st.none(),
    st.binary(max_size=60),
    st.binary(max_size=60).map(lambda b: b"Basic " + base64.b64encode(b)),
    st.binary(max_size=60).map(lambda b: b"basic  " + b),
    st.text(max_size=30).map(lambda t: b"Basic " + t.encode()),
))
def test_basic_credentials_never_raises(header: bytes | None) -> None:
    creds = basic_credentials(header)
    assert creds is None or (isinstance(creds.user, str) and isinstance(creds.password, str))


@given(user=st.text(alphabet=st.characters(max_codepoint=255, exclude_characters=":"),
                    max_size=20),
       password=st.text(alphabet=st.characters(max_codepoint=255), max_size=20))
def test_basic_header_round_trip(user: str, password: str) -> None:
    creds = Credentials(user, password)
    assert basic_credentials(basic_header(creds)) == creds


_PARAMS = st.one_of(st.sampled_from(["sessionid", "session", "sid"]),
                    st.text(max_size=10), st.none())


@given(user=st.one_of(st.text(max_size=60), st.builds(
    "{}-{}-{}".format, st.text(max_size=10), st.sampled_from(["sessionid", "session"]),
    st.text(max_size=10))), param=_PARAMS, new_id=st.one_of(st.none(), st.text(max_size=8)))
def test_session_helpers_never_raise(user: str, param: str | None, new_id: str | None) -> None:
    session = session_of(user, param)
    assert session is None or (session and "-" not in session and ":" not in session)
    if param:
        assert isinstance(with_new_session(user, param, new_id or None), str)


@given(prefix=st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=12),
       param=st.sampled_from(["sessionid", "session", "sid"]),
       old=st.text(alphabet=string.ascii_letters + string.digits + "_", min_size=1, max_size=8),
       rest=st.text(alphabet=string.ascii_letters + string.digits + "_-", max_size=12),
       new=st.text(alphabet=string.hexdigits, min_size=1, max_size=8))
def test_with_new_session_replaces_the_session(prefix: str, param: str, old: str, rest: str,
                                               new: str) -> None:
    """The fresh id is the one the username then carries; the rest is kept."""
    user = f"{prefix}-{param}-{old}" + (f"-{rest}" if rest else "")
    assume(session_of(user, param) == old)
    fresh = with_new_session(user, param, new)
    assert session_of(fresh, param) == new
    assert fresh.startswith(prefix)


@given(proxy=url_text, user=st.one_of(st.none(), st.text(max_size=20)), param=_PARAMS)
def test_route_id_never_raises_nor_shows_credentials(proxy: str, user: str | None,
                                                     param: str | None) -> None:
    route = route_id(proxy, user, param)
    assert isinstance(route, str)
    assert "@" not in route.split("~")[0]
    creds = url_credentials(proxy)
    assert creds is None or isinstance(creds.password, str)


@given(password=st.text(alphabet=string.ascii_letters + string.digits, min_size=6,
                         max_size=20),
       host=st.from_regex(r"[a-z][a-z0-9.-]{0,20}", fullmatch=True),
       port=st.integers(1, 65535))
def test_route_id_of_a_proxy_url_never_holds_the_password(password: str, host: str,
                                                          port: int) -> None:
    password = "PW" + password  # never a substring of the host, which is lower case
    route = route_id(f"http://user:{password}@{host}:{port}", "user-sessionid-x", "sessionid")
    assert password not in route
    assert route == f"{host}:{port}~x"


# ----------------------------------------------------------- user profiles

_RULE_KEYS = ["status", "code", "category", "action", "scope", "meaning", "fix", "docs",
              "wait", "cooldown", "body"]
_PROFILE_KEYS = ["extends", "kind", "rules", "code_headers", "detail_headers",
                 "request_id_headers", "proxy_hosts", "api_hosts", "signature_headers",
                 "json_code", "json_message", "json_request_id", "json_wait",
                 "plaintext_body", "rate_limit_headers", "proxy_status", "problem_json",
                 "title", "docs_url", "session_param", "code_regex", "fallback"]
_plausible = st.one_of(
    json_values,
    st.sampled_from([*PROFILE_NAMES, "proxy", "api", "any", "retry", "stop", "node", "route",
                     "rate_limit", "X-Error", "error.code", "(\\w+)", "(a){4294967296}",
                     "(", "*.example.com", "inf", "-1", 10**400, -1, 1e308, float("nan")]),
    st.lists(st.sampled_from(["X-Error", "error.code", ["error", "code"], "", 5, None]),
             max_size=3),
    st.integers(-10, 1000),
)
_rule = st.dictionaries(st.sampled_from(_RULE_KEYS), _plausible, max_size=8)
_profile = st.dictionaries(
    st.sampled_from(_PROFILE_KEYS), st.one_of(_plausible, st.lists(_rule, max_size=3)),
    max_size=8,
)
_user_value = st.one_of(
    st.dictionaries(st.one_of(st.sampled_from(["p", "q", *PROFILE_NAMES]), st.text(max_size=6),
                              st.integers()), st.one_of(_profile, json_values), max_size=3),
    st.dictionaries(st.sampled_from(["p", "q"]), _profile, max_size=2).map(
        lambda d: json.dumps(d, allow_nan=True)),
    st.text(max_size=20).filter(lambda t: not t.lstrip().startswith("{") or True),
    st.sampled_from(["{", '{"p": ' + "[" * 20_000, "a\x00b", ".", "/", "nope.toml",
                     "/dev/null"]),
    json_values,
)


_RULE = {"status": 500, "category": "node", "action": "retry", "scope": "route"}


@given(value=_user_value, status=statuses, headers=headers_st(), body=bodies)
@example("a\x00b", 502, None, b"").via("a NUL in a file path: ValueError")
@example('{"p": ' + "[" * 20_000, 502, None, b"").via("deep JSON: RecursionError")
@example({"p": {"code_regex": "(a){4294967296}"}}, 502, None, b"").via("OverflowError")
@example({"p": {"code_regex": "(" * 5000 + ")" * 5000}}, 502, None, b"").via("deep regex")
@example({"p": {"rules": [{**_RULE, "wait": 10**400}]}}, 500, None, b"").via("huge wait")
@example({"p": {"rules": [{**_RULE, "cooldown": 10**400}]}}, 500, None, b"").via("cooldown")
def test_user_profile_loader_gives_profiles_or_not_configured(
    value: Any, status: int, headers: Any, body: bytes
) -> None:
    """Junk in PROXYERRORS_PROVIDERS: NotConfigured naming the setting, or profiles
    that the classifier then uses without raising."""
    try:
        profiles = load_user_profiles(value, BUILTIN_PROFILES)
    except NotConfigured as exc:
        message = str(exc)
        assert message.startswith("PROXYERRORS_PROVIDERS"), message
        return
    merged = {**BUILTIN_PROFILES, **profiles}
    for name in profiles:
        for transport in (Transport.PLAIN, Transport.CONNECT, Transport.API):
            error = classify(status, headers, body, transport=transport, provider=name,
                             profiles=merged, now=NOW)
            if error is not None:
                assert type(error.action) is Action
                assert type(error.category) is Category
                assert type(error.scope) is Scope


# ----------------------------------------------- the middleware, called directly

_MW: dict[str, ProxyErrorsMiddleware] = {}


def _middleware() -> ProxyErrorsMiddleware:
    """One middleware for every example (building a crawler per example is slow)."""
    if "mw" not in _MW:
        crawler = get_crawler(settings_dict={"PROXYERRORS_BACKOFF_BASE": 0.01,
                                             "PROXYERRORS_BACKOFF_MAX": 0.05})
        crawler.spider = crawler._create_spider("hostile")
        # Scrapy 2.19 raises on crawler.engine before the crawl starts; the
        # middleware only runs during a crawl, so a stand-in engine will do.
        crawler.engine = _StubEngine()
        _MW["mw"] = build_from_crawler(ProxyErrorsMiddleware, crawler)
    return _MW["mw"]


class _StubEngine:
    """What the middleware touches of the engine: download slots, close_spider_async."""

    def __init__(self) -> None:
        self.downloader = SimpleNamespace(slots={}, get_slot_key=lambda request: "slot")
        self.spider = "hostile"  # an open spider: a stop schedules the close

    async def close_spider_async(self, reason: str) -> None:
        return None


@given(
    status=st.integers(100, 999),
    headers=headers_st(),
    body=bodies,
    kind=st.sampled_from(["plain", "https", "api"]),
    provider=st.one_of(st.none(), st.sampled_from(PROFILE_NAMES)),
    auth=st.one_of(st.none(), st.binary(max_size=40),
                   st.text(max_size=30).map(lambda t: b"Basic " + base64.b64encode(
                       t.encode("utf-8")))),
    retries=st.integers(0, 5),
)
def test_middleware_process_response_on_hostile_replies(
    status: int, headers: Any, body: bytes, kind: str, provider: str | None,
    auth: bytes | None, retries: int,
) -> None:
    """process_response gives a Response or a Request, or drops with the plugin's
    exception: never anything else, whatever the provider sent."""
    mw = _middleware()
    meta: dict[str, Any] = {"retry_times": retries}
    if provider:
        meta["proxyerrors_provider"] = provider
    if kind == "api":
        url = "https://api.chocodata.com/v1/item?api_key=K&id=1"
    else:
        url = f"{'https' if kind == 'https' else 'http'}://example.com/page"
        meta["proxy"] = "http://gate.soax.com:9000"
    request = Request(url, meta=meta, headers={"Proxy-Authorization": auth} if auth else None)
    response = HtmlResponse(url, status=status, headers=headers, body=body, request=request)
    mw.stopping = None  # a stop in one example must not requeue the next
    try:
        result = mw.process_response(request, response)
    except ProviderErrorDropped as dropped:
        error = dropped.error
        check_error(error, status, error.transport)
        return
    assert isinstance(result, (Request, Response))


@given(
    exc=st.one_of(
        st.builds(TunnelError, st.text(max_size=100)),
        st.builds(lambda p, s, r, b: ProxyTunnelError(p, s, r, Headers(), b), url_text,
                  st.integers(100, 999), st.binary(max_size=32), bodies),
        st.builds(lambda m: IgnoreRequest(m), st.text(max_size=20)),
        st.builds(lambda m: TimeoutError(m), st.text(max_size=20)),
    ),
    retries=st.integers(0, 5),
)
def test_middleware_process_exception_on_hostile_errors(exc: Exception, retries: int) -> None:
    """Any CONNECT refusal: a Request, None, or the plugin's drop."""
    mw = _middleware()
    mw.stopping = None
    request = Request("https://example.com/", meta={"proxy": "http://127.0.0.1:3128",
                                                    "retry_times": retries})
    try:
        result = mw.process_exception(request, exc)
    except ProviderErrorDropped:
        return
    assert result is None or isinstance(result, Request)


# ---------------------------------------------------- a real, hostile crawl

#: Replies a broken or hostile provider might send, none of them a stop signal.
_HOSTILE: list[Reply] = [
    Reply(502, [("X-SOAX-Error", "NODE_UNAVAILABLE"), ("X-SOAX-Error", "\xff\xfe\x01junk"),
                ("Retry-After", "99999999999999999999")]),
    Reply(503, [("Retry-After", "-5"), ("X-SOAX-Detail", "\x7f" * 5000)], b"\xff" * 100),
    Reply(503, [("Retry-After", "NaN")], b'{"error": {"code": [1, 2], "message": {"a": 1}}'),
    Reply(503, [("Retry-After", "1e400"), ("Content-Type", "application/problem+json")],
          b'{"type": 5, "title": null, "detail": ["x"]}'),
    Reply(429, [("Retry-After", "Wed, 31 Feb 2024 25:61:61 GMT"),
                ("X-RateLimit-Remaining", "-1"), ("X-RateLimit-Reset", "-100")],
          b'{"a":' * 50_000),  # nested deep enough for a RecursionError
    Reply(502, [("Proxy-Status", 'p; error="unterminated; details=' + "x" * 4000)]),
    Reply(500, [("X-SOAX-Error", "")], b"\x00" * 70_000 + b'{"error": "internal_error"}'),
    Reply(599, [("X-RateLimit-Reset", "1e400"), ("X-RateLimit-Limit", "9" * 400)]),
    Reply(200, [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "-3")], b"ok"),
    Reply(200, [("X-RateLimit-Remaining", "0"), ("X-RateLimit-Reset", "99999999999999")], b"ok"),
    Reply(502, [("X-SOAX-Error", "NODE_UNAVAILABLE"), ("Retry-After", "0.05")],
          b'{"error": {"details": {"retry_after_seconds": 1' + b"0" * 400 + b"}}}"),
    Reply(499, [("X-Whatever", "\x01\x02\x03")], b"<html>" + b"\xc3\x28" * 1000),
]
#: The API's version: chocodata JSON envelopes of the wrong shape.
_HOSTILE_API: list[Reply] = [
    Reply(502, [("Content-Type", "application/json")],
          b'{"error": {"nested": "extraction_failed"}}'),
    Reply(502, [("Content-Type", "application/json")], b'["extraction_failed"]'),
    Reply(500, [("Retry-After", "-1")], b'{"error": 5, "message": [], "request_id": {"a": 1}}'),
    Reply(502, [], b'{"error": "extraction_failed", "request_id": ' + b"9" * 400 + b"}"),
    Reply(503, [("Retry-After", "99999999999")], b'{"error": "internal_error"'),
    # (Deep nesting goes through the proxy above: the emulator's own reading
    # of an API error body, ProviderSpec.code_of, dies on a RecursionError.)
    Reply(500, [("X-Request-Id", "\xff" * 500)], b"\xef\xbb\xbf{" + b"\x00" * 100),
]


def _hostile_once(replies: list[Reply]) -> Any:
    """A responder: each URL's first request gets the next hostile reply.

    CONNECT requests name only ``host:port``, the same for every URL: the
    first ``len(replies)`` of them get one hostile reply each.
    """
    lock = threading.Lock()
    seen: set[str] = set()
    connects = itertools.count()

    def responder(record: RequestRecord) -> Reply | None:
        with lock:
            if record.kind == "connect":
                index = next(connects)
                return replies[index] if index < len(replies) else None
            if record.url in seen:
                return None
            seen.add(record.url)
            return replies[(len(seen) - 1) % len(replies)]

    return responder


@pytest_twisted.inlineCallbacks
def test_hostile_replies_leave_the_crawl_finished_with_no_error(
    caplog: pytest.LogCaptureFixture,
) -> Any:
    """Garbage headers, broken JSON, huge/negative/NaN waits from a proxy (plain
    and CONNECT) and an API: the crawl finishes, every URL ends in a callback
    or an errback, and nothing is logged at ERROR."""
    caplog.set_level(logging.DEBUG)
    with Emulator("soax") as proxy_emu, Emulator("chocodata") as api_emu:
        proxy_emu.set_responder(_hostile_once(_HOSTILE))
        api_emu.set_responder(_hostile_once(_HOSTILE_API))
        proxy = proxy_emu.proxy_url(user="package-1-sessionid-abc")
        requests = [
            (proxy_emu.target_url(f"/page/{i}", https=https), {"proxy": proxy})
            for https in (False, True)
            for i in range(len(_HOSTILE))
        ] + [
            (api_emu.api_url(f"/v1/product?id={i}"), {"proxyerrors_provider": "chocodata"})
            for i in range(len(_HOSTILE_API))
        ]
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_MAX_RETRIES": 4, "CONCURRENT_REQUESTS": 8,
                                "PROXYERRORS_MAX_WAIT": 5})
        yield crawler.crawl(requests=requests, outcome=outcome)
    stats = crawler.stats.get_stats()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage()[:300] for r in errors]
    assert stats["finish_reason"] == "finished"
    assert "log_count/ERROR" not in stats
    assert not [k for k in stats if k.startswith("spider_exceptions/")]
    assert len(outcome.responses) + len(outcome.failures) == len(requests)
    # Hostile replies were classified (not ignored), and most URLs got through.
    assert stats.get("proxyerrors/action/retry", 0) + stats.get("proxyerrors/action/rotate", 0)
    assert len(outcome.ok_urls) >= len(requests) // 2
    for failure in outcome.failures:
        assert failure.check(ProviderErrorDropped, IgnoreRequest), failure
