"""The fallback for every provider: status codes, ``Retry-After``, and the two
standards several providers share, RFC 9209 ``Proxy-Status`` (its error tokens
are the codes here) and RFC 9457 problem+json (its ``type`` is the code).
"""

from __future__ import annotations

from .._profile import Profile, Rule
from .._vocabulary import Action as A
from .._vocabulary import Category as C
from .._vocabulary import Scope as S

_RFC9209 = "https://www.rfc-editor.org/rfc/rfc9209#name-proxy-status-error-types"


def _ps(code: str, cat: C, act: A, scope: S, meaning: str, fix: str,
        status: int | None = None) -> Rule:
    return Rule(status, code, cat, act, scope, meaning, fix, docs=_RFC9209)


_RETRY = "Retried with backoff."
_TARGET_BAD = "The target's reply cannot be used; check the target."

GENERIC = Profile(
    name="generic",
    title="Generic proxy or API",
    kind="any",
    proxy_status=True,
    problem_json=True,
    fallback=None,
    rules=(
        # RFC 9209 error tokens.
        _ps("dns_timeout", C.UPSTREAM, A.RETRY, S.REQUEST,
            "The proxy timed out resolving the target's name.", _RETRY),
        _ps("dns_error", C.UPSTREAM, A.DROP, S.REQUEST,
            "The target's name does not resolve.", "Check the URL's host name."),
        _ps("destination_not_found", C.TARGET, A.DROP, S.REQUEST,
            "The proxy cannot determine the destination.", "Check the URL."),
        _ps("destination_unavailable", C.UPSTREAM, A.RETRY, S.REQUEST,
            "The destination is unavailable.", _RETRY),
        _ps("destination_ip_prohibited", C.TARGET, A.DROP, S.REQUEST,
            "The proxy is not allowed to reach the destination's IP.",
            "Use another proxy for this target."),
        _ps("destination_ip_unroutable", C.TARGET, A.DROP, S.REQUEST,
            "The destination's IP is not routable from the proxy.", "Check the URL."),
        _ps("connection_refused", C.UPSTREAM, A.RETRY, S.REQUEST,
            "The target refused the proxy's connection.", _RETRY),
        _ps("connection_terminated", C.UPSTREAM, A.RETRY, S.REQUEST,
            "The target closed the connection early.", _RETRY),
        _ps("connection_timeout", C.TIMEOUT, A.RETRY, S.REQUEST,
            "Connecting to the target timed out.", _RETRY),
        _ps("connection_read_timeout", C.TIMEOUT, A.RETRY, S.REQUEST,
            "Reading from the target timed out.", _RETRY),
        _ps("connection_write_timeout", C.TIMEOUT, A.RETRY, S.REQUEST,
            "Writing to the target timed out.", _RETRY),
        _ps("connection_limit_reached", C.CONCURRENCY, A.SLOWDOWN, S.ROUTE,
            "The proxy's connection limit was reached.", "Lower CONCURRENT_REQUESTS."),
        _ps("tls_protocol_error", C.UPSTREAM, A.RETRY, S.REQUEST,
            "TLS with the target failed.", _RETRY),
        _ps("tls_certificate_error", C.UPSTREAM, A.DROP, S.REQUEST,
            "The target's certificate was rejected.", "Check the target's certificate."),
        _ps("tls_alert_received", C.UPSTREAM, A.RETRY, S.REQUEST,
            "The target sent a TLS alert.", _RETRY),
        _ps("http_request_denied", C.AUTH, A.STOP, S.ACCOUNT,
            "The proxy refused the credentials.", "Check the proxy credentials.",
            status=407),
        _ps("http_request_denied", C.TARGET, A.DROP, S.REQUEST,
            "The proxy's policy denies this request.", "Use another proxy for this target."),
        _ps("http_request_error", C.VALIDATION, A.DROP, S.REQUEST,
            "The proxy found the request malformed.", "Fix the request."),
        _ps("http_response_incomplete", C.UPSTREAM, A.RETRY, S.REQUEST,
            "The target's response was incomplete.", _RETRY),
        _ps("http_response_header_section_size", C.UPSTREAM, A.DROP, S.REQUEST,
            "The target's headers were too large.", _TARGET_BAD),
        _ps("http_response_header_size", C.UPSTREAM, A.DROP, S.REQUEST,
            "A target header was too large.", _TARGET_BAD),
        _ps("http_response_body_size", C.UPSTREAM, A.DROP, S.REQUEST,
            "The target's body was too large.", _TARGET_BAD),
        _ps("http_response_trailer_section_size", C.UPSTREAM, A.DROP, S.REQUEST,
            "The target's trailers were too large.", _TARGET_BAD),
        _ps("http_response_trailer_size", C.UPSTREAM, A.DROP, S.REQUEST,
            "A target trailer was too large.", _TARGET_BAD),
        _ps("http_response_transfer_coding", C.UPSTREAM, A.DROP, S.REQUEST,
            "The target's transfer coding could not be decoded.", _TARGET_BAD),
        _ps("http_response_content_coding", C.UPSTREAM, A.DROP, S.REQUEST,
            "The target's content coding could not be decoded.", _TARGET_BAD),
        _ps("http_response_timeout", C.TIMEOUT, A.RETRY, S.REQUEST,
            "The target's response timed out.", _RETRY),
        _ps("http_upgrade_failed", C.PROTOCOL, A.DROP, S.REQUEST,
            "The protocol upgrade failed.", "Do not request an upgrade."),
        _ps("http_protocol_error", C.UPSTREAM, A.RETRY, S.REQUEST,
            "The target spoke broken HTTP.", _RETRY),
        _ps("proxy_internal_response", C.WARNING, A.PASS, S.REQUEST,
            "The proxy answered by itself.", "Nothing to do."),
        _ps("proxy_internal_error", C.INTERNAL, A.RETRY, S.REQUEST,
            "The proxy failed internally.", _RETRY),
        _ps("proxy_configuration_error", C.INTERNAL, A.ROTATE, S.ROUTE,
            "The proxy is misconfigured.", "Use another proxy; tell its operator."),
        _ps("proxy_loop_detected", C.INTERNAL, A.ROTATE, S.ROUTE,
            "The proxy detected a forwarding loop.", "Use another proxy; tell its operator."),
        # Status-only rules, for providers that say nothing more.
        Rule(407, None, C.AUTH, A.STOP, S.ACCOUNT,
             "The proxy requires valid credentials.",
             "Put user:password in the proxy URL; check them with the provider."),
        Rule(408, None, C.TIMEOUT, A.RETRY, S.REQUEST,
             "The request timed out.", _RETRY),
        Rule(429, None, C.RATE_LIMIT, A.SLOWDOWN, S.ROUTE,
             "Too many requests.", "Honour Retry-After; lower the request rate."),
        Rule(500, None, C.INTERNAL, A.RETRY, S.REQUEST, "Internal server error.", _RETRY),
        Rule(502, None, C.UPSTREAM, A.RETRY, S.REQUEST, "Bad gateway.", _RETRY),
        Rule(503, None, C.UPSTREAM, A.RETRY, S.REQUEST, "Service unavailable.", _RETRY),
        Rule(504, None, C.TIMEOUT, A.RETRY, S.REQUEST, "Gateway timeout.", _RETRY),
        Rule(522, None, C.TIMEOUT, A.RETRY, S.REQUEST, "Connection timed out.", _RETRY),
        Rule(524, None, C.TIMEOUT, A.RETRY, S.REQUEST, "A timeout occurred.", _RETRY),
    ),
)
