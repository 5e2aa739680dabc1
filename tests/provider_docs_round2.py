"""Every row of ../shared/providers/more-providers.md that is not marked
unverified, written out by hand from that file, independently of the
package's profile data.

Same idea as :mod:`tests.provider_docs_more`: what the provider puts on the
wire and what the plugin must decide. Two things are new here:

* an error can arrive inside a 2xx (Crawlbase ``pc_status``, Bright Data's
  Direct API ``x-brd-status-code``): ``wire_status`` is the reply's own
  status, ``status`` the real one the plugin must report;
* each row names the transport its provider uses (``plain`` proxy, ``connect``,
  ``api``) and where it is reached (``url``: the proxy or the API endpoint),
  or ``named`` when only the status identifies the provider.

Rows marked *unverified* in the facts are left out (Zyte API's
secondary-source types, ScraperAPI's 403/429, Thordata's uncaptured rows).
Where a fact names a family (``resolve_failed_*``), the rows take members.
Where a body shape is not confirmed (ZenRows), the row uses the plainest
shape that carries the documented code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .provider_docs import DocRow


@dataclass(frozen=True)
class Row(DocRow):
    #: The status on the wire when it differs from ``status`` (an error in a 2xx).
    wire_status: int | None = None
    #: The proxy URL (proxies) or the request URL (APIs); "" with ``named``.
    url: str = ""
    #: Only the status identifies the provider: the crawl must name it.
    named: bool = False

    @property
    def on_wire(self) -> int:
        return self.status if self.wire_status is None else self.wire_status

    @property
    def id(self) -> str:
        inner = f"-in{self.wire_status}" if self.wire_status is not None else ""
        return f"{self.provider}-{self.status}-{self.code}{inner}-{self.transport}"


# ------------------------------------------------- Bright Data (corrections)

BRD_PROXY = "http://brd.superproxy.io:33335"
BRD_API = "https://api.brightdata.com/request"


def _unlocker(status: int, code: str, cat: str, act: str, scope: str) -> Row:
    # Web Unlocker / SERP codes: x-brd-error-code, with x-brd-error on every error.
    return Row("brightdata", status, code, cat, act, scope,
               {"x-brd-error-code": code, "x-brd-error": f"unlocker says {code}"},
               url=BRD_PROXY)


def _direct(real: int, code: str, cat: str, act: str, scope: str,
            header: str = "x-brd-error-code") -> Row:
    # The Direct API: 200 outside, the real status in x-brd-status-code.
    return Row("brightdata_api", real, code, cat, act, scope,
               {header: code, "x-brd-error": f"unlocker says {code}",
                "x-brd-status-code": str(real)},
               transport="api", wire_status=200, url=BRD_API)


def _ps(status: int, details: str, error: str, code: str, cat: str, act: str,
        scope: str) -> Row:
    # Proxy-Status only (the x-brd-* headers gone): the code leads the details.
    value = (f'brd.superproxy.io; received-status={status}; error={error}; '
             f'details="{details}"')
    return Row("brightdata", status, code, cat, act, scope, {"Proxy-Status": value},
               url=BRD_PROXY)


BRIGHTDATA_ROWS = [
    _unlocker(400, "premium", "target", "drop", "request"),
    _unlocker(400, "feature_not_active", "validation", "stop", "account"),
    _unlocker(400, "ub_bad_endpoint_robots", "target", "drop", "request"),
    _unlocker(429, "sr_rate_limit", "rate_limit", "slowdown", "site"),
    _unlocker(502, "reject_block", "target", "retry", "request"),
    _unlocker(502, "resolve_failed_dns", "upstream", "drop", "request"),
    _unlocker(502, "resolve_failed_host", "upstream", "drop", "request"),
    _unlocker(502, "http_status", "target", "retry", "request"),
    _unlocker(502, "expect_element", "target", "retry", "request"),
    _unlocker(502, "domcontentloaded_event_timeout", "timeout", "retry", "request"),
    _unlocker(502, "document_load_failed", "upstream", "retry", "request"),
    _unlocker(502, "net_err_cert_date_invalid", "upstream", "drop", "request"),
    # A proxy-level code passed through an unlocker reply: x-brd-err-code.
    Row("brightdata", 407, "client_10000", "auth", "stop", "account",
        {"x-brd-err-code": "client_10000", "x-brd-error": "Auth failed"}, url=BRD_PROXY),
    # Proxy-Status details: hyphen (as Bright Data writes it there) or underscore.
    _ps(400, "client-10060: Requested IP is not allocated to this zone",
        "destination_ip_unroutable", "client_10060", "validation", "stop", "account"),
    _ps(407, "client_10000: Invalid auth", "http_request_denied",
        "client_10000", "auth", "stop", "account"),
    _ps(403, "policy-20020: Bad Port used", "http_request_denied",
        "policy_20020", "target", "drop", "request"),
    # policy_20220: one target domain's limit; policy_20222: one exit IP's.
    Row("brightdata", 429, "policy_20220", "rate_limit", "slowdown", "site",
        {"x-brd-err-code": "policy_20220"}, url=BRD_PROXY),
    Row("brightdata", 429, "policy_20222", "rate_limit", "slowdown", "route",
        {"x-brd-err-code": "policy_20222"}, url=BRD_PROXY),
    # Direct API: the error is inside a 200.
    _direct(502, "reject_block", "target", "retry", "request"),
    _direct(429, "sr_rate_limit", "rate_limit", "slowdown", "site"),
    _direct(400, "feature_not_active", "validation", "stop", "account"),
    _direct(407, "client_10000", "auth", "stop", "account", header="x-brd-err-code"),
    # Refusals before the unlocker keep a real status, plaintext, no x-brd-*.
    Row("brightdata_api", 401, "401", "auth", "stop", "account",
        {"Content-Type": "text/plain"}, b"Invalid API key", transport="api", url=BRD_API),
    Row("brightdata_api", 400, "400", "validation", "drop", "request",
        {"Content-Type": "text/plain"}, b"zone not found", transport="api", url=BRD_API),
    # The Scraper API on the same host: 25+ 429s in 5 minutes block the client
    # IP, so the whole account pauses (Retry-After, else a backoff from 2 s).
    Row("brightdata_api", 429, "429", "rate_limit", "slowdown", "account",
        {"Retry-After": "7"}, transport="api",
        url="https://api.brightdata.com/datasets/v3/scrape?dataset_id=d"),
]

# --------------------------------------------------- Zyte API (corrections)

ZYTE_API_URL = "https://api.zyte.com/v1/extract"
ZYTE_PROXY = "http://KEY:@api.zyte.com:8011"


def _zapi(status: int, type_: str, cat: str, act: str, scope: str) -> Row:
    body = {"type": type_, "title": f"title of {type_}", "status": status}
    return Row("zyte_api", status, type_, cat, act, scope,
               {"Content-Type": "application/problem+json"}, json.dumps(body).encode(),
               transport="api", url=ZYTE_API_URL)


def _zproxy(status: int, type_: str, cat: str, act: str, scope: str) -> Row:
    return Row("zyte_api", status, type_, cat, act, scope, {"Zyte-Error-Type": type_},
               url=ZYTE_PROXY)


ZYTE_API_ROWS = [
    _zapi(403, "/auth/account-suspended", "account", "stop", "account"),
    _zproxy(403, "/auth/account-suspended", "account", "stop", "account"),
    _zproxy(407, "/auth/proxy-auth-not-valid", "auth", "stop", "account"),
    _zproxy(431, "/request/header-size", "validation", "drop", "request"),
    _zapi(429, "/limits/over-domain-limit", "rate_limit", "slowdown", "site"),
    _zproxy(429, "/limits/over-domain-limit", "rate_limit", "slowdown", "site"),
]

# ---------------------------------------------------- Oxylabs (corrections)

OXY_PROXY = "http://customer-u:p@pr.oxylabs.io:7777"
OXY_API = "https://realtime.oxylabs.io/v1/queries"


def _oxy_problem(title: str) -> Row:
    body = {"title": title, "status": 400, "detail": f"{title} detail"}
    return Row("oxylabs", 400, title, "validation", "drop", "request",
               {"Content-Type": "application/problem+json"}, json.dumps(body).encode(),
               transport="api", named=True)


OXYLABS_ROWS = [
    Row("oxylabs", 403, "403", "target", "drop", "request",
        {"X-Error-Description": "Access denied: restricted target"}),
    Row("oxylabs", 524, "524", "timeout", "retry", "request", transport="api", named=True),
    Row("oxylabs", 612, "612", "internal", "retry", "request", transport="api", named=True),
    _oxy_problem("INVALID_BODY_PROPERTY"),
    _oxy_problem("MALFORMED_JSON"),
]

# ------------------------------------------------------------------- Scrapfly

SCRAPFLY_URL = "https://api.scrapfly.io/scrape?key=k&url=https%3A%2F%2Fexample.com"


def _fly(status: int, code: str, retryable: bool | None, cat: str, act: str,
         scope: str) -> Row:
    error: dict[str, object] = {"http_code": status, "code": code,
                                "message": f"{code} happened",
                                "doc_url": f"https://scrapfly.io/docs/scrape-api/error/{code}"}
    headers = {"Content-Type": "application/json", "X-Scrapfly-Reject-Code": code,
               "X-Scrapfly-Reject-Description": f"{code} happened",
               "X-Scrapfly-Reject-Http-Code": str(status)}
    if retryable is not None:
        error["retryable"] = retryable
        headers["X-Scrapfly-Reject-Retryable"] = "true" if retryable else "false"
    body = {"result": {"success": False, "error": error}}
    return Row("scrapfly", status, code, cat, act, scope, headers,
               json.dumps(body).encode(), transport="api", url=SCRAPFLY_URL)


SCRAPFLY_ROWS = [
    _fly(429, "ERR::THROTTLE::MAX_CONCURRENT_REQUEST_EXCEEDED", True,
         "concurrency", "slowdown", "account"),
    _fly(429, "ERR::THROTTLE::MAX_REQUEST_RATE_EXCEEDED", True,
         "rate_limit", "slowdown", "account"),
    _fly(429, "ERR::THROTTLE::MAX_API_CREDIT_BUDGET_EXCEEDED", True, "quota", "stop", "account"),
    # Flagged retryable, but an account stop.
    _fly(429, "ERR::ACCOUNT::SUSPENDED", True, "account", "stop", "account"),
    # These two go by the retryable flag alone.
    _fly(422, "ERR::ASP::SHIELD_PROTECTION_FAILED", True, "upstream", "retry", "request"),
    _fly(400, "ERR::PROXY::POOL_UNAVAILABLE_COUNTRY", False, "validation", "drop", "request"),
    # The facts give no flag for it.
    _fly(422, "ERR::SCRAPE::NO_BROWSER_AVAILABLE", None, "internal", "retry", "request"),
]

# ------------------------------------------------------------------ Crawlbase

CRAWLBASE_URL = "https://api.crawlbase.com/?token=t&url=https%3A%2F%2Fexample.com"


def _status_api(provider: str, url: str, status: int, cat: str, act: str, scope: str,
                headers: dict[str, str] | None = None) -> Row:
    """An API that says it all with the status: the code is the status."""
    return Row(provider, status, str(status), cat, act, scope, headers or {},
               transport="api", url=url)


def _cb(status: int, cat: str, act: str, scope: str,
        headers: dict[str, str] | None = None) -> Row:
    return _status_api("crawlbase", CRAWLBASE_URL, status, cat, act, scope, headers)


def _pc(pc_status: int, cat: str, act: str) -> Row:
    # A 200 whose pc_status says the crawl failed (original_status is the target's).
    return Row("crawlbase", pc_status, f"pc_status:{pc_status}", cat, act, "request",
               {"pc_status": str(pc_status), "original_status": "200",
                "url": "https://example.com"},
               b"<html>captcha</html>", transport="api", wire_status=200, url=CRAWLBASE_URL)


CRAWLBASE_ROWS = [
    _cb(401, "auth", "stop", "account"),
    _cb(402, "quota", "stop", "account"),
    _cb(403, "auth", "stop", "account"),
    _cb(422, "validation", "drop", "request"),
    _cb(429, "concurrency", "slowdown", "account",
        {"Retry-After": "2", "X-Crawlbase-Concurrency": "20"}),
    _cb(500, "internal", "retry", "request"),
    _cb(503, "internal", "retry", "request"),
    *[_pc(s, "upstream", "retry") for s in (429, 500, 503, 522, 599)],
    *[_pc(s, "target", "drop") for s in (401, 402, 403, 404, 410, 422, 451)],
]

# ---------------------------------------------------------------- Apify Proxy

APIFY_PROXY = "http://groups-RESIDENTIAL:pw@proxy.apify.com:8000"


def _apify(status: int, cat: str, act: str) -> Row:
    return Row("apify", status, str(status), cat, act, "request", url=APIFY_PROXY)


APIFY_ROWS = [
    _apify(590, "upstream", "retry"),
    _apify(592, "upstream", "retry"),
    _apify(593, "upstream", "drop"),
    _apify(594, "upstream", "retry"),
    _apify(595, "upstream", "retry"),
    _apify(596, "upstream", "retry"),
    # "Incorrect upstream credentials": its meaning for the user is unverified.
    _apify(597, "internal", "retry"),
    _apify(599, "upstream", "retry"),
]

# -------------------------------------------------------------------- ZenRows

ZENROWS_URL = "https://api.zenrows.com/v1/?apikey=k&url=https%3A%2F%2Fexample.com"


def _zen(status: int, code: str, cat: str, act: str, scope: str) -> Row:
    body = {"code": code, "detail": f"{code} detail"}
    return Row("zenrows", status, code, cat, act, scope,
               {"Content-Type": "application/json"}, json.dumps(body).encode(),
               transport="api", url=ZENROWS_URL)


ZENROWS_ROWS = [
    *[_zen(400, c, "validation", "drop", "request")
      for c in ("REQS001", "REQS002", "REQS004", "REQS006", "RESP004", "RESP008")],
    *[_zen(401, c, "auth", "stop", "account") for c in ("AUTH001", "AUTH002", "AUTH003")],
    _zen(403, "AUTH009", "account", "stop", "account"),
    # The facts give no status for BLK0001: two plausible ones.
    _zen(403, "BLK0001", "account", "stop", "account"),
    _zen(429, "BLK0001", "account", "stop", "account"),
]

# ------------------------------------------------------------------- Thordata

THORDATA_ROWS = [
    Row("thordata", 400, code, "validation", "stop", "account",
        {"X-thor-error-code": code, "X-thor-error-msg": f"{what} parameter error",
         "x-thor-error": f"{what} Parameter Error"})
    for code, what in (("client_101", "Region"), ("client_102", "Protocol"))
]

# ---------------------------------------------------------------------- Bytio


def _bytio(status: int, message: str, cat: str, act: str, scope: str) -> Row:
    return Row("bytio", status, str(status), cat, act, scope, {"bytio-error": message})


BYTIO_ROWS = [
    _bytio(400, "invalid argument", "validation", "stop", "account"),
    _bytio(400, "zone not enabled", "validation", "stop", "account"),
    _bytio(402, "payment required", "quota", "stop", "account"),
    _bytio(403, "user disabled", "account", "stop", "account"),
    _bytio(403, "zone disabled", "account", "stop", "account"),
    _bytio(404, "session not available", "session", "rotate", "route"),
    _bytio(407, "wrong api key", "auth", "stop", "account"),
    _bytio(429, "too many connections", "concurrency", "slowdown", "account"),
]

# ------------------------------------------------------------------- Nimble IP


def _nimble(status: int, cat: str, act: str, scope: str, transport: str = "plain") -> Row:
    return Row("nimble", status, str(status), cat, act, scope, transport=transport, named=True)


NIMBLE_ROWS = [
    _nimble(402, "quota", "stop", "account"),
    _nimble(403, "target", "drop", "request"),
    _nimble(407, "auth", "stop", "account"),
    # The CONNECT phase timed out: a CONNECT reply.
    _nimble(522, "timeout", "retry", "request", transport="connect"),
    _nimble(525, "node", "retry", "request"),
]

# ------------------------------------------------------------------ Scrape.do

SCRAPEDO_URL = "https://api.scrape.do/?token=t&url=https%3A%2F%2Fexample.com"


def _sdo(status: int, cat: str, act: str, scope: str) -> Row:
    return _status_api("scrapedo", SCRAPEDO_URL, status, cat, act, scope)


SCRAPEDO_ROWS = [
    _sdo(401, "quota", "stop", "account"),
    _sdo(429, "concurrency", "slowdown", "account"),
    _sdo(502, "upstream", "retry", "request"),
    _sdo(510, "timeout", "retry", "request"),
    # Theirs or the target's: the reply cannot tell, so it is handed on.
    _sdo(400, "validation", "pass", "request"),
]

# ------------------------------------------------------------------ ScrapeOps

SCRAPEOPS_URL = "https://proxy.scrapeops.io/v1/?api_key=k&url=https%3A%2F%2Fexample.com"


def _sops(status: int, cat: str, act: str, scope: str) -> Row:
    return _status_api("scrapeops", SCRAPEOPS_URL, status, cat, act, scope)


SCRAPEOPS_ROWS = [
    _sops(401, "quota", "stop", "account"),
    _sops(403, "auth", "stop", "account"),
    _sops(429, "concurrency", "slowdown", "account"),
    _sops(500, "upstream", "retry", "request"),
]

# ---------------------------------------------------------------- ScrapingAnt

SCRAPINGANT_URL = "https://api.scrapingant.com/v2/general?url=https%3A%2F%2Fexample.com"


def _ant(status: int, detail: str, cat: str, act: str, scope: str) -> Row:
    return Row("scrapingant", status, str(status), cat, act, scope,
               {"Content-Type": "application/json"}, json.dumps({"detail": detail}).encode(),
               transport="api", url=SCRAPINGANT_URL)


SCRAPINGANT_ROWS = [
    _ant(403, "Wrong token", "auth", "stop", "account"),
    _ant(403, "API credits exceeded", "auth", "stop", "account"),
    _ant(409, "Concurrency limit reached", "concurrency", "slowdown", "account"),
    _ant(422, "Invalid value for proxy_country", "validation", "drop", "request"),
    _ant(423, "Detected anti-bot", "target", "retry", "request"),
    _ant(500, "Internal error", "internal", "retry", "request"),
]

# ------------------------------------------------------------------ ScraperAPI

SCRAPERAPI_URL = "https://api.scraperapi.com/?api_key=k&url=https%3A%2F%2Fexample.com"

SCRAPERAPI_ROWS = [
    _status_api("scraperapi", SCRAPERAPI_URL, 500, "upstream", "retry", "request"),
    # The target's own 404, billed and handed on.
    _status_api("scraperapi", SCRAPERAPI_URL, 404, "target", "pass", "request"),
]

CORRECTION_ROWS: list[Row] = BRIGHTDATA_ROWS + ZYTE_API_ROWS + OXYLABS_ROWS
NEW_PROVIDER_ROWS: list[Row] = (
    SCRAPFLY_ROWS + CRAWLBASE_ROWS + APIFY_ROWS + ZENROWS_ROWS + THORDATA_ROWS + BYTIO_ROWS
    + NIMBLE_ROWS + SCRAPEDO_ROWS + SCRAPEOPS_ROWS + SCRAPINGANT_ROWS + SCRAPERAPI_ROWS
)
ROUND2_ROWS: list[Row] = CORRECTION_ROWS + NEW_PROVIDER_ROWS
#: Proxy rows that a CONNECT reply must classify the same way.
ROUND2_PROXY_ROWS = [r for r in ROUND2_ROWS if r.transport == "plain"]
#: The ten new providers (and ScraperAPI, the last row of the facts' table).
NEW_PROVIDERS = ("scrapfly", "crawlbase", "apify", "zenrows", "thordata", "bytio", "nimble",
                 "scrapedo", "scrapeops", "scrapingant", "scraperapi")
