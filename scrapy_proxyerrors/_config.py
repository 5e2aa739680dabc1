"""Settings, read and validated once, before any request is sent."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import load_object

from . import _reference
from ._redact import redact_text, redact_url
from ._vocabulary import Action
from .profiles import BUILTIN_PROFILES

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from scrapy.settings import BaseSettings

    from ._profile import Profile

_T = TypeVar("_T")

#: Defaults of every setting: declared, with their docs, in _reference.SETTINGS.
DEFAULTS: dict[str, Any] = _reference.DEFAULTS


def _bad(setting: str, value: object, why: str) -> NotConfigured:
    # The value is shown to help, never with credentials in it (user:password@,
    # api_key=..., an Authorization value), however the user wrote them.
    return NotConfigured(redact_text(f"{setting}={value!r}: {why}"))


def _get(settings: BaseSettings, name: str) -> Any:
    return settings.get(name, DEFAULTS[name])


def parse_seconds(raw: object, *, allow_inf: bool = False) -> float:
    """*raw* as a number of seconds >= 0 (``inf`` too with *allow_inf*).

    The one rule for a budget in seconds, whether a setting or a request's
    meta gives it. Raises :class:`ValueError` saying what was expected.
    """
    if isinstance(raw, bool):
        raise ValueError("expected a number of seconds")
    try:
        value = float(raw)  # type: ignore[arg-type]
    except OverflowError:  # an integer too large for a float
        value = math.inf
    except (TypeError, ValueError):
        raise ValueError("expected a number of seconds") from None
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        raise ValueError(
            "expected a number of seconds >= 0" if allow_inf
            else "expected a finite number of seconds >= 0"
        )
    return value


def parse_count(raw: object, minimum: int = 1) -> int:
    """*raw* as an integer >= *minimum* (``"3"`` and ``3.0`` are 3).

    The one rule for a budget that counts, whether a setting or a request's
    meta gives it. Raises :class:`ValueError` saying what was expected.
    """
    expected = f"expected an integer >= {minimum}"
    if isinstance(raw, str):
        text = raw.strip()
        # ASCII digits only ("²".isdigit() is True), and int()'s own words
        # (a string of 5,000 digits) never reach the message.
        if not (text.isascii() and text.isdigit()):
            raise ValueError(expected)
        try:
            raw = int(text)
        except ValueError:
            raise ValueError(expected) from None
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise ValueError(expected)
    return raw


def throttle_max_time(raw: object) -> float:
    """The rule of ``PROXYERRORS_THROTTLE_MAX_TIME`` and of its meta key."""
    return parse_seconds(raw, allow_inf=True)


def throttle_max_count(raw: object) -> int:
    """The rule of ``PROXYERRORS_THROTTLE_MAX_COUNT`` and of its meta key."""
    return parse_count(raw, minimum=1)


def rotate_times(raw: object) -> int:
    """The rule of ``PROXYERRORS_ROTATE_TIMES`` and of its meta key."""
    return parse_count(raw, minimum=0)


def _checked(settings: BaseSettings, name: str, rule: Callable[[object], _T]) -> _T:
    """Setting *name* by *rule*; a value it refuses fails the crawl, named."""
    raw = _get(settings, name)
    try:
        return rule(raw)
    except ValueError as exc:
        raise _bad(name, raw, str(exc)) from None


def _seconds(settings: BaseSettings, name: str, *, allow_inf: bool = False) -> float:
    return _checked(settings, name, lambda raw: parse_seconds(raw, allow_inf=allow_inf))


def _bool(settings: BaseSettings, name: str) -> bool:
    default = DEFAULTS.get(name, False)
    raw = settings.get(name, default)
    try:
        return settings.getbool(name, default)
    except (TypeError, ValueError, OverflowError):
        raise _bad(name, raw, "expected True or False") from None


def _int(settings: BaseSettings, name: str) -> int:
    """An integer setting of Scrapy's own (``RETRY_TIMES``...), named when bad."""
    raw = settings.get(name)
    try:
        return settings.getint(name)
    except (TypeError, ValueError, OverflowError):
        raise _bad(name, raw, "expected an integer") from None


def _list(settings: BaseSettings, name: str) -> list[Any]:
    raw = settings.get(name)
    try:
        return settings.getlist(name)
    except (TypeError, ValueError):
        raise _bad(name, raw, "expected a list") from None


def _count(settings: BaseSettings, name: str, minimum: int = 1) -> int:
    """A count of ours (``PROXYERRORS_THROTTLE_MAX_COUNT``...): an integer >= *minimum*."""
    return _checked(settings, name, lambda raw: parse_count(raw, minimum))


