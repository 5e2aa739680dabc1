"""``scrapy proxyerrors``: list the rules, explain one code, check the settings.

Registered through the ``scrapy.commands`` entry point, so it is there in
every project (and outside one) once the package is installed::

    scrapy proxyerrors list [PROVIDER ...]     one line per rule
    scrapy proxyerrors list --providers        one line per provider
    scrapy proxyerrors explain soax NODE_NOT_FOUND
    scrapy proxyerrors explain soax 502
    scrapy proxyerrors check [--all]

Every subcommand reads the current project's settings (``-s NAME=VALUE``
included) the way the middleware does, through
:meth:`~scrapy_proxyerrors._config.Config.from_settings`: user profiles from
``PROXYERRORS_PROVIDERS`` are listed and explained like built-in ones, and
``PROXYERRORS_ACTIONS`` overrides are shown where they apply. Bad settings,
an unknown provider or an unknown code print one message on stderr and exit
with status 1. Nothing here sends a request or starts a reactor.
"""

from __future__ import annotations

import difflib
import math
import os
import sys
import textwrap
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from scrapy.commands import ScrapyCommand
from scrapy.exceptions import NotConfigured, UsageError
from scrapy.settings import SETTINGS_PRIORITIES
from scrapy.utils.conf import build_component_list
from scrapy.utils.misc import load_object

from ._classifier import describe
from ._compat import component_dict_with_base
from ._config import Config, _bool
from ._policy import escalation, find_override
from ._redact import redact_text, redact_url
from ._routes import hostport
from ._vocabulary import Action, Scope
from .exceptions import BadSettingError
from .profiles import BUILTIN_PROFILES

if TYPE_CHECKING:
    import argparse
    from collections.abc import Iterable, Mapping, Sequence

    from scrapy.settings import BaseSettings

    from ._profile import Profile, Rule

#: Where text is wrapped; tables are not (one line per rule stays greppable).
WIDTH = 88

_SCOPES = {
    Scope.REQUEST: "only this request",
    Scope.ROUTE: "this proxy, session or IP",
    Scope.ACCOUNT: "every route of this provider account",
    Scope.SITE: "one target site through this provider account",
    Scope.CRAWL: "the whole crawl",
}
_PRIORITY_NAMES = {value: name for name, value in SETTINGS_PRIORITIES.items()}

#: Where a rule of the effective profiles comes from (see Project.rule_origin).
Origin = Literal["builtin", "inherited", "replaces", "own"]


class CommandError(Exception):
    """A message for the user; the command prints it and exits with status 1."""


# ----------------------------------------------------------------- the project


