"""User-defined providers (``PROXYERRORS_PROVIDERS``): loading, extending, validating."""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

import pytest
from scrapy.exceptions import NotConfigured

from scrapy_proxyerrors import (
    BUILTIN_PROFILES,
    Action,
    Category,
    Profile,
    Scope,
    _userprofiles,
    classify,
)
from scrapy_proxyerrors._userprofiles import load_user_profiles

if TYPE_CHECKING:
    from pathlib import Path

NOW = 1_714_339_188.0

INHOUSE: dict[str, Any] = {
    "title": "In-house pool",
    "kind": "proxy",
    "code_headers": ["X-Pool-Error"],
    "code_regex": r"^(\w+)",
    "detail_headers": ["X-Pool-Detail"],
    "signature_headers": ["X-Pool-Error"],
    "proxy_hosts": ["*.pool.internal"],
    "session_param": "sid",
    "docs_url": "https://wiki.internal/pool",
    "rules": [
        {
            "status": 429,
            "code": "SLOW_DOWN",
            "category": "rate_limit",
            "action": "slowdown",
            "scope": "route",
            "meaning": "The pool throttles this exit.",
            "fix": "Lower the rate.",
            "wait": 5,
        },
        {"status": 502, "code": "EXIT_*", "category": "node", "action": "rotate", "scope": "route"},
        {"status": 407, "code": None, "category": "auth", "action": "stop", "scope": "account"},
    ],
}


def _load(value: object) -> dict[str, Profile]:
    return load_user_profiles(value, BUILTIN_PROFILES)


def _profiles(user: dict[str, Profile]) -> dict[str, Profile]:
    return {**BUILTIN_PROFILES, **user}


# -------------------------------------------------------------------- happy


def test_user_profile_classifies_like_a_builtin() -> None:
    """A user profile is found by its signature header and its rules decide."""
    user = _load({"inhouse": INHOUSE})
    profile = user["inhouse"]
    assert isinstance(profile, Profile)
    assert (profile.name, profile.title, profile.kind) == ("inhouse", "In-house pool", "proxy")
    error = classify(
        429,
        {"X-Pool-Error": "SLOW_DOWN please", "X-Pool-Detail": "exit 7 is hot", "Retry-After": "2"},
        profiles=_profiles(user),
        now=NOW,
    )
    assert error is not None
    # Found by its header alone on plain HTTP: the claim is kept, capped.
    rule = error.claimed or error.rule
    assert (error.provider, error.code, error.category, rule.action, rule.scope) == (
        "inhouse",
        "SLOW_DOWN",
        Category.RATE_LIMIT,
        Action.SLOWDOWN,
        Scope.ROUTE,
    )
    assert (error.detail, error.meaning, error.wait) == (
        "exit 7 is hot",
        "The pool throttles this exit.",
        5,
    )


def test_user_family_status_rule_and_host() -> None:
    user = _load({"inhouse": INHOUSE})
    profiles = _profiles(user)
    family = classify(502, {"X-Pool-Error": "EXIT_GONE"}, profiles=profiles, now=NOW)
    assert family is not None and (family.code, family.action) == ("EXIT_GONE", Action.ROTATE)
    # No header at all: the proxy host finds the profile, the status rule decides.
    status_only = classify(
        407, {}, proxy_url="http://u:p@gw3.pool.internal:8080", profiles=profiles, now=NOW
    )
    assert status_only is not None
    assert (status_only.provider, status_only.code, status_only.action) == (
        "inhouse",
        "407",
        Action.STOP,
    )
    # Unknown codes fall back to generic's status rules.
    unknown = classify(503, {"X-Pool-Error": "NEW"}, profiles=profiles, now=NOW)
    assert unknown is not None and (unknown.provider, unknown.action) == ("inhouse", Action.RETRY)


def test_user_rule_defaults_meaning_and_fix() -> None:
    user = _load({"inhouse": INHOUSE})
    rule = user["inhouse"].match(407, None)
    assert rule is not None and rule.meaning and rule.fix