def _log_level(settings: BaseSettings, name: str) -> Any:
    """A level ``get_retry_request`` accepts; checked now, not at the first give-up."""
    raw = settings.get(name, "ERROR")
    if isinstance(raw, bool) or not isinstance(raw, (int, str)):
        raise _bad(name, raw, "expected a logging level name or number")
    if isinstance(raw, str) and not isinstance(logging.getLevelName(raw), int):
        raise _bad(name, raw, "unknown logging level; e.g. ERROR, WARNING, INFO, DEBUG")
    return raw


def parse_proxy_url(setting: str, url: object) -> str:
    """Validate one proxy URL; return it stripped of blanks."""
    if not isinstance(url, str) or not url.strip():
        raise _bad(setting, url, "each proxy must be a non-empty URL string")
    url = url.strip()
    if "://" not in url:
        url = "http://" + url
    shown = redact_url(url)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise _bad(setting, shown, f"malformed proxy URL ({exc})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise _bad(setting, shown, "expected http://[user:password@]host:port")
    if port is None:
        raise _bad(setting, shown, "the proxy URL needs a port")
    return url


def _status(value: object) -> int | None:
    """*value* as an HTTP status (an integer, or its digits as text), else ``None``."""
    try:
        number = parse_count(value, minimum=100)
    except ValueError:
        return None
    return number if number <= 999 else None


def connect_body_timeout(settings: BaseSettings) -> float:
    """``PROXYERRORS_CONNECT_BODY_TIMEOUT``, read by the HTTPS handler.

    Also checked by :meth:`Config.from_settings`, before the crawl starts:
    Scrapy builds download handlers lazily and turns their NotConfigured into
    "unsupported scheme" for every https request of the crawl.
    """
    name = "PROXYERRORS_CONNECT_BODY_TIMEOUT"
    raw = _get(settings, name)
    try:
        value = float(raw)
    except (TypeError, ValueError, OverflowError):
        value = math.nan
    if not value > 0:
        raise _bad(name, raw, "expected a number of seconds above 0")
    return value


# A string that names one proxy rather than a file: host:port, with or without
# a scheme or user:password@.
_ONE_PROXY = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^/\s]*@)?[^/\s:@]+:\d+/?$", re.I)


def _proxy_items(name: str, raw: str) -> list[object]:
    """The proxies a string names, as people write it: a path to an existing
    file (one proxy per line), a JSON list, or URLs separated by commas,
    whitespace or newlines (``-s PROXYERRORS_PROXIES=http://u:p@h:1``)."""
    text = raw.strip()
    if text.startswith("["):
        try:
            loaded = json.loads(text)
        except ValueError:
            raise _bad(name, text, "not a valid JSON list of proxy URLs") from None
        if not isinstance(loaded, list):
            raise _bad(name, text, "expected a JSON list of proxy URLs")
        return list(loaded)
    tokens = [t for t in re.split(r"[\s,]+", text) if t]
    looks_like_proxies = any("://" in t or "@" in t or _ONE_PROXY.match(t) for t in tokens)
    path = Path(text)
    try:
        is_file = not looks_like_proxies and path.is_file()
    except (OSError, ValueError):  # ValueError: a NUL in the path
        is_file = False
    if looks_like_proxies or (len(tokens) > 1 and not is_file):
        return list(tokens)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, ValueError) as exc:  # ValueError: undecodable
        why = f"not a proxy URL, and cannot read the proxy file ({exc.__class__.__name__})"
        raise _bad(name, text, why) from None
    items: list[object] = [
        line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
    ]
    if not items:
        raise _bad(name, text, "the proxy file lists no proxy")
    return items


def _component_class(name: str, raw: object, method: str, what: str) -> type:
    """The class an import-path setting names, with the *method* its role needs."""
    try:
        loaded = load_object(raw) if isinstance(raw, str) else raw
    except (ImportError, AttributeError, NameError, ValueError) as exc:
        raise _bad(name, raw, f"cannot load it ({exc.__class__.__name__})") from None
    if not isinstance(loaded, type) or not callable(getattr(loaded, method, None)):
        raise _bad(name, raw, f"expected {what} class (import path)")
    return loaded


def http_cache_inner_policy(settings: BaseSettings) -> type:
    """``PROXYERRORS_HTTPCACHE_INNER_POLICY``: the cache policy class that
    :class:`~scrapy_proxyerrors.cache.ProviderErrorsCachePolicy` wraps."""
    name = "PROXYERRORS_HTTPCACHE_INNER_POLICY"
    raw = _get(settings, name) or DEFAULTS[name]
    loaded = _component_class(name, raw, "should_cache_response", "an HTTP cache policy")
    if getattr(loaded, "wraps_a_cache_policy", False):
        raise _bad(name, raw, "the plugin's own policy cannot wrap itself; name the project's")
    return loaded


