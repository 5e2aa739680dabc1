"""The policy: from a classified error to a decision. Pure, seeded, no I/O."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from typing import TYPE_CHECKING

from ._parse import parse_retry_after
from ._vocabulary import Action, Category, Scope, Transport

if TYPE_CHECKING:
    import random
    from collections.abc import Mapping

    from ._classifier import ProviderError


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do now, and how long to wait before the next attempt."""

    action: Action
    #: Seconds before the next attempt (retry), or of the pause (slowdown).
    wait: float = 0.0
    #: Set when the provider's wait was longer than ``PROXYERRORS_MAX_WAIT``.
    escalated_from: float | None = None
    #: Set when ``PROXYERRORS_ACTIONS`` replaced the profile's action.
    overridden: bool = False


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Exponential backoff with "equal jitter": half fixed, half random.

    ``attempt`` 0 is the first retry. Half of the step is kept so that two
    retries never collapse to zero wait; the other half spreads them out.
    """
    step = min(cap, base * (2.0 ** max(attempt, 0)))
    return step / 2 + rng.uniform(0, step / 2)


def find_override(
    provider: str, code: str | None, status: int | None, actions: Mapping[str, Action]
) -> tuple[str, Action] | None:
    """The ``PROXYERRORS_ACTIONS`` entry that applies, with its key:
    ``provider/code`` first, then ``provider/status``."""
    for key in (
        f"{provider}/{code.lower()}" if code is not None else None,
        f"{provider}/{status}" if status is not None else None,
    ):
        if key is not None and key in actions:
            return key, actions[key]
    return None


def override_for(error: ProviderError, actions: Mapping[str, Action]) -> Action | None:
    """The user's action for ``provider/code``, else ``provider/status``."""
    if not actions:
        return None
    found = find_override(error.provider, error.code, error.status, actions)
    return found[1] if found else None


def escalation(scope: Scope) -> Action:
    """What a wait longer than ``PROXYERRORS_MAX_WAIT`` turns into: one
    request is dropped, an account (or the crawl) stops."""
    return Action.STOP if scope in (Scope.ACCOUNT, Scope.CRAWL) else Action.DROP


def decide(
    error: ProviderError,
    *,
    attempt: int,
    actions: Mapping[str, Action],
    backoff_base: float,
    backoff_max: float,
    max_wait: float,
    rng: random.Random,
) -> Decision:
    """The action and wait of :func:`plan` for *error* on the request's
    *attempt* (0-based), without the rest of the plan.

    Waits the provider asks for are honoured for their whole length, never
    below the backoff; a wait longer than *max_wait* escalates to ``drop``
    for one request and to ``stop`` for an account.
    """
    cfg = PolicyConfig(
        actions=actions,
        backoff_base=backoff_base,
        backoff_max=backoff_max,
        max_wait=max_wait,
        throttle_max_time=math.inf,
        throttle_max_count=2**31,
    )
    full = plan(error, attempt=Attempt(attempt, attempt), now=0.0, cfg=cfg, rng=rng)
    return Decision(full.action, full.wait, full.escalated_from, full.overridden)


# --------------------------------------------------------------------- plans


class Budget(str, Enum):
    """Which allowance an attempt spends."""

    RETRY = "retry"  #: ``RETRY_TIMES`` (``max_retry_times``): failures
    ROTATE = "rotate"  #: ``PROXYERRORS_ROTATE_TIMES``: moves off a failed route
    THROTTLE = "throttle"  #: time/count of waiting for a limit: not a failure
    NONE = "none"  #: nothing is retried

    def __str__(self) -> str:
        return self.value


class PauseOn(str, Enum):
    """What a pause applies to; the scheduler turns it into a state key."""

    ROUTE = "route"
    ACCOUNT = "account"
    SITE = "site"  #: ``<account>|<target host>``

    def __str__(self) -> str:
        return self.value


#: Categories whose errors are throttling, not failures.
THROTTLE_CATEGORIES = frozenset({Category.RATE_LIMIT, Category.CONCURRENCY})
#: Statuses whose ``Retry-After`` means "unavailable until then" (RFC 9110).
RETRY_AFTER_STATUSES = frozenset({429, 503})
#: Share of a stated rate the crawl uses: a margin for clocks and in-flight requests.
RATE_MARGIN = 0.95


@dataclass(frozen=True, slots=True)
class PolicyConfig:
    """The settings the policy reads (see :class:`~scrapy_proxyerrors._config.Config`)."""

    actions: Mapping[str, Action] = field(default_factory=dict)
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 300.0
    route_cooldown: float = 30.0
    throttle_max_time: float = 600.0
    throttle_max_count: int = 100
    rotate_times: int = 5


