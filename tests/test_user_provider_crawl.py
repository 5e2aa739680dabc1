"""A provider defined only in settings acts exactly like a built-in one, in real crawls.

"Acme" is a proxy provider the plugin has never heard of. Its profile lives
in the test's ``PROXYERRORS_PROVIDERS``; a fake Acme gateway is the emulator's
generic proxy with a responder that answers what Acme would. The crawl must
find Acme (by its signature header, by ``PROXYERRORS_PROVIDER``, by its proxy
host), classify its codes and stop, rotate, retry or drop exactly as the
profile says, over plain HTTP and over CONNECT; ``PROXYERRORS_ACTIONS`` must
reach its codes; and ``extends`` must change one built-in action and nothing else.
"""

from __future__ import annotations

import importlib
import json
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from scrapy.spidermiddlewares.httperror import HttpError

from scrapy_proxyerrors import ProviderErrorDropped
from scrapy_proxyerrors.emulator import Emulator, Reply

from .crawling import Outcome, make_crawler

if TYPE_CHECKING:
    from pathlib import Path

    from scrapy_proxyerrors.emulator import RequestRecord

ACME_RULES: list[dict[str, Any]] = [
    {
        "status": 402,
        "code": "ACME_NO_FUNDS",
        "category": "quota",
        "action": "stop",
        "scope": "account",
        "meaning": "The Acme balance is empty.",
        "fix": "Top up the balance in the Acme console.",
        "docs": "https://docs.acme.example/errors#no-funds",
    },
    {
        "status": 502,
        "code": "ACME_NODE_DOWN",
        "category": "node",
        "action": "rotate",
        "scope": "route",
        "meaning": "The exit node went away.",
        "fix": "Use another session or proxy.",
    },
    {
        "status": 403,
        "code": "ACME_BLOCKED",
        "category": "target",
        "action": "drop",
        "scope": "request",
        "meaning": "Acme does not serve this site.",
        "fix": "Fetch it some other way.",
    },
]

#: The whole profile: a code header that also identifies Acme, a JSON
#: envelope for replies without it, and the username token of sticky sessions.
ACME: dict[str, Any] = {
    "acme": {
        "kind": "proxy",
        "title": "Acme Proxy",
        "code_headers": ["X-Acme-Error"],
        "detail_headers": ["X-Acme-Detail"],
        "signature_headers": ["X-Acme-Error"],
        "request_id_headers": ["X-Acme-Request-Id"],
        "json_code": ["error.code"],
        "session_param": "session",
        "docs_url": "https://docs.acme.example/errors",
        "rules": ACME_RULES,
    }
}

#: The same profile as a TOML file would hold it (checked equal to ACME below).
ACME_TOML = """
[acme]
kind = "proxy"
title = "Acme Proxy"
code_headers = ["X-Acme-Error"]
detail_headers = ["X-Acme-Detail"]
signature_headers = ["X-Acme-Error"]
request_id_headers = ["X-Acme-Request-Id"]
json_code = ["error.code"]
session_param = "session"
docs_url = "https://docs.acme.example/errors"

[[acme.rules]]
status = 402
code = "ACME_NO_FUNDS"
category = "quota"
action = "stop"
scope = "account"
meaning = "The Acme balance is empty."
fix = "Top up the balance in the Acme console."
docs = "https://docs.acme.example/errors#no-funds"

[[acme.rules]]
status = 502
code = "ACME_NODE_DOWN"
category = "node"
action = "rotate"
scope = "route"
meaning = "The exit node went away."
fix = "Use another session or proxy."

[[acme.rules]]
status = 403
code = "ACME_BLOCKED"
category = "target"
action = "drop"
scope = "request"
meaning = "Acme does not serve this site."
fix = "Fetch it some other way."
"""

_STATUS = {rule["code"]: rule["status"] for rule in ACME_RULES}


def acme_error(code: str, *, header: bool = True) -> Reply:
    """Acme's reply for *code*: in ``X-Acme-Error``, or only in a JSON body."""
    if header:
        headers = [
            ("X-Acme-Error", code),
            ("X-Acme-Detail", f"acme says {code}"),
            ("X-Acme-Request-Id", "acme-req-1"),
        ]
        return Reply(_STATUS[code], headers, b"")
    body = json.dumps({"error": {"code": code, "message": f"acme says {code}"}}).encode()
    return Reply(_STATUS[code], [("Content-Type", "application/json")], body)


