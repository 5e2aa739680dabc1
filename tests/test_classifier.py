"""The classifier against every documented row, plus its edge cases."""

from __future__ import annotations

import json
import math

import pytest
from scrapy.http.headers import Headers

from scrapy_proxyerrors import (
    BUILTIN_PROFILES,
    Action,
    Category,
    Transport,
    classify,
    rate_limit_wait,
)
from scrapy_proxyerrors._parse import BODY_LIMIT

from .provider_docs import ALL_ROWS, DOCUMENTED_WAITS, PROXY_ROWS, DocRow

NOW = 1_714_339_188.0  # 12 s before the wxapros doc's X-RateLimit-Reset
API_URLS = {
    "wxapros": "https://wxaintel.wxapros.com/api/v1/vpn/ip/8.8.8.8",
    "chocodata": "https://api.chocodata.com/v1/product?id=B0001",
}


def _classify_row(row: DocRow, **kwargs: object):  # type: ignore[no-untyped-def]
    transport = Transport(row.transport)
    kwargs.setdefault("request_url", API_URLS.get(row.provider, "http://example.com/"))
    # Plain-HTTP rows are named (a crawl knows its proxy's host or provider):
    # found by a signature header alone, a plain reply would be capped.
    named = row.provider == "proxiesfo" or transport is Transport.PLAIN
    kwargs.setdefault("provider", row.provider if named else None)
    return classify(row.status, row.headers, row.body, transport=transport, now=NOW, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("row", ALL_ROWS, ids=lambda r: r.id)
def test_documented_row(row: DocRow) -> None:
    """Every documented (status, code) gets the documented category, action, scope."""
    error = _classify_row(row)
    assert error is not None
    assert (error.provider, error.code, error.status) == (row.provider, row.code, row.status)
    assert (error.category, error.action, error.scope) == (row.category, row.action, row.scope)
    assert error.meaning and error.fix
    assert error.wait == DOCUMENTED_WAITS.get((row.provider, row.code), error.wait)


@pytest.mark.parametrize("row", PROXY_ROWS, ids=lambda r: r.id)
def test_documented_row_on_connect(row: DocRow) -> None:
    """A CONNECT reply is classified exactly like the plain-HTTP one."""
    plain = _classify_row(row)
    tunnel = classify(
        row.status,
        row.headers,
        row.body,
        transport=Transport.CONNECT,
        provider=row.provider if row.provider == "proxiesfo" else None,
        now=NOW,
    )
    assert tunnel is not None and plain is not None
    assert (tunnel.code, tunnel.rule) == (plain.code, plain.rule)


@pytest.mark.parametrize("row", ALL_ROWS, ids=lambda r: r.id)
def test_target_replies_are_never_classified(row: DocRow) -> None:
    """Through an open tunnel, even a perfect copy of a provider error is the target's."""
    assert classify(row.status, row.headers, row.body, transport=Transport.TARGET) is None


def test_profiles_cover_every_row_and_nothing_undocumented() -> None:
    """Each core profile's coded rules are exactly the documented codes."""
    documented = {(r.provider, r.code) for r in ALL_ROWS}
    for name in ("soax", "helodata", "wxapros", "chocodata"):
        coded = {(name, rule.code) for rule in BUILTIN_PROFILES[name].rules if rule.code}
        coded = {(p, c.replace("*", "gambling")) for p, c in coded}
        assert coded == {d for d in documented if d[0] == name}


def test_chocodata_same_status_different_codes() -> None:
    by_code = {r.code: _classify_row(r) for r in ALL_ROWS if r.provider == "chocodata"}
    assert by_code["target_unreachable"].action is Action.RETRY
    assert by_code["extraction_failed"].action is Action.RETRY
    assert by_code["id_mismatch"].action is Action.DROP
    assert by_code["placeholder_page"].action is Action.DROP
    assert by_code["unauthorized"].meaning != by_code["revoked"].meaning
    assert by_code["not_found"].category != by_code["item_not_found"].category
    assert by_code["item_not_found"].request_id == "req_9f2c8a1b3e4d"


def test_wxapros_rate_limit_signals() -> None:
    row = next(r for r in ALL_ROWS if r.provider == "wxapros" and r.status == 429)
    error = _classify_row(row)
    assert error.retry_after == 12
    assert error.body_wait == 12
    assert error.rate_limit is not None
    assert error.rate_limit.limit == 3000
    assert error.rate_limit.remaining == 0
    assert error.rate_limit.window == 60
    assert error.rate_limit.reset_after == pytest.approx(12)
    assert error.wait == 12
    assert error.detail == "rate_limited happened"


def test_soax_detail_and_unknown_code_falls_back_to_status_rule() -> None:
    error = classify(502, {"X-SOAX-Error": "BRAND_NEW", "X-SOAX-Detail": "x"}, now=NOW)
    assert error is not None
    assert (error.provider, error.code, error.action) == ("soax", "BRAND_NEW", Action.ROTATE)
    assert error.detail == "x"


def test_unknown_code_unknown_status_is_counted_and_passed() -> None:
    error = classify(418, {"X-SOAX-Error": "TEAPOT"}, now=NOW)
    assert error is not None
    assert (error.code, error.action, error.category) == ("TEAPOT", Action.PASS, Category.INTERNAL)


def test_unknown_api_code_falls_back_to_generic_status() -> None:
    body = json.dumps({"error": "brand_new", "message": "m"}).encode()
    error = classify(503, {}, body, transport=Transport.API, request_url=API_URLS["chocodata"])
    assert error is not None
    assert (error.provider, error.code, error.action) == ("chocodata", "brand_new", Action.RETRY)


def test_success_is_none() -> None:
    assert classify(200, {"X-SOAX-Error": "AUTH_FAILED"}, b"") is None
    assert classify(304, {}, b"", transport=Transport.API) is None
    assert classify(200, {}, b"", transport=Transport.CONNECT) is None


def test_plain_target_404_is_not_a_provider_error() -> None:
    assert classify(404, {"Content-Type": "text/html"}, b"<h1>nope</h1>") is None


def test_unknown_connect_refusal_drops() -> None:
    error = classify(403, {}, b"denied", transport=Transport.CONNECT)
    assert error is not None
    assert (error.provider, error.action, error.category) == (
        "generic",
        Action.DROP,
        Category.PROTOCOL,
    )


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Proxy-Status": "gw; error=connection_refused"}, ("connection_refused", Action.RETRY)),
        (
            {"Proxy-Status": 'gw; error=dns_error; details="no such host, really"'},
            ("dns_error", Action.DROP),
        ),
        (
            {"Proxy-Status": "edge, gw; error=connection_limit_reached"},
            ("connection_limit_reached", Action.SLOWDOWN),
        ),
        (
            {"Proxy-Status": "gw; error=http_request_denied; received-status=407"},
            ("http_request_denied", Action.STOP),
        ),
    ],
)
def test_rfc9209_proxy_status(headers: dict[str, str], expected: tuple[str, Action]) -> None:
    status = 407 if "407" in headers["Proxy-Status"] else 502
    error = classify(status, headers, transport=Transport.CONNECT)
    assert error is not None
    assert (error.code, error.action) == expected


