"""Sphinx configuration for the sklearn-lgf documentation.

Build (offline, from the repository root)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

from sphinx_gallery.sorting import ExplicitOrder

import sklearn_lgf

# -- Project information -----------------------------------------------------
project = "sklearn-lgf"
author = "sklearn-lgf developers"
copyright = "sklearn-lgf developers, BSD-3-Clause"  # noqa: A001
version = release = sklearn_lgf.__version__

# -- General configuration ---------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax itself, copied into the build (_static/mathjax) and loaded from
    # there instead of a CDN, so that formulas render without network access.
    "sphinx-mathjax-offline",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]

# No intersphinx: the build must work offline and never fetch inventories.
# References to scikit-learn, numpy or torch objects in docstrings therefore
# render as plain (unlinked) code; ``nitpicky`` stays off so that they are not
# warnings.
nitpicky = False

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "README.md",
    "Thumbs.db",
    ".DS_Store",
    # sphinx-gallery writes these; the gallery's own index includes them.
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
root_doc = "index"
default_role = "literal"  # `x` renders like ``x`` (numpydoc convention)
pygments_style = "sphinx"

# -- autodoc / autosummary / numpydoc ----------------------------------------
autosummary_generate = True
autosummary_imported_members = False
autodoc_typehints = "none"  # the numpydoc docstrings already give the types
autoclass_content = "class"
autodoc_member_order = "groupwise"

numpydoc_show_class_members = False  # the class template lists the methods
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False  # would need intersphinx to be useful

# -- sphinx-gallery ----------------------------------------------------------
# Examples by importance, not by file name: the paper's headline result first,
# then the applications. An example missing from this list stops the build
# (sphinx-gallery's ExplicitOrder), so that a new one gets a place on purpose.
GALLERY_ORDER = [
    "plot_two_uniforms.py",
    "plot_anomaly_pipeline.py",
    "plot_adbench_roc.py",
    "plot_digits_sampling.py",
    "plot_digits_images.py",
    "plot_grid_search.py",
]
# plot_adbench_roc.py reads a data set kept beside the repository, not
# shipped with it: without the file it is not run and its page shows the code.
_ADBENCH_CARDIO = Path(__file__).resolve().parents[2] / "shared/data/adbench/cardio.npz"
_RUN_PATTERN = r"/plot_" if _ADBENCH_CARDIO.is_file() else r"/plot_(?!adbench)"
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": _RUN_PATTERN,
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("sklearn_lgf",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"sklearn_lgf": None},  # link to local API pages only
    "within_subsection_order": ExplicitOrder(GALLERY_ORDER),
    "download_all_examples": False,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
    # Its summary page loads a table library from a CDN; each example page
    # shows its own running time anyway.
    "write_computation_times": False,
}

# The examples train small networks. On a machine with few cores (and other
# jobs on it) torch's intra-op threads cost more than they bring for models of
# this size: one thread is several times faster. This only affects the docs
# build process (the examples run in it); the examples themselves do not
# change any global setting.
try:
    import torch

    torch.set_num_threads(int(os.environ.get("SKLEARN_LGF_DOCS_THREADS", "1")))
except ImportError:  # pragma: no cover
    pass

# Matplotlib must not try to open windows during the build.
os.environ.setdefault("MPLBACKEND", "agg")
warnings.filterwarnings(
    "ignore",
    category=UserWarning,
    message="Matplotlib is currently using agg, which is a non-GUI backend",
)


# -- HTML output -------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"sklearn-lgf {release}"
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "navbar_end": ["theme-switcher", "navbar-icon-links"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
# Pages without sub-pages have nothing for the section navigation to list.
html_sidebars = {
    "index": [],
    "user_guide": [],
    "scaling": [],
    "glossary": [],
    "whats_new": [],
}
html_static_path = ["_static"]
# Code blocks and doctests scroll sideways instead of being cut off.
html_css_files = ["custom.css"]
html_show_sourcelink = False


# -- Offline check -----------------------------------------------------------
# The site must work without network access: a page that loads a script, a
# stylesheet or an image from another host fails the build.
_REMOTE = re.compile(
    r"<(?:script|link|img|iframe)\b[^>]*\b(?:src|href)=[\"']((?:https?:)?//[^\"']+)",
    re.IGNORECASE,
)


def _check_offline(app: Any, exception: BaseException | None) -> None:
    if exception is not None or app.builder.format != "html":
        return
    found = []
    for page in sorted(Path(app.outdir).rglob("*.html")):
        for match in _REMOTE.finditer(page.read_text(encoding="utf-8")):
            found.append(f"{page.relative_to(app.outdir)}: {match.group(1)}")
    if found:
        raise RuntimeError(
            f"{len(found)} remote resource(s) in the HTML, which would not load "
            f"offline; first: {found[0]}"
        )


def setup(app: Any) -> None:
    app.connect("build-finished", _check_offline)
