"""Read proxy-provider and scraping-API errors in Scrapy, and act on them."""

from __future__ import annotations

from ._classifier import ProviderError, classify, rate_limit_wait, select_profile
from ._parse import RateLimit, parse_rate_limit, parse_retry_after
from ._profile import Profile, Rule
from ._redact import RedactingFilter
from ._state import MemoryState, RouteState
from ._vocabulary import Action, Category, Scope, Transport
from .addon import Addon
from .exceptions import BadSettingError, ProviderErrorDropped, ProxyTunnelError
from .middleware import ProxyErrorsMiddleware
from .profiles import BUILTIN_PROFILES

__version__ = "0.1.0.dev0"

__all__ = [
    "BUILTIN_PROFILES",
    "Action",
    "Addon",
    "BadSettingError",
    "Category",
    "MemoryState",
    "Profile",
    "ProviderError",
    "ProviderErrorDropped",
    "ProxyErrorsMiddleware",
    "ProxyTunnelError",
    "RateLimit",
    "RedactingFilter",
    "RouteState",
    "Rule",
    "Scope",
    "Transport",
    "__version__",
    "classify",
    "parse_rate_limit",
    "parse_retry_after",
    "rate_limit_wait",
    "select_profile",
]