@dataclass(frozen=True, slots=True)
class Attempt:
    """Where a request stands: what it has spent so far."""

    #: Retries spent (``meta["retry_times"]``).
    retries: int = 0
    #: Throttle waits spent.
    throttled: int = 0
    #: When its first throttle wait began (wall clock); ``None`` before.
    throttled_since: float | None = None
    #: Moves off a failed route spent on the rotation budget.
    rotated: int = 0
    #: This request's own budgets (meta ``proxyerrors_throttle_max_time``,
    #: ``proxyerrors_throttle_max_count``, ``proxyerrors_rotate_times``);
    #: ``None``: the setting's.
    throttle_max_time: float | None = None
    throttle_max_count: int | None = None
    rotate_times: int | None = None


@dataclass(frozen=True, slots=True)
class Plan:
    """Everything the scheduler and the middleware do about one failure.

    ``wait`` is the delay of this request's next attempt; ``pause`` (with
    ``pause_on``) holds back every request of a route, account or site; a
    ``cooldown`` rests the route (and rotates away from it where possible).
    """

    action: Action
    wait: float = 0.0
    budget: Budget = Budget.NONE
    pause_on: PauseOn | None = None
    pause: float = 0.0
    cooldown: float = 0.0
    #: New pacing rate (requests/s) of the account (or route); ``None``: unchanged.
    rate: float | None = None
    #: The window (seconds) the provider counts *rate* over, when it states one.
    rate_window: float = 0.0
    #: A concurrency error: the account's (or route's) concurrency limit goes down.
    lower_concurrency: bool = False
    #: The failure counts towards the account's circuit breaker (provider outage).
    outage: bool = False
    #: Why the request is given up instead (the throttle budget is spent).
    give_up: str | None = None
    #: Set when the wait was longer than ``PROXYERRORS_MAX_WAIT``.
    escalated_from: float | None = None
    #: Set when ``PROXYERRORS_ACTIONS`` replaced the profile's action.
    overridden: bool = False


def _throttle_give_up(wait: float, attempt: Attempt, now: float, cfg: PolicyConfig) -> str | None:
    """Why the request is given up instead of waiting *wait* more, if it is:
    the give-up names the budget it ran out of (the request's own, or the
    setting's)."""
    count, count_from = cfg.throttle_max_count, "PROXYERRORS_THROTTLE_MAX_COUNT"
    if attempt.throttle_max_count is not None:
        count, count_from = attempt.throttle_max_count, "meta proxyerrors_throttle_max_count"
    if attempt.throttled >= count:
        return f"throttled {attempt.throttled} times ({count_from}={count})"
    limit, limit_from = cfg.throttle_max_time, "PROXYERRORS_THROTTLE_MAX_TIME"
    if attempt.throttle_max_time is not None:
        limit, limit_from = attempt.throttle_max_time, "meta proxyerrors_throttle_max_time"
    since = now if attempt.throttled_since is None else attempt.throttled_since
    if now + wait - since > limit:
        return f"throttled for {now + wait - since:.0f} s ({limit_from}={limit:.0f} s)"
    return None


def stated_rate(
    limit: int | None, window: float | None, documented: float | None = None
) -> float | None:
    """Requests per second the provider states (headers first, then its docs), with a margin."""
    if limit is not None and limit > 0 and window is not None and window > 0:
        return RATE_MARGIN * limit / window
    if documented is not None and documented > 0:
        return RATE_MARGIN * documented
    return None


