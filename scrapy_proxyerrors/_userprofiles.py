"""User-defined provider profiles, for the ``PROXYERRORS_PROVIDERS`` setting.

The setting holds ``{name: profile}`` as a dict, as a JSON object in a string,
or as the path of a JSON (``.json``) or TOML (``.toml``) file. A profile is a
dict of :class:`~scrapy_proxyerrors.Profile` fields plus ``rules`` (a list of
:class:`~scrapy_proxyerrors.Rule` dicts) and an optional ``extends`` naming a
built-in profile to start from. For example::

    PROXYERRORS_PROVIDERS = {
        "mysoax": {
            "extends": "soax",
            "proxy_hosts": ["gw.example.net"],
            "rules": [
                {"status": 502, "code": "NODE_NOT_FOUND",
                 "category": "node", "action": "rotate", "scope": "route"},
            ],
        },
        "inhouse": {
            "kind": "proxy",
            "code_headers": ["X-Pool-Error"],
            "json_code": ["error.code"],
            "rules": [{"status": 429, "code": None, "category": "rate_limit",
                       "action": "slowdown", "scope": "route"}],
        },
    }

A user profile named like a built-in replaces it (with ``extends`` naming
the same built-in, it amends it). ``fallback`` may name a built-in or another
user profile. TOML needs Python 3.11+ (``tomllib``) or the ``tomli`` package;
JSON needs nothing.

Everything is checked once, when the setting is read: a typo must stop the
crawl before the first request rather than quietly never match. Every error
is a :class:`~scrapy.exceptions.NotConfigured` naming the setting, the
provider, the field and the bad value.
"""

from __future__ import annotations

import dataclasses
import importlib
import json
import math
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, cast

from scrapy.exceptions import NotConfigured

from ._profile import Hint, JsonPath, Profile, Rule
from ._redact import redact_text
from ._vocabulary import Action, Category, Scope

SETTING = "PROXYERRORS_PROVIDERS"

_TUPLE_FIELDS = (
    "code_headers",
    "detail_headers",
    "request_id_headers",
    "proxy_hosts",
    "api_hosts",
    "signature_headers",
    "status_headers",
    "sources",
)
_PATH_FIELDS = ("json_code", "json_message", "json_request_id", "json_wait")
_BOOL_FIELDS = (
    "plaintext_body",
    "rate_limit_headers",
    "proxy_status",
    "proxy_status_details",
    "problem_json",
    "tagged",
)
_TEXT_FIELDS = ("title", "docs_url", "problem_code")
#: Fields with a parser of their own (_wait_headers, _hints and _rate).
_STRUCTURED_FIELDS = ("wait_headers", "hints", "rate_limit_rps")
_OPTIONAL_TEXT_FIELDS = ("session_param", "code_regex", "fallback")
_PROFILE_KEYS = frozenset(
    (
        "extends",
        "kind",
        "rules",
        *_TUPLE_FIELDS,
        *_PATH_FIELDS,
        *_BOOL_FIELDS,
        *_TEXT_FIELDS,
        *_OPTIONAL_TEXT_FIELDS,
        *_STRUCTURED_FIELDS,
    )
)
_HINT_KEYS = frozenset({"header", "json_path", "inside_2xx", "values"})
#: A hint's rule applies to whatever code carries the hint: it matches nothing itself.
_HINT_RULE_KEYS = frozenset(
    {"category", "action", "scope", "meaning", "fix", "docs", "wait", "cooldown"}
)
_RULE_KEYS = frozenset(
    {"status", "code", "category", "action", "scope", "meaning", "fix", "docs"}
    | {"wait", "cooldown", "body"}
)
_KINDS = ("proxy", "api", "any")
# Names end up in stats keys and retry reasons (``name/code``).
_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
# Header names are HTTP tokens.
_HEADER_RE = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


class _Bad(Exception):
    """A bad field, raised deep inside and turned into NotConfigured at the top."""

    def __init__(self, field: str, value: object, why: str) -> None:
        super().__init__(field, value, why)
        self.field = field
        self.value = value
        self.why = why


def _show(value: object) -> str:
    # Masked before it is cut: a cut URL loses the "@" that marks its password.
    text = redact_text(repr(value))
    return text if len(text) <= 120 else text[:117] + "..."


