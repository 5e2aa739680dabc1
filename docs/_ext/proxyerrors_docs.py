"""Sphinx extension: generate the reference and provider pages from the code.

Runs before Sphinx reads any page (``builder-inited``) and writes Markdown
as ``docs/reference/{settings,stats,meta}.md`` and ``docs/builtin/`` (ignored
by git): nothing in those pages is written by hand, so they cannot drift from
the code. ``python docs/_ext/proxyerrors_docs.py`` runs the same generation
without Sphinx.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from sphinx.application import Sphinx

    from scrapy_proxyerrors._profile import Profile, Rule

DOCS = Path(__file__).resolve().parent.parent


def _cell(text: object) -> str:
    """Text safe inside a Markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _code(text: object) -> str:
    value = str(text)
    fence = "``" if "`" in value else "`"
    pad = " " if fence == "``" else ""
    return f"{fence}{pad}{value}{pad}{fence}"


def settings_page() -> str:
    from scrapy_proxyerrors._reference import SCRAPY_SETTINGS, SETTINGS

    out = [
        "# Settings",
        "",
        "Generated from `scrapy_proxyerrors/_reference.py`, the code's single source of "
        "truth (the plugin's defaults are read from it). Every bad value stops the crawl "
        "before the first request with `BadSettingError` naming the setting; a password or "
        "key in a bad value is never printed.",
        "",
        "| setting | default |",
        "|---|---|",
    ]
    out += [f"| [{_code(s.name)}](#{s.name.lower().replace('_', '-')}) | "
            f"{_cell(_code(s.default_text))} |" for s in SETTINGS]
    for setting in SETTINGS:
        out += ["", f"## {setting.name}", "", f"Default: {_code(setting.default_text)}", "",
                setting.doc]
    out += ["", "## Scrapy settings the plugin reads", "", "| setting | meaning here |",
            "|---|---|"]
    out += [f"| {_code(name)} | {_cell(doc)} |" for name, doc in SCRAPY_SETTINGS]
    return "\n".join(out) + "\n"