def test_json_paths_as_dotted_strings_and_lists() -> None:
    user = _load(
        {
            "myapi": {
                "kind": "api",
                "api_hosts": ["api.example.net"],
                "json_code": ["error.code", ["err", "kind"]],
                "json_message": ["error.message"],
                "json_request_id": [["meta", "id"]],
                "json_wait": ["error.retry_in"],
                "rules": [
                    {
                        "code": "busy",
                        "category": "rate_limit",
                        "action": "slowdown",
                        "scope": "account",
                    }
                ],
            }
        }
    )
    profile = user["myapi"]
    assert profile.json_code == (("error", "code"), ("err", "kind"))
    body = json.dumps(
        {"err": {"kind": "busy"}, "error": {"message": "m", "retry_in": 9}, "meta": {"id": "r1"}}
    ).encode()
    error = classify(
        503,
        {},
        body,
        transport="api",  # type: ignore[arg-type]
        request_url="https://api.example.net/v1",
        profiles=_profiles(user),
        now=NOW,
    )
    assert error is not None
    assert (error.provider, error.code, error.action) == ("myapi", "busy", Action.SLOWDOWN)
    assert (error.detail, error.request_id, error.wait) == ("m", "r1", 9)


def test_extends_adds_and_overrides_rules_and_fields() -> None:
    """``extends`` starts from the built-in; same (status, code) replaces its rule."""
    user = _load(
        {
            "mysoax": {
                "extends": "soax",
                "proxy_hosts": ["gw.example.net"],
                "rules": [
                    # Override: this pool rotates where SOAX's doc says retry.
                    {
                        "status": 502,
                        "code": "NODE_NOT_FOUND",
                        "category": "node",
                        "action": "rotate",
                        "scope": "route",
                    },
                    # Addition: a code the built-in does not know.
                    {
                        "status": 403,
                        "code": "GEO_BLOCKED",
                        "category": "target",
                        "action": "drop",
                        "scope": "request",
                    },
                ],
            }
        }
    )
    mine, soax = user["mysoax"], BUILTIN_PROFILES["soax"]
    assert mine.name == "mysoax" and mine.title == "mysoax"
    assert mine.proxy_hosts == ("gw.example.net",)
    # Everything not given is inherited.
    assert (mine.code_headers, mine.session_param, mine.kind) == (
        soax.code_headers,
        soax.session_param,
        soax.kind,
    )
    assert len(mine.rules) == len(soax.rules) + 1
    profiles = _profiles(user)
    url = "http://gw.example.net:9000"

    def verdict(status: int, code: str) -> tuple[str, Action] | None:
        error = classify(status, {"X-SOAX-Error": code}, proxy_url=url, profiles=profiles, now=NOW)
        return None if error is None else (error.provider, error.action)

    assert verdict(502, "NODE_NOT_FOUND") == ("mysoax", Action.ROTATE)
    assert verdict(403, "GEO_BLOCKED") == ("mysoax", Action.DROP)
    assert verdict(407, "AUTH_FAILED") == ("mysoax", Action.STOP)  # inherited
    # The built-in itself is untouched.
    assert soax.match(502, "NODE_NOT_FOUND").action is Action.RETRY  # type: ignore[union-attr]
    assert classify(502, {"X-SOAX-Error": "NODE_NOT_FOUND"}, now=NOW).action is Action.RETRY  # type: ignore[union-attr]


def test_extends_under_the_builtin_name_keeps_its_title() -> None:
    user = _load({"soax": {"extends": "soax", "rules": []}})
    assert user["soax"].title == BUILTIN_PROFILES["soax"].title
    assert user["soax"].rules == BUILTIN_PROFILES["soax"].rules


def test_user_family_is_tried_before_builtin_family() -> None:
    """A narrower user family wins over the built-in's broader one."""
    user = _load(
        {
            "brd": {
                "extends": "brightdata",
                "rules": [
                    {
                        "status": 403,
                        "code": "client_101*",
                        "category": "target",
                        "action": "rotate",
                        "scope": "route",
                    }
                ],
            }
        }
    )
    profile = user["brd"]
    assert profile.match(403, "client_10150").action is Action.ROTATE  # type: ignore[union-attr]
    assert profile.match(403, "client_10250").action is Action.DROP  # type: ignore[union-attr]


def test_fallback_to_another_user_profile_and_plaintext_body_rules() -> None:
    user = _load(
        {
            "base": {
                "rules": [
                    {"status": 599, "category": "internal", "action": "retry", "scope": "request"}
                ]
            },
            "child": {
                "plaintext_body": True,
                "fallback": "base",
                "rules": [
                    {
                        "status": 456,
                        "body": "Quota EXHAUSTED",
                        "code": "quota",
                        "category": "quota",
                        "action": "stop",
                        "scope": "account",
                        "cooldown": "inf",
                    }
                ],
            },
        }
    )
    profiles = _profiles(user)
    body_hit = classify(456, {}, b"Your quota exhausted today", provider="child", profiles=profiles)
    assert body_hit is not None and (body_hit.code, body_hit.action) == ("quota", Action.STOP)
    assert body_hit.rule.cooldown == math.inf
    fell_back = classify(599, {}, b"", provider="child", profiles=profiles)
    assert fell_back is not None and fell_back.action is Action.RETRY


