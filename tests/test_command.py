"""``scrapy proxyerrors list | explain | check``.

The command as users run it (``python -m scrapy proxyerrors ...`` in a
project directory, found through the ``scrapy.commands`` entry point) in
subprocesses; a Scrapy start costs about a second, so those runs are few and
start together. The details (overrides, user profiles, escalation, every bad
setting) are checked in-process on the same functions.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import runpy
import subprocess
import sys
import textwrap
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pytest
from scrapy.exceptions import UsageError
from scrapy.settings import Settings

from scrapy_proxyerrors import BUILTIN_PROFILES
from scrapy_proxyerrors.commands import (
    CommandError,
    Project,
    ProxyErrorsCommand,
    check,
    code_source,
    detection,
    explain,
    list_providers,
    list_rules,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

EXAMPLE = Path(__file__).resolve().parent.parent / "example_project"
SOAX_NODE_NOT_FOUND = next(r for r in BUILTIN_PROFILES["soax"].rules if r.code == "NODE_NOT_FOUND")
#: Longest a subprocess may take: a deadline against hangs, not an assertion.
RUN_TIMEOUT = 120


class Run(NamedTuple):
    code: int
    out: str
    err: str


# ---------------------------------------------------------------- projects


def write_project(root: Path, settings: str) -> Path:
    """A minimal Scrapy project in *root*, the plugin enabled, plus *settings* (source)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "scrapy.cfg").write_text("[settings]\ndefault = proj.settings\n", encoding="utf-8")
    package = root / "proj"
    package.mkdir(exist_ok=True)
    (package / "__init__.py").write_text("", encoding="utf-8")
    body = 'BOT_NAME = "proj"\nADDONS = {"scrapy_proxyerrors.Addon": 0}\n'
    (package / "settings.py").write_text(body + textwrap.dedent(settings), encoding="utf-8")
    return root


#: A project that uses everything: a pool with credentials, a user profile,
#: an ``extends`` override, PROXYERRORS_ACTIONS on built-in and user codes.
RICH: dict[str, Any] = {
    "ADDONS": {"scrapy_proxyerrors.Addon": 0},
    "PROXYERRORS_PROXIES": [
        "http://alice:pw-alice-123@gw.acme.example:8000",
        "http://bob:pw-bob-456@proxy.soax.com:5000",
    ],
    "PROXYERRORS_MAX_WAIT": 60,
    "PROXYERRORS_ACTIONS": {"soax/NODE_NOT_FOUND": "drop", "acme/ACME_NODE_DOWN": "retry"},
    "PROXYERRORS_PROVIDERS": {
        "acme": {
            "kind": "proxy",
            "code_headers": ["X-Acme-Error"],
            "signature_headers": ["X-Acme-Error"],
            "proxy_hosts": ["*.acme.example"],
            "rules": [
                {
                    "status": 402,
                    "code": "ACME_NO_FUNDS",
                    "category": "quota",
                    "action": "stop",
                    "scope": "account",
                    "meaning": "The Acme balance is empty.",
                    "fix": "Top up.",
                },
                {
                    "status": 502,
                    "code": "ACME_NODE_DOWN",
                    "category": "node",
                    "action": "rotate",
                    "scope": "route",
                },
            ],
        },
        "soax": {
            "extends": "soax",
            "rules": [
                {
                    "status": 429,
                    "code": "RATE_LIMIT_EXCEEDED",
                    "category": "rate_limit",
                    "action": "slowdown",
                    "scope": "route",
                    "wait": 90,
                }
            ],
        },
    },
}


def rich_settings() -> dict[str, Any]:
    """A fresh copy of RICH (Settings keep references to what they are given)."""
    return copy.deepcopy(RICH)


# ------------------------------------------------------------- subprocesses