def _table_page(title: str, intro: str, columns: tuple[str, ...],
                rows: Iterable[tuple[str, ...]]) -> list[str]:
    """A page's lines: its title, what it is generated from, and one table."""
    out = [f"# {title}", "", f"Generated from `scrapy_proxyerrors/_reference.py`. {intro}", "",
           "| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    return out + ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]


def stats_page() -> str:
    from scrapy_proxyerrors._reference import FINISH_REASONS, STATS

    out = _table_page(
        "Stats keys",
        "`<placeholders>` stand for parts of the key (provider names, codes, categories, "
        "actions), made key-safe: printable ASCII, no `/`. No key or value ever contains a "
        "credential.",
        ("key", "kind", "meaning"),
        ((_code(k.pattern), k.kind, k.doc) for k in STATS),
    )
    out += ["", "## Finish reasons", "",
            "A stop closes the crawl with `finish_reason` set to one of:", ""]
    out += [f"- {_code(reason)}" for reason in FINISH_REASONS]
    return "\n".join(out) + "\n"


def meta_page() -> str:
    from scrapy_proxyerrors._reference import META

    out = _table_page(
        "Request meta keys",
        "*in*: you set it on a request; *out*: the plugin sets it. Scrapy's own `dont_retry` "
        "and `max_retry_times` bound provider retries too.",
        ("key", "direction", "meaning"),
        ((_code(m.name), m.direction, m.doc) for m in META),
    )
    return "\n".join(out) + "\n"


def _signals(profile: Profile) -> list[str]:
    items = []
    if profile.proxy_hosts:
        items.append("proxy hosts " + ", ".join(_code(h) for h in profile.proxy_hosts))
    if profile.api_hosts:
        items.append("API hosts " + ", ".join(_code(h) for h in profile.api_hosts))
    if profile.signature_headers:
        items.append("signature headers " + ", ".join(_code(h) for h in profile.signature_headers))
    if profile.code_headers:
        where = "code in " + ", ".join(_code(h) for h in profile.code_headers)
        if profile.code_regex:
            where += f" (read with {_code(profile.code_regex)})"
        items.append(where)
    if profile.detail_headers:
        items.append("detail in " + ", ".join(_code(h) for h in profile.detail_headers))
    for label, paths in (("JSON code", profile.json_code), ("JSON message", profile.json_message),
                         ("JSON request id", profile.json_request_id),
                         ("JSON wait", profile.json_wait)):
        if paths:
            items.append(f"{label} at " + ", ".join(_code(".".join(p)) for p in paths))
    if profile.request_id_headers:
        items.append("request id in " + ", ".join(_code(h) for h in profile.request_id_headers))
    status_headers = getattr(profile, "status_headers", ())
    if status_headers:
        items.append("status on 2xx replies in " + ", ".join(_code(h) for h in status_headers))
    if profile.plaintext_body:
        items.append("the plaintext body is the message (and the code for body rules)")
    if profile.proxy_status:
        items.append("RFC 9209 `Proxy-Status`")
    if profile.problem_json:
        items.append("RFC 9457 `application/problem+json`")
    if profile.rate_limit_headers:
        items.append("`X-RateLimit-*` on successful replies (used for pacing)")
    if profile.session_param:
        items.append(f"sticky session id after {_code(profile.session_param)} in the username")
    if getattr(profile, "tagged", False):
        items.append("every error of its own carries its error header: status-only rules "
                     "never match a plain-HTTP reply (trust boundary)")
    if not items:
        items.append("only the status; detected only when named")
    return items


def _rule_code(rule: Rule) -> str:
    if rule.code:
        return _code(rule.code)
    if rule.body:
        return f"body contains {_code(rule.body)}"
    return "(status only)"


def _wait(rule: Rule) -> str:
    parts = []
    if rule.wait is not None:
        parts.append(f"waits {rule.wait:g} s")
    if rule.cooldown is not None:
        parts.append("route retired" if rule.cooldown == float("inf")
                     else f"route rests {rule.cooldown:g} s")
    return "; ".join(parts)


def provider_page(profile: Profile) -> str:
    out = [f"# {profile.title} (`{profile.name}`)", "",
           f"Kind: **{profile.kind}**. Generated from the profile "
           f"`scrapy_proxyerrors/profiles/{profile.name}.py`.", "", "## Signals", ""]
    out += [f"- {item}" for item in _signals(profile)]
    if profile.fallback:
        out += ["", f"Codes without a rule here fall back to `{profile.fallback}`."]
    out += ["", "## Rules", "",
            "| status | code | category | action | scope |",
            "|---|---|---|---|---|"]
    for rule in profile.rules:
        out.append(
            f"| {rule.status if rule.status is not None else 'any'} | {_cell(_rule_code(rule))} "
            f"| {rule.category} | {rule.action} | {rule.scope} |"
        )
    out += ["", "## Meaning and fix", ""]
    for rule in profile.rules:
        extra = _wait(rule)
        status = rule.status if rule.status is not None else "any status"
        out += [f"{_rule_code(rule)} ({status}, {rule.category}, **{rule.action}**)",
                f": {rule.meaning}", "",
                f": Fix: {rule.fix}" + (f" ({extra})" if extra else ""), ""]
    sources = sorted({r.docs for r in profile.rules if r.docs} | (
        {profile.docs_url} if profile.docs_url else set()))
    out += ["", "## Sources", ""]
    out += [f"- <{url}>" for url in sources] or ["- none published"]
    out += ["", f"Change an action without code: `PROXYERRORS_ACTIONS = "
                f"{{\"{profile.name}/<code>\": \"drop\"}}`. "
                f"`scrapy proxyerrors explain {profile.name} <code>` shows one rule "
                f"under your settings."]
    return "\n".join(out) + "\n"


def providers_index(profiles: Iterable[Profile]) -> str:
    profiles = list(profiles)
    out = ["# Built-in providers", "",
           "One page per built-in profile, generated from its data: how its replies are "
           "recognised, every rule with its meaning and fix, and the provider's own "
           "documentation it was written from.", "",
           "| provider | kind | rules |", "|---|---|---|"]
    out += [f"| [{p.title}]({p.name}.md) | {p.kind} | {len(p.rules)} |" for p in profiles]
    out += ["", "```{toctree}", ":hidden:", ""] + [p.name for p in profiles] + ["```"]
    return "\n".join(out) + "\n"


def _write(path: Path, text: str) -> None:
    # Rewriting an unchanged file would make Sphinx re-read it every build.
    if not path.exists() or path.read_text(encoding="utf-8") != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


def generate(docs: Path = DOCS, profiles: Mapping[str, Profile] | None = None) -> list[Path]:
    """Write every generated page under *docs*; return their paths."""
    if profiles is None:
        from scrapy_proxyerrors.profiles import BUILTIN_PROFILES

        profiles = BUILTIN_PROFILES
    pages = {
        docs / "reference" / "settings.md": settings_page(),
        docs / "reference" / "stats.md": stats_page(),
        docs / "reference" / "meta.md": meta_page(),
        docs / "builtin" / "index.md": providers_index(profiles.values()),
    }
    for profile in profiles.values():
        pages[docs / "builtin" / f"{profile.name}.md"] = provider_page(profile)
    for path, text in pages.items():
        _write(path, text)
    return list(pages)


def _on_builder_inited(app: Sphinx) -> None:
    generate(Path(app.srcdir))


class _OutsideDocuments(logging.Filter):
    """Drops MyST's "Unknown source document" warning for links that leave the docs
    on purpose (the repository's README), and nothing else."""

    def __init__(self, names: Iterable[str]) -> None:
        super().__init__()
        self.names = tuple(names)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not (
            message.startswith("Unknown source document")
            and any(message.rstrip("'").endswith("/" + name) for name in self.names)
        )


def _on_config_inited(app: Sphinx, config: Any) -> None:
    names = config.proxyerrors_outside_documents
    for handler in logging.getLogger("sphinx").handlers:
        # First, before Sphinx's own filters count the warning.
        handler.filters.insert(0, _OutsideDocuments(names))


def setup(app: Sphinx) -> dict[str, Any]:
    app.add_config_value("proxyerrors_outside_documents", (), "env")
    app.connect("config-inited", _on_config_inited)
    app.connect("builder-inited", _on_builder_inited)
    return {"parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    for written in generate():
        print(written)
