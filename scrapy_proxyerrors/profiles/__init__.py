"""Built-in provider profiles, one module per provider, each pure data."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .brightdata import BRIGHTDATA
from .chocodata import CHOCODATA
from .generic import GENERIC
from .helodata import HELODATA
from .iproyal import IPROYAL
from .netnut import NETNUT
from .oxylabs import OXYLABS
from .proxiesfo import PROXIESFO
from .soax import SOAX
from .squid import SQUID
from .wxapros import WXAPROS
from .zyte_api import ZYTE_API
from .zyte_spm import ZYTE_SPM

if TYPE_CHECKING:
    from collections.abc import Mapping

    from .._profile import Profile

#: Every built-in profile by name; ``generic`` is the fallback of all of them.
#: Detection by signature header follows this order: specific providers
#: first, then Squid (which some providers run internally, so its header can
#: ride along with theirs), and ``generic`` last.
BUILTIN_PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        p.name: p
        for p in (
            SOAX,
            HELODATA,
            PROXIESFO,
            WXAPROS,
            CHOCODATA,
            ZYTE_SPM,
            ZYTE_API,
            BRIGHTDATA,
            OXYLABS,
            NETNUT,
            IPROYAL,
            SQUID,
            GENERIC,
        )
    }
)

__all__ = [
    "BRIGHTDATA",
    "BUILTIN_PROFILES",
    "CHOCODATA",
    "GENERIC",
    "HELODATA",
    "IPROYAL",
    "NETNUT",
    "OXYLABS",
    "PROXIESFO",
    "SOAX",
    "SQUID",
    "WXAPROS",
    "ZYTE_API",
    "ZYTE_SPM",
]