def _scrapy(cwd: Path, *args: str) -> Run:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SCRAPY_")}
    done = subprocess.run(
        [sys.executable, "-m", "scrapy", "proxyerrors", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        check=False,
    )
    return Run(done.returncode, done.stdout, done.stderr)


class CLI:
    """Subprocess runs, all started at once; each test takes its result by name."""

    def __init__(self, pool: ThreadPoolExecutor, runs: dict[str, tuple[Path, tuple[str, ...]]]):
        self._futures: dict[str, Future[Run]] = {
            name: pool.submit(_scrapy, cwd, *args) for name, (cwd, args) in runs.items()
        }

    def __getitem__(self, name: str) -> Run:
        return self._futures[name].result()


@pytest.fixture(scope="module")
def cli(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CLI]:
    bad = write_project(tmp_path_factory.mktemp("bad"), "PROXYERRORS_MAX_WAIT = 'soon'\n")
    outside = tmp_path_factory.mktemp("outside")  # no scrapy.cfg here or above
    runs = {
        "explain": (EXAMPLE, ("explain", "soax", "NODE_NOT_FOUND")),
        "check": (EXAMPLE, ("check",)),
        "list": (EXAMPLE, ("list",)),
        "bad": (bad, ("check",)),
        "outside": (outside, ("list", "squid")),
    }
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        yield CLI(pool, runs)


def _demo_settings() -> dict[str, Any]:
    """The example project's own values (it may change; the tests follow it)."""
    return runpy.run_path(str(EXAMPLE / "demo" / "settings.py"))


def test_explain_in_the_example_project(cli: CLI) -> None:
    run = cli["explain"]
    assert run.code == 0, run.err
    out = run.out
    assert out.startswith("soax NODE_NOT_FOUND (HTTP 502): SOAX\n")
    rule = SOAX_NODE_NOT_FOUND
    flat = " ".join(out.split())  # wrapped text, compared unwrapped
    for label, value in (
        ("meaning", rule.meaning),
        ("category", "node"),
        ("action", "retry"),
        ("scope", "request"),
        ("fix", rule.fix),
        ("docs", rule.docs),
    ):
        assert f"{label} {value}" in flat, label
    assert "In this project" in out
    demo = _demo_settings()
    retries = demo.get("PROXYERRORS_MAX_RETRIES", 2)
    assert f"at most {retries} retries per request" in flat
    assert f"a backoff of {demo['PROXYERRORS_BACKOFF_BASE']:g} s" in flat
    assert "a wait longer than 300 s (PROXYERRORS_MAX_WAIT, default) turns it into drop" in flat
    assert "override none" in flat
    assert run.err == ""


def test_check_in_the_example_project(cli: CLI) -> None:
    run = cli["check"]
    assert run.code == 0, run.err
    out = run.out
    assert "configuration of project 'demo'" in out
    assert "scrapy_proxyerrors.Addon in ADDONS" in out
    assert "ProxyErrorsMiddleware enabled" in out
    assert "ProxyErrorsHTTPSDownloadHandler keeps CONNECT replies" in out
    # The add-on disables RetryMiddleware: no warning about two retry budgets.
    assert "WARNING" not in out
    demo = _demo_settings()
    assert re.search(
        rf"PROXYERRORS_REPORT_FILE\s+{re.escape(demo['PROXYERRORS_REPORT_FILE'])}\s+\[project\]",
        out,
    )
    assert re.search(r"PROXYERRORS_MAX_WAIT\s+300 s\n", out)  # a default, unmarked
    assert out.rstrip().endswith("OK: the settings are valid.")


def test_list_in_the_example_project(cli: CLI) -> None:
    run = cli["list"]
    assert run.code == 0, run.err
    lines = run.out.splitlines()
    header = "provider status code category action scope changed by"
    assert lines[0].split() == header.split()
    rows = [line.split() for line in lines[1:] if line and not line.startswith("status any")]
    assert len(rows) == sum(len(p.rules) for p in BUILTIN_PROFILES.values())
    assert ["soax", "502", "NODE_NOT_FOUND", "node", "retry", "request"] in rows
    assert ["squid", "407", "ERR_CACHE_ACCESS_DENIED", "auth", "stop", "account"] in rows
    assert ["generic", "503", "-", "upstream", "retry", "request"] in rows
    assert {r[0] for r in rows} == set(BUILTIN_PROFILES)


def test_bad_settings_fail_check_with_exit_1(cli: CLI) -> None:
    run = cli["bad"]
    assert run.code == 1
    assert "PROXYERRORS_MAX_WAIT='soon'" in run.err
    assert "expected a number of seconds" in run.err
    assert "OK" not in run.out


def test_list_works_outside_a_project(cli: CLI) -> None:
    """Rules can be listed anywhere: the command does not require a project."""
    run = cli["outside"]
    assert run.code == 0, run.err
    assert any(
        line.split()[:3] == ["squid", "503", "ERR_CONNECT_FAIL"] for line in run.out.splitlines()
    )


# ------------------------------------------------------------------ in-process


def run_command(settings: dict[str, Any], *args: str, **options: bool) -> ProxyErrorsCommand:
    """The command's ``run()`` as Scrapy calls it, with *settings* as the project's."""
    command = ProxyErrorsCommand()
    command.settings = Settings()
    command.settings.setdict(settings, priority="project")
    opts = argparse.Namespace(**{"providers": False, "all_rules": False, **options})
    command.run(list(args), opts)
    return command


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("explain", "sox", "NODE_NOT_FOUND"), "Unknown provider 'sox'. Did you mean soax?"),
        (
            ("explain", "soax", "NODE_NOT_FOUNDX"),
            "soax has no code 'NODE_NOT_FOUNDX'. Did you mean NODE_NOT_FOUND?",
        ),
        (("list", "nope"), "Unknown provider 'nope'."),
    ],
)
def test_unknown_provider_or_code_exits_1(
    capsys: pytest.CaptureFixture[str], args: tuple[str, ...], message: str
) -> None:
    command = run_command({}, *args)
    captured = capsys.readouterr()
    assert command.exitcode == 1
    assert message in captured.err
    assert captured.out == ""


