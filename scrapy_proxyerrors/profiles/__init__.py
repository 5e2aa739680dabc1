"""Built-in provider profiles, one module per provider, each pure data."""

from __future__ import annotations

from types import MappingProxyType
from typing import TYPE_CHECKING

from .apify import APIFY
from .brightdata import BRIGHTDATA, BRIGHTDATA_API
from .bytio import BYTIO
from .chocodata import CHOCODATA
from .crawlbase import CRAWLBASE
from .generic import GENERIC
from .helodata import HELODATA
from .iproyal import IPROYAL
from .netnut import NETNUT
from .nimble import NIMBLE
from .oxylabs import OXYLABS
from .proxiesfo import PROXIESFO
from .scrapedo import SCRAPEDO
from .scrapeops import SCRAPEOPS
from .scraperapi import SCRAPERAPI
from .scrapfly import SCRAPFLY
from .scrapingant import SCRAPINGANT
from .soax import SOAX
from .squid import SQUID
from .thordata import THORDATA
from .wxapros import WXAPROS
from .zenrows import ZENROWS
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
            BRIGHTDATA_API,
            OXYLABS,
            NETNUT,
            IPROYAL,
            SCRAPFLY,
            CRAWLBASE,
            APIFY,
            ZENROWS,
            THORDATA,
            BYTIO,
            NIMBLE,
            SCRAPEDO,
            SCRAPEOPS,
            SCRAPINGANT,
            SCRAPERAPI,
            SQUID,
            GENERIC,
        )
    }
)

__all__ = [
    "APIFY",
    "BRIGHTDATA",
    "BRIGHTDATA_API",
    "BUILTIN_PROFILES",
    "BYTIO",
    "CHOCODATA",
    "CRAWLBASE",
    "GENERIC",
    "HELODATA",
    "IPROYAL",
    "NETNUT",
    "NIMBLE",
    "OXYLABS",
    "PROXIESFO",
    "SCRAPEDO",
    "SCRAPEOPS",
    "SCRAPERAPI",
    "SCRAPFLY",
    "SCRAPINGANT",
    "SOAX",
    "SQUID",
    "THORDATA",
    "WXAPROS",
    "ZENROWS",
    "ZYTE_API",
    "ZYTE_SPM",
]