def test_json_file_toml_file_and_inline_json(tmp_path: Path) -> None:
    """The same providers from a dict, a JSON file (str or Path), inline JSON and TOML."""
    expected = _load({"inhouse": INHOUSE})["inhouse"]
    json_file = tmp_path / "providers.json"
    json_file.write_text(json.dumps({"inhouse": INHOUSE}), encoding="utf-8")
    assert _load(json_file)["inhouse"] == expected
    assert _load(str(json_file))["inhouse"] == expected
    assert _load(json.dumps({"inhouse": INHOUSE}))["inhouse"] == expected
    if _userprofiles._toml_parser() is None:
        pytest.skip("no TOML parser on this Python (3.10 without tomli)")
    toml_file = tmp_path / "providers.toml"
    toml_file.write_text(
        """
[inhouse]
title = "In-house pool"
kind = "proxy"
code_headers = ["X-Pool-Error"]
code_regex = '^(\\w+)'
detail_headers = ["X-Pool-Detail"]
signature_headers = ["X-Pool-Error"]
proxy_hosts = ["*.pool.internal"]
session_param = "sid"
docs_url = "https://wiki.internal/pool"

[[inhouse.rules]]
status = 429
code = "SLOW_DOWN"
category = "rate_limit"
action = "slowdown"
scope = "route"
meaning = "The pool throttles this exit."
fix = "Lower the rate."
wait = 5

[[inhouse.rules]]
status = 502
code = "EXIT_*"
category = "node"
action = "rotate"
scope = "route"

[[inhouse.rules]]
status = 407
category = "auth"
action = "stop"
scope = "account"
""",
        encoding="utf-8",
    )
    assert _load(toml_file)["inhouse"] == expected


@pytest.mark.parametrize("value", [None, {}, ""])
def test_empty_value_means_no_user_profiles(value: object) -> None:
    assert _load(value) == {}


# --------------------------------------------------------------------- bad


def _rule(**changes: object) -> dict[str, object]:
    rule: dict[str, object] = {
        "status": 502,
        "code": "X",
        "category": "node",
        "action": "retry",
        "scope": "request",
    }
    rule.update(changes)
    return rule


BAD_PROFILES: list[tuple[str, dict[str, Any], str, str]] = [
    # (test id, profile dict of provider "p", field named, value shown)
    ("unknown-field", {"colour": "red"}, "colour", "'red'"),
    ("name-field", {"name": "p2"}, "name", "'p2'"),
    ("kind", {"kind": "proxxy"}, "kind", "'proxxy'"),
    ("title-type", {"title": 5}, "title", "5"),
    ("headers-not-list", {"code_headers": "X-Err"}, "code_headers", "'X-Err'"),
    ("header-name", {"code_headers": ["X Err"]}, "code_headers", "X Err"),
    ("header-empty", {"signature_headers": [""]}, "signature_headers", "''"),
    ("bool", {"plaintext_body": "yes"}, "plaintext_body", "'yes'"),
    ("json-path-str", {"json_code": "error.code"}, "json_code", "'error.code'"),
    ("json-path-part", {"json_code": [["error", 5]]}, "json_code", "5"),
    ("json-path-empty", {"json_code": ["error..code"]}, "json_code", "error..code"),
    ("session-param", {"session_param": ""}, "session_param", "''"),
    ("regex", {"code_regex": "(ERR"}, "code_regex", "'(ERR'"),
    ("regex-group", {"code_regex": r"ERR_\w+"}, "code_regex", "ERR_"),
    ("extends", {"extends": "soaxx"}, "extends", "'soaxx'"),
    ("fallback", {"fallback": "nope"}, "fallback", "'nope'"),
    ("fallback-self", {"fallback": "p"}, "fallback", "'p'"),
    (
        "host-url",
        {"proxy_hosts": ["http://gw.example.com"]},
        "proxy_hosts",
        "http://gw.example.com",
    ),
    ("host-port", {"api_hosts": ["gw.example.com:8000"]}, "api_hosts", "gw.example.com:8000"),
    ("rules-type", {"rules": {"status": 502}}, "rules", "{'status': 502}"),
    ("rule-type", {"rules": ["retry"]}, "rules[0]", "'retry'"),
    ("rule-field", {"rules": [_rule(retries=3)]}, "rules[0].retries", "3"),
    ("category", {"rules": [_rule(category="nodes")]}, "rules[0].category", "'nodes'"),
    ("action", {"rules": [_rule(action="retyr")]}, "rules[0].action", "'retyr'"),
    ("scope", {"rules": [_rule(scope="global")]}, "rules[0].scope", "'global'"),
    ("action-missing", {"rules": [_rule(action=None)]}, "rules[0].action", "None"),
    ("status-str", {"rules": [_rule(status="502")]}, "rules[0].status", "'502'"),
    ("status-range", {"rules": [_rule(status=42)]}, "rules[0].status", "42"),
    ("status-bool", {"rules": [_rule(status=True)]}, "rules[0].status", "True"),
    ("code-type", {"rules": [_rule(code=502)]}, "rules[0].code", "502"),
    ("matches-nothing", {"rules": [_rule(status=None, code=None)]}, "rules[0]", "'category'"),
    ("wait-negative", {"rules": [_rule(wait=-1)]}, "rules[0].wait", "-1"),
    ("wait-str", {"rules": [_rule(wait="soon")]}, "rules[0].wait", "'soon'"),
    ("wait-inf", {"rules": [_rule(wait=math.inf)]}, "rules[0].wait", "inf"),
    ("cooldown-nan", {"rules": [_rule(cooldown=math.nan)]}, "rules[0].cooldown", "nan"),
    ("meaning-type", {"rules": [_rule(meaning=["a"])]}, "rules[0].meaning", "['a']"),
    ("duplicate", {"rules": [_rule(), _rule(code="x")]}, "rules[1]", "'code': 'x'"),
    ("body-no-plaintext", {"rules": [_rule(body="quota")]}, "rules[0].body", "'quota'"),
    ("profile-type", [], "profile", "[]"),  # type: ignore[list-item]
]


