"""Scrapy's own tests, run against the plugin's components.

The add-on replaces ``RetryMiddleware`` and the ``https`` download handler, so
wherever no provider speaks the plugin must behave as stock Scrapy does. These
tests fetch the sdist of the *installed* Scrapy (``pip download``), extract its
``tests/`` and run, in a subprocess:

* ``tests/test_downloadermiddleware_retry.py`` with
  ``scrapy.downloadermiddlewares.retry.RetryMiddleware`` replaced by
  :class:`~scrapy_proxyerrors.ProxyErrorsMiddleware`;
* ``tests/test_downloader_handler_twisted_http11.py`` with
  ``scrapy.core.downloader.handlers.http11.HTTP11DownloadHandler`` replaced by
  :class:`~scrapy_proxyerrors.handler.ProxyErrorsHTTPSDownloadHandler`.

(Scrapy 2.13 has no ``test_downloader_handler_twisted_http11.py``: its
HTTP/1.1 test classes in ``tests/test_downloader_handlers.py`` run instead.)

Every Scrapy test must pass, except those in :data:`DELIBERATE_DIFFERENCES`
(the one list of deliberate differences, with the reason for each; the README
shows it) and, until the work on them lands, those in :data:`PENDING`. A test
listed in either that passes fails here too, so that both lists stay true.
When some tests fail, the suite runs once more with stock Scrapy: those that
fail there too (the machine, not the plugin) turn the result into a skip that
names them, once every other test has passed.

The sdist is cached in ``$PROXYERRORS_CONFORMANCE_CACHE`` (default: a
``scrapy-proxyerrors-conformance`` directory in the system's temporary
directory). Without network access the tests are skipped with the reason,
except in CI (``CI=true``), where they fail.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import pytest
import scrapy

import scrapy_proxyerrors

README = Path(__file__).resolve().parent.parent / "README.md"
SCRAPY_VERSION = scrapy.__version__
#: A deadline against hangs (download, or a Scrapy suite): not an assertion.
_TIMEOUT = 900

#: Scrapy tests the plugin fails on purpose: node id -> why. The README's
#: "Differences from stock Scrapy" section shows this table.
DELIBERATE_DIFFERENCES: dict[str, str] = {}

#: Scrapy tests that fail today and must not once the middleware conforms
#: (issue 12; helper "sched" is rewriting the middleware): node id -> what is
#: missing. Not deliberate: this list must end up empty.
PENDING: dict[str, str] = {}


@dataclass(frozen=True)
class Suite:
    """One of Scrapy's test modules, and how the plugin replaces its subject."""

    module: str
    #: Python run before the test module is imported (a pytest plugin module).
    substitute: str
    #: At least this many tests must run: a broken collection is no pass.
    at_least: int
    #: Where an older sdist keeps the same tests when it has no ``module``
    #: (Scrapy 2.13 has every handler's tests in one file): that module, a
    #: ``-k`` expression picking the subject's test classes, and its ``at_least``.
    older: tuple[str, str, int] | None = None


_MARKERS = '''
def pytest_configure(config):
    # Scrapy's conftest marks some tests with pytest-rerunfailures' marker.
    config.addinivalue_line("markers", "flaky: pytest-rerunfailures (not installed here)")
'''

SUITES = {
    "retry": Suite(
        "tests/test_downloadermiddleware_retry.py",
        "import scrapy.downloadermiddlewares.retry as retry\n"
        "from scrapy_proxyerrors import ProxyErrorsMiddleware\n"
        "retry.RetryMiddleware = ProxyErrorsMiddleware\n" + _MARKERS,
        at_least=30,
    ),
    "http11": Suite(
        "tests/test_downloader_handler_twisted_http11.py",
        # Imported first: it subclasses the stock handler it then replaces.
        "from scrapy_proxyerrors.handler import ProxyErrorsHTTPSDownloadHandler\n"
        "import scrapy.core.downloader.handlers.http11 as http11\n"
        "http11.HTTP11DownloadHandler = ProxyErrorsHTTPSDownloadHandler\n" + _MARKERS,
        at_least=200,
        # Scrapy 2.13: HTTP/1.1 (plain, TLS, proxy, mock server) in the shared file.
        older=("tests/test_downloader_handlers.py", "Http11 or Https11", 50),
    ),
}


