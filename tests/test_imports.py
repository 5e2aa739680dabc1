"""What enabling the plugin imports into a crawl.

Every module a crawl imports stays in memory, and every full garbage
collection walks its objects: on a fast crawl that is a cost per page. The
plugin imports its own modules and what Scrapy itself uses, never an optional
HTTP client (a handler that raises its errors has imported it already) nor a
test framework.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

#: Modules the plugin must not bring in itself.
UNWANTED = ("httpx", "aiohttp", "twisted.trial", "unittest", "pdb", "doctest", "click")

_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from twisted.internet import asyncioreactor
    asyncioreactor.install()
    # What a stock crawl imports anyway.
    import scrapy.crawler, scrapy.core.engine, scrapy.core.downloader.handlers.http11
    before = set(sys.modules)
    import scrapy_proxyerrors.addon, scrapy_proxyerrors.middleware, scrapy_proxyerrors.report
    from scrapy_proxyerrors.handler import scrapy_internals_problems
    problems = scrapy_internals_problems()
    print(json.dumps({"new": sorted(set(sys.modules) - before), "problems": problems}))
    """
)


def test_enabling_the_plugin_imports_no_optional_client_or_test_framework() -> None:
    out = subprocess.run(
        [sys.executable, "-c", _SCRIPT], capture_output=True, text=True, check=True, timeout=120
    )
    found = json.loads(out.stdout.strip().splitlines()[-1])
    # The install-time probe of Scrapy's tunnel code still runs, and passes.
    assert found["problems"] == []
    new = found["new"]
    assert any(name.startswith("scrapy_proxyerrors.") for name in new)
    brought = [m for m in new for u in UNWANTED if m == u or m.startswith(u + ".")]
    assert brought == []