class Project:
    """The project's settings, validated once, and what they change."""

    def __init__(self, settings: BaseSettings) -> None:
        self.settings = settings
        try:
            self.config = Config.from_settings(settings)
        except NotConfigured as exc:
            raise CommandError(f"Invalid settings: {exc}") from None
        #: Raw specs of the user-defined profiles (for ``extends``).
        self.user_specs = _user_specs(settings.get("PROXYERRORS_PROVIDERS"))

    @property
    def profiles(self) -> Mapping[str, Profile]:
        return self.config.profiles

    def is_user(self, name: str) -> bool:
        return name in self.user_specs

    def base_of(self, name: str) -> Profile | None:
        """The built-in a user profile extends (or replaces, under the same name)."""
        spec = self.user_specs.get(name)
        if spec is None:
            return None
        extends = spec.get("extends")
        if isinstance(extends, str) and extends in BUILTIN_PROFILES:
            return BUILTIN_PROFILES[extends]
        return None

    def profile(self, name: str) -> Profile:
        profile = self.profiles.get(name)
        if profile is None:
            raise CommandError(
                f"Unknown provider {name!r}.{_did_you_mean(name, self.profiles)} "
                f"Known providers: {', '.join(sorted(self.profiles))}."
            )
        return profile

    def override(
        self, provider: str, rule: Rule, code: str | None = None
    ) -> tuple[str, Action] | None:
        """The ``PROXYERRORS_ACTIONS`` entry that applies, looked up as the policy does:
        ``provider/code`` first, then ``provider/status``.

        *code* is the code a reply carries (a member of a ``prefix*`` family,
        or the status as text for a status-only rule); default: the rule's own.
        """
        if code is None and rule.code is not None and not rule.is_family:
            code = rule.code
        return find_override(provider, code, rule.status, self.config.actions)

    def family_overrides(self, provider: str, rule: Rule) -> list[str]:
        """``PROXYERRORS_ACTIONS`` keys naming members of a ``prefix*`` family rule."""
        if not rule.is_family or rule.code is None:
            return []
        prefix = f"{provider}/{rule.code[:-1].lower()}"
        return sorted(
            f"{key} -> {action}"
            for key, action in self.config.actions.items()
            if key.startswith(prefix)
        )

    def rule_origin(self, provider: str, rule: Rule) -> tuple[Origin, Rule | None]:
        """Where *rule* of profile *provider* comes from, and the built-in rule it
        replaces (``replaces`` only): ``builtin`` (a built-in profile),
        ``inherited`` (a user profile's ``extends``, unchanged), ``replaces``
        (the user's rule for the same status and code) or ``own``."""
        if not self.is_user(provider):
            return "builtin", None
        base = self.base_of(provider)
        if base is None:
            return "own", None
        if rule in base.rules:
            return "inherited", None
        for old in base.rules:
            if (old.status, old.code, old.body) == (rule.status, rule.code, rule.body):
                return "replaces", old
        return "own", None

    def origin(self, provider: str, rule: Rule) -> str:
        """The ``list`` note for a rule that is not simply a built-in one."""
        kind, old = self.rule_origin(provider, rule)
        if kind in ("builtin", "inherited"):
            return ""
        if old is not None:
            return f"PROXYERRORS_PROVIDERS (built-in: {old.action}, {old.scope})"
        return "PROXYERRORS_PROVIDERS"

    def note(self, provider: str, rule: Rule) -> str:
        """The last column of ``list``: what this project changed about the rule."""
        notes = []
        origin = self.origin(provider, rule)
        if origin:
            notes.append(origin)
        found = self.override(provider, rule)
        if found is not None and found[1] != rule.action:
            notes.append(f"PROXYERRORS_ACTIONS {found[0]} (was {rule.action})")
        notes.extend(f"PROXYERRORS_ACTIONS {o}" for o in self.family_overrides(provider, rule))
        return "; ".join(notes)

    def effective_action(self, provider: str, rule: Rule) -> Action:
        found = self.override(provider, rule)
        return found[1] if found is not None else rule.action

    def retries_setting(self) -> str:
        """The setting the retry budget comes from."""
        if self.settings.get("PROXYERRORS_MAX_RETRIES") is not None:
            return "PROXYERRORS_MAX_RETRIES"
        return "RETRY_TIMES"

    def where(self, name: str) -> str:
        """Where a setting's value came from: ``default``, ``project``, ``cmdline``..."""
        priority = self.settings.getpriority(name)
        if priority is None:
            return "default"
        return _PRIORITY_NAMES.get(priority, str(priority))


def _user_specs(raw: object) -> dict[str, Mapping[str, Any]]:
    """The user's profile dicts by name (already validated by Config)."""
    if not raw:
        return {}
    # The same reader the loader uses: a dict, inline JSON, a JSON or TOML file.
    from ._userprofiles import _read_value

    return {str(name): spec for name, spec in _read_value(raw).items() if isinstance(spec, dict)}


def _did_you_mean(word: str, choices: Iterable[str]) -> str:
    by_fold = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(by_fold), n=3, cutoff=0.6)
    if not close:
        return ""
    return f" Did you mean {' or '.join(by_fold[c] for c in close)}?"


# -------------------------------------------------------------- text helpers


