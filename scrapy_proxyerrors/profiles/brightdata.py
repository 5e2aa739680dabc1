"""Bright Data (formerly Luminati): ``x-brd-err-code`` on ``brd.superproxy.io``.

Codes are ``client_1xxxx`` (the customer's setup), ``policy_2xxxx`` (Bright
Data's usage policy), ``peer_3xxxx`` (exit peers) and ``target_4xxxx`` (the
target). Where the docs give a range rather than a list, a prefix family
under the documented status stands for the range.

Web Unlocker and the SERP API put their own codes (``sr_rate_limit``,
``reject_block``, ``resolve_failed_*``) in ``x-brd-error-code``; proxy-level
codes passed through stay in ``x-brd-err-code``, which is read first.
Bright Data is moving to RFC 9209 ``Proxy-Status``: its ``details`` start
with the provider's code (``client-10060: ...``), which keeps the code's rule
when the ``x-brd-*`` headers are gone; without a known code there, the
standard's ``error=`` token is the code (via the generic profile).

The Direct API (``api.brightdata.com/request``) answers 200 once the request
reached the unlocker, with the real status in ``x-brd-status-code``; only
refusals before that (401 API key, 400 zone or URL) get a real status.
"""

from __future__ import annotations

from dataclasses import replace

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.brightdata.com/proxy-networks/errorCatalog"
_UNLOCKER_DOCS = "https://docs.brightdata.com/scraping-automation/web-unlocker/error-codes"
_API_DOCS = _UNLOCKER_DOCS + "#where-does-the-error-appear-in-each-access-mode"
_SCRAPER_DOCS = "https://docs.brightdata.com/products/scrapers/error-codes"


def _r(status: int, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=_DOCS)


def _u(status: int, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=_UNLOCKER_DOCS)


_UNLOCKER_GAVE_UP = "Retried a few times; if it persists, the target resists Web Unlocker."


_ZONE_SETUP = (
    "The zone or the proxy username's targeting does not fit this request "
    "(IP not in the zone, no peer in the country, or a malformed IP)."
)
_FIX_ZONE = "Fix the -ip / -country options in the proxy username to match the zone."
_BLOCKED = "Bright Data's policy or the zone's allow/deny lists block this target."
_FIX_BLOCKED = "Do not crawl this target through this zone; review the zone's target lists."
_LIMIT_FIX = "Retried after a pause; lower the request rate."