def _unavailable(reason: str) -> None:
    """Skip with *reason*; in CI, fail: a conformance check that never runs checks nothing."""
    if os.environ.get("CI", "").strip().lower() in ("1", "true", "yes"):
        pytest.fail(f"conformance tests cannot run in CI: {reason}")
    pytest.skip(reason)


def _cache_dir() -> Path:
    configured = os.environ.get("PROXYERRORS_CONFORMANCE_CACHE")
    base = Path(configured) if configured else Path(tempfile.gettempdir())
    return base / "scrapy-proxyerrors-conformance"


def _sdist_tests() -> Path:
    """The directory holding the installed Scrapy's sdist tests (fetched once)."""
    cache = _cache_dir()
    root = cache / f"scrapy-{SCRAPY_VERSION}"
    if (root / "tests" / "__init__.py").exists() and (root / "conftest.py").exists():
        return root
    cache.mkdir(parents=True, exist_ok=True)
    archives = list(cache.glob(f"scrapy-{SCRAPY_VERSION}.tar.gz"))
    if not archives:
        try:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
                 f"scrapy=={SCRAPY_VERSION}", "-d", str(cache)],
                capture_output=True, text=True, timeout=_TIMEOUT, check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            _unavailable(f"cannot download the Scrapy {SCRAPY_VERSION} sdist: {exc}")
        archives = list(cache.glob(f"scrapy-{SCRAPY_VERSION}.tar.gz"))
        if done.returncode != 0 or not archives:
            tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
            _unavailable(f"cannot download the Scrapy {SCRAPY_VERSION} sdist: {' '.join(tail)}")
    staging = Path(tempfile.mkdtemp(dir=cache))
    try:
        with tarfile.open(archives[0]) as archive:
            prefix = f"scrapy-{SCRAPY_VERSION}/"
            wanted = [
                m for m in archive.getmembers()
                if m.name.startswith(prefix + "tests/")
                or m.name in (prefix + "conftest.py", prefix + "pyproject.toml")
            ]
            archive.extractall(staging, members=wanted, filter="data")
        # Renamed into place whole: a concurrent run never sees half a tree.
        (staging / f"scrapy-{SCRAPY_VERSION}").rename(root)
    except OSError:
        if not (root / "conftest.py").exists():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return root


def _selection(root: Path, suite: Suite) -> tuple[str, list[str], int]:
    """The module this sdist has for *suite*, extra pytest arguments, and ``at_least``."""
    if suite.older is not None and not (root / suite.module).exists():
        module, keyword, at_least = suite.older
        return module, ["-k", keyword], at_least
    return suite.module, [], suite.at_least


#: pytest's error when the sdist's conftest adds ``--reactor`` although
#: pytest-twisted (a test dependency of this project) already did.
_REACTOR_CLASH = "option dest 'reactor' already used"


@dataclass(frozen=True)
class Outcomes:
    """What one run of a Scrapy test module gave."""

    #: The test file that ran (its name), and how many tests must have run.
    file: str
    at_least: int
    #: Node id -> ``None`` if it passed, else the failure's message (skips left out).
    failures: dict[str, str | None]


