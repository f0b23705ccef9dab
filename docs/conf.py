"""Sphinx configuration of the mmt-augment documentation.

Built by the README's command, ``python -m sphinx -W -b html docs docs/_build/html``, after
``pip install -e ".[docs]"``; ``docs/check_site.py`` then checks the built pages (CI runs both).
"""

from __future__ import annotations

import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(DOCS))

from make_figures import make_figures  # noqa: E402
from run_files import stage_run_files  # noqa: E402

import mmt_augment  # noqa: E402

project = "mmt-augment"
author = "The mmt-augment authors"
copyright = "2026, The mmt-augment authors"
release = mmt_augment.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
exclude_patterns = ["_build", "_generated", "tutorials/*.py"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header"]

# API pages list their members explicitly: a default "members" option would override those lists
# (and drop the samplers' inherited set_epoch/state_dict/load_state_dict) and bring in torch's and
# kornia's boilerplate (extra_repr, forward, apply_transform) and the named tuples' field aliases.
autodoc_default_options: dict[str, object] = {}
autodoc_member_order = "bysource"
autodoc_class_signature = "mixed"
# Types go into the signature: as descriptions they made a second parameter list for classes
# whose docstring has sections napoleon does not know ("Inputs:").
autodoc_typehints = "signature"
autodoc_typehints_format = "short"
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
# "Attributes:" sections as fields, so a named tuple's fields are described once, in its docstring.
napoleon_use_ivar = True
napoleon_custom_sections = ["Inputs"]

html_theme = "furo"
html_title = f"mmt-augment {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
# The result files the results page links to (runs/<setting>/*.json, summary.json), copied into the site.
html_extra_path = [str(stage_run_files(ROOT / "benchmarks" / "results", DOCS / "_generated" / "extra"))]

# The figures are made at build time from images that ship with scikit-learn.
make_figures(DOCS / "_static" / "generated")
