"""The built-in profiles beyond the core five, against the collected facts."""

from __future__ import annotations

import json

import pytest

from scrapy_proxyerrors import (
    BUILTIN_PROFILES,
    Action,
    Category,
    Profile,
    ProviderError,
    Rule,
    Transport,
    classify,
)

from .provider_docs import ALL_ROWS, DocRow
from .provider_docs_more import (
    API_URLS,
    MORE_PROVIDERS,
    MORE_PROXY_ROWS,
    MORE_ROWS,
    NAMED_ONLY,
    PROXY_URLS,
)

NOW = 1_714_339_188.0
CORE = ("soax", "helodata", "proxiesfo", "wxapros", "chocodata")
#: Every signature header of the new profiles, to sprinkle on other replies.
NEW_SIGNATURES = {
    "X-Squid-Error": "ERR_ACCESS_DENIED 0",
    "X-Crawlera-Error": "banned",
    "X-Crawlera-Version": "1.36.3",
    "Zyte-Error": "/download/temporary-error",
    "x-brd-err-code": "client_10000",
    "x-luminati-error": "Auth failed",
    "X-Error-Description": "Internal error",
}


def _claimed(error: ProviderError) -> Action:
    """The action the reply's own rule gives, before the trust boundary caps a
    plain-HTTP reply found by its signature header alone."""
    return (error.claimed or error.rule).action


def _row_id(row: DocRow) -> str:
    return f"{row.id}-{row.transport}"


def _classify(
    row: DocRow, *, detect: bool = False, transport: str | None = None
) -> ProviderError | None:
    """Classify *row* the way a crawl would see it.

    Providers with a host get their proxy/API URL; status-only providers are
    named. With *detect*, no URL and no name are given: only the reply's own
    headers can identify the provider.
    """
    how = Transport(transport or row.transport)
    provider: str | None = None
    if row.provider in NAMED_ONLY or (how is Transport.API and row.provider not in API_URLS):
        provider = row.provider
    request_url = API_URLS.get(row.provider, "http://example.com/")
    proxy_url = None if detect else PROXY_URLS.get(row.provider)
    if not detect and proxy_url is None and how is not Transport.API:
        # No host in the facts: named, as a crawl through it would be. Found
        # by its signature header alone, a plain-HTTP reply is capped (the
        # trust boundary; see test_trust_boundary.py).
        provider = row.provider
    return classify(
        row.status,
        row.headers,
        row.body,
        transport=how,
        request_url=request_url,
        proxy_url=proxy_url,
        provider=provider,
        now=NOW,
    )


@pytest.mark.parametrize("row", MORE_ROWS, ids=_row_id)
def test_documented_row(row: DocRow) -> None:
    """Every confirmed (status, code) gets the expected category, action, scope, code."""
    error = _classify(row)
    assert error is not None
    assert (error.provider, error.code, error.status) == (row.provider, row.code, row.status)
    assert (error.category, error.action, error.scope) == (row.category, row.action, row.scope)
    assert error.meaning and error.fix and error.rule.docs


@pytest.mark.parametrize("row", MORE_PROXY_ROWS, ids=_row_id)
def test_documented_row_on_connect(row: DocRow) -> None:
    """A proxy's CONNECT reply is classified exactly like its plain-HTTP reply."""
    plain = _classify(row)
    tunnel = _classify(row, transport="connect")
    assert plain is not None and tunnel is not None
    assert (tunnel.provider, tunnel.code, tunnel.rule) == (plain.provider, plain.code, plain.rule)


_SIGNED = [
    r
    for r in MORE_PROXY_ROWS
    if any(h in r.headers for p in MORE_PROVIDERS for h in BUILTIN_PROFILES[p].signature_headers)
]


@pytest.mark.parametrize("row", _SIGNED, ids=_row_id)
def test_signature_header_alone_finds_the_provider(row: DocRow) -> None:
    """With no proxy URL, the reply's own header still names the provider."""
    error = _classify(row, detect=True)
    assert error is not None
    assert (error.provider, error.code, _claimed(error)) == (row.provider, row.code, row.action)


