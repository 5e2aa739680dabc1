"""More emulated providers: ten from ``shared/providers/more-providers.md``,
plus Zyte API (proxy mode) and Bright Data from ``others.md``.

Like ``_providers.py``, written from the collected facts, not derived from
the package's profiles. Where the facts leave a detail open (the body's shape,
which code answers a situation the docs do not cover), the choice is the
emulator's own and says so in a comment: a test device must answer
something, but it must not pass an invention off as the provider's.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from ._spec import (
    JSON_TYPE,
    ApiCall,
    ErrorDef,
    ProviderSpec,
    answer_passthrough,
    ed,
    extra_headers,
    handed_on,
    json_reply,
    read_header,
    read_json,
    retry_after_header,
)
from ._types import Reply

if TYPE_CHECKING:
    from collections.abc import Mapping


def _status_text(spec: ProviderSpec, reply: Reply) -> str | None:
    """Providers that answer with a status only: the status is the code,
    told apart by the text where one status has two meanings."""
    text = reply.header("bytio-error") or reply.body.decode("utf-8", "replace").strip()
    for err in spec.errors:
        if err.status == reply.status and err.text.lower() == text.lower():
            return err.code
    return str(reply.status)


def _plain(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    """A bare status with its text as a plain body (status-only providers)."""
    headers = [("Content-Type", "text/plain")]
    body = str(kw.get("body") or err.text).encode()
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), body,
                 err.reason)


# --- Scrapfly (scraping API, ``api.scrapfly.io/scrape?key=...&url=...``) ------------

SCRAPFLY_ERRORS = (
    ed(429, "ERR::THROTTLE::MAX_CONCURRENT_REQUEST_EXCEEDED",
       "Concurrent request limit of the plan reached"),
    ed(429, "ERR::THROTTLE::MAX_REQUEST_RATE_EXCEEDED",
       "Request rate limit of the project reached (1-minute window)"),
    ed(429, "ERR::THROTTLE::MAX_API_CREDIT_BUDGET_EXCEEDED",
       "The project's API credit budget is spent"),
    ed(429, "ERR::ACCOUNT::SUSPENDED", "The account is suspended"),
    ed(422, "ERR::ASP::SHIELD_PROTECTION_FAILED", "The anti-scraping protection was not passed"),
    ed(400, "ERR::PROXY::POOL_UNAVAILABLE_COUNTRY", "No proxy in this pool for that country"),
    ed(422, "ERR::SCRAPE::NO_BROWSER_AVAILABLE", "No browser is available right now"),
    # The generic API errors: {status, http_code, reason, error_id, message}
    # and no ``code`` (Scrapfly's "API Errors" page); the status is the code.
    ed(401, "401", "Invalid API key"),
    ed(500, "500", "Scrapfly is in trouble, and we have been alerted of the issue"),
    ed(502, "502", "The web service that exposes Scrapfly is in trouble"),
    ed(503, "503", "Scrapfly runs in degraded mode or is under maintenance"),
)
#: ``retryable`` as the collected facts give it (SUSPENDED is flagged
#: retryable although no retry helps). NO_BROWSER_AVAILABLE and the budget
#: are not stated: the emulator flags them retryable (the emulator's choice).
_SCRAPFLY_RETRYABLE = {
    "ERR::THROTTLE::MAX_CONCURRENT_REQUEST_EXCEEDED": True,
    "ERR::THROTTLE::MAX_REQUEST_RATE_EXCEEDED": True,
    "ERR::THROTTLE::MAX_API_CREDIT_BUDGET_EXCEEDED": True,
    "ERR::ACCOUNT::SUSPENDED": True,
    "ERR::ASP::SHIELD_PROTECTION_FAILED": True,
    "ERR::PROXY::POOL_UNAVAILABLE_COUNTRY": False,
    "ERR::SCRAPE::NO_BROWSER_AVAILABLE": True,
}
_SCRAPFLY_DOCS = "https://scrapfly.io/docs/scrape-api/error/"


def _scrapfly(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    message = str(kw.get("message") or err.text)
    error_id = str(kw.get("request_id") or "00000000-0000-4000-8000-000000000000")
    headers = list(JSON_TYPE)
    if code.isdigit():
        body: dict[str, Any] = {"status": "error", "http_code": err.status,
                                "reason": err.reason or "", "error_id": error_id,
                                "message": message}
    else:
        retryable = _SCRAPFLY_RETRYABLE.get(code, False)
        headers += [
            ("X-Scrapfly-Reject-Code", code),
            ("X-Scrapfly-Reject-Description", message),
            ("X-Scrapfly-Reject-Http-Code", str(err.status)),
            ("X-Scrapfly-Reject-Retryable", "true" if retryable else "false"),
        ]
        body = {"result": {"success": False, "error": {
            "code": code, "http_code": err.status, "message": message,
            "retryable": retryable, "doc_url": _SCRAPFLY_DOCS + code, "error_id": error_id,
        }}}
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw),
                 json.dumps(body).encode(), err.reason)


def _read_scrapfly(spec: ProviderSpec, reply: Reply) -> str | None:
    return reply.header("X-Scrapfly-Reject-Code") or str(reply.status)


def _answer_scrapfly(call: ApiCall) -> tuple[Reply, bool]:
    page, billed = answer_passthrough(call)
    url = call.query.get("url")
    if url is None or not billed:
        return page, billed
    # The scraped page inside the JSON result.
    result = {"success": page.status < 400, "status_code": page.status, "url": url,
              "content": page.body.decode("utf-8", "replace")}
    return json_reply({"result": result, "uuid": call.request_id}), True


# --- Crawlbase (scraping API, ``api.crawlbase.com/?token=...&url=...``) -------------

#: ``pc_status`` classes (more-providers.md): transient ones are worth a retry.
PC_TRANSIENT = (429, 500, 503, 522, 599)
PC_TERMINAL = (401, 402, 403, 404, 410, 422, 451)
#: The prefix of the codes of failed crawls inside a 200.
PC = "pc_status:"

CRAWLBASE_ERRORS = (
    ed(401, "401", "Invalid token"),
    ed(402, "402", "Credits or the free trial are used up"),
    ed(403, "403", "Wrong token type for this API"),
    ed(422, "422", "Malformed URL"),
    ed(429, "429", "Concurrency limit of the token reached"),
    ed(500, "500", "Crawlbase internal error"),
    ed(503, "503", "Crawlbase is unavailable"),
    # A crawl that went through but failed: a 200 whose ``pc_status`` says
    # why (``pc_status:503``: e.g. the page was a CAPTCHA).
    *(ed(200, f"{PC}{s}", f"The crawl failed (pc_status {s}, transient)")
      for s in PC_TRANSIENT),
    *(ed(200, f"{PC}{s}", f"The crawl failed (pc_status {s}, terminal)")
      for s in PC_TERMINAL),
)
#: The default concurrency of a token (more-providers.md).
CRAWLBASE_CONCURRENCY = 20


def _crawlbase(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    if code.startswith(PC):
        # The page's own status is unknown here: a CAPTCHA served as 200.
        pc = code[len(PC):]
        original = str(kw.get("original_status") or 200)
        headers = [("Content-Type", "text/html; charset=utf-8"), ("original_status", original),
                   ("pc_status", pc)]
        if kw.get("url"):
            headers.append(("url", str(kw["url"])))
        body = str(kw.get("body") or "<html><body>CAPTCHA</body></html>").encode()
        return Reply(200, headers + extra_headers(kw), body)
    # The error body's shape is not in the collected facts: a JSON object
    # with the message (the emulator's choice).
    headers = list(JSON_TYPE)
    if err.status == 429:
        headers += [("Retry-After", str(kw.get("retry_after", 1))),
                    ("X-Crawlbase-Concurrency",
                     str(kw.get("concurrency", CRAWLBASE_CONCURRENCY)))]
    else:
        headers += retry_after_header(kw)
    body = json.dumps({"error": str(kw.get("message") or err.text)}).encode()
    return Reply(err.status, headers + extra_headers(kw), body, err.reason)


def _answer_crawlbase(call: ApiCall) -> tuple[Reply, bool]:
    url = call.query.get("url")
    if url is None:
        return call.spec.reply("422"), False
    fetched = call.fetch(url)
    if fetched is None or fetched.status >= 400:
        # The crawl failed: still a 200, the failure in pc_status. An
        # unreachable target is 599 (the emulator's choice: a transient class
        # member). Failed crawls are not billed (assumed).
        status = 599 if fetched is None else fetched.status
        code = f"{PC}{status}" if status in PC_TRANSIENT + PC_TERMINAL else f"{PC}599"
        body = b"" if fetched is None else fetched.body
        return call.spec.reply(code, original_status=status, url=url,
                               body=body.decode("utf-8", "replace") or " "), False
    page = handed_on(fetched)
    headers = [*page.header_items(), ("original_status", str(fetched.status)),
               ("pc_status", "200"), ("url", url)]
    return Reply(200, headers, page.body), True


def _read_crawlbase(spec: ProviderSpec, reply: Reply) -> str | None:
    if reply.status < 300:
        pc = reply.header("pc_status")
        return None if pc in (None, "200") else f"{PC}{pc}"
    return str(reply.status)


# --- Apify Proxy (``proxy.apify.com:8000``) ----------------------------------------

# Custom statuses instead of 502; the reason phrases are the emulator's.
APIFY_ERRORS = (
    ed(407, "407", "Invalid proxy password", "Proxy Authentication Required"),
    ed(590, "590", "The upstream answered the CONNECT with a non-2xx status", "Non Successful"),
    ed(592, "592", "The upstream's status code is out of range", "Status Code Out Of Range"),
    ed(593, "593", "The upstream's DNS lookup failed", "Not Found"),
    ed(594, "594", "The upstream refused the connection", "Connection Refused"),
    ed(595, "595", "The connection to the upstream was reset", "Connection Reset"),
    ed(596, "596", "The connection to the upstream broke (broken pipe)", "Broken Pipe"),
    # Incorrect upstream credentials: what it means for a user is unverified.
    ed(597, "597", "Incorrect upstream proxy credentials", "Auth Failed"),
    ed(599, "599", "A generic upstream error", "Upstream Error"),
)


# --- ZenRows (scraping API, ``api.zenrows.com/v1/?apikey=...&url=...``) -------------

ZENROWS_ERRORS = (
    ed(400, "REQS001", "The request is invalid (REQS001)"),
    ed(400, "REQS002", "The request is invalid (REQS002)"),
    ed(400, "REQS004", "The request is invalid (REQS004)"),
    ed(400, "REQS006", "The request is invalid (REQS006)"),
    ed(400, "RESP004", "The response could not be processed (RESP004)"),
    ed(400, "RESP008", "The response could not be processed (RESP008)"),
    ed(401, "AUTH001", "API key missing"),
    ed(401, "AUTH002", "API key invalid"),
    ed(401, "AUTH003", "API key not accepted"),
    ed(403, "AUTH009", "Account access refused"),
    # No status is documented for it: 403 is the emulator's choice.
    ed(403, "BLK0001", "IP address blocked after too many faulty requests"),
)


def _zenrows(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    # A problem document (per a secondary source, unverified) that also
    # carries the code as a member of its own.
    body = {"code": code, "status": err.status, "title": code,
            "detail": str(kw.get("message") or err.text),
            "type": "https://docs.zenrows.com/api-error-codes#" + code, "instance": "/v1/"}
    headers = [("Content-Type", "application/problem+json")]
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw),
                 json.dumps(body).encode(), err.reason)


# --- Thordata (proxy) ----------------------------------------------------------------

THORDATA_ERRORS = (
    ed(400, "client_101", "region parameter error"),
    ed(400, "client_102", "protocol parameter error"),
    # The rest of the table is not captured: bare statuses (the emulator's).
    ed(407, "407", "Proxy Authentication Required"),
    ed(502, "502", "Bad Gateway"),
)


def _thordata(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    if code.isdigit():
        return _plain(err, code, kw)
    headers = [("X-thor-error-code", code), ("X-thor-error-msg", str(kw.get("detail")
                                                                      or err.text))]
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), b"",
                 err.reason)


def _read_thordata(spec: ProviderSpec, reply: Reply) -> str | None:
    return reply.header("X-thor-error-code") or str(reply.status)


# --- Bytio (proxy) -------------------------------------------------------------------

BYTIO_ERRORS = (
    ed(400, "400", "invalid argument"),
    ed(400, "zone-not-enabled", "zone not enabled"),
    ed(402, "402", "payment required"),
    ed(403, "403", "user disabled"),
    ed(403, "zone-disabled", "zone disabled"),
    ed(404, "404", "session not available"),
    ed(407, "407", "wrong api key"),
    ed(429, "429", "too many connections"),
    # Not in the collected facts: a target that cannot be reached (the emulator's).
    ed(502, "502", "bad gateway"),
)


def _bytio(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    # Status plus the ``bytio-error`` header, on CONNECT too; no body.
    headers = [("bytio-error", str(kw.get("detail") or err.text))]
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), b"",
                 err.reason)


# --- Nimble IP (proxy, status only) -------------------------------------------------

NIMBLE_ERRORS = (
    ed(402, "402", "Trial quota or credits exhausted"),
    ed(403, "403", "Pipeline disabled or forbidden site"),
    ed(407, "407", "Proxy Authentication Required"),
    ed(522, "522", "Connect timeout"),
    ed(525, "525", "No IP found"),
)


# --- Scrape.do (scraping API, ``api.scrape.do/?token=...&url=...``) ------------------

SCRAPEDO_ERRORS = (
    ed(400, "400", "Bad request"),
    ed(401, "401", "No credits left, or the account is suspended"),
    ed(429, "429", "Concurrency limit reached (not billed)"),
    ed(502, "502", "The request failed (not billed)"),
    ed(510, "510", "Cancelled by the client", "Request Cancelled"),
)


# --- ScrapeOps proxy aggregator (``proxy.scrapeops.io/v1/?api_key=...&url=...``) ------

SCRAPEOPS_ERRORS = (
    ed(401, "401", "API credits used up"),
    ed(403, "403", "Missing or invalid api_key"),
    ed(429, "429", "Concurrency limit reached"),
    ed(500, "500", "Failed after retrying for up to 2 minutes (not billed)"),
)


# --- ScrapingAnt (``api.scrapingant.com/v2/general?x-api-key=...&url=...``) ----------

SCRAPINGANT_ERRORS = (
    ed(400, "400", "Wrong request format"),
    ed(403, "403", "The API token is wrong or the API credits limit is exceeded"),
    ed(404, "404", "The requested URL is not reachable"),
    ed(409, "409", "Concurrent requests limit exceeded"),
    ed(422, "422", "Invalid value provided"),
    ed(423, "423", "The anti-bot detection system has detected the request"),
    ed(500, "500", "Something went wrong with the server side code"),
)


def _scrapingant(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    body = json.dumps({"detail": str(kw.get("message") or err.text)}).encode()
    return Reply(err.status, list(JSON_TYPE) + retry_after_header(kw) + extra_headers(kw),
                 body, err.reason)


# --- ScraperAPI (``api.scraperapi.com/?api_key=...&url=...``) -----------------------

SCRAPERAPI_ERRORS = (
    # It retries internally for up to 70 s, then answers 500 (not charged).
    ed(500, "500", "Request failed after retrying for up to 70 seconds"),
    # 403's and 429's meanings are unverified: a wrong key as 401 is the
    # emulator's choice, so that the credential checks have a reply.
    ed(401, "401", "Invalid API key"),
)


def _answer_scraperapi(call: ApiCall) -> tuple[Reply, bool]:
    url = call.query.get("url")
    if url is None:
        return json_reply({"ok": True, "path": call.path}), True
    fetched = call.fetch(url)
    if fetched is None or fetched.status >= 500:
        return call.spec.reply("500"), False
    # Only 200 and 404 are charged; the target's status comes through.
    return handed_on(fetched), fetched.status in (200, 404)


# --- Zyte API, proxy mode (``api.zyte.com:8011``, the key as username) --------------

ZYTE_API_ERRORS = (
    ed(429, "/limits/over-user-limit", "The account's request-rate limit was exceeded"),
    ed(429, "/limits/over-domain-limit", "The request rate for this website was exceeded"),
    ed(503, "/limits/over-global-limit", "Zyte API as a whole is at capacity"),
    ed(520, "/download/temporary-error", "The download failed (usually a ban)"),
    ed(521, "/download/internal-error", "Zyte API failed internally while downloading"),
    ed(400, "/request/invalid", "The request parameters are invalid"),
    ed(431, "/request/header-size", "The request headers are too large"),
    ed(401, "/auth/key-not-found", "The API key is missing or unknown"),
    ed(407, "/auth/proxy-auth-not-valid", "The proxy credentials are not valid"),
    ed(403, "/auth/account-suspended",
       "The trial credit is used up or the spending limit is reached"),
)


def _zyte_api(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    # Proxy mode's header is Zyte-Error-Type; the body an RFC 9457 document.
    body = {"type": code, "title": err.text, "status": err.status,
            "detail": str(kw.get("message") or err.text)}
    headers = [("Content-Type", "application/problem+json"), ("Zyte-Error-Type", code)]
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw),
                 json.dumps(body).encode(), err.reason)


# --- Bright Data (``brd.superproxy.io:33335``) ---------------------------------------

BRIGHTDATA_ERRORS = (
    ed(400, "client_10060", "Requested IP is not allocated to this zone"),
    ed(400, "client_10061", "No peer available in the requested country"),
    ed(400, "client_10063", "Bad IP format"),
    ed(401, "client_10050", "Client IP is denylisted"),
    ed(402, "policy_20130", "Residential access needs KYC"),
    ed(403, "client_10070", "Target blocked by the zone's allow/deny lists"),
    ed(403, "policy_20010", "Target blocked by Bright Data's policy"),
    # 407 covers client_10000..10040 (auth failed, zone not found, no
    # credentials, suspended); which number means which is the emulator's.
    ed(407, "client_10000", "Invalid authentication"),
    ed(407, "client_10010", "Zone not found"),
    ed(407, "client_10040", "Account suspended"),
    ed(429, "client_10110", "Account rate limit"),
    ed(429, "policy_20220", "Rate limit for this domain"),
    ed(429, "policy_20222", "Rate limit for this IP"),
    ed(502, "client_10100", "Zone usage limit reached"),
    ed(502, "peer_30030", "No peers in the requested city"),
    ed(502, "target_40001", "Target DNS failure"),
    # Web Unlocker and SERP API codes, in x-brd-error-code (more-providers.md).
    *(ed(400, code, f"Unlocker refused the request ({code})")
      for code in ("premium", "feature_not_active", "ub_bad_endpoint_robots")),
    ed(429, "sr_rate_limit", "Auto-throttled due to low success rate"),
    *(ed(502, code, f"Unlocker could not fetch the page ({code})")
      for code in ("reject_block", "resolve_failed_", "http_status", "expect_element",
                   "domcontentloaded_event_timeout", "document_load_failed",
                   "net_err_cert_date_invalid")),
)
#: The unlocker's codes (the rest are proxy-level codes).
_BRD_UNLOCKER = frozenset(err.code for err in BRIGHTDATA_ERRORS
                          if not err.code[-1].isdigit())
#: The RFC 9209 error token sent beside each code in ``Proxy-Status``. Only
#: client_10060's (destination_ip_unroutable) is in the collected facts; the
#: others are the emulator's choice of the closest registered token.
_BRD_PROXY_STATUS = {
    "client_1006": "destination_ip_unroutable",
    "client_10050": "http_request_denied",
    "client_1007": "http_request_denied",
    "policy_2001": "http_request_denied",
    "policy_2013": "http_request_denied",
    "client_100": "http_request_denied",
    "client_1011": "connection_limit_reached",
    "policy_2022": "connection_limit_reached",
    "client_1010": "proxy_configuration_error",
    "peer_": "destination_unavailable",
    "target_": "dns_error",
}


def _brd_token(code: str) -> str:
    for prefix, token in _BRD_PROXY_STATUS.items():
        if code.startswith(prefix):
            return token
    return "proxy_internal_error"


def _brightdata(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    detail = str(kw.get("detail") or err.text)
    headers: list[tuple[str, str]] = []
    if err.code in _BRD_UNLOCKER:
        # The unlocker's own codes: x-brd-error-code, with x-brd-error on
        # every such error; no Proxy-Status form of them is documented.
        headers += [("x-brd-error-code", code), ("x-brd-error", detail)]
        return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), b"",
                     err.reason)
    # RFC 9209, as Bright Data sends it since late 2025: the provider's code
    # leads ``details``, written with a hyphen there.
    proxy_status = (f"brd.superproxy.io; received-status={err.status}; "
                    f"error={_brd_token(code)}; "
                    f"details={json.dumps(code.replace('_', '-') + ': ' + detail)}")
    if not kw.get("proxy_status_only"):
        headers += [("x-brd-err-code", code), ("x-brd-error", err.text),
                    ("x-brd-err-msg", detail)]
    headers.append(("Proxy-Status", proxy_status))
    return Reply(err.status, headers + retry_after_header(kw) + extra_headers(kw), b"",
                 err.reason)


def _read_brightdata(spec: ProviderSpec, reply: Reply) -> str | None:
    code = reply.header("x-brd-err-code") or reply.header("x-brd-error-code")
    if code:
        return code
    details = (reply.header("Proxy-Status") or "").partition("details=")[2].strip('" ')
    head = details.partition(":")[0]
    return head.replace("-", "_") if head else str(reply.status)


# --- Bright Data Direct API (``POST api.brightdata.com/request``) --------------------

BRIGHTDATA_API_ERRORS = (
    # Refused before the unlocker: a real status, plain text, no x-brd-*.
    ed(401, "401", "Invalid API key"),
    ed(400, "400", "zone not found"),
    # Once the request reached the unlocker the reply is a 200 and the real
    # status is in x-brd-status-code (the status here is the wire's).
    *(ed(200, code, text) for code, text in (
        ("reject_block", "The target blocked the unlocker"),
        ("sr_rate_limit", "Auto-throttled due to low success rate"),
        ("feature_not_active", "The feature is not active on this zone"),
        ("resolve_failed_", "The target's name did not resolve"),
        ("http_status", "The target answered an error status"),
        ("client_10000", "Invalid authentication"),
    )),
)
#: The real status of each error inside a 200.
_BRD_API_REAL = {"reject_block": 502, "sr_rate_limit": 429, "feature_not_active": 400,
                 "resolve_failed_": 502, "http_status": 502, "client_10000": 407}


def _brightdata_api(err: ErrorDef, code: str, kw: Mapping[str, Any]) -> Reply:
    if err.status != 200:
        return _plain(err, code, kw)
    detail = str(kw.get("detail") or err.text)
    # Proxy-level codes passed through keep their header, x-brd-err-code.
    name = "x-brd-err-code" if code[-1].isdigit() else "x-brd-error-code"
    headers = [("x-brd-status-code", str(_BRD_API_REAL[err.code])), (name, code),
               ("x-brd-error", detail)]
    return Reply(200, headers + retry_after_header(kw) + extra_headers(kw), b"")


def _read_brightdata_api(spec: ProviderSpec, reply: Reply) -> str | None:
    if reply.status < 300:
        return reply.header("x-brd-err-code") or reply.header("x-brd-error-code")
    return str(reply.status)


def _answer_brightdata_api(call: ApiCall) -> tuple[Reply, bool]:
    """``{"zone", "url", "format": "raw"}``: the page, its status in
    ``x-brd-status-code``. No zone or no URL: the 400."""
    try:
        request = json.loads(call.body or b"{}")
    except ValueError:
        request = None
    if not isinstance(request, dict) or not request.get("zone") or \
            not isinstance(request.get("url"), str):
        return call.spec.reply("400"), False
    fetched = call.fetch(request["url"])
    if fetched is None:
        return call.spec.reply("resolve_failed_dns"), False
    page = handed_on(fetched)
    return Reply(200, [*page.header_items(), ("x-brd-status-code", str(page.status))],
                 page.body), True


MORE_SPECS: dict[str, ProviderSpec] = {
    "scrapfly": ProviderSpec(
        "scrapfly", "api", SCRAPFLY_ERRORS, _scrapfly, None,
        auth_missing="401", auth_wrong="401",
        quota="ERR::THROTTLE::MAX_API_CREDIT_BUDGET_EXCEEDED",
        rate_limit="ERR::THROTTLE::MAX_REQUEST_RATE_EXCEEDED",
        concurrency="ERR::THROTTLE::MAX_CONCURRENT_REQUEST_EXCEEDED",
        transient=("ERR::ASP::SHIELD_PROTECTION_FAILED", "ERR::SCRAPE::NO_BROWSER_AVAILABLE"),
        node_dead=None, bound_node_dead=None, unreachable="502",
        bad_request="ERR::PROXY::POOL_UNAVAILABLE_COUNTRY", unavailable="503", internal="500",
        revoked="ERR::ACCOUNT::SUSPENDED", key_param="key",
        answer=_answer_scrapfly, reader=_read_scrapfly,
    ),
    "crawlbase": ProviderSpec(
        "crawlbase", "api", CRAWLBASE_ERRORS, _crawlbase, None,
        auth_missing="401", auth_wrong="401", quota="402", rate_limit="429",
        concurrency="429", transient=(f"{PC}503", f"{PC}500"), node_dead=None,
        bound_node_dead=None, unreachable=f"{PC}599", bad_request="422", unavailable="503",
        internal="500", key_param="token", answer=_answer_crawlbase, reader=_read_crawlbase,
        errors_in_2xx=True,
    ),
    "apify": ProviderSpec(
        "apify", "proxy", APIFY_ERRORS, _plain, "session",
        auth_missing="407", auth_wrong="407", quota=None, rate_limit=None, concurrency=None,
        transient=("595", "599"), node_dead=None, bound_node_dead=None, unreachable="594",
        bad_request="599", internal="599",
        # ``groups-RESIDENTIAL,session-abc``: the username carries options only.
        user_match="any", reader=_status_text,
    ),
    "zenrows": ProviderSpec(
        "zenrows", "api", ZENROWS_ERRORS, _zenrows, None,
        auth_missing="AUTH001", auth_wrong="AUTH002", quota=None, rate_limit=None,
        concurrency=None, transient=(), node_dead=None, bound_node_dead=None,
        # No code for an unreachable target is in the collected facts.
        unreachable="RESP004", bad_request="REQS001", revoked="AUTH002", key_param="apikey",
        reader=read_json("code"),
    ),
    "thordata": ProviderSpec(
        "thordata", "proxy", THORDATA_ERRORS, _thordata, None,
        auth_missing="407", auth_wrong="407", quota=None, rate_limit=None, concurrency=None,
        transient=(), node_dead=None, bound_node_dead=None, unreachable="502",
        bad_request="client_102", user_match="prefix", reader=_read_thordata,
    ),
    "bytio": ProviderSpec(
        "bytio", "proxy", BYTIO_ERRORS, _bytio, "session",
        auth_missing="407", auth_wrong="407", quota="402", rate_limit="429",
        concurrency="429", transient=(), node_dead="404", bound_node_dead=None,
        unreachable="502", bad_request="400", user_match="prefix", reader=_status_text,
    ),
    "nimble": ProviderSpec(
        "nimble", "proxy", NIMBLE_ERRORS, _plain, None,
        auth_missing="407", auth_wrong="407", quota="402", rate_limit=None, concurrency=None,
        transient=("522", "525"), node_dead=None, bound_node_dead=None, unreachable="522",
        bad_request="403", user_match="prefix", reader=_status_text,
    ),
    "scrapedo": ProviderSpec(
        "scrapedo", "api", SCRAPEDO_ERRORS, _plain, None,
        auth_missing="401", auth_wrong="401", quota="401", rate_limit="429",
        concurrency="429", transient=("502",), node_dead=None, bound_node_dead=None,
        unreachable="502", bad_request="400", internal="502", key_param="token",
        # The target's own status comes through, and is billed (a target's
        # 400 is billed, Scrape.do's own is not); its own failure is a 502.
        reader=_status_text,
    ),
    "scrapeops": ProviderSpec(
        "scrapeops", "api", SCRAPEOPS_ERRORS, _plain, None,
        auth_missing="403", auth_wrong="403", quota="401", rate_limit="429",
        concurrency="429", transient=("500",), node_dead=None, bound_node_dead=None,
        unreachable="500", bad_request="403", internal="500", reader=_status_text,
    ),
    "scrapingant": ProviderSpec(
        "scrapingant", "api", SCRAPINGANT_ERRORS, _scrapingant, None,
        auth_missing="403", auth_wrong="403", quota="403", rate_limit="409",
        concurrency="409", transient=("423", "500"), node_dead=None, bound_node_dead=None,
        unreachable="404", bad_request="400", internal="500", key_param="x-api-key",
        key_header="x-api-key", reader=_status_text,
    ),
    "scraperapi": ProviderSpec(
        "scraperapi", "api", SCRAPERAPI_ERRORS, _plain, None,
        auth_missing="401", auth_wrong="401", quota=None, rate_limit=None, concurrency=None,
        transient=("500",), node_dead=None, bound_node_dead=None, unreachable="500",
        bad_request="500", internal="500", answer=_answer_scraperapi, reader=_status_text,
    ),
    "zyte_api": ProviderSpec(
        "zyte_api", "proxy", ZYTE_API_ERRORS, _zyte_api, None,
        auth_missing="/auth/proxy-auth-not-valid", auth_wrong="/auth/proxy-auth-not-valid",
        quota="/auth/account-suspended", rate_limit="/limits/over-user-limit",
        concurrency="/limits/over-user-limit",
        transient=("/download/temporary-error", "/download/internal-error"),
        node_dead=None, bound_node_dead=None, unreachable="/download/temporary-error",
        bad_request="/request/invalid", unavailable="/limits/over-global-limit",
        internal="/download/internal-error", site_limit="/limits/over-domain-limit",
        user_match="key", reader=read_header("Zyte-Error-Type"),
    ),
    "brightdata": ProviderSpec(
        "brightdata", "proxy", BRIGHTDATA_ERRORS, _brightdata, "session",
        auth_missing="client_10000", auth_wrong="client_10000", quota="client_10100",
        rate_limit="client_10110", concurrency="client_10110", transient=("peer_30030",),
        node_dead=None, bound_node_dead=None, unreachable="target_40001",
        bad_request="client_10063", revoked="client_10040", site_limit="policy_20220",
        families=("resolve_failed_",), family_example="dns",
        user_match="prefix", takes=("proxy_status_only",), reader=_read_brightdata,
    ),
    "brightdata_api": ProviderSpec(
        "brightdata_api", "api", BRIGHTDATA_API_ERRORS, _brightdata_api, None,
        auth_missing="401", auth_wrong="401", quota=None, rate_limit="sr_rate_limit",
        concurrency="sr_rate_limit", transient=("reject_block",), node_dead=None,
        bound_node_dead=None, unreachable="resolve_failed_dns", bad_request="400",
        families=("resolve_failed_",), family_example="dns",
        key_header="Authorization", key_scheme="Bearer", key_param=None,
        answer=_answer_brightdata_api, reader=_read_brightdata_api, errors_in_2xx=True,
    ),
}