def https_fallback_handler(settings: BaseSettings) -> type | None:
    """``PROXYERRORS_HTTPS_FALLBACK_HANDLER``: the ``https`` handler the
    plugin's handler builds instead of Scrapy's HTTP/1.1 one (``None``: that one)."""
    name = "PROXYERRORS_HTTPS_FALLBACK_HANDLER"
    raw = _get(settings, name)
    if raw in (None, ""):
        return None
    return _component_class(name, raw, "download_request", "a download handler")


def _proxies(settings: BaseSettings) -> tuple[str, ...]:
    name = "PROXYERRORS_PROXIES"
    raw = _get(settings, name)
    if raw in (None, "", [], ()):
        return ()
    if isinstance(raw, Path):
        raw = str(raw)
    if isinstance(raw, str):
        items = _proxy_items(name, raw)
    elif isinstance(raw, (list, tuple)):
        items = list(raw)
    else:
        raise _bad(name, type(raw).__name__, "expected a list of proxy URLs or a file path")
    proxies = tuple(parse_proxy_url(name, item) for item in items)
    return tuple(dict.fromkeys(proxies))


def _actions(settings: BaseSettings, profiles: Mapping[str, Profile]) -> dict[str, Action]:
    name = "PROXYERRORS_ACTIONS"
    try:
        raw = settings.getdict(name) if settings.get(name) else {}
    except (TypeError, ValueError):
        raise _bad(name, settings.get(name), "expected a dict (or a JSON object)") from None
    actions: dict[str, Action] = {}
    for key, value in raw.items():
        provider, sep, code = str(key).partition("/")
        if not sep or not code or provider not in profiles:
            raise _bad(
                name,
                {key: value},
                f"keys are 'provider/code' or 'provider/status' with a known provider "
                f"({', '.join(sorted(profiles))})",
            )
        profile = profiles[provider]
        known = {r.code.lower() for r in profile.rules if r.code and not r.is_family}
        families = [r.code[:-1].lower() for r in profile.rules if r.code and r.is_family]
        # An error reported inside a 2xx is named after its header: pc_status:503.
        header, _, inner = code.rpartition(":")
        inside = inner.isdigit() and header.lower() in {h.lower() for h in profile.status_headers}
        if (
            not code.isdigit()
            and not inside
            and code.lower() not in known
            and not any(code.lower().startswith(f) for f in families)
        ):
            raise _bad(name, {key: value}, f"{provider} has no code {code!r}")
        try:
            actions[f"{provider}/{code.lower()}"] = Action(str(value).lower())
        except ValueError:
            raise _bad(
                name, {key: value}, f"unknown action; one of {', '.join(a.value for a in Action)}"
            ) from None
    return actions


def load_profiles(settings: BaseSettings) -> dict[str, Profile]:
    """Built-in profiles plus ``PROXYERRORS_PROVIDERS`` (user-defined ones)."""
    raw = settings.get("PROXYERRORS_PROVIDERS")
    if not raw:
        return dict(BUILTIN_PROFILES)
    from ._userprofiles import load_user_profiles

    user = load_user_profiles(raw, BUILTIN_PROFILES)
    return {**BUILTIN_PROFILES, **user}