def _error(provider: str | None, field: str, value: object, why: str) -> NotConfigured:
    where = f"provider {provider!r}: " if provider is not None else ""
    return NotConfigured(redact_text(f"{SETTING}: {where}{field}={_show(value)}: {why}"))


def load_user_profiles(value: object, builtins: Mapping[str, Profile]) -> dict[str, Profile]:
    """Validate *value* and build one :class:`Profile` per user-defined provider.

    *value* is ``{name: profile-dict}``, a JSON object as a string, or a path
    (``str`` or :class:`os.PathLike`) to a ``.json`` or ``.toml`` file holding
    that object. *builtins* are the profiles ``extends`` and ``fallback`` may
    name (user profiles may also be a ``fallback``). An empty value gives
    ``{}``. Raises :class:`~scrapy.exceptions.NotConfigured` on anything wrong.
    """
    if value is None or (isinstance(value, (Mapping, str)) and not value):
        return {}
    raw = _read_value(value)
    names = set(builtins) | {k for k in raw if isinstance(k, str)}
    profiles: dict[str, Profile] = {}
    for name, spec in raw.items():
        if not isinstance(name, str) or not _NAME_RE.fullmatch(name):
            raise _error(None, "name", name, "expected letters, digits, '_', '.' or '-'")
        try:
            profiles[name] = _build(name, spec, builtins, names)
        except _Bad as bad:
            raise _error(name, bad.field, bad.value, bad.why) from None
    _check_fallback_cycles(profiles, builtins)
    return profiles


def _check_fallback_cycles(
    profiles: Mapping[str, Profile], builtins: Mapping[str, Profile]
) -> None:
    """Reject fallback chains that come back to where they started.

    The classifier stops at a profile it has seen, but the report, ``explain``
    and anyone walking the chain would not: a cycle is a mistake, said at load.
    """
    every = {**builtins, **profiles}
    for start in profiles:
        chain = [start]
        current = every[start].fallback
        while current is not None and current in every:
            if current in chain:
                loop = " -> ".join([*chain[chain.index(current):], current])
                raise _error(start, "fallback", every[start].fallback,
                             f"fallback cycle ({loop}); end one chain with null or 'generic'")
            chain.append(current)
            current = every[current].fallback


# ---------------------------------------------------------------- reading