@pytest.mark.parametrize("row", MORE_ROWS, ids=_row_id)
def test_target_replies_are_never_classified(row: DocRow) -> None:
    """Inside an open tunnel, a copy of a provider error is the target's own."""
    assert _classify(row, transport="target") is None


@pytest.mark.parametrize("name", MORE_PROVIDERS)
def test_every_rule_is_backed_by_a_documented_row(name: str) -> None:
    """No rule exists without a row from the facts, and each row hits a rule of its own."""
    profile = BUILTIN_PROFILES[name]
    hit: set[int] = set()
    for row in MORE_ROWS:
        if row.provider != name:
            continue
        error = _classify(row)
        assert error is not None
        if error.rule in profile.rules:
            hit.add(profile.rules.index(error.rule))
    unused = [profile.rules[i] for i in range(len(profile.rules)) if i not in hit]
    assert unused == []


def test_registry_order_and_names() -> None:
    """The core five come first (their signatures win), generic is last."""
    names = list(BUILTIN_PROFILES)
    assert names[: len(CORE)] == list(CORE)
    assert names[-1] == "generic"
    assert set(MORE_PROVIDERS) <= set(names)
    for name, profile in BUILTIN_PROFILES.items():
        assert profile.name == name


# ------------------------------------------------------------------ detection


@pytest.mark.parametrize("row", [r for r in ALL_ROWS if r.transport == "plain"], ids=_row_id)
def test_new_signatures_do_not_steal_core_replies(row: DocRow) -> None:
    """A core provider's reply that also carries the new providers' headers stays its own."""
    headers = {**NEW_SIGNATURES, **row.headers}
    # proxies.fo has no header of its own: it is found by its host.
    proxy_url = "http://gw.proxies.fo:9000" if row.provider == "proxiesfo" else None
    error = classify(row.status, headers, row.body, proxy_url=proxy_url, now=NOW)
    assert error is not None
    assert (error.provider, error.code) == (row.provider, row.code)
    assert (error.category, _claimed(error)) == (row.category, row.action)


@pytest.mark.parametrize("row", ALL_ROWS, ids=_row_id)
def test_core_rows_unchanged_by_new_profiles(row: DocRow) -> None:
    """Adding the new profiles changes nothing for the core five's documented replies."""
    core_only = {name: BUILTIN_PROFILES[name] for name in (*CORE, "generic")}
    kwargs: dict[str, object] = {
        "transport": Transport(row.transport),
        "provider": "proxiesfo" if row.provider == "proxiesfo" else None,
        "request_url": {
            "wxapros": "https://wxaintel.wxapros.com/api/v1/vpn/ip/8.8.8.8",
            "chocodata": "https://api.chocodata.com/v1/product?id=B0001",
        }.get(row.provider, "http://example.com/"),
        "now": NOW,
    }
    before = classify(row.status, row.headers, row.body, profiles=core_only, **kwargs)  # type: ignore[arg-type]
    after = classify(row.status, row.headers, row.body, **kwargs)  # type: ignore[arg-type]
    assert before == after


def test_soax_wins_over_squid_header() -> None:
    """A SOAX gateway that leaks Squid's header is still SOAX."""
    headers = {"X-SOAX-Error": "NODE_UNAVAILABLE", "X-Squid-Error": "ERR_CONNECT_FAIL 111"}
    error = classify(502, headers, now=NOW)
    assert error is not None and (error.provider, error.code) == ("soax", "NODE_UNAVAILABLE")


def test_provider_header_wins_over_squid_header() -> None:
    """Providers that run Squid inside can leak its header: theirs decides."""
    headers = {"x-brd-err-code": "client_10110", "X-Squid-Error": "ERR_ACCESS_DENIED 0"}
    error = classify(429, headers, now=NOW)
    assert error is not None
    assert (error.provider, _claimed(error)) == ("brightdata", Action.SLOWDOWN)