def test_check_in_a_project_using_everything(capsys: pytest.CaptureFixture[str]) -> None:
    command = run_command(rich_settings(), "check")
    assert command.exitcode == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    # Proxies are shown, credentials never.
    for secret in ("alice", "pw-alice-123", "bob", "pw-bob-456"):
        assert secret not in out
    assert "http://gw.acme.example:8000, http://proxy.soax.com:5000" in flat
    assert "acme (new, 2 rules" in flat and "soax (extends soax" in flat
    assert "soax/node_not_found -> drop, acme/acme_node_down -> retry" in flat
    rules = [line.split() for line in out.splitlines()]
    user_rule = "acme 402 ACME_NO_FUNDS quota stop account PROXYERRORS_PROVIDERS"
    assert user_rule.split() in rules
    overridden = "soax 502 NODE_NOT_FOUND node drop request PROXYERRORS_ACTIONS"
    assert [*overridden.split(), "soax/node_not_found", "(was", "retry)"] in rules
    # Only the profiles in play: acme and soax, not (say) helodata.
    assert not any(r and r[0] == "helodata" for r in rules)


def test_explain_a_user_code_with_an_override(capsys: pytest.CaptureFixture[str]) -> None:
    command = run_command(rich_settings(), "explain", "acme", "ACME_NODE_DOWN")
    assert command.exitcode == 0
    out = capsys.readouterr().out
    flat = " ".join(out.split())
    assert out.startswith("acme ACME_NODE_DOWN (HTTP 502): acme\n")
    assert 'override PROXYERRORS_ACTIONS["acme/acme_node_down"] = "retry" (was rotate)' in flat
    assert "does retry: the same route again" in flat
    assert "profile defined in PROXYERRORS_PROVIDERS" in flat


def project(**settings: Any) -> Project:
    values = Settings()
    values.setdict({"BOT_NAME": "proj", **settings}, priority="project")
    return Project(values)


def flat(lines: list[str]) -> str:
    return " ".join(" ".join(lines).split())


def test_explain_by_status_lists_the_codes_sent_with_it() -> None:
    text = flat(explain(project(), "soax", "502"))
    assert text.startswith("soax 502 (HTTP 502): SOAX")
    assert "codes with 502: NODE_UNAVAILABLE (rotate), NODE_NOT_FOUND (retry)" in text


