"""A local emulator of proxy providers and scraping APIs, for tests and benchmarks.

::

    from scrapy_proxyerrors.emulator import Emulator

    with Emulator("soax", scenario="flaky", rate=0.3) as emu:
        proxy = emu.proxy_url(user="package-1-sessionid-abc")
        url = emu.target_url("/page/1")

Everything binds to 127.0.0.1 and runs on daemon threads, independent of any
Twisted reactor. See ``docs/emulator.md``.
"""

from __future__ import annotations

from ._emulator import Emulator, basic_credentials, key_id, session_of
from ._providers import PROVIDERS, SPECS
from ._scenario import COMMON_PARAMS, SCENARIOS
from ._spec import ErrorDef, ProviderSpec
from ._types import Reply, RequestRecord, reason_phrase

__all__ = [
    "COMMON_PARAMS",
    "PROVIDERS",
    "SCENARIOS",
    "SPECS",
    "Emulator",
    "ErrorDef",
    "ProviderSpec",
    "Reply",
    "RequestRecord",
    "basic_credentials",
    "key_id",
    "reason_phrase",
    "session_of",
]