@pytest.mark.parametrize(
    ("proxy_url", "expected"),
    [
        ("http://proxy.zyte.com:8011", "zyte_spm"),
        ("http://api.zyte.com:8011", "zyte_api"),
        ("http://KEY:@api.zyte.com:8011", "zyte_api"),
        ("http://brd.superproxy.io:33335", "brightdata"),
        ("http://proxy.soax.com:5000", None),  # SOAX tags its errors: a bare 503 is the target's
        ("http://squid.internal:3128", "generic"),
    ],
)
def test_proxy_host_selects_the_profile(proxy_url: str, expected: str) -> None:
    """Hosts pick the profile before any header: Zyte's two products share a port, not a host."""
    error = classify(503, {}, proxy_url=proxy_url, now=NOW)
    assert (error.provider if error is not None else None) == expected


def test_zyte_api_host_is_an_api_host() -> None:
    body = json.dumps({"type": "/limits/over-user-limit", "title": "t", "status": 429}).encode()
    error = classify(
        429,
        {"Content-Type": "application/problem+json"},
        body,
        transport=Transport.API,
        request_url="https://api.zyte.com/v1/extract",
        now=NOW,
    )
    assert error is not None
    assert (error.provider, error.code, error.action) == (
        "zyte_api",
        "/limits/over-user-limit",
        Action.SLOWDOWN,
    )


def test_zyte_api_type_read_without_problem_content_type() -> None:
    """Error bodies labelled plain application/json still give their type."""
    body = json.dumps({"status": 520, "type": "/download/temporary-error"}).encode()
    error = classify(
        520,
        {"Content-Type": "application/json"},
        body,
        transport=Transport.API,
        request_url="https://api.zyte.com/v1/extract",
        now=NOW,
    )
    assert error is not None and (error.code, error.action) == (
        "/download/temporary-error",
        Action.RETRY,
    )


def test_zyte_api_unknown_request_problem_is_dropped_on_any_status() -> None:
    """The /request/* family is not bound to one status."""
    body = json.dumps({"type": "/request/brand-new", "title": "t"}).encode()
    error = classify(
        413,
        {"Content-Type": "application/problem+json"},
        body,
        transport=Transport.API,
        request_url="https://api.zyte.com/v1/extract",
        now=NOW,
    )
    assert error is not None and (error.code, error.action) == ("/request/brand-new", Action.DROP)


def test_zyte_spm_banned_honours_retry_after() -> None:
    error = classify(503, {"X-Crawlera-Error": "banned", "Retry-After": "20"}, now=NOW)
    assert error is not None and error.provider == "zyte_spm"
    assert error.wait == 20


def test_zyte_spm_target_reply_without_error_header_passes() -> None:
    """SPM marks every reply with its version; a target's 404 is still not an error."""
    headers = {"X-Crawlera-Version": "1.36.3"}
    assert classify(404, headers, b"<html>not here</html>", now=NOW) is None


def test_squid_code_regex_and_detail() -> None:
    """The page name is the code; the errno stays visible in the detail."""
    error = classify(503, {"X-Squid-Error": "ERR_CONNECT_FAIL 111"}, now=NOW)
    assert error is not None
    assert (error.provider, error.code, error.detail) == (
        "squid",
        "ERR_CONNECT_FAIL",
        "ERR_CONNECT_FAIL 111",
    )
    assert error.reason == "squid/ERR_CONNECT_FAIL"


def test_squid_unknown_page_falls_back_to_status() -> None:
    """A Squid page no rule knows gets the generic status rule, with Squid's code."""
    error = classify(503, {"X-Squid-Error": "ERR_SHUTTING_DOWN 0"}, now=NOW)
    assert error is not None
    assert (error.provider, error.code, error.action) == (
        "squid",
        "ERR_SHUTTING_DOWN",
        Action.RETRY,
    )