def test_explain_a_status_only_the_fallback_knows() -> None:
    text = flat(explain(project(), "soax", "500"))
    assert "(a status rule of generic, soax's fallback)" in text
    assert "profile generic's status rule: soax falls back to generic" in text


def test_explain_unknown_status_says_it_is_not_a_provider_error() -> None:
    with pytest.raises(CommandError, match=r"no rule for status 418.*goes on to Scrapy"):
        explain(project(), "soax", "418")


def test_explain_code_is_case_insensitive() -> None:
    assert explain(project(), "soax", "node_not_found")[0].startswith("soax NODE_NOT_FOUND")


def test_explain_family_member_sees_its_override() -> None:
    """An override keyed by one member of a ``prefix*`` family applies to that member only."""
    actions = {"helodata/restricted-category-gambling": "pass"}
    settings = project(PROXYERRORS_ACTIONS=actions)
    gambling = flat(explain(settings, "helodata", "restricted-category-gambling"))
    adult = flat(explain(settings, "helodata", "restricted-category-adult"))
    assert '= "pass" (was drop)' in gambling and "does pass:" in gambling
    assert "override none" in adult and "does drop:" in adult


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, "a wait longer than 300 s (PROXYERRORS_MAX_WAIT, default) turns it into stop"),
        (
            {"PROXYERRORS_MAX_WAIT": 5},
            "a wait longer than 5 s (PROXYERRORS_MAX_WAIT, project) turns it into stop",
        ),
        ({"PROXYERRORS_MAX_WAIT": "inf"}, "every wait the provider asks for is honoured"),
    ],
)
def test_explain_max_wait_escalation(settings: dict[str, Any], expected: str) -> None:
    """SOAX's RATE_LIMIT_EXCEEDED has account scope: a too-long wait stops the crawl."""
    assert expected in flat(explain(project(**settings), "soax", "RATE_LIMIT_EXCEEDED"))


def test_explain_a_documented_wait_over_max_wait_always_escalates() -> None:
    text = flat(explain(project(**rich_settings()), "soax", "RATE_LIMIT_EXCEEDED"))
    assert "the documented wait (90 s) is longer than PROXYERRORS_MAX_WAIT (60 s)" in text
    assert "always turns into drop" in text  # the user's rule has route scope
    assert "replacing soax's (action slowdown, scope account" in text


def test_explain_inherited_and_overridden_rules_of_an_extension() -> None:
    text = flat(explain(project(**rich_settings()), "soax", "NODE_NOT_FOUND"))
    assert 'PROXYERRORS_ACTIONS["soax/node_not_found"] = "drop" (was retry)' in text
    assert "extends soax: this rule is soax's, unchanged" in text
    assert "does drop: no retry" in text


@pytest.mark.parametrize("action", ["retry", "rotate", "slowdown", "drop", "stop", "pass"])
def test_explain_describes_every_action(action: str) -> None:
    actions = {"soax/NODE_NOT_FOUND": action}
    text = flat(explain(project(PROXYERRORS_ACTIONS=actions), "soax", "NODE_NOT_FOUND"))
    assert f"does {action}:" in text
    if action == "stop":
        assert "finish_reason proxyerrors_node" in text
    if action == "rotate":
        assert "fresh sticky session (username token 'sessionid')" in text


def test_explain_notes_a_different_provider_setting() -> None:
    text = flat(explain(project(PROXYERRORS_PROVIDER="helodata"), "soax", "NODE_NOT_FOUND"))
    assert "PROXYERRORS_PROVIDER is 'helodata'" in text


def test_list_marks_what_the_project_changed() -> None:
    lines = list_rules(project(**rich_settings()), ["soax"])
    rows = {tuple(line.split()[:3]): line for line in lines[1:] if line}
    assert rows[("soax", "429", "RATE_LIMIT_EXCEEDED")].endswith(
        "PROXYERRORS_PROVIDERS (built-in: slowdown, account)"
    )
    assert rows[("soax", "502", "NODE_NOT_FOUND")].endswith(
        "PROXYERRORS_ACTIONS soax/node_not_found (was retry)"
    )
    assert rows[("soax", "407", "AUTH_FAILED")].split()[-1] == "account"  # unchanged: no note