def served(body: bytes = b"served by acme") -> Reply:
    """A success answered by the fake gateway itself (sessioned usernames
    would not pass the emulator's own credentials check)."""
    return Reply(200, [("Content-Type", "text/plain")], body)


def _urls(emu: Emulator, n: int, https: bool = False) -> list[str]:
    return [emu.target_url(f"/page/{i}", https=https) for i in range(n)]


def _only(failures: list[Any]) -> Any:
    assert len(failures) == 1, failures
    return failures[0].value


def toml_loads(text: str) -> Any:
    """``tomllib`` (3.11+) or ``tomli``, as the plugin uses; skip without either."""
    for name in ("tomllib", "tomli"):
        try:
            return importlib.import_module(name).loads(text)
        except ImportError:
            continue
    pytest.skip("TOML needs Python 3.11+ or the tomli package")


def test_toml_form_is_the_same_profile() -> None:
    """The TOML used below says exactly what the dict says."""
    assert toml_loads(ACME_TOML) == ACME


# -------------------------------------------------- stop, in every setting form


def _providers_setting(form: str, tmp_path: Path) -> Any:
    if form == "dict":
        return ACME
    if form == "inline-json":  # what `scrapy crawl -s PROXYERRORS_PROVIDERS='{...}'` gives
        return json.dumps(ACME)
    if form == "json-file":
        path = tmp_path / "providers.json"
        path.write_text(json.dumps(ACME), encoding="utf-8")
        return str(path)
    toml_loads("")  # skips where the plugin cannot read TOML either
    path = tmp_path / "providers.toml"
    path.write_text(ACME_TOML, encoding="utf-8")
    return path


@pytest.mark.parametrize("form", ["dict", "inline-json", "json-file", "toml-file"])
@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_no_funds_stops_the_crawl_with_quota(form: str, scheme: str, tmp_path: Path) -> Any:
    """Found by its signature header alone; ``stop`` closes the crawl as ``proxyerrors_quota``."""
    report = tmp_path / "report.json"
    with Emulator(provider="generic") as emu:
        emu.set_responder(lambda rec: acme_error("ACME_NO_FUNDS"))
        proxy = emu.proxy_url()
        outcome = Outcome()
        crawler = make_crawler(
            {
                "PROXYERRORS_PROVIDERS": _providers_setting(form, tmp_path),
                "PROXYERRORS_REPORT_FILE": str(report),
                "CONCURRENT_REQUESTS": 4,
                # Over plain HTTP a header alone is capped at pass/retry/rotate
                # until a CONNECT probe corroborates it (trust boundary): named.
                **({"PROXYERRORS_PROVIDER": "acme"} if scheme == "http" else {}),
            }
        )
        urls = _urls(emu, 40, https=scheme == "https")
        yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in urls], outcome=outcome)
        # Over plain HTTP the stop was corroborated by one CONNECT probe.
        probes = [r for r in emu.requests if r.kind == "connect"] if scheme == "http" else []
        records = [r for r in emu.requests if r not in probes]
    stats = crawler.stats.get_stats()
    assert len(probes) <= 1
    assert stats["finish_reason"] == "proxyerrors_quota"
    assert stats["proxyerrors/stop/error"] == "acme/ACME_NO_FUNDS"
    assert 1 <= len(records) <= 4
    assert {r.kind for r in records} == {"connect" if scheme == "https" else "plain"}
    assert stats["proxyerrors/error/acme/ACME_NO_FUNDS"] == len(records)
    assert stats["proxyerrors/category/quota"] == len(records)
    assert outcome.responses == []
    # The end-of-crawl report explains the user's code with the user's words.
    (row,) = json.loads(report.read_text())["rows"]
    assert (row["provider"], row["code"], row["category"]) == ("acme", "ACME_NO_FUNDS", "quota")
    assert row["meaning"] == "The Acme balance is empty."
    assert row["fix"] == "Top up the balance in the Acme console."


# ----------------------------------------------------------- detection


