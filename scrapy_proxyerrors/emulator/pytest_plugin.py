"""pytest plugin: the ``proxy_emulator`` fixture.

Registered through the ``pytest11`` entry point, so installing
scrapy-proxyerrors makes the fixture available in any test suite::

    def test_my_spider(proxy_emulator):
        emu = proxy_emulator("soax", scenario="flaky", rate=0.5)
        ...  # crawl through emu.proxy_url(), assert on emu.requests

pytest loads every ``pytest11`` plugin at start-up, in every test run of the
environment: this module must import cleanly and start nothing until the
fixture is used (importing it installs no Twisted reactor).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

    from . import Emulator


class EmulatorFactory(Protocol):
    """``proxy_emulator(provider, scenario="ok", seed=0, **params) -> Emulator``."""

    def __call__(self, provider: str = "generic", scenario: str = "ok", seed: int = 0,
                 **params: Any) -> Emulator: ...


@pytest.fixture
def proxy_emulator() -> Iterator[EmulatorFactory]:
    """A factory of started emulators, each stopped at the end of the test."""
    from . import Emulator

    started: list[Emulator] = []

    def factory(provider: str = "generic", scenario: str = "ok", seed: int = 0,
                **params: Any) -> Emulator:
        emulator = Emulator(provider, scenario, seed, **params)
        started.append(emulator)
        return emulator.start()

    yield factory
    for emulator in reversed(started):
        emulator.stop()
