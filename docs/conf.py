"""Sphinx configuration for the sklearn-lgf documentation.

Build (offline, from the repository root)::

    python -m sphinx -W --keep-going -b html docs docs/_build/html
"""

from __future__ import annotations

import os
import warnings

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
    "sphinx.ext.mathjax",  # MathJax is loaded by the reader's browser only
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
sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "doc_module": ("sklearn_lgf",),
    "backreferences_dir": "gen_modules/backreferences",
    "reference_url": {"sklearn_lgf": None},  # link to local API pages only
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "abort_on_example_error": True,
    "remove_config_comments": True,
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "show_memory": False,
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
html_sidebars = {"index": [], "user_guide": []}
html_static_path: list[str] = []
html_show_sourcelink = False
