"""Read proxy-provider and scraping-API errors in Scrapy, and act on them."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from ._classifier import ProviderError, classify, rate_limit_wait, route_wait, select_profile
from ._parse import RateLimit, parse_rate_limit, parse_retry_after
from ._profile import Hint, Profile, Rule
from ._redact import RedactingFilter
from ._state import MemoryState, RouteState
from ._vocabulary import Action, Category, Scope, Transport
from .profiles import BUILTIN_PROFILES

if TYPE_CHECKING:
    from ._redis import RedisState
    from .addon import Addon
    from .exceptions import BadSettingError, ProviderErrorDropped, ProxyTunnelError
    from .middleware import ProxyErrorsMiddleware

# The crawl components import Scrapy's HTTP/1.1 download handler, which is slow
# to import; Scrapy loads every command entry point (and pytest every plugin)
# on start, so they are imported on first use only.
_LAZY = {
    "Addon": ".addon",
    "BadSettingError": ".exceptions",
    "ProviderErrorDropped": ".exceptions",
    "ProxyTunnelError": ".exceptions",
    "ProxyErrorsMiddleware": ".middleware",
    "RedisState": "._redis",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(module, __name__), name)
    globals()[name] = value
    return value

__version__ = "0.1.0.dev0"

__all__ = [
    "BUILTIN_PROFILES",
    "Action",
    "Addon",
    "BadSettingError",
    "Category",
    "Hint",
    "MemoryState",
    "Profile",
    "ProviderError",
    "ProviderErrorDropped",
    "ProxyErrorsMiddleware",
    "ProxyTunnelError",
    "RateLimit",
    "RedactingFilter",
    "RedisState",
    "RouteState",
    "Rule",
    "Scope",
    "Transport",
    "__version__",
    "classify",
    "parse_rate_limit",
    "parse_retry_after",
    "rate_limit_wait",
    "route_wait",
    "select_profile",
]
