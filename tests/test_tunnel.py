"""connect_reply() and redacted_message() on every way a refused CONNECT is reported."""

from __future__ import annotations

import base64
import random
from typing import TYPE_CHECKING, Any

import pytest
from scrapy import exceptions as scrapy_exceptions
from scrapy.core.downloader.handlers.http11 import TunnelError
from scrapy.http.headers import Headers
from scrapy.utils.defer import deferred_f_from_coro_f

from scrapy_proxyerrors import Transport, classify
from scrapy_proxyerrors._tunnel import ConnectReply, connect_reply, redacted_message
from scrapy_proxyerrors.exceptions import ProxyTunnelError

from .provider_docs import HELODATA_ROWS, SOAX_ROWS, DocRow
from .rawproxy import ConnectRecord, RawProxy, Send, Step, reply
from .test_handler import crawl

if TYPE_CHECKING:
    from aiohttp import ClientHttpProxyError

AIOHTTP_HANDLER = "scrapy.core.downloader.handlers._aiohttp.AiohttpDownloadHandler"


class _WrapperError(Exception):
    """Stands in for DownloadFailedError on Scrapy < 2.15 (the wrapping is what matters)."""


#: What Scrapy's non-Twisted handlers wrap errors in (2.15+).
DownloadFailedError: type[Exception] = getattr(
    scrapy_exceptions, "DownloadFailedError", _WrapperError
)


def stock_message(proxy: str, extra: Any) -> str:
    """The message Scrapy's processProxyResponse builds (same f-string)."""
    return f"Could not open CONNECT tunnel with proxy {proxy} [{extra!r}]"


# ------------------------------------------------------------------ ProxyTunnelError


def test_proxy_tunnel_error_gives_the_whole_reply() -> None:
    """The handler's exception: every field, source "handler"."""
    headers = Headers({"X-SOAX-Error": "AUTH_FAILED", "Content-Length": "4"})
    error = ProxyTunnelError("10.0.0.1:9000", 407, b" Proxy Auth Required ", headers, b"nope")
    assert connect_reply(error) == ConnectReply(
        status=407,
        reason="Proxy Auth Required",
        headers=headers,
        body=b"nope",
        proxy="10.0.0.1:9000",
        source="handler",
    )


def test_proxy_tunnel_error_found_down_the_chain() -> None:
    """Wrapped by someone else (raise ... from, or raised while handling)."""
    inner = ProxyTunnelError("p:1", 502, b"Bad Gateway")

    def retry() -> None:
        try:
            raise inner
        except ProxyTunnelError:
            raise RuntimeError("while retrying") from None

    with pytest.raises(RuntimeError) as caught:
        retry()
    # ``from None`` hides the context from tracebacks, not from us.
    assert caught.value.__context__ is inner
    found = connect_reply(caught.value)
    assert found is not None and (found.status, found.source) == (502, "handler")
    wrapped = DownloadFailedError("x")
    wrapped.__cause__ = inner
    assert connect_reply(wrapped) == connect_reply(inner)


def test_chain_cycles_do_not_loop() -> None:
    """A cyclic __context__ chain ends the walk."""
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert connect_reply(a) is None


# ----------------------------------------------------------------- stock TunnelError


@pytest.mark.parametrize(
    ("reason", "expected"),
    [
        (b"Proxy Authentication Required", "Proxy Authentication Required"),
        (b"", ""),
        (b"It's not allowed", "It's not allowed"),  # repr switches to b"..."
        (b"quote ' and \" both", "quote ' and \" both"),
        (b"caf\xe9 \\ back", "caf\xe9 \\ back"),
        (b"x" * 1000, "x" * 1000),  # Scrapy keeps up to 1000 bytes
        (b"] [{'status': 200, 'reason': b''}]", "] [{'status': 200, 'reason': b''}]"),
    ],
    ids=["plain", "empty", "apostrophe", "both-quotes", "latin1-backslash", "long", "nested"],
)
def test_stock_message(reason: bytes, expected: str) -> None:
    """Status and reason parsed back out of Scrapy's message."""
    error = TunnelError(stock_message("127.0.0.1:8080", {"status": 407, "reason": reason}))
    found = connect_reply(error)
    assert found == ConnectReply(407, expected, Headers(), b"", "127.0.0.1:8080", "message")


