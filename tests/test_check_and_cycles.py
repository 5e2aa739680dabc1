"""``scrapy proxyerrors check`` speaks in messages; fallback cycles are refused.

Every problem ``check`` finds is a message and exit status 1, never a
traceback; with ``PROXYERRORS_ENABLED = False`` it says the plugin is disabled
(stock Scrapy behaviour); it warns when another component replaced the
plugin's https handler. Two user profiles that fall back to each other are
rejected when the settings are read, with a BadSettingError naming them.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from scrapy_proxyerrors import ProxyErrorsMiddleware
from scrapy_proxyerrors.commands import ProxyErrorsCommand
from scrapy_proxyerrors.exceptions import BadSettingError

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

ADDON = "scrapy_proxyerrors.Addon"
RULE = {"status": 502, "category": "node", "action": "retry", "scope": "route"}


def _check(capsys: pytest.CaptureFixture[str], settings: dict[str, Any]) -> tuple[int, str, str]:
    command = ProxyErrorsCommand()
    command.settings = Settings()
    command.settings.setdict({"BOT_NAME": "proj", **settings}, priority="project")
    command.run(["check"], argparse.Namespace(providers=False, all_rules=False))
    captured = capsys.readouterr()
    return command.exitcode, captured.out, captured.err


@pytest.mark.parametrize(("settings", "named"), [
    ({"PROXYERRORS_ENABLED": "maybe"}, "PROXYERRORS_ENABLED"),
    ({"PROXYERRORS_ENABLED": "http://u:S3cr3t-Pw-9@h:1"}, "PROXYERRORS_ENABLED"),
    ({"PROXYERRORS_PROXIES": "http://u:S3cr3t-Pw-9@h"}, "PROXYERRORS_PROXIES"),
    ({"PROXYERRORS_HTTPCACHE_INNER_POLICY": "no.such.Policy"},
     "PROXYERRORS_HTTPCACHE_INNER_POLICY"),
    ({"PROXYERRORS_PROVIDERS": {"a": {"fallback": "b", "rules": [RULE]},
                                "b": {"fallback": "a", "rules": [RULE]}}},
     "fallback cycle"),
    ({"ADDONS": {ADDON: 0}, "RETRY_TIMES": "many"}, "RETRY_TIMES"),
    ({"ADDONS": {ADDON: 0}, "PROXYERRORS_SLOT_PER_ROUTE": "sometimes"},
     "PROXYERRORS_SLOT_PER_ROUTE"),
])
def test_every_check_problem_is_a_message(
    capsys: pytest.CaptureFixture[str], settings: dict[str, Any], named: str
) -> None:
    code, out, err = _check(capsys, settings)
    assert code == 1
    assert named in err
    assert "Traceback" not in out + err
    assert "S3cr3t-Pw-9" not in out + err
    assert "OK: the settings are valid." not in out


def test_check_says_the_plugin_is_disabled(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = _check(capsys, {"ADDONS": {ADDON: 0}, "PROXYERRORS_ENABLED": False})
    assert code == 0
    flat = " ".join(out.split())
    assert "disabled" in flat and "stock Scrapy" in flat
    assert "ProxyErrorsMiddleware enabled" not in flat


class ReplacingAddon:
    """Another add-on that installs its own https handler over the plugin's
    (as scrapy-zyte-api's does when it comes later)."""

    def update_settings(self, settings: BaseSettings) -> None:
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        handlers["https"] = "scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler"
        settings.set("DOWNLOAD_HANDLERS", handlers, priority="addon")


def test_check_warns_when_another_component_replaced_the_https_handler(
    capsys: pytest.CaptureFixture[str],
) -> None:
    addons = {ADDON: 0, f"{__name__}.ReplacingAddon": 10}
    code, out, _ = _check(capsys, {"ADDONS": addons})
    assert code == 0
    warnings = [line for line in out.splitlines() if line.startswith("WARNING:")]
    assert any("another component replaced it" in w and "HTTP11DownloadHandler" in w
               for w in warnings), out
    _, alone, _ = _check(capsys, {"ADDONS": {ADDON: 0}})
    assert "another component replaced it" not in alone


# ------------------------------------------------------------ fallback cycles


@pytest.mark.parametrize("providers", [
    {"a": {"fallback": "b", "rules": [RULE]}, "b": {"fallback": "a", "rules": [RULE]}},
    {"a": {"fallback": "b", "rules": [RULE]}, "b": {"fallback": "c", "rules": [RULE]},
     "c": {"fallback": "a", "rules": [RULE]}},
    # A user profile replacing a built-in takes part in the chain too.
    {"generic": {"extends": "generic", "fallback": "mine"},
     "mine": {"fallback": "generic", "rules": [RULE]}},
])
def test_fallback_cycles_are_rejected_at_load(providers: dict[str, Any]) -> None:
    crawler = get_crawler(settings_dict={"PROXYERRORS_PROVIDERS": providers})
    with pytest.raises(BadSettingError, match=r"PROXYERRORS_PROVIDERS.*fallback cycle \(.* -> "):
        ProxyErrorsMiddleware.from_crawler(crawler)


def test_fallback_chains_without_a_cycle_load() -> None:
    providers = {"a": {"extends": "soax", "fallback": "b"},
                 "b": {"fallback": "squid", "rules": [RULE]},
                 "c": {"fallback": None, "rules": [RULE]}}
    crawler = get_crawler(settings_dict={"PROXYERRORS_PROVIDERS": providers})
    middleware = ProxyErrorsMiddleware.from_crawler(crawler)
    assert {"a", "b", "c"} <= set(middleware.config.profiles)
