"""The README's examples run as written."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from scrapy.settings import Settings

from scrapy_proxyerrors import classify
from scrapy_proxyerrors._config import Config

README = Path(__file__).resolve().parent.parent / "README.md"


def _block(start: str) -> str:
    text = README.read_text()
    block = text[text.index(start):]
    return block[: block.index("```")]


def test_user_provider_example_loads_and_classifies() -> None:
    namespace: dict[str, Any] = {}
    exec(_block("PROXYERRORS_PROVIDERS = {"), namespace)
    config = Config.from_settings(Settings({
        "PROXYERRORS_PROVIDERS": namespace["PROXYERRORS_PROVIDERS"]}))
    blocked = classify(403, {"X-Nimbus-Error": "BLOCKED_GAMBLING"}, profiles=config.profiles)
    assert blocked is not None
    # Found by its header alone on plain HTTP, the claim is capped (trust boundary).
    assert (blocked.provider, (blocked.claimed or blocked.rule).action) == ("nimbus", "drop")
    gone = classify(502, {}, proxy_url="http://u:p@gw.nimbus-proxy.example:7000",
                    profiles=config.profiles)
    assert gone is not None
    assert gone.provider == "nimbus"  # found by host; no code: the generic 502 rule


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    blocks = text.split("```bash\n")[1:3]
    assert blocks[0].startswith("pip install -e . && cd example_project && scrapy crawl demo")
    assert blocks[1].startswith("pip install -e '.[test]' && python -m pytest")
    ci = (README.parent / ".ci" / "run").read_text()
    assert "pip install -e '.[test]' && python -m pytest" in ci


def test_docs_name_the_exception_bad_settings_raise() -> None:
    """Bad settings raise BadSettingError (Scrapy would swallow NotConfigured):
    every document says so, none promises NotConfigured."""
    root = README.parent
    for doc in (README, root / "CHANGES.md", root / "docs" / "providers.md"):
        text = " ".join(doc.read_text().split())
        for claim in ("raises `NotConfigured`", "with `NotConfigured`",
                      "the `NotConfigured` message", "validated with `NotConfigured`"):
            assert claim not in text, (doc.name, claim)