@pytest.mark.parametrize(
    "message",
    [
        "",
        "Could not open CONNECT tunnel with proxy 127.0.0.1:8080",
        # Not HTTP at all: Scrapy quotes the raw bytes instead of a dict.
        stock_message("127.0.0.1:8080", b"SSH-2.0-OpenSSH_9.6\r\n\r\n"),
        stock_message("127.0.0.1:8080", {"status": "407", "reason": b"x"}),
        stock_message("127.0.0.1:8080", {"status": 407, "reason": "not bytes"}),
        stock_message("127.0.0.1:8080", {"status": 4070, "reason": b"x"}),
        stock_message("127.0.0.1:8080", {"reason": b"x", "status": 407}),
        "Could not open CONNECT tunnel with proxy p:1 [{'status': 407, 'reason': b'unterminated",
        "Could not open CONNECT tunnel with proxy p:1 [{'status': 407, 'reason': b'\\x'}]",
        "Could not open CONNECT tunnel with proxy p:1 [{'status': 407, 'reason': b'" + "\\" * 9999,
    ],
)
def test_malformed_stock_messages_give_none(message: str) -> None:
    """Anything else gives None, never an exception."""
    assert connect_reply(TunnelError(message)) is None


def test_odd_tunnel_errors_give_none() -> None:
    """No args, non-text args, a __str__ that raises: None."""

    class Unprintable(TunnelError):
        def __str__(self) -> str:
            raise RuntimeError("no")

    for error in (TunnelError(), TunnelError(407), TunnelError(b"bytes"), Unprintable("x")):
        assert connect_reply(error) is None


def test_mangled_messages_never_raise() -> None:
    """Random cuts and byte flips of a real message: a ConnectReply or None."""
    rng = random.Random(1234)
    base = stock_message("proxy.example:3128", {"status": 407, "reason": b"Auth 'x' \\ \"y\""})
    for _ in range(2000):
        chars = list(base)
        for _ in range(rng.randint(1, 4)):
            position = rng.randrange(len(chars))
            if rng.random() < 0.5:
                del chars[position]
            else:
                chars[position] = chr(rng.randrange(0, 0x250))
        found = connect_reply(TunnelError("".join(chars)))
        assert found is None or isinstance(found, ConnectReply)


def test_other_exceptions_give_none() -> None:
    """Download errors without a CONNECT reply are not ours."""
    for error in (ValueError("x"), DownloadFailedError("407, message='x'"), KeyboardInterrupt()):
        assert connect_reply(error) is None


def test_message_proxy_never_carries_credentials() -> None:
    """Even if a message held user:password@, proxy is host:port only."""
    error = TunnelError(stock_message("user:pw@proxy.example:3128", {"status": 407, "reason": b""}))
    found = connect_reply(error)
    assert found is not None and found.proxy == "proxy.example:3128"


# --------------------------------------------------------------------- aiohttp


def aiohttp_error(
    status: int, reason: str, headers: dict[str, str], proxy_url: str
) -> tuple[Exception, ClientHttpProxyError]:
    """Built the way aiohttp's connector and Scrapy's aiohttp handler build them
    (aiohttp/connector.py _create_proxy_connection, handlers/_aiohttp.py)."""
    aiohttp = pytest.importorskip("aiohttp")
    multidict = pytest.importorskip("multidict")
    yarl = pytest.importorskip("yarl")
    info = aiohttp.RequestInfo(
        url=yarl.URL("https://example.com/"),
        method="CONNECT",
        headers=multidict.CIMultiDictProxy(multidict.CIMultiDict()),
        real_url=yarl.URL(proxy_url),
    )
    cause = aiohttp.ClientHttpProxyError(
        info,
        (),
        status=status,
        message=reason,
        headers=multidict.CIMultiDictProxy(multidict.CIMultiDict(headers)),
    )
    return wrapped(cause), cause


def wrapped(cause: Exception) -> Exception:
    """*cause* raised and wrapped the way Scrapy's handlers do (``raise ... from e``)."""
    try:
        try:
            raise cause
        except Exception as e:
            raise DownloadFailedError(str(e)) from e
    except DownloadFailedError as error:
        return error


def test_aiohttp_error_gives_status_reason_headers() -> None:
    """Status, reason and headers from the ClientHttpProxyError cause."""
    error, _ = aiohttp_error(
        407, "Proxy Authentication Required", {"X-SOAX-Error": "AUTH_FAILED"},
        "http://user:s3cretpass@127.0.0.1:3128",
    )
    assert connect_reply(error) == ConnectReply(
        status=407,
        reason="Proxy Authentication Required",
        headers=Headers({"X-SOAX-Error": "AUTH_FAILED"}),
        body=b"",
        proxy="127.0.0.1:3128",
        source="aiohttp",
    )