def _outcomes(root: Path, name: str, suite: Suite, out: Path, *, stock: bool = False) -> Outcomes:
    """Run one suite, with the plugin substituted (or, with *stock*, as Scrapy ships it)."""
    plugin = f"_proxyerrors_conformance_{'stock' if stock else name}"
    (root / f"{plugin}.py").write_text(_MARKERS if stock else suite.substitute)
    module, extra, at_least = _selection(root, suite)
    report = out / f"{name}{'-stock' if stock else ''}.xml"
    package = Path(scrapy_proxyerrors.__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS", "PYTHONPATH")}
    # The sdist's root first: its "tests" package, not this project's.
    env["PYTHONPATH"] = os.pathsep.join([str(root), str(package)])
    command = [sys.executable, "-m", "pytest", "-p", plugin, module, *extra, "-q",
               "-p", "no:cacheprovider", "-m", "not requires_internet",
               f"--junitxml={report}"]
    try:
        done = subprocess.run(command, cwd=root, env=env, capture_output=True, text=True,
                              timeout=_TIMEOUT, check=False)
        if not report.exists() and _REACTOR_CLASH in done.stderr:
            # Scrapy 2.13's conftest defines --reactor itself (newer ones defer
            # to pytest-twisted's): its suite never ran with pytest-twisted
            # loaded, so it runs without it, as Scrapy ran it.
            done = subprocess.run([*command, "-p", "no:twisted"], cwd=root, env=env,
                                  capture_output=True, text=True, timeout=_TIMEOUT,
                                  check=False)
    except subprocess.TimeoutExpired:
        pytest.fail(f"Scrapy's {module} did not finish within {_TIMEOUT} s")
    if not report.exists():
        pytest.fail(f"Scrapy's {module} did not run:\n{done.stdout[-3000:]}{done.stderr}")
    # JUnit names a test by its dotted module plus class, and its name.
    dotted = module.removesuffix(".py").replace("/", ".")
    file = Path(module).name
    found: dict[str, str | None] = {}
    for case in ET.parse(report).getroot().iter("testcase"):
        if case.find("skipped") is not None:
            continue
        cls = case.get("classname", "").removeprefix(dotted).lstrip(".")
        node = "::".join(part for part in (file, cls, case.get("name", "")) if part)
        bad = case.find("failure")
        if bad is None:
            bad = case.find("error")
        found[node] = None if bad is None else (bad.get("message") or bad.tag)
    return Outcomes(file, at_least, found)


@pytest.fixture(scope="module")
def scrapy_suites(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Outcomes, Outcomes | None]]:
    """Each suite with the plugin and, only where some of its tests failed,
    the same suite with stock Scrapy (which failures are the environment's)."""
    root = _sdist_tests()
    out = tmp_path_factory.mktemp("conformance")
    runs: dict[str, tuple[Outcomes, Outcomes | None]] = {}
    for name, suite in SUITES.items():
        ours = _outcomes(root, name, suite, out)
        failing = any(message is not None for message in ours.failures.values())
        runs[name] = (ours, _outcomes(root, name, suite, out, stock=True) if failing else None)
    return runs


@pytest.mark.parametrize("name", list(SUITES))
def test_scrapys_own_tests_pass(
    name: str, scrapy_suites: dict[str, tuple[Outcomes, Outcomes | None]]
) -> None:
    ours, stock = scrapy_suites[name]
    file, outcomes = ours.file, ours.failures
    assert len(outcomes) >= ours.at_least, f"only {len(outcomes)} tests of {file} ran"
    failed = {node for node, message in outcomes.items() if message is not None}
    excused = {n for n in (*DELIBERATE_DIFFERENCES, *PENDING) if n.startswith(file + "::")}
    # A test that fails with stock Scrapy too, on this machine, says nothing
    # about the plugin (e.g. Scrapy 2.13's TLS test server against a newer
    # pyOpenSSL); it is reported below as a skip, never counted as a pass.
    environment = {
        node for node in failed
        if stock is not None and stock.failures.get(node) is not None
    }
    unexpected = sorted(failed - excused - environment)
    assert not unexpected, (
        f"{len(unexpected)} of Scrapy's own tests fail against the plugin (not a listed "
        "difference):\n" + "\n".join(unexpected)
    )
    stale = sorted(n for n in excused - failed)
    assert not stale, (
        "listed as failing but passing (or gone): update DELIBERATE_DIFFERENCES/PENDING "
        "and the README:\n" + "\n".join(stale)
    )
    if environment:
        assert stock is not None
        first = sorted(environment)[0]
        pytest.skip(
            f"{len(environment)} of {len(outcomes)} tests of {file} (Scrapy {SCRAPY_VERSION}) "
            f"fail with stock Scrapy too on this machine, so they cannot judge the plugin "
            f"(the other {len(outcomes) - len(failed)} pass); e.g. {first}: "
            f"{(stock.failures[first] or '')[:300]}"
        )


def test_the_readme_shows_every_deliberate_difference() -> None:
    text = " ".join(README.read_text().split())
    assert "## Differences from stock Scrapy" in text
    for node, reason in DELIBERATE_DIFFERENCES.items():
        assert f"`{node}`" in text and " ".join(reason.split()) in text, node