def plan(
    error: ProviderError,
    *,
    attempt: Attempt,
    now: float,
    cfg: PolicyConfig,
    rng: random.Random,
) -> Plan:
    """The full plan for a classified provider *error*.

    Throttling (``rate_limit``, ``concurrency``, and any 429/503 carrying
    ``Retry-After``) spends the throttle budget, never ``RETRY_TIMES``; a wait
    the provider asks for is honoured for the whole window but is never
    shorter than the backoff (``Retry-After: 0`` does not storm). A wait longer
    than ``max_wait`` escalates to ``drop`` (one request) or ``stop`` (an account).
    A 429 that states the limit (``X-RateLimit-Limit`` per ``X-RateLimit-Window``)
    paces at it; a documented rate paces from the first request (see
    :func:`stated_rate`), so a 429 under it is a reason to learn a lower one.
    """
    override = override_for(error, cfg.actions)
    action = override or error.action
    overridden = override is not None
    if action in (Action.PASS, Action.DROP, Action.STOP):
        return Plan(action, overridden=overridden)
    throttle = (
        error.category in THROTTLE_CATEGORIES
        or action is Action.SLOWDOWN
        or (error.retry_after is not None and error.status in RETRY_AFTER_STATUSES)
    )
    spent = attempt.throttled if throttle else attempt.retries
    floor = backoff(spent, cfg.backoff_base, cfg.backoff_max, rng)
    asked = error.wait
    if asked is not None:
        wait = max(asked, floor)
    elif action is Action.ROTATE:
        # Another route does not need to wait for this one to recover.
        wait = 0.0
    elif error.category is Category.CONCURRENCY and not attempt.throttled:
        # The account's concurrency limit drops to the level refused (the
        # scheduler's): the retry waits for a free place under it, not for a
        # backoff. A second refusal of the same request (another process, a
        # limit lowered elsewhere) backs off.
        wait = 0.0
    else:
        wait = floor
    if wait > cfg.max_wait:
        # A capped claim (maybe a target's reply, forwarded) never escalates to
        # a drop or a stop: handed on, as a too-long Retry-After without a
        # provider signal is.
        escalated = Action.PASS if error.claimed is not None else escalation(error.scope)
        return Plan(escalated, escalated_from=wait, overridden=overridden)
    pause_on: PauseOn | None = None
    pause = 0.0
    # A concurrency error never pauses the account unless the provider asks
    # for a wait: the lowered limit is the account's answer (and, unprobed on
    # plain HTTP, a forwarded reply must not pause an account).
    concurrency_only = error.category is Category.CONCURRENCY and asked is None
    if (action is Action.SLOWDOWN or (throttle and asked is not None)) and wait > 0 \
            and not concurrency_only:
        scope = error.scope
        pause_on = (
            PauseOn.ACCOUNT
            if scope in (Scope.ACCOUNT, Scope.CRAWL)
            else PauseOn.SITE
            if scope is Scope.SITE
            else PauseOn.ROUTE
        )
        pause = wait
    cooldown = 0.0
    if action is Action.ROTATE:
        rule_cooldown = error.rule.cooldown
        cooldown = rule_cooldown if rule_cooldown is not None else max(cfg.route_cooldown, wait)
    rate = None
    rate_window = 0.0
    if error.category is Category.RATE_LIMIT:
        limits = error.rate_limit
        rate = stated_rate(limits.limit if limits else None, limits.window if limits else None)
        if rate is not None and limits is not None and limits.window is not None:
            rate_window = limits.window
    if throttle:
        budget = Budget.THROTTLE
    elif (
        action is Action.ROTATE
        and error.scope is Scope.ROUTE
        and attempt.rotated
        < (cfg.rotate_times if attempt.rotate_times is None else attempt.rotate_times)
    ):
        # The provider says the route failed, not the request: moving to
        # another route is no retry of the page (the scheduler falls back to
        # RETRY_TIMES when there is no other route to move to).
        budget = Budget.ROTATE
    else:
        budget = Budget.RETRY
    return Plan(
        action,
        wait,
        budget,
        pause_on=pause_on,
        pause=pause,
        cooldown=cooldown,
        rate=rate,
        rate_window=rate_window,
        lower_concurrency=error.category is Category.CONCURRENCY,
        outage=error.category is Category.INTERNAL and error.transport is not Transport.TARGET,
        give_up=_throttle_give_up(wait, attempt, now, cfg) if throttle else None,
        overridden=overridden,
    )


def preemptive_pause(wait: float | None, cfg: PolicyConfig) -> float | None:
    """How long to pause an account whose reply said its window is spent
    (``X-RateLimit-Remaining: 0``); ``None``: no pause (none asked, or longer
    than ``max_wait``, which the next 429 will escalate)."""
    if not wait or wait > cfg.max_wait:
        return None
    return wait


def plan_plain(
    status: int | None,
    retry_after: str | None,
    *,
    attempt: Attempt,
    now: float,
    cfg: PolicyConfig,
    rng: random.Random,
    route_failure: bool = False,
    outage: bool = False,
) -> Plan:
    """The plan for a reply or exception no provider spoke for (Scrapy's retry).

    *status* is the reply's (``None`` for an exception). It spends
    ``RETRY_TIMES`` exactly as ``RetryMiddleware`` would; the attempt waits the
    backoff, or a 429/503's ``Retry-After`` (at least the backoff). A
    ``Retry-After`` longer than ``max_wait`` gives the retry up (``PASS``): the
    plugin does not hold a request that long; a shorter one also pauses that
    site through that route or account (``PauseOn.SITE``) for the window.
    *route_failure*: a connection failure through a proxy, which rests the
    route and rotates where possible.
    *outage*: a failure of a scraping API's own service (its breaker counts it).
    """
    wait = backoff(attempt.retries, cfg.backoff_base, cfg.backoff_max, rng)
    asked = parse_retry_after(retry_after, now) if retry_after else None
    pause_on: PauseOn | None = None
    pause = 0.0
    if asked is not None and status in RETRY_AFTER_STATUSES:
        if asked > cfg.max_wait:
            return Plan(
                Action.PASS,
                escalated_from=asked,
                give_up="Retry-After longer than PROXYERRORS_MAX_WAIT",
            )
        wait = max(wait, asked)
        # Said by the proxy or by the target (a plain-HTTP reply may be
        # either): it holds this site through this route or account for the
        # window, never the whole proxy (a target cannot pause other sites).
        pause_on, pause = PauseOn.SITE, wait
    return Plan(
        Action.ROTATE if route_failure else Action.RETRY,
        wait,
        Budget.RETRY,
        pause_on=pause_on,
        pause=pause,
        cooldown=cfg.route_cooldown if route_failure else 0.0,
        outage=outage,
    )