def _table(rows: Sequence[Sequence[str]], indent: str = "") -> list[str]:
    """Columns padded to their widest cell; trailing blanks trimmed."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        (
            indent + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        ).rstrip()
        for row in rows
    ]


def _field(label: str, text: str, indent: str = "  ", width: int = 10) -> list[str]:
    """``label    text`` with the text wrapped under itself."""
    head = f"{indent}{label.ljust(width)}"
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent=head,
        subsequent_indent=" " * len(head),
        break_on_hyphens=False,
        break_long_words=False,
    ) or [head.rstrip()]


def _seconds(value: float) -> str:
    if math.isinf(value):
        return "inf"
    return f"{value:g} s"


def _status(rule: Rule) -> str:
    return str(rule.status) if rule.status is not None else "any"


def _code(rule: Rule) -> str:
    if rule.code is not None:
        return rule.code
    if rule.body is not None:
        return f'body~"{rule.body}"'
    return "-"


def detection(profile: Profile) -> str:
    """How replies are attributed to *profile*, besides naming it explicitly."""
    if profile.name == "generic":
        return "fallback for every reply no other profile claims"
    ways = []
    if profile.proxy_hosts:
        ways.append("proxy host " + ", ".join(profile.proxy_hosts))
    if profile.api_hosts:
        ways.append("API host " + ", ".join(profile.api_hosts))
    if profile.signature_headers:
        ways.append("header " + ", ".join(profile.signature_headers))
    return "; ".join(ways) or "only when named (PROXYERRORS_PROVIDER or meta)"


def code_source(profile: Profile) -> str:
    """Where *profile* reads the provider's code from."""
    places = []
    if profile.code_headers:
        where = "header " + ", ".join(profile.code_headers)
        if profile.code_regex:
            where += f" (regex {profile.code_regex})"
        places.append(where)
    if profile.json_code:
        places.append("JSON " + ", ".join(".".join(p) for p in profile.json_code))
    if profile.plaintext_body and any(r.body is not None for r in profile.rules):
        places.append("plaintext body")
    if profile.proxy_status:
        places.append(
            "Proxy-Status details code, else error"
            if profile.proxy_status_details
            else "Proxy-Status error"
        )
    if profile.problem_json:
        places.append(f"problem+json {profile.problem_code}")
    return "; ".join(places) or "status only"


# ---------------------------------------------------------------------- list


def list_rules(project: Project, names: Sequence[str] = ()) -> list[str]:
    """One line per rule: provider, status, code, category, action, scope, note."""
    selected = [project.profile(n) for n in names] if names else list(project.profiles.values())
    rows = [("provider", "status", "code", "category", "action", "scope", "changed by")]
    for profile in selected:
        for rule in profile.rules:
            rows.append(
                (
                    profile.name,
                    _status(rule),
                    _code(rule),
                    str(rule.category),
                    str(project.effective_action(profile.name, rule)),
                    str(rule.scope),
                    project.note(profile.name, rule),
                )
            )
    lines = _table(rows)
    lines.append("")
    lines.append(
        "status any: the code under any status; code -: the status alone "
        "(a reply without a known code); code body~: text in a plaintext body."
    )
    return lines


_TRANSPORTS = {"proxy": "plain+connect", "api": "api", "any": "plain+connect+api"}


def signal_places(profile: Profile) -> str:
    """Where *profile*'s error signal lives: header, body, status, status_headers, hint."""
    places = []
    if profile.code_headers or profile.proxy_status or profile.detail_headers:
        places.append("header")
    if profile.json_code or profile.problem_json or profile.json_message or (
        profile.plaintext_body
    ):
        places.append("body")
    if any(r.code is None and r.body is None and r.status is not None for r in profile.rules):
        places.append("status")
    if profile.status_headers:
        places.append("status_headers " + ", ".join(profile.status_headers) + " on a 2xx")
    hints = [h.header or ".".join(h.json_path) for h in profile.hints]
    if hints:
        places.append("retry hint " + ", ".join(hints))
    if profile.wait_headers:
        places.append("wait " + ", ".join(name for name, _ in profile.wait_headers))
    return "; ".join(places) or "status"


def fact_sources(profile: Profile) -> str:
    """Where *profile*'s facts come from (its ``sources``, else its docs page)."""
    if profile.sources:
        return ", ".join(profile.sources)
    return profile.docs_url or "-"


