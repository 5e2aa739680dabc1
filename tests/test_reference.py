"""The reference (settings, stats keys, meta keys) cannot drift from the code.

Scans every module of the package for the settings, stats keys and meta keys
it uses, and fails when one is missing from ``_reference.py`` or from the
docs pages generated from it.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

import pytest

from scrapy_proxyerrors import _config, _reference, _stats

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "scrapy_proxyerrors"
sys.path.insert(0, str(ROOT / "docs" / "_ext"))
import proxyerrors_docs  # noqa: E402

SOURCES = sorted(p for p in PACKAGE.rglob("*.py") if p.name != "_reference.py")
SETTING_RE = re.compile(r"\bPROXYERRORS_[A-Z][A-Z_]*[A-Z]")
META_RE = re.compile(r"\b(?:proxyerrors_[a-z][a-z_]*[a-z]|dont_proxyerrors)\b")
_PREFIX_NAMES = {"PREFIX"}
_STAT_FUNCS = {"stat_key", "error_key"}


def _names_used(pattern: re.Pattern[str]) -> dict[str, str]:
    """Every match of *pattern* in the package's source, with the first file using it."""
    used: dict[str, str] = {}
    for path in SOURCES:
        for name in pattern.findall(path.read_text(encoding="utf-8")):
            used.setdefault(name, str(path.relative_to(ROOT)))
    return used


def _settings_used() -> dict[str, str]:
    return _names_used(SETTING_RE)


def _meta_used() -> dict[str, str]:
    return _names_used(META_RE)


def _is_prefix(node: ast.AST) -> bool:
    return (isinstance(node, ast.Name) and node.id in _PREFIX_NAMES) or (
        isinstance(node, ast.Attribute) and node.attr in _PREFIX_NAMES
    )


def _func_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _stats_used() -> dict[str, str]:
    """Stats keys (``<x>`` for a computed part; a trailing ``/`` for a prefix) by source."""
    used: dict[str, str] = {}
    for path in SOURCES:
        where = str(path.relative_to(ROOT))
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            key = None
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                # Keys written out ("proxyerrors/dropped"), also inside docstrings.
                for found in re.findall(r"\bproxyerrors/[A-Za-z0-9_/<>]*", node.value):
                    found = re.sub(r"<[a-z_]*>", "<x>", found)
                    if found.strip("/").split("/")[1:] != ["<x>"] * found.count("<x>"):
                        used.setdefault(found, where)  # not a bare "proxyerrors/<part>..."
            elif isinstance(node, ast.JoinedStr) and node.values and _is_prefix(
                getattr(node.values[0], "value", None)  # type: ignore[arg-type]
            ):
                text = "proxyerrors"
                for part in node.values[1:]:
                    text += part.value if isinstance(part, ast.Constant) else "<x>"
                key = text
            elif isinstance(node, ast.Call) and _func_name(node) in _STAT_FUNCS:
                parts = ["error"] if _func_name(node) == "error_key" else []
                for arg in node.args:
                    if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                        parts.append(arg.value)
                    else:
                        parts.append("<x>")
                if parts and parts[0] != "<x>":
                    key = "/".join(["proxyerrors", *parts])
            if key is not None:
                used.setdefault(key, where)
    return used


def _declared(key: str) -> bool:
    patterns = [entry.pattern for entry in _reference.STATS]
    if key.endswith("/") or key == "proxyerrors":
        return any(p.startswith(key) for p in patterns) or key in ("proxyerrors/", "proxyerrors")
    probe = key.replace("<x>", "x")
    if any(entry.regex().match(probe) for entry in _reference.STATS):
        return True
    # A base other keys are built on (RETRY_BASE + "/count"...).
    return any(p.startswith(key + "/") for p in patterns)


def test_the_scan_finds_what_it_should() -> None:
    """Guards the scanner itself: these are known uses in today's code."""
    assert "PROXYERRORS_PROXIES" in _settings_used()
    assert {"dont_proxyerrors", "proxyerrors_route"} <= set(_meta_used())
    stats = _stats_used()
    assert "proxyerrors/dropped" in stats
    assert "proxyerrors/category/<x>" in stats
    assert not _declared("proxyerrors/no_such_key")


def test_every_setting_used_is_in_the_reference() -> None:
    declared = {s.name for s in _reference.SETTINGS}
    missing = {n: w for n, w in _settings_used().items() if n not in declared}
    assert not missing, f"add these to _reference.SETTINGS: {missing}"


def test_every_meta_key_used_is_in_the_reference() -> None:
    declared = {m.name for m in _reference.META} | set(_reference.FINISH_REASONS)
    missing = {n: w for n, w in _meta_used().items() if n not in declared}
    assert not missing, f"add these to _reference.META: {missing}"


def test_every_stats_key_used_is_in_the_reference() -> None:
    missing = {k: w for k, w in _stats_used().items() if not _declared(k)}
    assert not missing, f"add these to _reference.STATS: {missing}"


def test_every_stats_constant_is_in_the_reference() -> None:
    constants = {
        name: value
        for name, value in vars(_stats).items()
        if name.isupper() and isinstance(value, str) and value.startswith("proxyerrors/")
    }
    assert constants
    missing = {n: v for n, v in constants.items() if not _declared(v)}
    assert not missing, f"add these to _reference.STATS: {missing}"


def test_defaults_come_from_the_reference() -> None:
    assert _config.DEFAULTS is _reference.DEFAULTS
    assert [s.name for s in _reference.SETTINGS] == list(_config.DEFAULTS)
    assert all(s.doc.strip() for s in _reference.SETTINGS)


@pytest.fixture(scope="module")
def pages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    docs = tmp_path_factory.mktemp("docs")
    written = proxyerrors_docs.generate(docs)
    return {str(p.relative_to(docs)): p.read_text(encoding="utf-8") for p in written}


def test_the_generated_pages_name_everything_used(pages: dict[str, str]) -> None:
    settings = pages["reference/settings.md"]
    meta = pages["reference/meta.md"]
    stats = pages["reference/stats.md"]
    assert [n for n in _settings_used() if f"## {n}\n" not in settings] == []
    assert [n for n in _meta_used() if f"`{n}`" not in meta and f"`{n}`" not in stats] == []
    assert [e.pattern for e in _reference.STATS if f"`{e.pattern}`" not in stats] == []


def test_one_generated_page_per_builtin_provider(pages: dict[str, str]) -> None:
    from scrapy_proxyerrors.profiles import BUILTIN_PROFILES

    for name, profile in BUILTIN_PROFILES.items():
        page = pages[f"builtin/{name}.md"]
        for rule in profile.rules:
            assert rule.meaning.replace("|", "\\|") in page
        assert "## Sources" in page
        assert f"]({name}.md)" in pages["builtin/index.md"]