BRIGHTDATA = Profile(
    name="brightdata",
    title="Bright Data",
    kind="proxy",
    code_headers=("x-brd-err-code", "x-brd-error-code", "x-luminati-error-code"),
    detail_headers=("x-brd-err-msg", "x-brd-error", "x-luminati-error"),
    signature_headers=(
        "x-brd-err-code",
        "x-brd-error-code",
        "x-brd-error",
        "x-luminati-error-code",
        "x-luminati-error",
    ),
    proxy_hosts=("brd.superproxy.io",),
    proxy_status=True,
    proxy_status_details=True,
    session_param="session",
    docs_url=_DOCS,
    sources=(_DOCS, _UNLOCKER_DOCS),
    rules=(
        # The username asks for something the zone cannot give: every request
        # with it fails the same way, so stop instead of burning the queue.
        _r(400, "client_10060", C.VALIDATION, A.STOP, S.ACCOUNT, _ZONE_SETUP, _FIX_ZONE),
        _r(400, "client_10061", C.VALIDATION, A.STOP, S.ACCOUNT, _ZONE_SETUP, _FIX_ZONE),
        _r(400, "client_10062", C.VALIDATION, A.STOP, S.ACCOUNT, _ZONE_SETUP, _FIX_ZONE),
        _r(400, "client_10063", C.VALIDATION, A.STOP, S.ACCOUNT, _ZONE_SETUP, _FIX_ZONE),
        _r(401, "client_10050", C.AUTH, A.STOP, S.ACCOUNT,
           "This machine's IP is on the account's denylist.",
           "Remove the IP from the zone's denylist, or crawl from another machine."),
        _r(402, "policy_20130", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "Residential access needs the account's KYC verification.",
           "Complete KYC in the control panel, or use a non-residential zone."),
        _r(402, "policy_20140", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "Residential access needs the account's KYC verification.",
           "Complete KYC in the control panel, or use a non-residential zone."),
        # 403: client_10070..client_10260 and policy_2xxxx, all "this target
        # is not allowed": one family each, bound to 403 so that the other
        # client_/policy_ codes (on other statuses) are not swallowed.
        _r(403, "client_*", C.TARGET, A.DROP, S.REQUEST, _BLOCKED, _FIX_BLOCKED),
        _r(403, "policy_2*", C.TARGET, A.DROP, S.REQUEST, _BLOCKED, _FIX_BLOCKED),
        # 407: client_10000..client_10040 (wrong credentials, unknown zone,
        # no credentials, suspended): nothing works until a human fixes it.
        _r(407, "client_*", C.AUTH, A.STOP, S.ACCOUNT,
           "Bright Data refused the credentials (wrong password, unknown zone, none sent, or suspended).",
           "Check the brd-customer-...-zone-... username and the zone password in the control panel."),
        _r(407, "policy_20120", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "Bright Data's policy refuses this account access.",
           "Check the account's status in the control panel; contact Bright Data support."),
        _r(429, "client_10110", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "The account's request-rate limit was exceeded.", _LIMIT_FIX),
        # Narrower limits: 20220 is one target domain (pause that site only,
        # every other site keeps flowing), 20222 one exit IP (the route).
        _r(429, "policy_20220", C.RATE_LIMIT, A.SLOWDOWN, S.SITE,
           "The rate limit for this target domain was exceeded.",
           "Retried after a pause for this site only; lower the rate for this domain."),
        # The docs name 20220 and 20222 only; 20221 sits between them in the
        # older table, whose meaning ("per-domain or per-IP") is left open.
        _r(429, "policy_20221", C.RATE_LIMIT, A.SLOWDOWN, S.ROUTE,
           "A per-domain or per-IP rate limit was exceeded (which one, the docs leave open).",
           _LIMIT_FIX),
        _r(429, "policy_20222", C.RATE_LIMIT, A.SLOWDOWN, S.ROUTE,
           "The rate limit for this exit IP was exceeded.", _LIMIT_FIX),
        _r(502, "client_10100", C.QUOTA, A.STOP, S.ACCOUNT,
           "The zone reached its usage limit.",
           "Raise or remove the zone's usage limit in the control panel."),
        _r(502, "client_10120", C.TARGET, A.DROP, S.REQUEST,
           "Bright Data would have to reroute this request, and rerouting is blocked.",
           "Use a zone type that is allowed for this target."),
        # Like a node shortage elsewhere: worth a few tries, but the lasting
        # fix is a broader geo target.
        _r(502, "peer_30030", C.NODE, A.RETRY, S.REQUEST,
           "No exit peer is available in the requested city.",
           "Broaden the geo targeting (country instead of city)."),
        _r(502, "policy_20070", C.TARGET, A.DROP, S.REQUEST,
           "This host is blocked from the requested country.",
           "Target another country for this host."),
        _r(502, "target_40001", C.UPSTREAM, A.DROP, S.REQUEST,
           "The target's host name does not resolve.", "Check the host name in the URL."),
        _r(502, "target_40011", C.UPSTREAM, A.DROP, S.REQUEST,
           "IPv6 was requested but the target has no IPv6 address (no AAAA record).",
           "Drop the IPv6 option for this target."),
        # Web Unlocker / SERP API codes (x-brd-error-code).
        _u(400, "premium", C.TARGET, A.DROP, S.REQUEST,
           "This target is a premium domain the zone may not reach (what enabling it "
           "takes, the docs leave open).",
           "Enable premium domains for the zone, or skip this target."),
        _u(400, "feature_not_active", C.VALIDATION, A.STOP, S.ACCOUNT,
           "The request uses a feature that is not active on this zone.",
           "Activate the feature on the zone, or stop asking for it."),
        _u(400, "ub_bad_endpoint_robots", C.TARGET, A.DROP, S.REQUEST,
           "The target's robots rules exclude this endpoint.",
           "Do not crawl this URL through Web Unlocker."),
        # Bright Data throttles the crawl of a target whose success rate is
        # low, and blocks clients that keep provoking 429s: pause that site.
        _u(429, "sr_rate_limit", C.RATE_LIMIT, A.SLOWDOWN, S.SITE,
           "Auto-throttled because of a low success rate (the docs do not say for "
           "how long; taken as per target site).",
           "Retried after a pause for this site; Bright Data blocks clients that "
           "send 25 or more 429s within 5 minutes."),
        _u(502, "reject_block", C.TARGET, A.RETRY, S.REQUEST,
           "The target blocked Web Unlocker's attempt.", _UNLOCKER_GAVE_UP),
        _u(502, "resolve_failed_*", C.UPSTREAM, A.DROP, S.REQUEST,
           "The target's host name could not be resolved.", "Check the host name in the URL."),
        _u(502, "http_status", C.TARGET, A.RETRY, S.REQUEST,
           "The target answered with an error status (which one, and whether it "
           "lasts, the code alone does not say).",
           _UNLOCKER_GAVE_UP),
        _u(502, "expect_element", C.TARGET, A.RETRY, S.REQUEST,
           "The page lacked the element the request expects (often a block page).",
           "Retried; check the expected element if it keeps failing."),
        _u(502, "domcontentloaded_event_timeout", C.TIMEOUT, A.RETRY, S.REQUEST,
           "The page did not finish loading its document in time.", "Retried with backoff."),
        _u(502, "document_load_failed", C.UPSTREAM, A.RETRY, S.REQUEST,
           "The page's document failed to load.", "Retried with backoff."),
        _u(502, "net_err_cert_date_invalid", C.UPSTREAM, A.DROP, S.REQUEST,
           "The target's TLS certificate is expired or not yet valid.",
           "Check the target's certificate."),
    ),
)

#: The Direct API: the same codes in the same headers, over HTTPS to an API
#: host, with the real status of a 200 in ``x-brd-status-code``. A profile of
#: its own, so that its status-only rules (a 401 or 400 without a code) never
#: apply to a target's reply through the proxy network.
BRIGHTDATA_API = replace(
    BRIGHTDATA,
    name="brightdata_api",
    title="Bright Data Direct API",
    kind="api",
    proxy_hosts=(),
    api_hosts=("api.brightdata.com",),
    signature_headers=(),
    session_param=None,
    status_headers=("x-brd-status-code",),
    docs_url=_API_DOCS,
    sources=(_UNLOCKER_DOCS, _SCRAPER_DOCS, _DOCS),
    rules=(
        *BRIGHTDATA.rules,
        # Direct API refusals before the unlocker (no code header).
        Rule(401, None, C.AUTH, A.STOP, S.ACCOUNT,
             "The Direct API refused the API key.",
             "Send a valid API key as the Bearer token.", docs=_API_DOCS),
        Rule(400, None, C.VALIDATION, A.DROP, S.REQUEST,
             "The Direct API refused the zone or the URL (the reply alone does not "
             "say which).",
             "Check the zone name and the URL; if every request fails, it is the zone.",
             docs=_API_DOCS),
        # The APIs on this host (the Scraper API says so) block a client IP
        # that gets 25 or more 429s within 5 minutes: the whole account
        # pauses, for Retry-After, else the exponential backoff (a fixed
        # floor would not grow between 429s in a row).
        Rule(429, None, C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
             "Too many requests; 25 or more 429s within 5 minutes get this machine's "
             "IP blocked.",
             "Paused for Retry-After; without one, PROXYERRORS_BACKOFF_BASE = 2 follows "
             "Bright Data's 2, 4, 8, 16, 32 s. Lower the request rate.",
             docs=_SCRAPER_DOCS),
    ),
)
