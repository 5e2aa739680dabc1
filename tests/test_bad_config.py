"""Bad configuration fails the crawl loudly, before any request is sent.

Scrapy's component managers take ``NotConfigured`` from a middleware to mean
"disable me": they log a warning and run the crawl *without* it
(``scrapy/middleware.py``, ``MiddlewareManager.from_crawler``). For this plugin
that would be the worst outcome: a crawl that burns a revoked key or an empty
quota with nobody watching. So a bad value raises
:class:`~scrapy_proxyerrors.exceptions.BadSettingError` (a ``ValueError``):
``crawl()`` fails with a message naming the setting and the value, and the
emulator receives nothing. ``PROXYERRORS_ENABLED = False`` still disables the
plugin quietly, as asked.
"""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from hypothesis import given
from hypothesis import strategies as st
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings

from scrapy_proxyerrors import _config
from scrapy_proxyerrors._config import DEFAULTS, Config
from scrapy_proxyerrors.emulator import Emulator
from scrapy_proxyerrors.exceptions import BadSettingError

from .crawling import Outcome, make_crawler

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

SECRET = "S3cr3tProxyPw-XYZ"


class NeedsArguments:
    """A state class Scrapy cannot build (no from_crawler, required arguments)."""

    def __init__(self, url: str) -> None:
        self.url = url


class NotAState:
    """A class without the RouteState methods."""