def test_rfc9209_details_with_comma_is_kept_whole() -> None:
    error = classify(502, {"Proxy-Status": 'gw; error=dns_error; details="no such host, really"'})
    assert error is not None and error.detail == "no such host, really"


def test_rfc9457_problem_json() -> None:
    body = json.dumps(
        {
            "type": "/limits/over-user-limit",
            "title": "User limit",
            "status": 429,
            "detail": "slow down",
        }
    ).encode()
    error = classify(
        429,
        {"Content-Type": "application/problem+json", "Retry-After": "7"},
        body,
        transport=Transport.API,
        request_url="https://api.example/x",
        now=NOW,
    )
    assert error is not None
    assert (error.provider, error.code, error.action) == (
        "generic",
        "/limits/over-user-limit",
        Action.SLOWDOWN,
    )
    assert error.detail == "User limit: slow down"
    assert error.wait == 7


def test_explicit_provider_beats_detection() -> None:
    headers = {"X-SOAX-Error": "NODE_UNAVAILABLE"}
    # helodata tags its own errors: through its host, a reply without its
    # header is the target's (whatever other provider's header it carries).
    assert classify(502, headers, proxy_url="http://gw.helodata.com:1") is None
    assert classify(502, headers, proxy_url="http://proxy.soax.com:5000").provider == "soax"
    assert classify(502, headers, provider="proxiesfo").provider == "proxiesfo"
    assert classify(502, headers).provider == "soax"  # signature header


def test_api_profile_is_not_trusted_on_a_proxy_reply() -> None:
    body = json.dumps({"error": "insufficient_credits"}).encode()
    error = classify(402, {}, body, provider="chocodata", transport=Transport.PLAIN)
    assert error is None or error.provider == "generic"


@pytest.mark.parametrize(
    ("status", "headers", "body"),
    [
        (502, {"X-SOAX-Error": b"\xff\xfe\x00bad"}, b""),
        (429, {"Retry-After": "soon", "X-RateLimit-Reset": "-5"}, b"{not json"),
        (429, {"X-RateLimit-Limit": "abc", "X-RateLimit-Remaining": "1e400"}, b"[1, 2]"),
        (502, {"Content-Type": "application/json"}, b'{"error": {"code": ["x"]}}'),
        (502, {}, b'{"error": 12, "message": {"nested": true}}'),
        (503, {"Proxy-Status": ';;;error="unterminated'}, b"\x00\x01"),
        (500, {}, b""),
        (400, {"Content-Type": "application/problem+json"}, b'{"type": 5, "title": null}'),
    ],
)
def test_malformed_input_never_raises(status: int, headers: dict[str, object], body: bytes) -> None:
    for transport in Transport:
        for provider in (None, *BUILTIN_PROFILES):
            classify(
                status,
                headers,
                body,
                transport=transport,
                provider=provider,
                request_url=API_URLS["chocodata"],
            )


def test_huge_body_only_prefix_is_read() -> None:
    body = b'{"error": "rate_limited", "pad": "' + b"x" * (50 * 1024 * 1024) + b'"}'
    error = classify(
        429, {"Retry-After": "1"}, body, transport=Transport.API, request_url=API_URLS["chocodata"]
    )
    # The JSON is cut at BODY_LIMIT, so the code is unreadable: the status rule decides.
    assert error is not None and error.action is Action.SLOWDOWN
    assert len(body) > BODY_LIMIT


def test_scrapy_headers_and_case_insensitivity() -> None:
    headers = Headers({"x-soax-error": "AUTH_FAILED"})
    error = classify(407, headers)
    assert error is not None and error.code == "AUTH_FAILED"


def test_rate_limit_wait_on_success() -> None:
    spent = {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 9)}
    assert rate_limit_wait(spent, now=NOW) == pytest.approx(9)
    assert rate_limit_wait({"X-RateLimit-Remaining": "0", "X-RateLimit-Window": "60"}, NOW) == 60
    assert rate_limit_wait({"X-RateLimit-Remaining": "5"}, NOW) is None
    assert rate_limit_wait({}, NOW) is None


def test_helodata_ip_released_retires_the_route() -> None:
    error = classify(403, {"X-Helodata-Error-Code": "ip-released"})
    assert error is not None and error.rule.cooldown == math.inf
