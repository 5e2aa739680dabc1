"""The supported matrix, each in its own virtualenv: ``nox`` (or ``nox -s NAME``).

* ``scrapy-2.13``: the oldest supported Scrapy (2.13.x), on Python 3.10, after
  checking that installing this package keeps the installed Scrapy as it is;
* ``tests-3.10`` and ``tests-3.13``: the newest Scrapy on the oldest and
  newest supported Python.

Interpreters are looked up on PATH as ``python3.10`` / ``python3.13``
(``.ci/run`` puts pyenv's there).
"""

from __future__ import annotations

import nox

nox.options.sessions = ["scrapy-2.13", "tests-3.10", "tests-3.13"]
nox.options.reuse_existing_virtualenvs = True

#: pytest's arguments unless given after ``--``: stop at the first failure.
PYTEST_ARGS = ("-x", "-q")

_VERSION = "import scrapy; print(scrapy.__version__)"


def _pytest(session: nox.Session) -> None:
    session.run("python", "-m", "pytest", *(session.posargs or PYTEST_ARGS))


@nox.session(name="scrapy-2.13", python="3.10")
def oldest_scrapy(session: nox.Session) -> None:
    """The oldest supported Scrapy; installing the package must not change it."""
    # Scrapy 2.13 imports names that Twisted 25.5.0 was the last to have.
    session.install("scrapy==2.13.*", "twisted<=25.5.0")
    before = (session.run("python", "-c", _VERSION, silent=True) or "").strip()
    session.install("-e", ".[test]")
    after = (session.run("python", "-c", _VERSION, silent=True) or "").strip()
    if not before.startswith("2.13.") or before != after:
        session.error(f"installing scrapy-proxyerrors changed Scrapy {before} to {after}")
    session.run("python", "-m", "pip", "check")
    _pytest(session)


@nox.session(name="tests", python=["3.10", "3.13"])
def tests(session: nox.Session) -> None:
    """The newest Scrapy on the oldest and newest supported Python."""
    session.install("-e", ".[test]")
    session.run("python", "-c", _VERSION)
    _pytest(session)