#: (setting, bad value, text the message must contain besides the setting).
BAD: list[tuple[str, Any, str]] = [
    ("PROXYERRORS_PROVIDER", "nosuch", "'nosuch'"),
    ("PROXYERRORS_PROVIDER", ["soax"], "['soax']"),
    ("PROXYERRORS_PROVIDERS", {"p": {"rules": [{"status": 500, "category": "node",
                                                 "action": "retyr", "scope": "route"}]}},
     "'retyr'"),
    ("PROXYERRORS_PROVIDERS", "/nonexistent/profiles.json", "/nonexistent/profiles.json"),
    ("PROXYERRORS_PROVIDERS", '{"p": ', "invalid JSON"),
    ("PROXYERRORS_PROVIDERS", 42, "42"),
    ("PROXYERRORS_ACTIONS", {"soax/AUTH_FAILED": "explode"}, "'explode'"),
    ("PROXYERRORS_ACTIONS", {"nosuch/500": "retry"}, "nosuch/500"),
    ("PROXYERRORS_ACTIONS", {"soax/NO_SUCH_CODE": "retry"}, "NO_SUCH_CODE"),
    ("PROXYERRORS_ACTIONS", "not json", "not json"),
    ("PROXYERRORS_ACTIONS", 42, "42"),
    ("PROXYERRORS_BACKOFF_BASE", -1, "-1"),
    ("PROXYERRORS_BACKOFF_BASE", "abc", "'abc'"),
    ("PROXYERRORS_BACKOFF_BASE", math.nan, "nan"),
    ("PROXYERRORS_BACKOFF_BASE", math.inf, "inf"),
    ("PROXYERRORS_BACKOFF_MAX", 10**400, "1000"),
    ("PROXYERRORS_MAX_WAIT", -5, "-5"),
    ("PROXYERRORS_MAX_WAIT", "soon", "'soon'"),
    ("PROXYERRORS_ROUTE_COOLDOWN", -1, "-1"),
    ("PROXYERRORS_MAX_RETRIES", -1, "-1"),
    ("PROXYERRORS_MAX_RETRIES", 1.5, "1.5"),
    ("PROXYERRORS_MAX_RETRIES", "many", "'many'"),
    ("PROXYERRORS_MAX_RETRIES", math.inf, "inf"),
    ("PROXYERRORS_PROXIES", 42, "int"),
    ("PROXYERRORS_PROXIES", ["ftp://127.0.0.1:2121"], "ftp://127.0.0.1:2121"),
    ("PROXYERRORS_PROXIES", [f"http://u:{SECRET}@127.0.0.1"], "needs a port"),
    ("PROXYERRORS_PROXIES", [f"http://u:{SECRET}@127.0.0.1:99999"], "malformed"),
    ("PROXYERRORS_PROXIES", [f"http://u:{SECRET}@[::1:80"], "malformed"),
    ("PROXYERRORS_PROXIES", ["http://127.0.0.1:8000", ""], "non-empty"),
    ("PROXYERRORS_PROXIES", "/nonexistent/proxies.txt", "cannot read"),
    ("PROXYERRORS_PROXIES", "proxies\x00.txt", "cannot read"),
    ("PROXYERRORS_STATE", "no.such.State", "no.such.State"),
    ("PROXYERRORS_STATE", "os.path", "os.path"),
    ("PROXYERRORS_STATE", f"{__name__}.NotAState", "NotAState"),
    ("PROXYERRORS_STATE", f"{__name__}.NeedsArguments", "NeedsArguments"),
    ("PROXYERRORS_SLOT_PER_ROUTE", "maybe", "'maybe'"),
    ("PROXYERRORS_THROTTLE_MAX_TIME", -1, "-1"),
    ("PROXYERRORS_THROTTLE_MAX_TIME", "soon", "'soon'"),
    ("PROXYERRORS_THROTTLE_MAX_COUNT", 0, "0"),
    ("PROXYERRORS_THROTTLE_MAX_COUNT", 2.5, "2.5"),
    ("PROXYERRORS_ROTATE_TIMES", -1, "-1"),
    ("PROXYERRORS_ROTATE_TIMES", "many", "'many'"),
    ("PROXYERRORS_BREAKER_THRESHOLD", "five", "'five'"),
    ("PROXYERRORS_BREAKER_RECOVERY", math.nan, "nan"),
    ("PROXYERRORS_ENABLED", "maybe", "'maybe'"),
    ("PROXYERRORS_CONNECT_BODY_TIMEOUT", 0, "0"),
    ("PROXYERRORS_CONNECT_BODY_TIMEOUT", "x", "'x'"),
    ("RETRY_HTTP_CODES", ["abc"], "'abc'"),
    ("RETRY_HTTP_CODES", [math.inf], "inf"),
    ("RETRY_HTTP_CODES", [5000], "5000"),
    ("RETRY_HTTP_CODES", "500,abc", "'abc'"),
    ("RETRY_HTTP_CODES", ["\u00b2"], "'\u00b2'"),
    ("RETRY_TIMES", "abc", "'abc'"),
    ("RETRY_ENABLED", "maybe", "'maybe'"),
    ("RETRY_PRIORITY_ADJUST", "down", "'down'"),
    ("RETRY_EXCEPTIONS", ["no.such.Error"], "no.such.Error"),
    ("RETRY_EXCEPTIONS", ["builtins.len"], "builtins.len"),
    ("RETRY_EXCEPTIONS", [42], "42"),
    ("RETRY_GIVE_UP_LOG_LEVEL", "LOUD", "'LOUD'"),
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator("soax") as emu:
        yield emu


def _requests(emu: Emulator) -> list[tuple[str, dict[str, Any]]]:
    proxy = emu.proxy_url()
    return [(emu.target_url(f"/page/{i}", https=i % 2 == 1), {"proxy": proxy})
            for i in range(4)]


@pytest.mark.parametrize(("setting", "value", "shown"), BAD,
                         ids=[f"{s}={v!r}"[:60] for s, v, _ in BAD])
@pytest_twisted.inlineCallbacks
def test_bad_value_fails_the_crawl_before_any_request(
    emulator: Emulator, setting: str, value: Any, shown: str
) -> Any:
    """A real crawl with the bad value: it fails to start, naming the setting and
    the value; the provider receives nothing; no proxy password is shown."""
    emulator.reset()
    outcome = Outcome()
    crawler = make_crawler({setting: value})
    try:
        yield crawler.crawl(requests=_requests(emulator), outcome=outcome)
    except BadSettingError as exc:
        message = str(exc)
    else:
        pytest.fail(f"the crawl ran with {setting}={value!r}")
    assert setting in message
    assert shown in message
    assert SECRET not in message
    assert emulator.requests == []
    assert outcome.responses == [] and outcome.failures == []


@pytest_twisted.inlineCallbacks
def test_unreadable_and_empty_proxy_files(emulator: Emulator, tmp_path: Path) -> Any:
    """A directory, an empty file, and a file with one bad line (its password hidden)."""
    empty = tmp_path / "empty.txt"
    empty.write_text("# nothing here\n\n")
    bad_line = tmp_path / "bad.txt"
    bad_line.write_text(f"http://127.0.0.1:8000\nhttp://u:{SECRET}@127.0.0.1\n")
    for path, shown in ((tmp_path, "cannot read"), (empty, "lists no proxy"),
                        (bad_line, "needs a port")):
        emulator.reset()
        crawler = make_crawler({"PROXYERRORS_PROXIES": str(path)})
        try:
            yield crawler.crawl(requests=_requests(emulator))
        except BadSettingError as exc:
            message = str(exc)
        else:
            pytest.fail(f"the crawl ran with PROXYERRORS_PROXIES={path}")
        assert "PROXYERRORS_PROXIES" in message and shown in message
        assert SECRET not in message
        assert emulator.requests == []


@pytest_twisted.inlineCallbacks
def test_the_same_values_when_good_do_send_requests(emulator: Emulator) -> Any:
    """The control: with good settings the very same crawl reaches the emulator,
    so "zero requests" above means "stopped by the bad value"."""
    emulator.reset()
    outcome = Outcome()
    crawler = make_crawler({"PROXYERRORS_MAX_WAIT": 5, "RETRY_HTTP_CODES": [503]})
    yield crawler.crawl(requests=_requests(emulator), outcome=outcome)
    assert len(outcome.ok_urls) == 4
    assert emulator.requests


@pytest_twisted.inlineCallbacks
def test_enabled_false_disables_the_plugin_quietly(
    emulator: Emulator, caplog: pytest.LogCaptureFixture
) -> Any:
    """PROXYERRORS_ENABLED = False is a choice, not an error: the crawl runs without it."""
    emulator.reset()
    outcome = Outcome()
    crawler = make_crawler({"PROXYERRORS_ENABLED": False})
    yield crawler.crawl(requests=_requests(emulator), outcome=outcome)
    assert len(outcome.ok_urls) == 4
    names = [type(m).__name__ for m in crawler.engine.downloader.middleware.middlewares]
    assert "ProxyErrorsMiddleware" not in names


def test_bad_setting_error_is_a_value_error_not_not_configured() -> None:
    """Not a NotConfigured (which Scrapy swallows); a ValueError, as Scrapy's own
    settings getters raise for bad values."""
    assert issubclass(BadSettingError, ValueError)
    assert not issubclass(BadSettingError, NotConfigured)


def test_scrapy_runspider_exits_with_the_message(tmp_path: Path) -> None:
    """What a user sees: `scrapy runspider` exits non-zero and prints the setting."""
    spider = tmp_path / "spider.py"
    spider.write_text(textwrap.dedent("""
        import scrapy

        class S(scrapy.Spider):
            name = "s"

            async def start(self):
                yield scrapy.Request("http://127.0.0.1:9/never")
    """))
    result = subprocess.run(
        [sys.executable, "-m", "scrapy", "runspider", str(spider),
         "-s", "ADDONS={\"scrapy_proxyerrors.Addon\": 0}",
         "-s", "PROXYERRORS_MAX_WAIT=-5", "-s", "TELNETCONSOLE_ENABLED=0"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, check=False,
    )
    output = result.stdout + result.stderr
    assert "BadSettingError" in output
    assert "PROXYERRORS_MAX_WAIT='-5'" in output or "PROXYERRORS_MAX_WAIT=-5" in output
    assert "Spider opened" not in output


# --------------------------------------------------- Config.from_settings alone

_junk = st.one_of(
    st.none(), st.booleans(), st.integers(), st.integers(-(10**400), 10**400),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=20),
    st.lists(st.one_of(st.integers(), st.text(max_size=10), st.floats()), max_size=3),
    st.dictionaries(st.text(max_size=10), st.one_of(st.text(max_size=8), st.integers()),
                    max_size=3),
)
_settings_names = sorted({*DEFAULTS, "PROXYERRORS_CONNECT_BODY_TIMEOUT", "RETRY_HTTP_CODES",
                          "RETRY_TIMES", "RETRY_ENABLED", "RETRY_PRIORITY_ADJUST",
                          "RETRY_EXCEPTIONS", "RETRY_GIVE_UP_LOG_LEVEL"})


@given(values=st.dictionaries(st.sampled_from(_settings_names), _junk, min_size=1,
                              max_size=3))
def test_config_from_settings_raises_only_not_configured(values: dict[str, Any]) -> None:
    """Junk in any setting: a Config, or NotConfigured naming one of the settings."""
    try:
        Config.from_settings(Settings(values))
    except NotConfigured as exc:
        message = str(exc)
        assert any(name in message for name in values), message


# The per-request budgets (meta) follow the rules of the settings they beat:
# one rule each, so a value means the same in settings.py and in meta.
_BUDGETS = (
    ("PROXYERRORS_THROTTLE_MAX_TIME", "throttle_max_time"),
    ("PROXYERRORS_THROTTLE_MAX_COUNT", "throttle_max_count"),
    ("PROXYERRORS_ROTATE_TIMES", "rotate_times"),
)
_BUDGET_VALUES = (0, 1, 2, 2.0, 2.5, -1, "3", " 3 ", "soon", True, math.inf, math.nan,
                  "\u00b2", "9" * 5000)


@pytest.mark.parametrize(("setting", "attribute"), _BUDGETS)
@pytest.mark.parametrize("value", _BUDGET_VALUES, ids=lambda v: repr(v)[:12])
def test_a_budget_means_the_same_as_a_setting_and_in_meta(
    setting: str, attribute: str, value: object
) -> None:
    rule = getattr(_config, attribute)
    try:
        from_meta = rule(value)
    except ValueError:
        from_meta = None
    refusal = ""
    if from_meta is None:
        # The refusal says what is expected, in the plugin's words, never
        # int()'s ("invalid literal", "Exceeds the limit").
        with pytest.raises(ValueError, match=r"^expected "):
            rule(value)
    try:
        from_setting = getattr(Config.from_settings(Settings({setting: value})), attribute)
    except NotConfigured as exc:
        refusal, from_setting = str(exc), None
    assert from_meta == from_setting
    # A refused setting is named.
    assert (setting in refusal) is (from_setting is None)