def test_aiohttp_message_is_redacted() -> None:
    """Scrapy's message carries user:password@ (percent-encoded); redacted
    messages carry neither form, nor the Basic token."""
    password = "p@ss:w/rd"
    error, cause = aiohttp_error(
        502, "Bad Gateway", {}, "http://us%40er:p%40ss%3Aw%2Frd@proxy.example:3128"
    )
    text = str(error)
    assert "p%40ss%3Aw%2Frd" in text  # the problem being solved
    redacted = redacted_message(error)
    token = base64.b64encode(f"us@er:{password}".encode()).decode()
    for secret in ("p%40ss%3Aw%2Frd", password, "us%40er", "us@er", token):
        assert secret not in redacted
    assert "proxy.example:3128" in redacted and "502" in redacted
    headers = RuntimeError(f"{{'Proxy-Authorization': 'Basic {token}', 'Host': 'h'}}")
    assert redacted_message(headers) == "{'Proxy-Authorization': 'Basic ***', 'Host': 'h'}"
    plain = TunnelError(stock_message("p:1", {"status": 407, "reason": b"Basic auth required"}))
    assert redacted_message(plain) == str(plain)
    assert "p@ss" not in redacted_message(cause)


def test_redacted_message_masks_urls_in_any_exception() -> None:
    """Any exception text: URL credentials masked, the rest kept."""
    error = ValueError("connect to http://bob:hunter2@10.0.0.1:8080 failed")
    assert redacted_message(error) == "connect to http://***@10.0.0.1:8080 failed"


def test_redacted_message_survives_unprintable_exceptions() -> None:
    """An exception whose __str__ raises still gives a message."""

    class Unprintable(Exception):
        def __str__(self) -> str:
            raise RuntimeError("no")

    assert redacted_message(Unprintable()) == "<unprintable Unprintable>"


ROWS = SOAX_ROWS + HELODATA_ROWS  # codes in headers: what aiohttp keeps


def _row_script(record: ConnectRecord) -> list[Step]:
    host = record.request_line.split(" ")[1]
    row = ROWS[int(host.split(".")[0].removeprefix("row-"))]
    return [Send(reply(row.status, "Refused", row.headers, row.body))]


@deferred_f_from_coro_f
async def test_real_aiohttp_crawl(caplog: pytest.LogCaptureFixture) -> None:
    """Scrapy's aiohttp handler in a real crawl: header-coded provider rows
    classify from connect_reply() alone (the body is lost: proxiesfo's
    body-coded rows cannot be told apart this way)."""
    pytest.importorskip("aiohttp")
    pytest.importorskip(AIOHTTP_HANDLER.rsplit(".", 1)[0], reason="Scrapy < 2.19")
    urls = [f"https://row-{i}.test/" for i in range(len(ROWS))]
    with RawProxy(_row_script) as proxy:
        outcome = await crawl(
            urls, proxy=proxy, credentials="user:s3cretpass", handler=AIOHTTP_HANDLER,
            close_wait=0.0,
        )
    assert len(outcome.failures) == len(ROWS)
    problems: list[str] = []
    for url, row in zip(urls, ROWS, strict=True):
        error = outcome.error(url)
        found = connect_reply(error)
        if found is None:
            problems.append(f"{row.id}: {error!r}")
            continue
        assert (found.source, found.proxy, found.body) == ("aiohttp", proxy.address, b"")
        if (found.status, found.reason) != (row.status, "Refused") or any(
            found.headers.get(k) != v.encode() for k, v in row.headers.items()
        ):
            problems.append(f"{row.id}: {found}")
        decision = classify(found.status, found.headers, transport=Transport.CONNECT)
        if decision is None or _triple(decision) != (row.category, row.action, row.scope):
            problems.append(f"{row.id}: classified {decision}")
        # The problem redaction solves, then the fix.
        assert "s3cretpass" in str(error)
        assert "s3cretpass" not in redacted_message(error)
    assert not problems, "\n".join(problems)


def _triple(decision: Any) -> tuple[str, str, str]:
    return (decision.category, decision.action, decision.scope)


def test_doc_rows_used_here_are_header_coded() -> None:
    """Guards the claim above: every row used with aiohttp has its code in a header."""
    def coded_in_headers(row: DocRow) -> bool:
        return row.code in row.headers.values()

    assert all(coded_in_headers(row) for row in ROWS)


# ----------------------------------------------------------------------- httpx


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("407 Proxy Authentication Required", (407, "Proxy Authentication Required")),
        ("502 Bad Gateway", (502, "Bad Gateway")),
        ("429", (429, "")),
        ("Proxy closed the connection", None),
        ("4077 nope", None),
        ("", None),
    ],
)
def test_httpx_refusal_gives_status_and_reason(
    message: str, expected: tuple[int, str] | None
) -> None:
    """Scrapy's httpx handler raises DownloadConnectionRefusedError from
    httpx.ProxyError("<status> <reason>"): status and reason, nothing else."""
    httpx = pytest.importorskip("httpx")
    found = connect_reply(wrapped(httpx.ProxyError(message)))
    if expected is None:
        assert found is None
    else:
        assert found is not None
        assert (found.status, found.reason, found.source) == (*expected, "httpx")
        assert not found.headers and found.body == b"" and found.proxy == ""