def list_providers(project: Project) -> list[str]:
    """One line per provider: kind, detection, where its signal lives, its facts' source."""
    rows = [
        (
            "provider",
            "kind",
            "transport",
            "rules",
            "detected by",
            "code from",
            "signal in",
            "facts from",
        )
    ]
    for profile in project.profiles.values():
        name = profile.name + (" (user)" if project.is_user(profile.name) else "")
        rows.append(
            (
                name,
                profile.kind,
                _TRANSPORTS.get(profile.kind, profile.kind),
                str(len(profile.rules)),
                detection(profile),
                code_source(profile),
                signal_places(profile),
                fact_sources(profile),
            )
        )
    return _table(rows)


# ------------------------------------------------------------------- explain


def _lookup(project: Project, provider: str, code: str) -> tuple[Profile, Rule]:
    """The rule for ``provider/code`` as classification finds it, and the
    profile (the provider's own, or a fallback) that holds it."""
    profile = project.profile(provider)
    current: Profile | None = profile
    seen: set[str] = set()
    while current is not None and current.name not in seen:
        seen.add(current.name)
        rule = describe(current.name, code, {current.name: current})
        if rule is not None:
            return current, rule
        if not code.isdigit():
            # A code is the provider's own: fallbacks only know statuses.
            break
        current = project.profiles.get(current.fallback) if current.fallback else None
    codes = sorted({r.code for r in profile.rules if r.code})
    hint = _did_you_mean(code, codes)
    if code.isdigit():
        raise CommandError(
            f"{provider} has no rule for status {code}, nor has its fallback: such a reply "
            "is not a provider error and goes on to Scrapy (RETRY_HTTP_CODES applies)."
        )
    raise CommandError(
        f"{provider} has no code {code!r}.{hint} An unknown code gets the rule of its "
        f"status (try: scrapy proxyerrors explain {provider} STATUS); "
        f"'scrapy proxyerrors list {provider}' lists the codes."
    )


def _action_text(project: Project, action: Action, rule: Rule, profile: Profile) -> str:
    config = project.config
    budget = (
        f"at most {config.max_retries} retries per request ({project.retries_setting()}; "
        "meta max_retry_times wins), then the reply goes on to the spider"
    )
    waited = (
        f"the provider's wait (at least {_seconds(rule.wait)}, documented)"
        if rule.wait is not None
        else "the provider's Retry-After, if it sends one"
    )
    backoff = (
        f"a backoff of {_seconds(config.backoff_base)} doubling up to "
        f"{_seconds(config.backoff_max)} (PROXYERRORS_BACKOFF_BASE, PROXYERRORS_BACKOFF_MAX)"
    )
    if action is Action.RETRY:
        return f"retry: the same route again after {waited}, else {backoff}; {budget}."
    if action is Action.ROTATE:
        if rule.cooldown is not None and math.isinf(rule.cooldown):
            rest = "is retired for the rest of the crawl"
        elif rule.cooldown is not None:
            rest = f"rests {_seconds(rule.cooldown)}, doubling on each failure in a row"
        else:
            rest = (
                f"rests {_seconds(config.route_cooldown)} (PROXYERRORS_ROUTE_COOLDOWN), "
                "doubling on each failure in a row"
            )
        session = (
            f"or a fresh sticky session (username token {profile.session_param!r})"
            if profile.session_param
            else "or, without a pool, the same route"
        )
        return (
            f"rotate: retried on another proxy of PROXYERRORS_PROXIES {session}; "
            f"the failed route {rest}; {budget}."
        )
    if action is Action.SLOWDOWN:
        what = {Scope.ACCOUNT: "the provider account", Scope.CRAWL: "the provider account",
                Scope.SITE: "this target site through the account"}.get(rule.scope, "the route")
        return (
            f"slowdown: {what} pauses for {waited} or X-RateLimit-Reset, else {backoff}; "
            f"other routes keep flowing; {budget}."
        )
    if action is Action.DROP:
        return (
            "drop: no retry; the request's errback gets ProviderErrorDropped "
            "(provider, code, meaning, request id); counted in proxyerrors/dropped."
        )
    if action is Action.STOP:
        return (
            f"stop: the crawl closes with finish_reason proxyerrors_{rule.category}; "
            "pending requests are kept for a JOBDIR resume."
        )
    warn = " (logged once as a warning)" if rule.category == "warning" else ""
    return f"pass: the reply goes on to the spider untouched{warn}."