@pytest.mark.parametrize(
    ("spec", "field", "shown"),
    [pytest.param(spec, field, shown, id=name) for name, spec, field, shown in BAD_PROFILES],
)
def test_bad_profile_names_setting_provider_field_and_value(
    spec: dict[str, Any], field: str, shown: str
) -> None:
    with pytest.raises(NotConfigured) as info:
        _load({"p": spec})
    message = str(info.value)
    assert message.startswith("PROXYERRORS_PROVIDERS: provider 'p': ")
    assert f" {field}=" in message
    assert shown in message


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (42, "value=42: expected a dict"),
        ({"my proxy": {}}, "name='my proxy': expected letters"),
        ({5: {}}, "name=5: expected letters"),
        ('{"p": ', "json='the value': invalid JSON"),
        ('{"p": 1}', "provider 'p': profile=1: expected an object"),
        # Not inline JSON (no "{"), so a path, and no such file exists.
        ("[1, 2]", "file='[1, 2]': cannot read it"),
    ],
)
def test_bad_value(value: object, expected: str) -> None:
    with pytest.raises(NotConfigured) as info:
        _load(value)
    assert str(info.value).startswith("PROXYERRORS_PROVIDERS: ")
    assert expected in str(info.value)


def test_unreadable_and_invalid_files(tmp_path: Path) -> None:
    missing = tmp_path / "nope.json"
    with pytest.raises(
        NotConfigured, match=r"PROXYERRORS_PROVIDERS: file=.*nope\.json.*cannot read"
    ):
        _load(missing)
    broken = tmp_path / "broken.json"
    broken.write_text('{"p": {"kind": "proxy",}}', encoding="utf-8")
    with pytest.raises(NotConfigured, match=r"json=.*broken\.json.*invalid JSON"):
        _load(broken)
    not_object = tmp_path / "list.json"
    not_object.write_text("[1, 2]", encoding="utf-8")
    with pytest.raises(NotConfigured, match=r"value=.*list\.json.*expected an object"):
        _load(not_object)
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00{")
    with pytest.raises(NotConfigured, match="cannot read"):
        _load(binary)
    bad_inside = tmp_path / "bad_inside.json"
    bad_inside.write_text(json.dumps({"p": {"rules": [_rule(action="retyr")]}}), encoding="utf-8")
    with pytest.raises(NotConfigured, match=r"provider 'p': rules\[0\]\.action='retyr'"):
        _load(bad_inside)


def test_invalid_toml(tmp_path: Path) -> None:
    if _userprofiles._toml_parser() is None:
        pytest.skip("no TOML parser on this Python (3.10 without tomli)")
    path = tmp_path / "p.toml"
    path.write_text("[p\nkind = 'proxy'", encoding="utf-8")
    with pytest.raises(NotConfigured, match=r"toml=.*p\.toml.*invalid TOML"):
        _load(path)


def test_toml_without_a_parser_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """On Python 3.10 without tomli, a TOML file is refused with a way out; JSON still works."""
    monkeypatch.setattr(_userprofiles, "_toml_parser", lambda: None)
    path = tmp_path / "p.toml"
    path.write_text("[p]\nkind = 'proxy'\n", encoding="utf-8")
    with pytest.raises(NotConfigured, match=r"TOML needs Python 3\.11\+ or the 'tomli' package"):
        _load(path)
    assert _load({"p": {"kind": "proxy"}})["p"].kind == "proxy"


def test_error_message_is_bounded() -> None:
    """A huge bad value is shortened in the message."""
    with pytest.raises(NotConfigured) as info:
        _load({"p": {"title": ["x" * 10_000]}})
    assert len(str(info.value)) < 400


# ----------------------------------------------- everything a built-in table says

MYAPI: dict[str, Any] = {
    "kind": "api",
    "api_hosts": ["api.my.test"],
    "json_code": ["error.code"],
    "status_headers": ["X-Real-Status"],
    "wait_headers": [["X-Next-Request-In", 0.001]],
    "problem_code": "title",
    "proxy_status_details": False,
    "sources": ["https://docs.my.test/errors"],
    "hints": [
        {
            "header": "X-Retryable",
            "values": {
                "true": {"category": "upstream", "action": "retry", "scope": "request"},
                "false": {"category": "validation", "action": "drop", "scope": "request",
                          "meaning": "Flagged final."},
            },
        },
        {"json_path": "error.retryable", "values": {"true": {
            "category": "upstream", "action": "retry", "scope": "request"}}},
    ],
}


def test_a_user_profile_says_everything_a_built_in_table_can() -> None:
    """Status headers, wait headers, hints and sources: a new provider is a
    table, in settings.py too."""
    user = _load({"myapi": MYAPI})
    profile = user["myapi"]
    assert profile.status_headers == ("X-Real-Status",)
    assert profile.wait_headers == (("X-Next-Request-In", 0.001),)
    assert profile.problem_code == "title"
    assert profile.sources == ("https://docs.my.test/errors",)
    assert profile.rate_limit_rps is None
    assert _load({"soax": {"extends": "soax", "rate_limit_rps": 7}})["soax"].rate_limit_rps == 7.0
    assert [h.header for h in profile.hints] == ["X-Retryable", None]
    assert profile.hints[1].json_path == ("error", "retryable")
    profiles = _profiles(user)
    url = "https://api.my.test/v1?id=1"
    final = classify(400, {"X-Retryable": "False"}, b'{"error": {"code": "odd"}}',
                     transport="api", request_url=url, profiles=profiles, now=NOW)  # type: ignore[arg-type]
    assert final is not None and (final.provider, final.code) == ("myapi", "odd")
    assert final.action is Action.DROP and final.meaning == "Flagged final."
    retry = classify(400, {}, b'{"error": {"code": "odd2", "retryable": true}}',
                     transport="api", request_url=url, profiles=profiles, now=NOW)  # type: ignore[arg-type]
    assert retry is not None and retry.action is Action.RETRY
    inside = classify(200, {"X-Real-Status": "503"}, b"{}", transport="api",  # type: ignore[arg-type]
                      request_url=url, profiles=profiles, now=NOW)
    assert inside is not None and inside.status == 503


@pytest.mark.parametrize(
    ("field", "value", "why"),
    [
        ("wait_headers", ["X-Wait"], "list of [header, factor"),
        ("wait_headers", [["X-Wait", 0]], "above 0"),
        ("wait_headers", [["bad header", 1]], "not a valid header name"),
        ("hints", [{"values": {"true": {}}}], "exactly one of header and json_path"),
        ("hints", [{"header": "X-R", "values": {}}], "value -> rule"),
        ("hints", [{"header": "X-R", "values": {"true": {"status": 500}}}], "unknown field"),
        ("hints", [{"header": "X-R", "inside_2xx": "yes", "values": {"t": {}}}], "true or false"),
        ("hints", [{"header": "X-R", "colour": 1, "values": {"t": {}}}], "unknown field"),
        ("status_headers", ["X Real"], "not a valid header name"),
        ("rate_limit_rps", 0, "requests per second > 0"),
        ("rate_limit_rps", -3, "requests per second > 0"),
        ("rate_limit_rps", "10", "requests per second > 0"),
        ("rate_limit_rps", True, "requests per second > 0"),
        ("rate_limit_rps", float("inf"), "requests per second > 0"),
    ],
)
def test_bad_structured_fields_are_named(field: str, value: object, why: str) -> None:
    with pytest.raises(NotConfigured) as info:
        _load({"myapi": {**MYAPI, field: value}})
    assert field in str(info.value) and why in str(info.value)
