"""Settings as people write them, and error messages that never show a secret.

``PROXYERRORS_PROXIES`` is a list, a string of URLs separated by commas,
whitespace or newlines (what ``-s PROXYERRORS_PROXIES=...`` gives), a JSON
list, or the path of an existing file. Whatever is wrong with whichever
setting, the :class:`BadSettingError` names it without the password or key.
"""

from __future__ import annotations

import base64
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from scrapy_proxyerrors import ProxyErrorsMiddleware
from scrapy_proxyerrors._config import DEFAULTS, Config
from scrapy_proxyerrors.exceptions import BadSettingError

if TYPE_CHECKING:
    from pathlib import Path

A = "http://alice:S3cr3t-A@gw1.example:8000"
B = "http://bob:S3cr3t-B@gw2.example:8001"


def _proxies(value: object) -> tuple[str, ...]:
    return Config.from_settings(Settings({"PROXYERRORS_PROXIES": value})).proxies


@pytest.mark.parametrize("value", [
    [A, B],
    (A, B),
    f"{A},{B}",
    f"{A}, {B}",
    f"{A} {B}",
    f"{A}\n{B}\n",
    f' ["{A}", "{B}"] ',
])
def test_proxies_written_any_usual_way(value: object) -> None:
    assert _proxies(value) == (A, B)


def test_one_proxy_as_a_string_is_a_proxy_not_a_file() -> None:
    """``-s PROXYERRORS_PROXIES=http://u:pw@host:port``: the natural command line."""
    assert _proxies(A) == (A,)
    assert _proxies("gw1.example:8000") == ("http://gw1.example:8000",)


def test_proxies_from_a_file(tmp_path: Path) -> None:
    listing = tmp_path / "proxies.txt"
    listing.write_text(f"# pool\n{A}\n\n{B}\n")
    assert _proxies(str(listing)) == (A, B)
    assert _proxies(listing) == (A, B)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.txt"
    with pytest.raises(BadSettingError, match=r"PROXYERRORS_PROXIES=.*nope\.txt"):
        _build({"PROXYERRORS_PROXIES": str(missing)})


SECRET = "S3cr3tPw-Sweep-42"
URL = f"http://user:{SECRET}@gw.example:8000"

#: Per setting: bad values that carry a credential. Every setting in
#: _config.DEFAULTS must be here (the sweep checks it).
BAD_WITH_SECRETS: dict[str, list[Any]] = {
    "PROXYERRORS_ENABLED": [URL],
    "PROXYERRORS_PROVIDER": [URL, [URL], f"soax?api_key={SECRET}"],
    "PROXYERRORS_PROVIDERS": [
        URL,
        f'{{"p": {{"proxy_hosts": ["{URL}"]}}}}',
        {"p": {"proxy_hosts": [URL]}},
        {"p": {"proxy_hosts": [URL + "/" + "x" * 200]}},
        {URL: {}},
        {"p": {"rules": [{"status": 500, "category": URL, "action": "retry"}]}},
    ],
    "PROXYERRORS_PROXIES": [
        f"http://user:{SECRET}@gw.example",  # no port
        f"http://user:{SECRET}@gw.example:port",
        f"ftp://user:{SECRET}@gw.example:21",
        [URL, f"socks5://user:{SECRET}@gw.example:1080"],
        f'["{URL}", 5]',
        {"proxy": URL},
        f"http://user:{quote(SECRET, safe='')}@gw.example",
    ],
    "PROXYERRORS_ACTIONS": [{URL: "drop"}, {"soax/AUTH_FAILED": URL}, URL],
    "PROXYERRORS_MAX_RETRIES": [URL],
    "PROXYERRORS_BACKOFF_BASE": [URL],
    "PROXYERRORS_BACKOFF_MAX": [URL],
    "PROXYERRORS_MAX_WAIT": [URL],
    "PROXYERRORS_ROUTE_COOLDOWN": [URL],
    "PROXYERRORS_THROTTLE_MAX_TIME": [URL],
    "PROXYERRORS_THROTTLE_MAX_COUNT": [URL],
    "PROXYERRORS_ROTATE_TIMES": [URL],
    "PROXYERRORS_BREAKER_THRESHOLD": [URL],
    "PROXYERRORS_BREAKER_RECOVERY": [URL],
    # Read by RedisState only (not built with the default MemoryState).
    "PROXYERRORS_REDIS_URL": [URL],
    "PROXYERRORS_REDIS_PARAMS": [URL],
    "PROXYERRORS_REDIS_NAMESPACE": [URL],
    "PROXYERRORS_REDIS_TIMEOUT": [URL],
    "PROXYERRORS_SLOT_PER_ROUTE": [URL],
    "PROXYERRORS_STATE": [URL, f"mypkg.State?api_key={SECRET}", {"url": URL}],
    "PROXYERRORS_REPORT_FILE": [[URL]],
    "PROXYERRORS_REPORT_HTML": [[URL]],
    "PROXYERRORS_CONNECT_BODY_TIMEOUT": [URL],
    "PROXYERRORS_REDACT_LOGS": [URL],
    "PROXYERRORS_HTTPCACHE_INNER_POLICY": [URL, f"mypkg.Policy?api_key={SECRET}",
                                           "scrapy_proxyerrors.cache.ProviderErrorsCachePolicy"],
    "PROXYERRORS_HTTPS_FALLBACK_HANDLER": [URL, f"mypkg.Handler?api_key={SECRET}", [URL]],
    # Scrapy's own settings the plugin validates.
    "RETRY_TIMES": [URL],
    "RETRY_HTTP_CODES": [[URL]],
    "RETRY_EXCEPTIONS": [[URL]],
    "RETRY_PRIORITY_ADJUST": [URL],
    "RETRY_GIVE_UP_LOG_LEVEL": [URL],
}
#: Settings that take any value (nothing to reject).
ACCEPTS_ANYTHING = {"PROXYERRORS_REPORT_FILE", "PROXYERRORS_REPORT_HTML", "PROXYERRORS_REDIS_URL",
                    "PROXYERRORS_REDIS_PARAMS", "PROXYERRORS_REDIS_NAMESPACE",
                    "PROXYERRORS_REDIS_TIMEOUT"}


def _build(settings: dict[str, Any]) -> ProxyErrorsMiddleware:
    crawler = get_crawler(settings_dict=settings)
    return ProxyErrorsMiddleware.from_crawler(crawler)


def _forms(secret: str) -> list[str]:
    token = base64.b64encode(f"user:{secret}".encode()).decode()
    return [secret, quote(secret, safe=""), token]


def test_the_sweep_covers_every_setting() -> None:
    assert set(DEFAULTS) <= set(BAD_WITH_SECRETS)


@pytest.mark.parametrize(("name", "value"), [
    (name, value) for name, values in BAD_WITH_SECRETS.items() for value in values
])
def test_no_setting_error_shows_a_secret(name: str, value: Any) -> None:
    try:
        _build({name: value})
    except BadSettingError as exc:
        text = str(exc) + repr(exc)
        assert name in text
        for form in _forms(SECRET):
            assert form not in text, text
    else:
        assert name in ACCEPTS_ANYTHING, f"{name}={value!r} was accepted"