@dataclass(frozen=True)
class Config:
    """Every setting the middleware uses, normalised."""

    profiles: Mapping[str, Profile]
    provider: str | None = None
    proxies: tuple[str, ...] = ()
    actions: Mapping[str, Action] = field(default_factory=dict)
    max_retries: int = 2
    rotate_times: int = 5
    backoff_base: float = 0.5
    backoff_max: float = 30.0
    max_wait: float = 300.0
    route_cooldown: float = 30.0
    slot_per_route: bool = False
    throttle_max_time: float = 600.0
    throttle_max_count: int = 100
    breaker_threshold: int = 5
    breaker_recovery: float = 30.0
    state_cls: type = object
    retry_enabled: bool = True
    retry_http_codes: frozenset[int] = frozenset()
    retry_exceptions: tuple[type[BaseException], ...] = ()
    priority_adjust: int = -1
    give_up_log_level: Any = "ERROR"
    report_file: str | None = None
    redact_logs: bool = True

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> Config:
        """Read and validate; raise ``NotConfigured`` naming the bad setting."""
        profiles = load_profiles(settings)
        provider = _get(settings, "PROXYERRORS_PROVIDER") or None
        if provider is not None and (not isinstance(provider, str) or provider not in profiles):
            raise _bad(
                "PROXYERRORS_PROVIDER",
                provider,
                f"unknown provider; one of {', '.join(sorted(profiles))}",
            )
        raw_retries = _get(settings, "PROXYERRORS_MAX_RETRIES")
        if raw_retries is None:
            # RETRY_ENABLED=False means no retries at all, as with Scrapy's own
            # RetryMiddleware, unless PROXYERRORS_MAX_RETRIES asks for some.
            retry_times = _int(settings, "RETRY_TIMES")
            max_retries = retry_times if _bool(settings, "RETRY_ENABLED") else 0
        else:
            try:
                max_retries = int(raw_retries)
            except (TypeError, ValueError, OverflowError):
                raise _bad("PROXYERRORS_MAX_RETRIES", raw_retries, "expected an integer") from None
            if max_retries < 0 or (isinstance(raw_retries, float) and raw_retries != max_retries):
                raise _bad("PROXYERRORS_MAX_RETRIES", raw_retries, "expected an integer >= 0")
        base = _seconds(settings, "PROXYERRORS_BACKOFF_BASE")
        top = _seconds(settings, "PROXYERRORS_BACKOFF_MAX")
        if top < base:
            raise _bad(
                "PROXYERRORS_BACKOFF_MAX", top, f"must be >= PROXYERRORS_BACKOFF_BASE ({base})"
            )
        state_path = _get(settings, "PROXYERRORS_STATE")
        try:
            state_cls = load_object(state_path) if isinstance(state_path, str) else state_path
        except (ImportError, AttributeError, NameError, ValueError) as exc:
            raise _bad("PROXYERRORS_STATE", state_path, f"cannot load it ({exc})") from None
        if not isinstance(state_cls, type):
            raise _bad("PROXYERRORS_STATE", state_path, "expected a class (import path)")
        codes: set[int] = set()
        for code in _list(settings, "RETRY_HTTP_CODES"):
            number = _status(code)
            if number is None:
                raise _bad("RETRY_HTTP_CODES", code, "expected HTTP statuses (100-999)")
            codes.add(number)
        exceptions: list[type[BaseException]] = []
        for path in _list(settings, "RETRY_EXCEPTIONS"):
            try:
                loaded = load_object(path) if isinstance(path, str) else path
            except (ImportError, AttributeError, NameError, ValueError) as exc:
                raise _bad("RETRY_EXCEPTIONS", path, f"cannot load it ({exc})") from None
            # Checked now: a non-class would break isinstance() on every failure.
            if not isinstance(loaded, type) or not issubclass(loaded, BaseException):
                raise _bad("RETRY_EXCEPTIONS", path, "expected exception classes")
            exceptions.append(loaded)
        report = _get(settings, "PROXYERRORS_REPORT_FILE")
        connect_body_timeout(settings)
        http_cache_inner_policy(settings)
        https_fallback_handler(settings)
        return cls(
            profiles=profiles,
            provider=provider,
            proxies=_proxies(settings),
            actions=_actions(settings, profiles),
            max_retries=max_retries,
            # RETRY_ENABLED=False: no retry of any kind.
            rotate_times=_checked(settings, "PROXYERRORS_ROTATE_TIMES", rotate_times)
            if _bool(settings, "RETRY_ENABLED")
            else 0,
            backoff_base=base,
            backoff_max=top,
            max_wait=_seconds(settings, "PROXYERRORS_MAX_WAIT", allow_inf=True),
            route_cooldown=_seconds(settings, "PROXYERRORS_ROUTE_COOLDOWN"),
            slot_per_route=_bool(settings, "PROXYERRORS_SLOT_PER_ROUTE"),
            throttle_max_time=_checked(
                settings, "PROXYERRORS_THROTTLE_MAX_TIME", throttle_max_time
            ),
            throttle_max_count=_checked(
                settings, "PROXYERRORS_THROTTLE_MAX_COUNT", throttle_max_count
            ),
            breaker_threshold=_count(settings, "PROXYERRORS_BREAKER_THRESHOLD"),
            breaker_recovery=_seconds(settings, "PROXYERRORS_BREAKER_RECOVERY"),
            state_cls=state_cls,
            retry_enabled=_bool(settings, "RETRY_ENABLED"),
            retry_http_codes=frozenset(codes),
            retry_exceptions=tuple(exceptions),
            priority_adjust=_int(settings, "RETRY_PRIORITY_ADJUST"),
            give_up_log_level=_log_level(settings, "RETRY_GIVE_UP_LOG_LEVEL"),
            report_file=str(report) if report else None,
            redact_logs=_bool(settings, "PROXYERRORS_REDACT_LOGS"),
        )