def _max_wait_text(project: Project, action: Action, rule: Rule) -> str:
    max_wait = project.config.max_wait
    if action not in (Action.RETRY, Action.ROTATE, Action.SLOWDOWN):
        return f"does not apply ({action} never waits)."
    escalated = escalation(rule.scope)
    if math.isinf(max_wait):
        return "inf (PROXYERRORS_MAX_WAIT): every wait the provider asks for is honoured."
    if rule.wait is not None and rule.wait > max_wait:
        return (
            f"the documented wait ({_seconds(rule.wait)}) is longer than PROXYERRORS_MAX_WAIT "
            f"({_seconds(max_wait)}): this code always turns into {escalated}."
        )
    return (
        f"a wait longer than {_seconds(max_wait)} (PROXYERRORS_MAX_WAIT, "
        f"{project.where('PROXYERRORS_MAX_WAIT')}) turns it into {escalated}."
    )


def explain(project: Project, provider: str, code: str) -> list[str]:
    """What ``provider/code`` means, what the plugin does about it, what this project changes."""
    owner, rule = _lookup(project, provider, code)
    profile = project.profile(provider)
    shown = rule.code if rule.code and not rule.is_family else code
    status = f"HTTP {rule.status}" if rule.status is not None else "any status"
    lines = [f"{provider} {shown} ({status}): {profile.title}"]
    if owner.name != profile.name:
        lines.append(f"  (a status rule of {owner.name}, {profile.name}'s fallback)")
    lines += _field("meaning", rule.meaning)
    lines += _field("category", str(rule.category))
    lines += _field("action", str(rule.action))
    lines += _field("scope", f"{rule.scope} ({_SCOPES[rule.scope]})")
    lines += _field("fix", rule.fix)
    lines += _field("docs", rule.docs or owner.docs_url or "-")
    if rule.wait is not None:
        lines += _field("wait", f"at least {_seconds(rule.wait)} before a retry (documented)")
    if rule.status is not None and rule.code is None:
        siblings = [
            f"{r.code} ({project.effective_action(provider, r)})"
            for r in profile.rules
            if r.status == rule.status and r.code is not None
        ]
        if siblings:
            lines += _field("codes", f"with {rule.status}: " + ", ".join(siblings))

    # The code a reply would carry: the one asked about (a family member, or
    # the status as text), which is what PROXYERRORS_ACTIONS is looked up by.
    found = project.override(provider, rule, code)
    action = found[1] if found is not None else rule.action
    lines += ["", "In this project"]
    if found is not None and found[1] != rule.action:
        lines += _field(
            "override",
            f'PROXYERRORS_ACTIONS["{found[0]}"] = "{found[1].value}" (was {rule.action})',
        )
    else:
        other = "retry" if rule.action is Action.DROP else "drop"
        lines += _field(
            "override",
            f'none (e.g. PROXYERRORS_ACTIONS = {{"{provider}/{shown}": "{other}"}} '
            "would change it)",
        )
    lines += _field("does", _action_text(project, action, rule, profile))
    lines += _field("max wait", _max_wait_text(project, action, rule))
    lines += _field("profile", _profile_origin(project, provider, owner, rule))
    if project.config.provider and project.config.provider != provider:
        lines += _field(
            "note",
            f"PROXYERRORS_PROVIDER is {project.config.provider!r}: replies of proxied and API "
            f"requests are read with that profile, not {provider!r}.",
        )
    if not project.settings.getbool("PROXYERRORS_ENABLED", True):
        lines += _field("note", "PROXYERRORS_ENABLED is False: nothing is acted on.")
    return lines


def _profile_origin(project: Project, provider: str, owner: Profile, rule: Rule) -> str:
    if owner.name != provider:
        return f"{owner.name}'s status rule: {provider} falls back to {owner.name}"
    if not project.is_user(provider):
        return f"built-in {provider} (PROXYERRORS_PROVIDERS does not change it)"
    base = project.base_of(provider)
    if base is None:
        replaced = ", replacing the built-in" if provider in BUILTIN_PROFILES else ""
        return f"defined in PROXYERRORS_PROVIDERS{replaced}"
    kind, old = project.rule_origin(provider, rule)
    head = f"PROXYERRORS_PROVIDERS, extends {base.name}: this rule is"
    if kind == "inherited":
        return f"{head} {base.name}'s, unchanged"
    if old is not None:
        return (
            f"{head} the project's, replacing {base.name}'s "
            f"(action {old.action}, scope {old.scope}, category {old.category})"
        )
    return f"{head} the project's own"


