"""SOAX residential/mobile gateway: status + ``X-SOAX-Error`` + ``X-SOAX-Detail``."""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_DOCS = "https://developers.soax.com/troubleshooting/error-codes"


def _r(status: int, code: str | None, cat: C, act: A, scope: S, meaning: str, fix: str) -> Rule:
    anchor = f"{_DOCS}#{code.lower().replace('_', '-')}" if code else _DOCS
    return Rule(status, code, cat, act, scope, meaning, fix, docs=anchor)


_CHECK_RULES = "Fix the rules in the proxy username (X-SOAX-Detail names the parameter)."

SOAX = Profile(
    name="soax",
    title="SOAX",
    kind="proxy",
    code_headers=("X-SOAX-Error",),
    detail_headers=("X-SOAX-Detail",),
    signature_headers=("X-SOAX-Error",),
    proxy_hosts=("proxy.soax.com", "*.soax.com"),
    session_param="sessionid",
    docs_url=_DOCS,
    # "SOAX returns an HTTP status code along with two custom headers"
    # (X-SOAX-Error, X-SOAX-Detail) on every error of its own.
    tagged=True,
    rules=(
        # Validation: the connection string is wrong, so every request using
        # it fails the same way; stop rather than burn the whole queue.
        _r(400, "ERR_INVALID_VALUE", C.VALIDATION, A.STOP, S.ACCOUNT,
           "A targeting rule has a value that does not validate (country, ISP, ASN...).",
           "Use lowercase ISO country codes and underscores in city/ISP names; " + _CHECK_RULES),
        _r(400, "ERR_MISSING_PARAMS", C.VALIDATION, A.STOP, S.ACCOUNT,
           "The proxy username carries no targeting rule.",
           "Add a targeting rule, e.g. country-any."),
        _r(400, "ERR_UNKNOWN_PARAM", C.VALIDATION, A.STOP, S.ACCOUNT,
           "A rule name in the proxy username is not recognised.",
           "Check the spelling; multi-word values use underscores (city-los_angeles)."),
        _r(400, "ERR_DUPLICATE_PARAM", C.VALIDATION, A.STOP, S.ACCOUNT,
           "The same rule appears twice in the proxy username.",
           "Keep each rule at most once."),
        _r(400, "ERR_INVALID_COMBINATION", C.VALIDATION, A.STOP, S.ACCOUNT,
           "Two rules that contradict each other were combined (e.g. bind-node with rotate-*).",
           "Drop one side of the conflict."),
        _r(400, "ERR_PARAM_NOT_ALLOWED", C.VALIDATION, A.STOP, S.ACCOUNT,
           "A rule is not permitted on this package.",
           "Remove the rule or enable the feature in the package settings."),
        _r(403, "DISALLOWED", C.PROTOCOL, A.STOP, S.ACCOUNT,
           "The protocol used is not allowed on this package.",
           "Use an allowed protocol or allow it in the package settings."),
        _r(407, "ERR_AUTH_REQUIRED", C.AUTH, A.STOP, S.ACCOUNT,
           "No proxy credentials were sent, or IP auth from a non-allowlisted IP.",
           "Send the proxy username and password, or allowlist this machine's public IP."),
        _r(407, "AUTH_FAILED", C.AUTH, A.STOP, S.ACCOUNT,
           "The package key is wrong, missing or expired.",
           "Copy the package key from the dashboard into the proxy password ({rules}:{key})."),
        _r(407, "IP_NOT_ALLOWED", C.AUTH, A.STOP, S.ACCOUNT,
           "IP auth is used and this machine's public IP is not on the allowlist.",
           "Add the public outbound IP to the package allowlist, or use username/password."),
        _r(407, "PACKAGE_SUSPENDED", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "The account or package is suspended.",
           "Check the dashboard notifications and billing; contact support if unexpected."),
        _r(407, "PACKAGE_PAUSED", C.ACCOUNT, A.STOP, S.ACCOUNT,
           "The package is paused from the dashboard.",
           "Resume the package, or use another active package."),
        _r(407, "PACKAGE_NO_CREDITS", C.QUOTA, A.STOP, S.ACCOUNT,
           "The organisation's credit pool is empty (every package is affected).",
           "Top up the organisation's credits; consider auto top-up."),
        _r(409, "SESSION_PARAMS_MISMATCH", C.SESSION, A.ROTATE, S.ROUTE,
           "A session id was reused with different rules than it was created with.",
           "Use a new session id for new rules; keep rules identical per session."),
        _r(429, "RATE_LIMIT_EXCEEDED", C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "The package's requests-per-second or concurrent-connection limit was hit.",
           "Lower CONCURRENT_REQUESTS or raise the package limits."),
        _r(429, "TRAFFIC_LIMIT_EXCEEDED", C.QUOTA, A.STOP, S.ACCOUNT,
           "This package used up its own traffic cap (the organisation may still have credits).",
           "Ask an organisation owner to raise or remove the package's traffic limit."),
        _r(502, "NODE_UNAVAILABLE", C.NODE, A.ROTATE, S.ROUTE,
           "The exit node went offline or refused the connection.",
           "Retry on a new node; with sessions, a new session id gets one."),
        _r(502, "NODE_NOT_FOUND", C.NODE, A.RETRY, S.REQUEST,
           "No node matches the targeting filters right now.",
           "Broaden the targeting (country instead of city, network-any) or retry later."),
        _r(502, "RETRIES_EXHAUSTED", C.NODE, A.RETRY, S.REQUEST,
           "All onerror-retry attempts and the replacement node failed.",
           "Broaden the filters or lower onerror-retry_N; retry after a short delay."),
        _r(503, "BOUND_NODE_FAILED", C.SESSION, A.ROTATE, S.ROUTE,
           "The node a bind-node session was locked to failed; no replacement is allowed.",
           "Start a new session id, or drop bind-node."),
        _r(504, "GATEWAY_TIMEOUT", C.TIMEOUT, A.ROTATE, S.ROUTE,
           "The tunnel was established but the target did not answer in time.",
           "Check the target directly; rotate to a fresh IP or raise DOWNLOAD_TIMEOUT."),
        # Status rules for codes SOAX may add later.
        _r(400, None, C.VALIDATION, A.STOP, S.ACCOUNT,
           "SOAX rejected the connection string.", _CHECK_RULES),
        _r(407, None, C.AUTH, A.STOP, S.ACCOUNT,
           "SOAX refused the proxy credentials.", "Check the package key and allowlist."),
        _r(429, None, C.RATE_LIMIT, A.SLOWDOWN, S.ACCOUNT,
           "A SOAX limit was hit.", "Lower the request rate."),
        _r(502, None, C.NODE, A.ROTATE, S.ROUTE,
           "SOAX could not complete the request through a node.", "Retry on a new node."),
        _r(503, None, C.NODE, A.ROTATE, S.ROUTE,
           "SOAX could not serve the request.", "Retry on a new session."),
        _r(504, None, C.TIMEOUT, A.RETRY, S.REQUEST,
           "The request timed out inside SOAX.", "Retry; raise DOWNLOAD_TIMEOUT."),
    ),
)
