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
    Scope,
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
from .provider_docs_round2 import NEW_PROVIDERS, ROUND2_PROXY_ROWS, ROUND2_ROWS, Row

NOW = 1_714_339_188.0
CORE = ("soax", "helodata", "proxiesfo", "wxapros", "chocodata")
#: Every signature header of the new profiles, to sprinkle on other replies.
NEW_SIGNATURES = {
    "X-Squid-Error": "ERR_ACCESS_DENIED 0",
    "X-Crawlera-Error": "banned",
    "X-Crawlera-Version": "1.36.3",
    "Zyte-Error-Type": "/download/temporary-error",
    "x-brd-err-code": "client_10000",
    "x-brd-error-code": "reject_block",
    "X-thor-error-code": "client_101",
    "bytio-error": "zone disabled",
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


@pytest.mark.parametrize("name", [*MORE_PROVIDERS, "brightdata_api", *NEW_PROVIDERS])
def test_every_rule_is_backed_by_a_documented_row(name: str) -> None:
    """No rule or hint exists without a row from the facts (others.md, more-providers.md)."""
    profile = BUILTIN_PROFILES[name]
    hinted = {id(rule) for hint in profile.hints for _, rule in hint.rules}
    hit: set[int] = set()
    for row in [*MORE_ROWS, *ROUND2_ROWS]:
        if row.provider != name:
            continue
        error = _classify_any(row)
        assert error is not None
        hit.add(id(error.rule))
    # The Direct API shares the proxy network's rules (backed by its rows).
    shared: set[int] = set()
    if name == "brightdata_api":
        shared = {id(r) for r in BUILTIN_PROFILES["brightdata"].rules}
    unused = [r for r in profile.rules if id(r) not in hit | shared]
    assert unused == []
    assert hinted <= hit


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
    """The code leading the details is Bright Data's own; the details stay the detail."""
    headers = {"Proxy-Status": 'brd.superproxy.io; error=dns_error; details="target_40001"'}
    error = classify(502, headers, proxy_url="http://brd.superproxy.io:33335", now=NOW)
    assert error is not None
    assert (error.provider, error.code, error.action, error.detail) == (
        "brightdata",
        "target_40001",
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


# ------------------------------------------- round two: more-providers.md rows


def _classify2(row: Row, transport: str | None = None, **extra: object) -> ProviderError | None:
    """Classify a round-two row through its provider's own transport and address."""
    how = Transport(transport or row.transport)
    kwargs: dict[str, object] = {"transport": how, "now": NOW, **extra}
    if row.named or (how is not Transport.API and not row.url):
        # With no proxy host to tell the provider, only its signature header
        # would: the trust boundary caps that (a target can forward any
        # header; tests/test_trust_boundary.py). These rows are facts about
        # the provider's own replies, so the crawl names it, as a user would.
        kwargs["provider"] = row.provider
    if row.transport == "api":
        kwargs["request_url"] = row.url or "https://api.example.com/"
    else:
        kwargs["request_url"] = "https://example.com/page"
        kwargs["proxy_url"] = row.url or None
    return classify(row.on_wire, row.headers, row.body, **kwargs)  # type: ignore[arg-type]


def _classify_any(row: DocRow) -> ProviderError | None:
    return _classify2(row) if isinstance(row, Row) else _classify(row)


def _id2(row: Row) -> str:
    return row.id


@pytest.mark.parametrize("row", ROUND2_ROWS, ids=_id2)
def test_round2_documented_row(row: Row) -> None:
    """Each confirmed fact of more-providers.md, through its provider's transport."""
    error = _classify2(row)
    assert error is not None
    assert (error.provider, error.code, error.status) == (row.provider, row.code, row.status)
    assert (error.category, error.action, error.scope) == (row.category, row.action, row.scope)
    assert error.outer_status == row.wire_status
    assert error.transport == row.transport
    assert error.meaning and error.fix
    assert error.rule.docs or BUILTIN_PROFILES[row.provider].sources


@pytest.mark.parametrize("row", ROUND2_PROXY_ROWS, ids=_id2)
def test_round2_proxy_row_on_connect(row: Row) -> None:
    """A proxy's CONNECT reply gets the same rule as its plain-HTTP reply."""
    plain = _classify2(row)
    tunnel = _classify2(row, transport="connect")
    assert plain is not None and tunnel is not None
    assert (tunnel.provider, tunnel.code, tunnel.rule) == (plain.provider, plain.code, plain.rule)


@pytest.mark.parametrize("row", ROUND2_ROWS, ids=_id2)
def test_round2_target_replies_are_never_classified(row: Row) -> None:
    assert _classify2(row, transport="target") is None


@pytest.mark.parametrize("row", [r for r in ROUND2_ROWS if r.wire_status is not None], ids=_id2)
def test_status_header_is_not_read_off_an_api(row: Row) -> None:
    """On a proxy's plain or CONNECT 2xx the same header may be the target's own."""
    for how in ("plain", "connect"):
        assert classify(200, row.headers, row.body, transport=Transport(how),
                        provider=row.provider, now=NOW) is None


def test_every_new_provider_has_rows() -> None:
    with_rows = {r.provider for r in ROUND2_ROWS}
    assert set(NEW_PROVIDERS) <= with_rows
    assert set(NEW_PROVIDERS) <= set(BUILTIN_PROFILES)


@pytest.mark.parametrize("name", [*NEW_PROVIDERS, "brightdata_api"])
def test_new_profiles_are_plain_data(name: str) -> None:
    """Frozen, sourced, no duplicate rule; Bytio's docs address was not recorded."""
    profile = BUILTIN_PROFILES[name]
    assert profile.sources, name
    if name != "bytio":
        assert profile.docs_url.startswith("https://")
        assert all(r.docs.startswith("https://") for r in profile.rules)
    keys = [(r.status, r.code, r.body) for r in profile.rules]
    assert len(keys) == len(set(keys))
    with pytest.raises(AttributeError):
        profile.name = "x"  # type: ignore[misc]


# ------------------------------------------------------ errors inside a 2xx


class _Untouchable(dict):  # type: ignore[type-arg]
    """Headers that fail the test if anything reads them."""

    def _boom(self, *args: object, **kwargs: object) -> None:
        raise AssertionError("a 2xx without a status header read the headers")

    __getitem__ = get = items = keys = values = __iter__ = __len__ = __contains__ = _boom  # type: ignore[assignment]


@pytest.mark.parametrize("provider", ["chocodata", "wxapros", "zyte_api", "scrapfly"])
def test_2xx_of_a_profile_without_status_headers_reads_nothing(provider: str) -> None:
    """The success path stays as it was: no header is looked at."""
    profile = BUILTIN_PROFILES[provider]
    assert not profile.status_headers
    for who in (provider, profile):
        assert classify(200, _Untouchable(), b"{}", transport=Transport.API, provider=who) is None
    for how in (Transport.PLAIN, Transport.CONNECT, Transport.TARGET):
        assert classify(200, _Untouchable(), b"", transport=how) is None


@pytest.mark.parametrize(
    "value", ["200", "201", "302", "", "abc", "\uff15\uff10\uff13", "9999", "50", "-503", "503.0"]
)
def test_status_header_without_an_error_status_passes(value: str) -> None:
    """Only a valid 4xx/5xx in the header makes a 2xx an error."""
    url = "https://api.crawlbase.com/?token=t&url=x"
    headers = {"pc_status": value, "original_status": "200"}
    assert classify(200, headers, b"<html>ok</html>", transport=Transport.API,
                    request_url=url, now=NOW) is None


def test_crawlbase_hint_is_not_read_on_its_own_errors() -> None:
    """pc_status classes apply inside a 200 only: an outer 401 is the token's fault."""
    error = classify(401, {"pc_status": "404"}, transport=Transport.API,
                     provider="crawlbase", now=NOW)
    assert error is not None
    assert (error.code, error.action, error.outer_status) == ("401", Action.STOP, None)


def test_crawlbase_unknown_pc_status_falls_to_the_status_rules() -> None:
    error = classify(200, {"pc_status": "504"}, transport=Transport.API,
                     provider="crawlbase", now=NOW)
    assert error is not None
    assert (error.provider, error.code, error.status, error.action) == (
        "crawlbase", "pc_status:504", 504, Action.RETRY)
    assert error.detail == "pc_status: 504 on a 200 reply"
    assert classify(200, {"pc_status": "418"}, transport=Transport.API,
                    provider="crawlbase", now=NOW) is None


def test_brightdata_direct_api_target_status_without_code_passes() -> None:
    """x-brd-status-code alone (the target's 404) is no Bright Data error."""
    headers = {"x-brd-status-code": "404"}
    assert classify(200, headers, transport=Transport.API,
                    request_url="https://api.brightdata.com/request", now=NOW) is None


def test_brightdata_proxy_does_not_pay_for_the_direct_api() -> None:
    """The proxy profile declares no status header; the Direct API has its own profile."""
    assert BUILTIN_PROFILES["brightdata"].status_headers == ()
    assert BUILTIN_PROFILES["brightdata_api"].status_headers == ("x-brd-status-code",)
    assert not BUILTIN_PROFILES["brightdata_api"].trusts(Transport.PLAIN)
    # A target's 401 through the proxy network is not the Direct API's key error.
    error = classify(401, {}, proxy_url="http://brd.superproxy.io:33335", now=NOW)
    assert error is None or error.action is not Action.STOP


# ------------------------------------------------------------ retry hints


def _fly(status: int, code: str, headers: dict[str, str], body: object = None) -> ProviderError:
    raw = json.dumps(body).encode() if body is not None else b""
    error = classify(status, {"X-Scrapfly-Reject-Code": code, **headers}, raw,
                     transport=Transport.API, request_url="https://api.scrapfly.io/scrape",
                     now=NOW)
    assert error is not None
    return error


@pytest.mark.parametrize(("flag", "action"), [("true", Action.RETRY), ("false", Action.DROP),
                                              ("TRUE", Action.RETRY)])
def test_scrapfly_flag_decides_an_unlisted_code(flag: str, action: Action) -> None:
    """A code with no rule of its own goes by its retryable flag (HEAD: headers only)."""
    error = _fly(422, "ERR::SCRAPE::BRAND_NEW", {"X-Scrapfly-Reject-Retryable": flag})
    assert (error.provider, error.code, error.action) == (
        "scrapfly", "ERR::SCRAPE::BRAND_NEW", action)


@pytest.mark.parametrize(("flag", "action"), [(True, Action.RETRY), (False, Action.DROP)])
def test_scrapfly_flag_read_from_the_json_body(flag: bool, action: Action) -> None:
    body = {"result": {"error": {"code": "ERR::SCRAPE::BRAND_NEW", "retryable": flag}}}
    assert _fly(422, "ERR::SCRAPE::BRAND_NEW", {}, body).action is action
    # API-level errors keep code and flag at the top.
    top = {"code": "ERR::WEBHOOK::QUEUE_FULL", "http_code": 429, "retryable": flag}
    error = classify(429, {}, json.dumps(top).encode(), transport=Transport.API,
                     request_url="https://api.scrapfly.io/scrape", now=NOW)
    assert error is not None and (error.code, error.action) == ("ERR::WEBHOOK::QUEUE_FULL", action)


def test_scrapfly_explicit_rule_wins_over_the_flag() -> None:
    error = _fly(429, "ERR::ACCOUNT::SUSPENDED", {"X-Scrapfly-Reject-Retryable": "true"})
    assert (error.action, error.scope) == (Action.STOP, "account")


def test_scrapfly_without_a_flag_falls_to_the_status_rules() -> None:
    error = _fly(429, "ERR::THROTTLE::BRAND_NEW", {"X-Scrapfly-Reject-Retryable": "maybe"})
    assert (error.provider, error.code, error.category, error.action) == (
        "scrapfly", "ERR::THROTTLE::BRAND_NEW", Category.RATE_LIMIT, Action.SLOWDOWN)


# ------------------------------------------------------ corrections, details


@pytest.mark.parametrize(
    ("details", "code"),
    [
        ("client-10060: Requested IP is not allocated", "client_10060"),
        ("client_10060: Requested IP is not allocated", "client_10060"),
        ("  Policy-20020: Bad Port used", "policy_20020"),
        ("target_40001", "target_40001"),
        ("not a code", None),
        ("client-: nothing", None),
        ("client-10060abc", None),
        ("", None),
        (None, None),
    ],
)
def test_details_code(details: str | None, code: str | None) -> None:
    from scrapy_proxyerrors._parse import details_code

    assert details_code(details) == code


def test_brightdata_unknown_details_code_keeps_the_standard_token() -> None:
    headers = {"Proxy-Status": 'brd.superproxy.io; error=connection_refused; '
                               'details="client-99999: brand new"'}
    error = classify(502, headers, proxy_url="http://brd.superproxy.io:33335", now=NOW)
    assert error is not None
    assert (error.provider, error.code, error.action) == (
        "brightdata", "connection_refused", Action.RETRY)


def test_brightdata_proxy_code_header_wins_over_unlocker_code() -> None:
    """A proxy-level code passed through stays in x-brd-err-code and is read first."""
    headers = {"x-brd-err-code": "client_10000", "x-brd-error-code": "reject_block",
               "x-brd-error": "Auth failed"}
    error = classify(407, headers, proxy_url="http://brd.superproxy.io:33335", now=NOW)
    assert error is not None and (error.code, error.action) == ("client_10000", Action.STOP)


def test_zyte_error_header_is_not_zyte_api() -> None:
    """No source shows a Zyte-Error header: only Zyte-Error-Type names Zyte API."""
    assert "Zyte-Error" not in BUILTIN_PROFILES["zyte_api"].code_headers
    error = classify(429, {"Zyte-Error": "/limits/over-user-limit"}, now=NOW)
    assert error is not None and error.provider == "generic"
    typed = classify(429, {"Zyte-Error-Type": "/limits/over-user-limit"}, now=NOW)
    assert typed is not None and typed.provider == "zyte_api"


def test_zyte_spm_next_request_in_is_a_wait() -> None:
    """X-Crawlera-Next-Request-In (ms) is the session's wait, on errors and successes."""
    from scrapy_proxyerrors import route_wait

    spm = BUILTIN_PROFILES["zyte_spm"]
    error = classify(503, {"X-Crawlera-Error": "banned", "X-Crawlera-Next-Request-In": "5000"},
                     now=NOW)
    assert error is not None and error.wait == 5.0
    both = classify(503, {"X-Crawlera-Error": "banned", "X-Crawlera-Next-Request-In": "5000",
                          "Retry-After": "20"}, now=NOW)
    assert both is not None and both.wait == 20
    assert route_wait(spm, {"X-Crawlera-Next-Request-In": "1500"}) == 1.5
    assert route_wait(spm, {"X-Crawlera-Next-Request-In": "soon"}) is None
    assert route_wait(spm, {"X-Crawlera-Next-Request-In": "-5"}) is None
    assert route_wait(spm, {}) is None
    assert route_wait(BUILTIN_PROFILES["soax"], {"X-Crawlera-Next-Request-In": "1500"}) is None


@pytest.mark.parametrize(
    ("provider", "code"),
    [("zyte_api", "/limits/over-domain-limit"), ("brightdata", "policy_20220"),
     ("brightdata", "sr_rate_limit")],
)
def test_site_scoped_limits(provider: str, code: str) -> None:
    """Per-site limits behind an API pause one target site, not the API or the account."""
    from scrapy_proxyerrors._classifier import describe

    rule = describe(provider, code)
    assert rule is not None and rule.scope is Scope.SITE and rule.action is Action.SLOWDOWN


def test_explain_names_the_site_scope() -> None:
    from scrapy.settings import Settings

    from scrapy_proxyerrors.commands import Project, explain

    text = "\n".join(explain(Project(Settings()), "zyte_api", "/limits/over-domain-limit"))
    assert "one target site" in text


# ------------------------------------------------------- list --providers


def test_list_providers_shows_signal_transport_and_sources() -> None:
    """Every provider's line says where its signal lives and where its facts come from."""
    from scrapy.settings import Settings

    from scrapy_proxyerrors.commands import Project, list_providers

    lines = list_providers(Project(Settings()))
    header, body = lines[0], lines[2:] if set(lines[1]) <= {"-", " "} else lines[1:]
    for column in ("transport", "signal in", "facts from"):
        assert column in header
    by_name = {line.split()[0]: line for line in body if line.strip()}
    assert set(by_name) == set(BUILTIN_PROFILES)
    crawlbase = by_name["crawlbase"]
    assert "status_headers pc_status on a 2xx" in crawlbase
    assert "retry hint pc_status" in crawlbase
    assert "https://crawlbase.com/docs/status-codes" in crawlbase
    assert " api " in crawlbase
    assert "plain+connect" in by_name["apify"] and "status" in by_name["apify"]
    assert "retry hint X-Scrapfly-Reject-Retryable" in by_name["scrapfly"]
    assert "wait X-Crawlera-Next-Request-In" in by_name["zyte_spm"]
    assert "Proxy-Status details code, else error" in by_name["brightdata"]
    assert "problem+json title" in by_name["oxylabs"]
    assert "URL not recorded" in by_name["bytio"]
    for name, profile in BUILTIN_PROFILES.items():
        assert (profile.sources[0] if profile.sources else profile.docs_url or "-") in by_name[name]


def test_codes_inside_a_2xx_can_be_described() -> None:
    """``explain crawlbase pc_status:503`` finds the rule a crawl reported."""
    from scrapy_proxyerrors._classifier import describe

    transient = describe("crawlbase", "pc_status:503")
    terminal = describe("crawlbase", "pc_status:404")
    assert transient is not None and transient.action is Action.RETRY
    assert terminal is not None and terminal.action is Action.DROP
    unknown = describe("crawlbase", "pc_status:504")
    assert unknown is not None and unknown.action is Action.RETRY  # generic 504
    assert describe("crawlbase", "503") is not None
    assert describe("crawlbase", "503").category is Category.INTERNAL  # type: ignore[union-attr]
    assert describe("crawlbase", "other:503") is None


@pytest.mark.parametrize("status", [100, 199, 300, 302, 304, 399])
def test_only_a_2xx_carries_an_error_inside(status: int) -> None:
    """A 1xx or 3xx with a status header is not read for one."""
    assert classify(status, {"pc_status": "503"}, transport=Transport.API,
                    provider="crawlbase", now=NOW) is None


def test_signature_detection_keeps_registry_order_and_ignores_empty_values() -> None:
    """The earliest profile whose header carries a value wins, whatever the header order."""
    from scrapy_proxyerrors import select_profile

    def pick(headers: dict[str, str], profiles: object = BUILTIN_PROFILES) -> str:
        return select_profile(transport=Transport.PLAIN, headers=headers,  # type: ignore[arg-type]
                              profiles=profiles).name  # type: ignore[arg-type]

    assert pick({"X-Squid-Error": "ERR_ACCESS_DENIED 0", "x-brd-err-code": "client_10000"}) == (
        "brightdata")
    assert pick({"x-brd-err-code": "client_10000", "X-SOAX-Error": "AUTH_FAILED"}) == "soax"
    assert pick({"X-SOAX-Error": "", "X-Squid-Error": "ERR_ACCESS_DENIED 0"}) == "squid"
    assert pick({"x-thor-error-code": "client_101"}) == "thordata"  # any case
    assert pick({}) == "generic"
    # A changed mapping (same object, other profiles) is indexed again.
    mine = dict(BUILTIN_PROFILES)
    assert pick({"bytio-error": "x"}, mine) == "bytio"
    del mine["bytio"]
    assert pick({"bytio-error": "x"}, mine) == "generic"


def test_extending_a_builtin_keeps_its_status_headers_and_hints() -> None:
    """A user profile that extends Crawlbase still reads pc_status inside a 200."""
    from scrapy_proxyerrors._userprofiles import load_user_profiles

    user = load_user_profiles(
        {"crawlbase": {"extends": "crawlbase",
                       "rules": [{"status": 429, "category": "concurrency", "action": "slowdown",
                                  "scope": "account", "wait": 5}]}},
        BUILTIN_PROFILES,
    )["crawlbase"]
    assert user.status_headers == ("pc_status",) and user.hints
    error = classify(200, {"pc_status": "503"}, transport=Transport.API, provider=user, now=NOW)
    assert error is not None and (error.code, error.action) == ("pc_status:503", Action.RETRY)


def test_an_error_inside_a_2xx_can_be_overridden_by_its_code() -> None:
    """PROXYERRORS_ACTIONS accepts ``crawlbase/pc_status:503``, as explain suggests."""
    from scrapy.exceptions import NotConfigured
    from scrapy.settings import Settings

    from scrapy_proxyerrors._config import Config
    from scrapy_proxyerrors._policy import override_for

    config = Config.from_settings(Settings({"PROXYERRORS_ACTIONS": {
        "crawlbase/pc_status:503": "drop"}}))
    inside = classify(200, {"pc_status": "503"}, transport=Transport.API,
                      provider="crawlbase", now=NOW)
    outside = classify(503, {}, transport=Transport.API, provider="crawlbase", now=NOW)
    assert inside is not None and outside is not None
    assert override_for(inside, config.actions) is Action.DROP
    assert override_for(outside, config.actions) is None
    with pytest.raises(NotConfigured, match="crawlbase has no code"):
        Config.from_settings(Settings({"PROXYERRORS_ACTIONS": {"crawlbase/other:503": "drop"}}))


def test_documented_waits_of_round_two() -> None:
    """Crawlbase's 429 carries Retry-After; Bright Data's APIs pause the account."""
    from .provider_docs_round2 import BRIGHTDATA_ROWS, CRAWLBASE_ROWS

    crawlbase = _classify2(next(r for r in CRAWLBASE_ROWS if r.code == "429"))
    assert crawlbase is not None and crawlbase.wait == 2
    scraper = next(r for r in BRIGHTDATA_ROWS if r.provider == "brightdata_api" and r.code == "429")
    told = _classify2(scraper)
    assert told is not None and told.wait == 7
    bare = classify(429, {}, transport=Transport.API, request_url=scraper.url, now=NOW)
    # No Retry-After: no fixed wait, so the policy's backoff grows between 429s.
    assert bare is not None and bare.wait is None and bare.scope is Scope.ACCOUNT


def test_a_site_wait_beyond_max_wait_drops_the_request() -> None:
    """One site's pause too long to hold a request for: drop it, never stop the crawl."""
    import random

    from scrapy_proxyerrors._policy import decide

    body = json.dumps({"type": "/limits/over-domain-limit", "title": "t"}).encode()
    error = classify(429, {"Content-Type": "application/problem+json", "Retry-After": "900"},
                     body, transport=Transport.API,
                     request_url="https://api.zyte.com/v1/extract", now=NOW)
    assert error is not None and error.scope is Scope.SITE
    decision = decide(error, attempt=0, actions={}, backoff_base=0.5, backoff_max=30,
                      max_wait=300, rng=random.Random(1))
    assert decision.action is Action.DROP and decision.escalated_from == 900
    short = decide(error, attempt=0, actions={}, backoff_base=0.5, backoff_max=30,
                   max_wait=1000, rng=random.Random(1))
    assert (short.action, short.wait) == (Action.SLOWDOWN, 900)


def test_match_order_with_a_hint() -> None:
    """Exact code, then family, then the hint, then body and status rules."""
    from scrapy_proxyerrors import Hint

    def rule(status: int | None, code: str | None, action: Action) -> Rule:
        return Rule(status, code, Category.INTERNAL, action, Scope.REQUEST, "m", "f")

    exact = rule(None, "E1", Action.STOP)
    family = rule(None, "FAM_*", Action.ROTATE)
    status = rule(500, None, Action.PASS)
    hinted = rule(None, None, Action.RETRY)
    profile = Profile("p", "P", "api", (exact, family, status),
                      hints=(Hint(rules=(("yes", hinted),), header="X-Hint"),))
    assert profile.match(500, "E1", hint=hinted) is exact
    assert profile.match(500, "FAM_X", hint=hinted) is family
    assert profile.match(500, "OTHER", hint=hinted) is hinted
    assert profile.match(500, "OTHER") is status
    assert profile.match(500, None, hint=hinted) is hinted
    for value, expected in (("YES", Action.RETRY), (" yes ", Action.RETRY), ("no", Action.PASS)):
        error = classify(500, {"X-Hint": value}, transport=Transport.API, provider=profile,
                         now=NOW)
        assert error is not None and error.action is expected