# --------------------------------------------------------------------- check


def _component_loaded(path: object, cls: type) -> bool:
    try:
        obj = load_object(path) if isinstance(path, str) else path
    except (ImportError, AttributeError, NameError, ValueError):
        return False
    return isinstance(obj, type) and issubclass(obj, cls)


def enablement(settings: BaseSettings) -> tuple[list[str], list[str]]:
    """(what is enabled, warnings): the add-on applied to a copy of the settings,
    then the components a crawl would build."""
    from .addon import Addon
    from .handler import ProxyErrorsHTTPSDownloadHandler
    from .middleware import ProxyErrorsMiddleware
    from .report import ProxyErrorsReport

    effective = settings.copy()
    lines: list[str] = []
    warnings: list[str] = []
    enabled = settings.getbool("PROXYERRORS_ENABLED", True)
    addons = build_component_list(settings.getdict("ADDONS"))
    ours_in_addons = any(_component_loaded(p, Addon) for p in addons)
    # What Scrapy does when it builds a crawler: every add-on, in ADDONS order,
    # updates the settings (another one may replace what ours set).
    for path in addons:
        _apply_addon(path, effective, warnings)
    if ours_in_addons:
        lines.append("add-on       scrapy_proxyerrors.Addon in ADDONS")
    else:
        lines.append("add-on       not in ADDONS")
    if not enabled:
        lines.append("plugin       disabled (PROXYERRORS_ENABLED = False): stock Scrapy behaviour")
        warnings.append(
            "PROXYERRORS_ENABLED is False: the plugin is disabled and the crawl behaves as "
            "stock Scrapy; no provider error is classified."
        )
        return lines, warnings

    # Keys may be classes or import paths: this resolves both to one entry,
    # as the crawler does (the _compat shim picks the merge this Scrapy uses).
    middlewares = build_component_list(
        component_dict_with_base(effective, "DOWNLOADER_MIDDLEWARES")
    )
    ours = [p for p in middlewares if _component_loaded(p, ProxyErrorsMiddleware)]
    if ours:
        lines.append("middleware   ProxyErrorsMiddleware enabled")
    else:
        warnings.append(
            "ProxyErrorsMiddleware is not enabled: nothing will be classified. "
            'Add ADDONS = {"scrapy_proxyerrors.Addon": 0}.'
        )
    from scrapy.downloadermiddlewares.retry import RetryMiddleware

    # ProxyErrorsMiddleware subclasses RetryMiddleware: only another one counts.
    if ours and any(
        _component_loaded(p, RetryMiddleware) and not _component_loaded(p, ProxyErrorsMiddleware)
        for p in middlewares
    ):
        warnings.append(
            "RetryMiddleware is enabled too: two retry budgets, and it retries provider "
            "errors the plugin meant to drop or stop. Set it to None in DOWNLOADER_MIDDLEWARES."
        )
    https = effective.getwithbase("DOWNLOAD_HANDLERS").get("https")
    if https is not None and _component_loaded(https, ProxyErrorsHTTPSDownloadHandler):
        lines.append("https        ProxyErrorsHTTPSDownloadHandler keeps CONNECT replies")
    else:
        lines.append(f"https        {https}: a refused CONNECT keeps only its status")
        if ours_in_addons:
            where = effective.getpriority("DOWNLOAD_HANDLERS")
            warnings.append(
                f"DOWNLOAD_HANDLERS['https'] is {https!r} (set at priority "
                f"{_PRIORITY_NAMES.get(where or 0, where)}), not the plugin's "
                "ProxyErrorsHTTPSDownloadHandler: another component replaced it, so a "
                "refused CONNECT keeps only its status (no provider code, no headers)."
            )
    extensions = build_component_list(component_dict_with_base(effective, "EXTENSIONS"))
    report = any(_component_loaded(p, ProxyErrorsReport) for p in extensions)
    lines.append("report       " + ("end-of-crawl report on" if report else "no report"))
    return lines, warnings


