"""Scrapy's own RetryMiddleware tests, run against ProxyErrorsMiddleware.

The test file comes from the sdist of the installed Scrapy (fetched with pip at
set-up, skipped when it cannot be fetched); only its import of
``RetryMiddleware`` is pointed at this plugin's middleware. Every deliberate
difference is listed in the README ("Differences from RetryMiddleware").
"""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
import scrapy

ORIGINAL = "from scrapy.downloadermiddlewares.retry import RetryMiddleware, get_retry_request"
REPLACED = (
    "from scrapy.downloadermiddlewares.retry import get_retry_request\n"
    "from scrapy_proxyerrors import ProxyErrorsMiddleware as RetryMiddleware"
)
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def scrapy_retry_tests(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("scrapy-sdist")
    version = scrapy.__version__
    try:
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
             f"scrapy=={version}", "-d", str(where), "-q"],
            check=True, capture_output=True, timeout=120,
        )
        (sdist,) = where.glob("scrapy-*.tar.gz")
        with tarfile.open(sdist) as tar:
            member = tar.getmember(f"scrapy-{version}/tests/test_downloadermiddleware_retry.py")
            source = tar.extractfile(member).read().decode()  # type: ignore[union-attr]
    except (subprocess.SubprocessError, OSError, KeyError, ValueError) as exc:
        pytest.skip(f"cannot fetch Scrapy {version}'s sdist: {exc!r}")
    assert ORIGINAL in source, "Scrapy's retry tests changed their import: update this test"
    target = where / "test_scrapy_retry.py"
    target.write_text(source.replace(ORIGINAL, REPLACED))
    return target


def test_scrapys_retry_middleware_tests_pass(scrapy_retry_tests: Path) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-W",
         "error::scrapy.exceptions.ScrapyDeprecationWarning", str(scrapy_retry_tests)],
        cwd=scrapy_retry_tests.parent, env=env, capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout
