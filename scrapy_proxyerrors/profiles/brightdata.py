"""Bright Data (formerly Luminati): ``x-brd-err-code`` on ``brd.superproxy.io``.

Codes are ``client_1xxxx`` (the customer's setup), ``policy_2xxxx`` (Bright
Data's usage policy), ``peer_3xxxx`` (exit peers) and ``target_4xxxx`` (the
target). Where the docs give a range rather than a list, a prefix family
under the documented status stands for the range. Bright Data is moving to
RFC 9209 ``Proxy-Status``; a reply carrying only that header is read with the
standard's tokens (via the generic profile).
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://docs.brightdata.com/proxy-networks/errorCatalog"


def _r(status: int, code: str, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=_DOCS)


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
    code_headers=("x-brd-err-code", "x-luminati-error-code"),
    detail_headers=("x-brd-err-msg", "x-brd-error", "x-luminati-error"),
    signature_headers=("x-brd-err-code", "x-brd-error", "x-luminati-error-code", "x-luminati-error"),
    proxy_hosts=("brd.superproxy.io",),
    proxy_status=True,
    session_param="session",
    docs_url=_DOCS,
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
        # Narrower limits (per target domain, per exit IP): pause the route.
        _r(429, "policy_20220", C.RATE_LIMIT, A.SLOWDOWN, S.ROUTE,
           "A per-domain or per-IP rate limit was exceeded.", _LIMIT_FIX),
        _r(429, "policy_20221", C.RATE_LIMIT, A.SLOWDOWN, S.ROUTE,
           "A per-domain or per-IP rate limit was exceeded.", _LIMIT_FIX),
        _r(429, "policy_20222", C.RATE_LIMIT, A.SLOWDOWN, S.ROUTE,
           "A per-domain or per-IP rate limit was exceeded.", _LIMIT_FIX),
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
    ),
)