def _apply_addon(path: object, settings: BaseSettings, warnings: list[str]) -> None:
    """Let one add-on update *settings*, as the crawler would (no crawler here:
    an add-on that needs one is left out, with a warning)."""
    try:
        addon: Any = load_object(path) if isinstance(path, str) else path
        instance = addon() if isinstance(addon, type) else addon
        instance.update_settings(settings)
    except Exception as exc:  # someone else's add-on: report it, go on
        warnings.append(
            f"add-on {path!r} could not be applied here ({exc.__class__.__name__}): "
            "the check does not show what it changes."
        )


def _in_play(project: Project) -> list[str]:
    """Providers this project names or configures (their rules are the ones that matter)."""
    config = project.config
    names: list[str] = []
    if config.provider:
        names.append(config.provider)
    for proxy in config.proxies:
        host = hostport(proxy).rpartition(":")[0]
        names += [p.name for p in config.profiles.values() if p.matches_proxy_host(host)]
    names += list(project.user_specs)
    names += [key.partition("/")[0] for key in config.actions]
    return list(dict.fromkeys(names))


def check(project: Project, show_all: bool = False) -> tuple[list[str], list[str]]:
    """(report lines, warnings) for the project's effective configuration."""
    config, settings = project.config, project.settings
    bot = settings.get("BOT_NAME") or "?"
    lines = [f"scrapy-proxyerrors configuration of project {bot!r}", ""]
    enabled, warnings = enablement(settings)
    lines.append("Components")
    lines += ["  " + line for line in enabled]

    def setting(name: str, shown: str) -> list[str]:
        where = project.where(name)
        return _field(name, f"{shown}  [{where}]" if where != "default" else shown, width=29)

    lines += ["", "Settings"]
    lines += setting(
        "PROXYERRORS_PROVIDER",
        config.provider
        or "not set: detected per reply (proxy host, API host, signature header, else generic)",
    )
    if config.proxies:
        lines += setting(
            "PROXYERRORS_PROXIES",
            f"{len(config.proxies)} (credentials hidden): "
            + ", ".join(redact_url(p) for p in config.proxies),
        )
    else:
        lines += setting("PROXYERRORS_PROXIES", "none: requests use their own meta['proxy']")
    user = ", ".join(f"{name} ({_user_summary(project, name)})" for name in project.user_specs)
    lines += setting("PROXYERRORS_PROVIDERS", user or "none")
    overrides = ", ".join(f"{key} -> {action}" for key, action in config.actions.items())
    lines += setting("PROXYERRORS_ACTIONS", overrides or "none")
    lines += _field(
        "PROXYERRORS_MAX_RETRIES",
        f"{config.max_retries} (from {project.retries_setting()})",
        width=29,
    )
    for name, value in (
        ("PROXYERRORS_BACKOFF_BASE", _seconds(config.backoff_base)),
        ("PROXYERRORS_BACKOFF_MAX", _seconds(config.backoff_max)),
        ("PROXYERRORS_MAX_WAIT", _seconds(config.max_wait)),
        ("PROXYERRORS_ROUTE_COOLDOWN", _seconds(config.route_cooldown)),
        ("PROXYERRORS_SLOT_PER_ROUTE", str(config.slot_per_route)),
        ("PROXYERRORS_STATE", f"{config.state_cls.__module__}.{config.state_cls.__qualname__}"),
        ("PROXYERRORS_REPORT_FILE", config.report_file or "none"),
    ):
        lines += setting(name, value)
    lines += _field(
        "RETRY_HTTP_CODES",
        ", ".join(str(c) for c in sorted(config.retry_http_codes))
        + " (plain retries of non-provider replies)",
        width=29,
    )

    lines += ["", "Effective rules"]
    names = list(project.profiles) if show_all else _in_play(project)
    if names:
        lines += ["  " + line for line in list_rules(project, names)[:-2]]
        if not show_all:
            lines.append(
                f"  ({len(names)} of {len(project.profiles)} profiles: the ones this project "
                "names or configures; --all prints every rule)"
            )
    else:
        lines += _field(
            "",
            f"No provider is named or configured: each reply is matched against all "
            f"{len(project.profiles)} profiles by proxy host, API host and signature header, "
            f"with their built-in rules. 'scrapy proxyerrors list' (or check --all) prints "
            f"every rule.",
            width=0,
        )
    return lines, warnings


