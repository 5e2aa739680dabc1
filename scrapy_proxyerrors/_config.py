"""Settings, read and validated once, before any request is sent."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from scrapy.exceptions import NotConfigured
from scrapy.utils.misc import load_object

from ._redact import redact_url
from ._vocabulary import Action
from .profiles import BUILTIN_PROFILES

if TYPE_CHECKING:
    from collections.abc import Mapping

    from scrapy.settings import BaseSettings

    from ._profile import Profile

#: Defaults of every setting, documented in the README's reference table.
DEFAULTS: dict[str, Any] = {
    "PROXYERRORS_ENABLED": True,
    "PROXYERRORS_PROVIDER": None,
    "PROXYERRORS_PROVIDERS": {},
    "PROXYERRORS_PROXIES": [],
    "PROXYERRORS_ACTIONS": {},
    "PROXYERRORS_MAX_RETRIES": None,  # None: RETRY_TIMES
    "PROXYERRORS_BACKOFF_BASE": 0.5,
    "PROXYERRORS_BACKOFF_MAX": 30.0,
    "PROXYERRORS_MAX_WAIT": 300.0,
    "PROXYERRORS_ROUTE_COOLDOWN": 30.0,
    "PROXYERRORS_SLOT_PER_ROUTE": False,
    "PROXYERRORS_THROTTLE_MAX_TIME": 600.0,
    "PROXYERRORS_THROTTLE_MAX_COUNT": 100,
    "PROXYERRORS_BREAKER_THRESHOLD": 5,
    "PROXYERRORS_BREAKER_RECOVERY": 30.0,
    "PROXYERRORS_STATE": "scrapy_proxyerrors.MemoryState",
    "PROXYERRORS_REPORT_FILE": None,
    "PROXYERRORS_CONNECT_BODY_TIMEOUT": 2.0,
    "PROXYERRORS_REDACT_LOGS": True,
}


def _bad(setting: str, value: object, why: str) -> NotConfigured:
    return NotConfigured(f"{setting}={value!r}: {why}")


def _get(settings: BaseSettings, name: str) -> Any:
    return settings.get(name, DEFAULTS[name])


def _seconds(settings: BaseSettings, name: str, *, allow_inf: bool = False) -> float:
    raw = _get(settings, name)
    try:
        value = float(raw)
    except OverflowError:  # an integer too large for a float
        value = math.inf
    except (TypeError, ValueError):
        raise _bad(name, raw, "expected a number of seconds") from None
    if math.isnan(value) or value < 0 or (math.isinf(value) and not allow_inf):
        raise _bad(name, raw, "expected a finite number of seconds >= 0")
    return value


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
    raw = _get(settings, name)
    if isinstance(raw, str) and raw.strip().isdigit():
        raw = int(raw.strip())
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < minimum:
        raise _bad(name, raw, f"expected an integer >= {minimum}")
    return raw


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
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value if 100 <= value <= 999 else None


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


def _proxies(settings: BaseSettings) -> tuple[str, ...]:
    name = "PROXYERRORS_PROXIES"
    raw = _get(settings, name)
    if raw in (None, "", [], ()):
        return ()
    if isinstance(raw, (str, Path)):
        path = Path(raw)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, ValueError) as exc:  # ValueError: undecodable, or a NUL in the path
            raise _bad(
                name, str(raw), f"cannot read the proxy file ({exc.__class__.__name__})"
            ) from None
        items: list[object] = [
            line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")
        ]
        if not items:
            raise _bad(name, str(raw), "the proxy file lists no proxy")
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
        if (
            not code.isdigit()
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
        return cls(
            profiles=profiles,
            provider=provider,
            proxies=_proxies(settings),
            actions=_actions(settings, profiles),
            max_retries=max_retries,
            backoff_base=base,
            backoff_max=top,
            max_wait=_seconds(settings, "PROXYERRORS_MAX_WAIT", allow_inf=True),
            route_cooldown=_seconds(settings, "PROXYERRORS_ROUTE_COOLDOWN"),
            slot_per_route=_bool(settings, "PROXYERRORS_SLOT_PER_ROUTE"),
            throttle_max_time=_seconds(settings, "PROXYERRORS_THROTTLE_MAX_TIME", allow_inf=True),
            throttle_max_count=_count(settings, "PROXYERRORS_THROTTLE_MAX_COUNT"),
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
