"""Built-in provider profiles, one module per provider, each pure data."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .chocodata import CHOCODATA
from .generic import GENERIC
from .helodata import HELODATA
from .proxiesfo import PROXIESFO
from .soax import SOAX
from .wxapros import WXAPROS

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._profile import Profile

#: Every built-in profile by name; ``generic`` is the fallback of all of them.
BUILTIN_PROFILES: Mapping[str, Profile] = MappingProxyType(
    {p.name: p for p in (SOAX, HELODATA, PROXIESFO, WXAPROS, CHOCODATA, GENERIC)}
)

__all__ = [
    "BUILTIN_PROFILES",
    "CHOCODATA",
    "GENERIC",
    "HELODATA",
    "PROXIESFO",
    "SOAX",
    "WXAPROS",
]