def _checked(settings: BaseSettings, show_all: bool) -> tuple[list[str], list[str]]:
    """:func:`check`, with every problem turned into a message (never a traceback)."""
    try:
        _bool(settings, "PROXYERRORS_ENABLED")
        return check(Project(settings), show_all)
    except CommandError:
        raise
    except (NotConfigured, BadSettingError) as exc:
        raise CommandError(f"Invalid settings: {redact_text(str(exc))}") from None
    except Exception as exc:  # a setting no validator foresaw: still a message
        raise CommandError(
            f"Invalid settings ({exc.__class__.__name__}): {redact_text(str(exc))}"
        ) from None


def _user_summary(project: Project, name: str) -> str:
    profile = project.profiles[name]
    base = project.base_of(name)
    how = f"extends {base.name}" if base is not None else "new"
    return f"{how}, {len(profile.rules)} rules, detected by {detection(profile)}"


# ------------------------------------------------------------------- command


class ProxyErrorsCommand(ScrapyCommand):
    """``scrapy proxyerrors list | explain PROVIDER CODE | check``."""

    # Rules can be listed and explained anywhere; inside a project the
    # project's settings apply.
    requires_project = False
    # No crawl: no crawler process, no reactor.
    requires_crawler_process = False
    default_settings: ClassVar[dict[str, Any]] = {"LOG_ENABLED": False}

    def syntax(self) -> str:
        return "list [PROVIDER ...] | explain PROVIDER CODE|STATUS | check [--all]"

    def short_desc(self) -> str:
        return "List, explain and check scrapy-proxyerrors rules and settings"

    def long_desc(self) -> str:
        return (
            "list: one line per provider rule (provider, status, code, category, action, "
            "scope), or per provider with --providers. explain: what a provider's code or "
            "status means, what the plugin does about it and what this project's settings "
            "change. check: validate the project's PROXYERRORS_* settings and print the "
            "effective configuration; exit status 1 on bad settings."
        )

    def add_options(self, parser: argparse.ArgumentParser) -> None:
        super().add_options(parser)
        parser.add_argument(
            "--providers",
            action="store_true",
            help="list: one line per provider (how it is detected, where its signal "
            "lives, where its facts come from)",
        )
        parser.add_argument(
            "--all",
            dest="all_rules",
            action="store_true",
            help="check: print the rules of every profile, not only those in play",
        )

    def run(self, args: list[str], opts: argparse.Namespace) -> None:
        assert self.settings is not None
        if not args:
            raise UsageError("name a subcommand: list, explain or check")
        sub, rest = args[0], args[1:]
        unknown = [a for a in rest if a.startswith("-")]
        if unknown:
            raise UsageError(f"unknown option {unknown[0]}")
        try:
            if sub == "list":
                project = Project(self.settings)
                out = list_providers(project) if opts.providers else list_rules(project, rest)
            elif sub == "explain":
                if len(rest) != 2:
                    raise UsageError("explain needs PROVIDER and CODE (or STATUS)")
                out = explain(Project(self.settings), rest[0], rest[1])
            elif sub == "check":
                if rest:
                    raise UsageError("check takes no arguments")
                out, warnings = _checked(self.settings, opts.all_rules)
                out += [""] + [f"WARNING: {w}" for w in warnings]
                out.append("OK: the settings are valid.")
            else:
                raise UsageError(f"unknown subcommand {sub!r}; one of list, explain, check")
        except CommandError as exc:
            print(f"scrapy proxyerrors {sub}: {exc}", file=sys.stderr)
            self.exitcode = 1
            return
        _write("\n".join(out) + "\n")


def _write(text: str) -> None:
    """Print, and keep quiet when the reader left (``scrapy proxyerrors list | head``)."""
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:
        # Python would complain again when flushing stdout at exit.
        devnull = open(os.devnull, "w")  # noqa: SIM115 - kept open until exit
        os.dup2(devnull.fileno(), sys.stdout.fileno())
