"""The small vocabulary every decision is made of.

Each enum is a ``str`` so that values compare equal to, and serialise as,
their plain names (``Action.RETRY == "retry"``), which keeps settings, stats
keys and JSON reports readable.
"""

from __future__ import annotations

from enum import Enum


class Category(str, Enum):
    """What kind of failure a provider reported."""

    AUTH = "auth"  #: credentials missing, wrong, or not allowed from this IP
    ACCOUNT = "account"  #: the account or package is suspended, paused or unverified
    QUOTA = "quota"  #: credits, bandwidth or traffic allowance used up
    RATE_LIMIT = "rate_limit"  #: too many requests per unit of time
    CONCURRENCY = "concurrency"  #: too many connections or threads at once
    VALIDATION = "validation"  #: the request or its targeting rules are invalid
    SESSION = "session"  #: a sticky session is broken or misused
    NODE = "node"  #: the exit node / IP failed or none matches the filters
    UPSTREAM = "upstream"  #: the provider could not reach the target
    TIMEOUT = "timeout"  #: the provider or the target took too long
    TARGET = "target"  #: the target site refused or lacks the item
    PROTOCOL = "protocol"  #: protocol or client feature not supported
    INTERNAL = "internal"  #: the provider's own failure
    WARNING = "warning"  #: works for now, but something needs attention

    def __str__(self) -> str:
        return self.value


class Action(str, Enum):
    """What the crawl does about a classified error."""

    RETRY = "retry"  #: same route again, after a backoff
    ROTATE = "rotate"  #: another proxy or a fresh session, the failed route rests
    SLOWDOWN = "slowdown"  #: pause the limited route/account for the provider's wait
    DROP = "drop"  #: this request can never succeed: errback with the reason
    STOP = "stop"  #: no request can succeed: close the crawl, keep the request
    PASS = "pass"  #: hand the response on untouched

    def __str__(self) -> str:
        return self.value


class Scope(str, Enum):
    """How far a signal reaches."""

    REQUEST = "request"  #: only this request is affected
    ROUTE = "route"  #: this proxy, session or IP
    ACCOUNT = "account"  #: every route of this provider account
    CRAWL = "crawl"  #: the whole crawl
    SITE = "site"  #: this target site through this account (key ``<account>|<host>``)

    def __str__(self) -> str:
        return self.value


class Transport(str, Enum):
    """Where a response came from, which decides whether it can be trusted."""

    PLAIN = "plain"  #: a proxy's reply to a plain http:// request
    CONNECT = "connect"  #: a proxy's reply to CONNECT (an https:// request)
    API = "api"  #: a scraping / data API's own reply
    TARGET = "target"  #: the target's reply through a tunnel: never a provider signal

    def __str__(self) -> str:
        return self.value
