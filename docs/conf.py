"""Sphinx configuration: `sphinx-build -W -b html docs docs/_build/html`.

The reference pages (settings, stats keys, meta keys) and one page per
built-in provider are generated from the code by ``_ext/proxyerrors_docs.py``
before Sphinx reads anything.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # the package, from this checkout
sys.path.insert(0, str(HERE / "_ext"))

import scrapy_proxyerrors  # noqa: E402

project = "scrapy-proxyerrors"
author = "scrapy-proxyerrors contributors"
copyright = "scrapy-proxyerrors contributors"
release = scrapy_proxyerrors.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "proxyerrors_docs",
]
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
# Links from the Markdown pages (also read on GitHub) to the repository's
# README are not documents of this site: proxyerrors_docs lets exactly those
# through; every other missing reference is an error.
proxyerrors_outside_documents = ("README",)

html_theme = "furo"
html_title = f"scrapy-proxyerrors {release}"
html_static_path = ["_static"]
autodoc_member_order = "bysource"
autodoc_typehints = "description"