@pytest.mark.parametrize("named", [True, False], ids=["PROXYERRORS_PROVIDER", "not-named"])
@pytest_twisted.inlineCallbacks
def test_provider_setting_finds_a_reply_without_signature(named: bool) -> Any:
    """A code only in the JSON body: Acme only when the setting names it."""
    settings: dict[str, Any] = {"PROXYERRORS_PROVIDERS": ACME}
    if named:
        settings["PROXYERRORS_PROVIDER"] = "acme"
    with Emulator(provider="generic") as emu:
        emu.set_responder(lambda rec: acme_error("ACME_NO_FUNDS", header=False))
        proxy = emu.proxy_url()
        outcome = Outcome()
        crawler = make_crawler({**settings, "CONCURRENT_REQUESTS": 1})
        yield crawler.crawl(
            requests=[(u, {"proxy": proxy}) for u in _urls(emu, 5)], outcome=outcome
        )
        # (a plain-HTTP stop is corroborated by a CONNECT probe: not counted)
        reached = len([r for r in emu.requests if r.kind != "connect"])
    stats = crawler.stats.get_stats()
    if named:
        assert stats["finish_reason"] == "proxyerrors_quota"
        assert stats["proxyerrors/error/acme/ACME_NO_FUNDS"] == 1
        assert reached == 1
    else:
        # Nothing says "Acme": a bare 402 is no provider's, the spider gets it.
        assert stats["finish_reason"] == "finished"
        assert not any(k.startswith("proxyerrors/error/") for k in stats)
        assert reached == 5
        assert {type(f.value) for f in outcome.failures} == {HttpError}


@pytest_twisted.inlineCallbacks
def test_proxy_host_finds_the_provider() -> Any:
    """``proxy_hosts`` matches the proxy URL: no header, no setting needed."""
    providers = {"acme": {**ACME["acme"], "proxy_hosts": ["127.0.0.1"]}}
    with Emulator(provider="generic") as emu:
        emu.set_responder(lambda rec: acme_error("ACME_NO_FUNDS", header=False))
        proxy = emu.proxy_url()
        crawler = make_crawler({"PROXYERRORS_PROVIDERS": providers, "CONCURRENT_REQUESTS": 1})
        yield crawler.crawl(requests=[(u, {"proxy": proxy}) for u in _urls(emu, 5)])
    assert crawler.stats.get_value("finish_reason") == "proxyerrors_quota"
    assert crawler.stats.get_value("proxyerrors/stop/error") == "acme/ACME_NO_FUNDS"


# ------------------------------------------------------ rotate, retry, drop


@pytest_twisted.inlineCallbacks
def test_node_down_rotates_the_sticky_session() -> Any:
    """``rotate`` mints a fresh ``session-<id>`` in the username, as for SOAX."""
    with Emulator(provider="generic") as emu:
        sessions: list[str | None] = []

        def responder(rec: RequestRecord) -> Reply:
            sessions.append(rec.session)
            return acme_error("ACME_NODE_DOWN") if len(sessions) == 1 else served()

        emu.set_responder(responder)
        proxy = emu.proxy_url(user="user-session-first")
        outcome = Outcome()
        crawler = make_crawler({"PROXYERRORS_PROVIDERS": ACME})
        url = emu.target_url("/page/1")
        yield crawler.crawl(requests=[(url, {"proxy": proxy})], outcome=outcome)
    assert sessions[0] == "first"
    assert len(sessions) == 2 and sessions[1] not in (None, "first")
    assert outcome.ok_urls == [url]
    stats = crawler.stats.get_stats()
    assert stats["proxyerrors/decision/acme/ACME_NODE_DOWN/rotate"] == 1
    assert stats["proxyerrors/rotate/session"] == 1
    # The node failed, not the page: the move spends the rotation budget.
    assert stats["proxyerrors/rotate/budget"] == 1
    assert "proxyerrors/retry/reason_count/acme/ACME_NODE_DOWN" not in stats


