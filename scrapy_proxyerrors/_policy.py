"""The policy: from a classified error to a decision. Pure, seeded, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from ._vocabulary import Action, Scope

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
    """Decide what to do about *error* on the request's *attempt* (0-based).

    Waits the provider asks for are honoured exactly (never shortened); when
    the provider gives none, ``retry`` and ``slowdown`` back off exponentially.
    A wait longer than *max_wait* is not worth holding a request for: it
    escalates to ``drop`` for one request and to ``stop`` for an account.
    """
    override = override_for(error, actions)
    action = override or error.action
    if action in (Action.PASS, Action.DROP, Action.STOP):
        return Decision(action, overridden=override is not None)
    asked = error.wait
    if asked is not None:
        wait = asked
    elif action is Action.ROTATE:
        # Another route does not need to wait for this one to recover.
        wait = 0.0
    else:
        wait = backoff(attempt, backoff_base, backoff_max, rng)
    if wait > max_wait:
        escalated = escalation(error.scope)
        return Decision(escalated, escalated_from=wait, overridden=override is not None)
    return Decision(action, wait, overridden=override is not None)