def test_list_providers_says_how_each_is_detected() -> None:
    lines = list_providers(project(**rich_settings()))
    by_name = {line.split()[0]: line for line in lines[1:]}
    assert set(by_name) == set(BUILTIN_PROFILES) | {"acme"}
    assert "(user)" in by_name["acme"] and "(user)" in by_name["soax"]
    assert detection(BUILTIN_PROFILES["squid"]) == "header X-Squid-Error"
    assert detection(BUILTIN_PROFILES["netnut"]).startswith("only when named")
    assert code_source(BUILTIN_PROFILES["proxiesfo"]) == "plaintext body"
    assert code_source(BUILTIN_PROFILES["chocodata"]) == "JSON error"


def test_check_without_the_plugin_warns() -> None:
    lines, warnings = check(project(ADDONS={}))
    assert "add-on       not in ADDONS" in "\n".join(lines)
    assert any("ProxyErrorsMiddleware is not enabled" in w for w in warnings)


def test_check_warns_when_retry_middleware_stays() -> None:
    middlewares = {"scrapy_proxyerrors.ProxyErrorsMiddleware": 550}
    lines, warnings = check(project(DOWNLOADER_MIDDLEWARES=middlewares))
    assert "ProxyErrorsMiddleware enabled" in "\n".join(lines)
    assert any("RetryMiddleware is enabled too" in w for w in warnings)


def test_check_all_prints_every_rule() -> None:
    lines, _ = check(project(ADDONS={"scrapy_proxyerrors.Addon": 0}), show_all=True)
    providers = {line.split()[0] for line in lines if line.startswith("  ") and line.split()}
    assert set(BUILTIN_PROFILES) <= providers


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"PROXYERRORS_PROVIDER": "nope"}, "PROXYERRORS_PROVIDER='nope'"),
        ({"PROXYERRORS_ACTIONS": {"soax/NOPE": "drop"}}, "PROXYERRORS_ACTIONS"),
        ({"PROXYERRORS_ACTIONS": {"soax/502": "explode"}}, "unknown action"),
        ({"PROXYERRORS_BACKOFF_BASE": 5, "PROXYERRORS_BACKOFF_MAX": 1}, "PROXYERRORS_BACKOFF_MAX"),
        ({"PROXYERRORS_PROVIDERS": {"x": {"kinds": "proxy"}}}, "PROXYERRORS_PROVIDERS"),
        ({"PROXYERRORS_PROVIDERS": "/nonexistent/providers.toml"}, "cannot read it"),
        ({"PROXYERRORS_STATE": "no.such.State"}, "PROXYERRORS_STATE"),
        ({"PROXYERRORS_PROXIES": ["http://u:hunter2secret@host"]}, "needs a port"),
    ],
)
def test_every_bad_setting_is_a_command_error(settings: dict[str, Any], named: str) -> None:
    with pytest.raises(CommandError, match=r"^Invalid settings: ") as info:
        project(**settings)
    assert named in str(info.value)
    assert "hunter2secret" not in str(info.value)


def test_command_exit_code_and_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    command = run_command({"PROXYERRORS_MAX_WAIT": -1}, "check")
    captured = capsys.readouterr()
    assert command.exitcode == 1
    assert captured.out == ""
    assert captured.err.startswith(
        "scrapy proxyerrors check: Invalid settings: PROXYERRORS_MAX_WAIT"
    )


@pytest.mark.parametrize(
    "args",
    [(), ("frob",), ("explain", "soax"), ("check", "extra"), ("list", "--nope")],
)
def test_command_usage_errors(args: tuple[str, ...]) -> None:
    with pytest.raises(UsageError):
        run_command({}, *args)


def test_command_is_registered_as_an_entry_point() -> None:
    from importlib.metadata import entry_points

    (found,) = [e for e in entry_points(group="scrapy.commands") if e.name == "proxyerrors"]
    assert found.load() is ProxyErrorsCommand