@pytest_twisted.inlineCallbacks
def test_node_down_rotates_to_another_proxy_of_the_pool() -> Any:
    """With ``PROXYERRORS_PROXIES``, the failed proxy rests and the retry moves on."""
    with Emulator(provider="generic") as down, Emulator(provider="generic") as up:
        down.set_responder(lambda rec: acme_error("ACME_NODE_DOWN"))
        # Round robin starts with the first proxy: the broken one.
        proxies = [down.proxy_url(), up.proxy_url()]
        outcome = Outcome()
        crawler = make_crawler(
            {
                "PROXYERRORS_PROVIDERS": ACME,
                "PROXYERRORS_PROXIES": proxies,
                "CONCURRENT_REQUESTS": 1,
            }
        )
        urls = _urls(up, 4)
        yield crawler.crawl(requests=[(u, {}) for u in urls], outcome=outcome)
        failed_on_down = [r.url for r in down.requests]
        served_by_up = [r.url for r in up.requests if r.kind == "plain" and r.status == 200]
    assert failed_on_down, "the first request must have gone to the broken proxy"
    assert sorted(outcome.ok_urls) == sorted(urls)
    assert sorted(served_by_up) == sorted(urls)
    stats = crawler.stats.get_stats()
    assert stats["proxyerrors/rotate/proxy"] == len(failed_on_down)
    assert stats["proxyerrors/route/cooldowns"] == len(failed_on_down)


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest_twisted.inlineCallbacks
def test_blocked_is_dropped_with_the_users_meaning(scheme: str) -> Any:
    with Emulator(provider="generic") as emu:
        emu.set_responder(lambda rec: acme_error("ACME_BLOCKED"))
        outcome = Outcome()
        # Over plain HTTP a header alone is capped (trust boundary): named.
        named = {"PROXYERRORS_PROVIDER": "acme"} if scheme == "http" else {}
        crawler = make_crawler({"PROXYERRORS_PROVIDERS": ACME, **named})
        url = emu.target_url("/page/1", https=scheme == "https")
        yield crawler.crawl(requests=[(url, {"proxy": emu.proxy_url()})], outcome=outcome)
        reached = len(emu.requests)
    dropped = _only(outcome.failures)
    assert isinstance(dropped, ProviderErrorDropped)
    error = dropped.error
    assert (error.provider, error.code, error.status) == ("acme", "ACME_BLOCKED", 403)
    assert (error.category, error.action, error.scope) == ("target", "drop", "request")
    assert error.meaning == "Acme does not serve this site."
    assert error.detail == "acme says ACME_BLOCKED"
    assert error.request_id == "acme-req-1"
    assert reached == 1
    assert crawler.stats.get_value("proxyerrors/dropped") == 1
    assert crawler.stats.get_value("finish_reason") == "finished"


# ------------------------------------------------- PROXYERRORS_ACTIONS on user codes


@pytest_twisted.inlineCallbacks
def test_actions_setting_turns_rotate_into_retry() -> Any:
    """``acme/ACME_NODE_DOWN: retry``: same session again, up to the retry budget."""
    with Emulator(provider="generic") as emu:
        emu.set_responder(lambda rec: acme_error("ACME_NODE_DOWN"))
        outcome = Outcome()
        crawler = make_crawler(
            {
                "PROXYERRORS_PROVIDERS": ACME,
                "PROXYERRORS_ACTIONS": {"acme/ACME_NODE_DOWN": "retry"},
                "RETRY_TIMES": 2,
            }
        )
        proxy = emu.proxy_url(user="user-session-kept")
        yield crawler.crawl(requests=[(emu.target_url("/p"), {"proxy": proxy})], outcome=outcome)
        sessions = [r.session for r in emu.requests]
    assert sessions == ["kept"] * 3
    stats = crawler.stats.get_stats()
    assert stats["proxyerrors/decision/acme/ACME_NODE_DOWN/retry"] == 3
    assert stats["proxyerrors/retry/count"] == 2
    assert stats["proxyerrors/retry/max_reached"] == 1
    assert "proxyerrors/rotate/session" not in stats
    # Given up: the spider gets Acme's 502.
    failure = _only(outcome.failures)
    assert isinstance(failure, HttpError) and failure.response.status == 502