def _read_value(value: object) -> Mapping[Any, Any]:
    """The ``{name: profile}`` mapping, from a dict, a JSON string or a file."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        # Inline JSON, as ``scrapy crawl -s PROXYERRORS_PROVIDERS='{...}'`` gives it.
        data = _parse_json(value, "the value")
    elif isinstance(value, (str, os.PathLike)):
        path = Path(value)
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, ValueError) as exc:  # ValueError: undecodable, or a NUL in the path
            raise _error(None, "file", str(path), f"cannot read it ({exc})") from None
        if path.suffix.lower() == ".toml":
            data = _parse_toml(text, path)
        else:
            data = _parse_json(text, str(path))
    else:
        raise _error(
            None, "value", value, "expected a dict, a JSON object, or a .json/.toml file path"
        )
    if not isinstance(data, Mapping):
        raise _error(None, "value", value, "expected an object mapping names to profiles")
    return data


def _parse_json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except (ValueError, RecursionError) as exc:  # RecursionError: nested too deep
        raise _error(None, "json", where, f"invalid JSON ({exc})") from None


def _toml_parser() -> Callable[[str], Any] | None:
    """``tomllib.loads`` (Python 3.11+) or ``tomli.loads``; ``None`` without either.

    Imported by name so that Python 3.10 without ``tomli`` still runs (JSON
    needs nothing extra) and type checking does not depend on the version.
    """
    for module_name in ("tomllib", "tomli"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        return cast("Callable[[str], Any]", module.loads)
    return None


def _parse_toml(text: str, path: Path) -> Any:
    loads = _toml_parser()
    if loads is None:
        raise _error(
            None, "file", str(path), "TOML needs Python 3.11+ or the 'tomli' package; or use JSON"
        )
    try:
        return loads(text)
    except (ValueError, RecursionError) as exc:  # tomllib.TOMLDecodeError is a ValueError
        raise _error(None, "toml", str(path), f"invalid TOML ({exc})") from None


# --------------------------------------------------------------- building


def _build(name: str, spec: object, builtins: Mapping[str, Profile], names: set[str]) -> Profile:
    if not isinstance(spec, Mapping):
        raise _Bad("profile", spec, "expected an object of profile fields")
    for key in spec:
        if key not in _PROFILE_KEYS:
            hint = " (the name is the key)" if key == "name" else ""
            raise _Bad(str(key), spec[key], f"unknown field{hint}; one of {_list(_PROFILE_KEYS)}")

    base: Profile | None = None
    if "extends" in spec:
        extends = spec["extends"]
        if not isinstance(extends, str) or extends not in builtins:
            raise _Bad("extends", extends, f"unknown built-in profile; one of {_list(builtins)}")
        base = builtins[extends]

    fields: dict[str, Any] = {}
    if "kind" in spec:
        kind = spec["kind"]
        if kind not in _KINDS:
            raise _Bad("kind", kind, f"expected one of {', '.join(_KINDS)}")
        fields["kind"] = kind
    for key in _TUPLE_FIELDS:
        if key in spec:
            fields[key] = _strings(key, spec[key], header="headers" in key)
            if key.endswith("_hosts"):
                _check_hosts(key, fields[key])
    for key in _PATH_FIELDS:
        if key in spec:
            fields[key] = _json_paths(key, spec[key])
    for key in _BOOL_FIELDS:
        if key in spec:
            if not isinstance(spec[key], bool):
                raise _Bad(key, spec[key], "expected true or false")
            fields[key] = spec[key]
    for key in _TEXT_FIELDS:
        if key in spec:
            if not isinstance(spec[key], str):
                raise _Bad(key, spec[key], "expected a string")
            fields[key] = spec[key]
    for key in _OPTIONAL_TEXT_FIELDS:
        if key in spec:
            value = spec[key]
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise _Bad(key, value, "expected a non-empty string or null")
            fields[key] = value
    _check_regex(fields.get("code_regex"))
    if "wait_headers" in spec:
        fields["wait_headers"] = _wait_headers(spec["wait_headers"])
    if "hints" in spec:
        fields["hints"] = _hints(spec["hints"])
    if "rate_limit_rps" in spec:
        fields["rate_limit_rps"] = _rate(spec["rate_limit_rps"])
    if fields.get("fallback") is not None:
        fallback = fields["fallback"]
        if fallback == name or fallback not in names:
            known = _list(n for n in names if n != name)
            raise _Bad("fallback", fallback, f"unknown profile; one of {known}")

    rules = _rules(spec.get("rules", []))
    plaintext = fields.get("plaintext_body", base.plaintext_body if base else False)
    for index, rule in enumerate(rules):
        if rule.body is not None and not plaintext:
            raise _Bad(f"rules[{index}].body", rule.body, "body rules need plaintext_body: true")

    try:
        if base is not None:
            # The user's rules come first: on the same (status, code) they
            # replace the built-in rule, and their families are tried first.
            replaced = {_rule_key(r) for r in rules}
            kept = tuple(r for r in base.rules if _rule_key(r) not in replaced)
            fields.setdefault("title", name if name != base.name else base.title)
            return dataclasses.replace(base, name=name, rules=rules + kept, **fields)
        fields.setdefault("title", name)
        fields.setdefault("kind", "any")
        return Profile(name=name, rules=rules, **fields)
    except (TypeError, ValueError, re.error) as exc:  # a last line of defence
        raise _Bad("profile", dict(spec), f"cannot build the profile ({exc})") from None


def _list(items: Any) -> str:
    return ", ".join(sorted(str(i) for i in items))


def _strings(key: str, value: object, *, header: bool) -> tuple[str, ...]:
    if not isinstance(value, (list, tuple)):
        raise _Bad(key, value, "expected a list of strings")
    out: list[str] = []
    for item in value:
        if not isinstance(item, str) or not item.strip():
            raise _Bad(key, value, f"expected non-empty strings, got {_show(item)}")
        if header and not _HEADER_RE.fullmatch(item.strip()):
            raise _Bad(key, value, f"{item!r} is not a valid header name")
        out.append(item.strip())
    return tuple(out)


def _check_hosts(key: str, hosts: tuple[str, ...]) -> None:
    # Hosts are matched without scheme or port: a pasted URL would never match.
    for host in hosts:
        if "/" in host or re.search(r"^[^:]*:\d*$", host):
            raise _Bad(key, list(hosts), f"{host!r}: give the host name only (globs allowed)")


def _json_paths(key: str, value: object) -> tuple[JsonPath, ...]:
    """Paths as lists (``["error", "code"]``) or dotted strings (``"error.code"``)."""
    if not isinstance(value, (list, tuple)):
        raise _Bad(key, value, 'expected a list of paths, e.g. ["error.code"]')
    paths: list[JsonPath] = []
    for item in value:
        parts: list[object]
        if isinstance(item, str):
            parts = list(item.split("."))
        elif isinstance(item, (list, tuple)):
            parts = list(item)
        else:
            raise _Bad(key, value, f"a path is a dotted string or a list, got {_show(item)}")
        if not parts or not all(isinstance(p, str) and p for p in parts):
            raise _Bad(key, value, f"{_show(item)} has an empty or non-string part")
        paths.append(tuple(cast("list[str]", parts)))
    return tuple(paths)


def _check_regex(pattern: str | None) -> None:
    if pattern is None:
        return
    try:
        compiled = re.compile(pattern)
    except (re.error, OverflowError, RecursionError) as exc:  # a{4294967296}, deep nesting
        raise _Bad("code_regex", pattern, f"invalid regular expression ({exc})") from None
    if compiled.groups < 1:
        # The code is the first group; without one no code is ever found.
        raise _Bad("code_regex", pattern, "needs a capturing group around the code")


def _wait_headers(value: object) -> tuple[tuple[str, float], ...]:
    """``[["X-Next-Request-In", 0.001], ...]``: a header and its factor to seconds."""
    shape = 'expected a list of [header, factor to seconds], e.g. [["X-Wait-Ms", 0.001]]'
    if not isinstance(value, (list, tuple)):
        raise _Bad("wait_headers", value, shape)
    out: list[tuple[str, float]] = []
    for item in value:
        if not isinstance(item, (list, tuple)) or len(item) != 2:
            raise _Bad("wait_headers", value, shape)
        header, factor = item
        [name] = _strings("wait_headers", [header], header=True)
        if (
            isinstance(factor, bool)
            or not isinstance(factor, (int, float))
            or not math.isfinite(factor)
            or factor <= 0
        ):
            raise _Bad("wait_headers", value, f"the factor of {name} must be a number above 0")
        out.append((name, float(factor)))
    return tuple(out)


def _rate(value: object) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not 0 < value < math.inf:
        raise _Bad("rate_limit_rps", value, "expected a number of requests per second > 0, or null")
    return float(value)


def _hints(value: object) -> tuple[Hint, ...]:
    """Machine-readable retry hints: a header or a JSON path whose value maps to a rule.

    ``[{"header": "X-Retryable", "values": {"true": {rule}, "false": {rule}}}]``;
    a rule here has no status or code (it applies to any code carrying the hint).
    """
    if not isinstance(value, (list, tuple)):
        raise _Bad("hints", value, "expected a list of hint objects")
    hints: list[Hint] = []
    for index, item in enumerate(value):
        where = f"hints[{index}]"
        if not isinstance(item, Mapping):
            raise _Bad(where, item, "expected an object with header or json_path, and values")
        _known_fields(where, item, _HINT_KEYS)
        header = item.get("header")
        path = item.get("json_path")
        if (header is None) == (path is None):
            raise _Bad(where, item, "give exactly one of header and json_path")
        if header is not None:
            [header] = _strings(f"{where}.header", [header], header=True)
        json_path: JsonPath = ()
        if path is not None:
            [json_path] = _json_paths(f"{where}.json_path", [path])
        inside = item.get("inside_2xx", False)
        if not isinstance(inside, bool):
            raise _Bad(f"{where}.inside_2xx", inside, "expected true or false")
        values = item.get("values")
        if not isinstance(values, Mapping) or not values:
            raise _Bad(f"{where}.values", values, "expected an object of value -> rule")
        rules: list[tuple[str, Rule]] = []
        for raw, spec in values.items():
            if not isinstance(raw, str) or not raw.strip():
                raise _Bad(f"{where}.values", raw, "a hint value is a non-empty string")
            rules.append((raw.strip().lower(), _rule(f"{where}.values.{raw}", spec, hint=True)))
        hints.append(Hint(tuple(rules), header=header, json_path=json_path, inside_2xx=inside))
    return tuple(hints)


# ------------------------------------------------------------------ rules


def _rule_key(rule: Rule) -> tuple[int | None, str | None, str | None]:
    return (rule.status, rule.code.lower() if rule.code else None, rule.body)


def _rules(value: object) -> tuple[Rule, ...]:
    if not isinstance(value, (list, tuple)):
        raise _Bad("rules", value, "expected a list of rule objects")
    rules: list[Rule] = []
    seen: dict[tuple[int | None, str | None, str | None], int] = {}
    for index, item in enumerate(value):
        rule = _rule(f"rules[{index}]", item)
        key = _rule_key(rule)
        if key in seen:
            raise _Bad(f"rules[{index}]", item, f"same status and code as rules[{seen[key]}]")
        seen[key] = index
        rules.append(rule)
    return tuple(rules)


def _known_fields(where: str, item: Mapping[Any, Any], keys: frozenset[str]) -> None:
    for key in item:
        if key not in keys:
            raise _Bad(f"{where}.{key}", item[key], f"unknown field; one of {_list(keys)}")


def _rule(where: str, item: object, *, hint: bool = False) -> Rule:
    """A rule object; *hint*: a hint's rule, which matches nothing itself (no
    status, code or body)."""
    if not isinstance(item, Mapping):
        raise _Bad(where, item, "expected an object of rule fields")
    _known_fields(where, item, _HINT_RULE_KEYS if hint else _RULE_KEYS)

    status = item.get("status")
    if status is not None and (
        isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 999
    ):
        raise _Bad(f"{where}.status", status, "expected an HTTP status (100-999) or null")
    code = _optional_text(where, item, "code")
    body = _optional_text(where, item, "body")
    if status is None and code is None and body is None and not hint:
        raise _Bad(where, item, "a rule needs a status, a code or a body to match")

    category = cast("Category", _enum(where, item, "category", Category))
    action = cast("Action", _enum(where, item, "action", Action))
    scope = cast("Scope", _enum(where, item, "scope", Scope))
    what = code or (
        f"status {status}"
        if status is not None
        else f"body {body!r}"
        if body is not None
        else "this hint"
    )
    meaning = _optional_text(where, item, "meaning") or f"The provider reported {what}."
    fix = _optional_text(where, item, "fix") or "See the provider's documentation."
    docs = _optional_text(where, item, "docs") or ""
    return Rule(
        status,
        code,
        category,
        action,
        scope,
        meaning,
        fix,
        docs=docs,
        wait=_seconds(where, item, "wait", allow_inf=False),
        cooldown=_seconds(where, item, "cooldown", allow_inf=True),
        # The classifier compares case-folded body text.
        body=body.casefold() if body is not None else None,
    )


def _optional_text(where: str, item: Mapping[Any, Any], key: str) -> str | None:
    value = item.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{where}.{key}", value, "expected a non-empty string or null")
    return value.strip()


def _enum(
    where: str,
    item: Mapping[Any, Any],
    key: Literal["category", "action", "scope"],
    enum: type[Category] | type[Action] | type[Scope],
) -> Category | Action | Scope:
    value = item.get(key)
    if value is None:
        raise _Bad(f"{where}.{key}", value, f"required; one of {_list(e.value for e in enum)}")
    try:
        return enum(value.lower()) if isinstance(value, str) else enum(value)
    except (ValueError, TypeError):
        raise _Bad(
            f"{where}.{key}", value, f"unknown {key}; one of {_list(e.value for e in enum)}"
        ) from None


def _seconds(where: str, item: Mapping[Any, Any], key: str, *, allow_inf: bool) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, str) and allow_inf and value.strip().lower() in ("inf", "infinity"):
        return math.inf
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _Bad(f"{where}.{key}", value, "expected a number of seconds or null")
    try:
        number = float(value)
    except OverflowError:  # an integer too large for a float: infinite for all purposes
        number = math.inf
    if math.isnan(number) or number < 0 or (math.isinf(number) and not allow_inf):
        limit = "a number >= 0 or inf" if allow_inf else "a finite number >= 0"
        raise _Bad(f"{where}.{key}", value, f"expected {limit}")
    return number
