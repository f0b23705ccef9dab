"""Sphinx configuration of the mmt-augment documentation (``python -m sphinx -W docs docs/_build/html``)."""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import mmt_augment  # noqa: E402
from make_figures import make_figures  # noqa: E402

project = "mmt-augment"
author = "The mmt-augment authors"
copyright = "2026, The mmt-augment authors"
release = mmt_augment.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinx.ext.intersphinx",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "tutorials"]
myst_heading_anchors = 3
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections as fields, so they do not clash with the members autodoc lists.
napoleon_use_ivar = True
autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": False}
# Type hints name library types Sphinx cannot resolve offline; their names stay as plain text.
nitpicky = False
suppress_warnings = ["myst.header", "myst.xref_missing"]
intersphinx_mapping: dict[str, tuple[str, str | None]] = {}

html_theme = "furo"
html_title = f"mmt-augment {release}"
html_static_path = ["_static"]

# The figures are made at build time from images that ship with scikit-learn.
make_figures(Path(__file__).resolve().parent / "_static" / "generated")