@pytest.mark.parametrize("value", ["", "   ", "123 ERR", "-"])
def test_squid_garbage_header_never_raises(value: str) -> None:
    classify(503, {"X-Squid-Error": value}, now=NOW)


def test_brightdata_family_is_bound_to_its_status() -> None:
    """client_* means "target blocked" on 403 and "auth failed" on 407, nothing elsewhere."""
    blocked = classify(403, {"x-brd-err-code": "client_10150"}, now=NOW)
    auth = classify(407, {"x-brd-err-code": "client_10030"}, now=NOW)
    other = classify(418, {"x-brd-err-code": "client_10999"}, now=NOW)
    assert blocked is not None and blocked.category is Category.TARGET
    assert auth is not None and auth.category is Category.AUTH
    assert other is not None and other.action is Action.PASS  # unknown code: counted, passed


def test_brightdata_proxy_status_keeps_its_details() -> None:
    headers = {"Proxy-Status": 'brd.superproxy.io; error=dns_error; details="target_40001"'}
    error = classify(502, headers, proxy_url="http://brd.superproxy.io:33335", now=NOW)
    assert error is not None
    assert (error.provider, error.code, error.action, error.detail) == (
        "brightdata",
        "dns_error",
        Action.DROP,
        "target_40001",
    )


def test_oxylabs_target_error_is_not_oxylabs() -> None:
    """Target errors carry no X-Error-Description, so they are not taken for Oxylabs'."""
    error = classify(502, {"Content-Type": "text/html"}, b"<html>bad gateway</html>", now=NOW)
    assert error is not None and error.provider == "generic"
    assert classify(404, {}, b"", now=NOW) is None


def test_oxylabs_detail_header_is_the_detail() -> None:
    error = classify(407, {"X-Error-Description": "Traffic limit reached"}, now=NOW)
    assert error is not None
    assert (error.provider, error.detail, _claimed(error)) == (
        "oxylabs",
        "Traffic limit reached",
        Action.STOP,
    )


@pytest.mark.parametrize("name", ["netnut", "iproyal"])
def test_status_only_providers_are_never_guessed(name: str) -> None:
    """Without a name or a host, a bare 503 is generic, never NetNut or IPRoyal."""
    error = classify(503, {}, now=NOW)
    assert error is not None and error.provider == "generic"
    named = classify(503, {}, provider=name, now=NOW)
    assert named is not None and named.provider == name


def test_netnut_custom_490_needs_no_fallback() -> None:
    """490 exists only at NetNut; generic knows nothing of it."""
    assert classify(490, {}, now=NOW) is None
    error = classify(490, {}, provider="netnut", now=NOW)
    assert error is not None and (error.category, error.action) == (
        Category.VALIDATION,
        Action.STOP,
    )


def test_api_only_transport_rules() -> None:
    """Squid, SPM and Bright Data are proxies: on an API reply they are never trusted."""
    for name in ("squid", "zyte_spm", "brightdata", "netnut", "iproyal"):
        assert not BUILTIN_PROFILES[name].trusts(Transport.API)
    for name in ("zyte_api", "oxylabs"):
        assert BUILTIN_PROFILES[name].trusts(Transport.API)
        assert BUILTIN_PROFILES[name].trusts(Transport.PLAIN)


@pytest.mark.parametrize("name", MORE_PROVIDERS)
def test_profiles_are_plain_data(name: str) -> None:
    """Profiles are frozen, every rule names its docs, and no rule is shadowed."""
    profile = BUILTIN_PROFILES[name]
    assert isinstance(profile, Profile) and profile.docs_url.startswith("https://")
    seen: set[tuple[int | None, str | None, str | None]] = set()
    for rule in profile.rules:
        assert isinstance(rule, Rule)
        assert rule.docs.startswith("https://")
        key = (rule.status, rule.code, rule.body)
        assert key not in seen, f"{name}: duplicate rule {key}"
        seen.add(key)
    with pytest.raises(AttributeError):
        profile.name = "x"  # type: ignore[misc]