@pytest.mark.parametrize("key", ["acme/ACME_NO_FUNDS", "acme/402"], ids=["code", "status"])
@pytest_twisted.inlineCallbacks
def test_actions_setting_turns_stop_into_drop(key: str) -> Any:
    """By code or by status: the crawl goes on, each request is dropped."""
    with Emulator(provider="generic") as emu:
        emu.set_responder(lambda rec: acme_error("ACME_NO_FUNDS"))
        outcome = Outcome()
        crawler = make_crawler(
            {"PROXYERRORS_PROVIDERS": ACME, "PROXYERRORS_ACTIONS": {key: "drop"}}
        )
        urls = _urls(emu, 3)
        yield crawler.crawl(
            requests=[(u, {"proxy": emu.proxy_url()}) for u in urls], outcome=outcome
        )
    stats = crawler.stats.get_stats()
    assert stats["finish_reason"] == "finished"
    assert stats["proxyerrors/dropped"] == 3
    assert {type(f.value) for f in outcome.failures} == {ProviderErrorDropped}


# ------------------------------------------------------ extends: one action changed


SOAX_NODE_NOT_FOUND_DROPS = {
    "status": 502,
    "code": "NODE_NOT_FOUND",
    "category": "node",
    "action": "drop",
    "scope": "request",
    "meaning": "No node matches: with these filters there will not be one.",
    "fix": "Broaden the targeting.",
}


def _soax_responder(emu: Emulator) -> Any:
    """``case=missing`` answers NODE_NOT_FOUND, ``case=flaky`` NODE_UNAVAILABLE once."""
    calls: dict[str, int] = {}

    def responder(rec: RequestRecord) -> Reply | None:
        calls[rec.url] = calls.get(rec.url, 0) + 1
        if "missing" in rec.url:
            return emu.error_reply("NODE_NOT_FOUND")
        if "flaky" in rec.url and calls[rec.url] == 1:
            return emu.error_reply("NODE_UNAVAILABLE")
        return None

    return responder


@pytest.mark.parametrize(
    ("providers", "provider", "name"),
    [
        ({}, None, "soax"),  # the built-in: retried
        ({"soax": {"extends": "soax", "rules": [SOAX_NODE_NOT_FOUND_DROPS]}}, None, "soax"),
        (
            {"strict_soax": {"extends": "soax", "rules": [SOAX_NODE_NOT_FOUND_DROPS]}},
            "strict_soax",
            "strict_soax",
        ),
    ],
    ids=["built-in", "same-name", "new-name"],
)
@pytest_twisted.inlineCallbacks
def test_extends_soax_changes_one_action(
    providers: dict[str, Any], provider: str | None, name: str
) -> Any:
    """``extends: soax`` with one rule: NODE_NOT_FOUND drops; the rest is still SOAX."""
    settings: dict[str, Any] = {"PROXYERRORS_PROVIDERS": providers, "RETRY_TIMES": 2}
    # Named: a plain-HTTP reply found by its header alone is capped (trust
    # boundary); a new name must be chosen, the SOAX header finds the built-in.
    settings["PROXYERRORS_PROVIDER"] = provider or "soax"
    with Emulator(provider="soax") as emu:
        emu.set_responder(_soax_responder(emu))
        proxy = emu.proxy_url(user="package-1-sessionid-one")
        missing = emu.target_url("/page/1?case=missing")
        flaky = emu.target_url("/page/2?case=flaky")
        outcome = Outcome()
        crawler = make_crawler(settings)
        yield crawler.crawl(
            requests=[(missing, {"proxy": proxy}), (flaky, {"proxy": proxy})], outcome=outcome
        )
        attempts = sum(1 for r in emu.requests if "missing" in r.url)
    stats = crawler.stats.get_stats()
    changed = bool(providers)
    # The untouched rule: NODE_UNAVAILABLE still rotates the session, then succeeds.
    assert outcome.ok_urls == [flaky]
    assert stats[f"proxyerrors/decision/{name}/NODE_UNAVAILABLE/rotate"] == 1
    assert stats["proxyerrors/rotate/session"] == 1
    failure = _only(outcome.failures)
    if changed:
        assert isinstance(failure, ProviderErrorDropped)
        assert (failure.error.provider, failure.error.code) == (name, "NODE_NOT_FOUND")
        assert failure.error.meaning == SOAX_NODE_NOT_FOUND_DROPS["meaning"]
        assert attempts == 1
        assert stats["proxyerrors/dropped"] == 1
    else:
        assert isinstance(failure, HttpError) and failure.response.status == 502
        assert attempts == 3
        assert stats["proxyerrors/retry/reason_count/soax/NODE_NOT_FOUND"] == 2
        assert "proxyerrors/dropped" not in stats
