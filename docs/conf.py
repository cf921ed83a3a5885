"""Sphinx configuration of verireward's docs: MyST Markdown pages, the API reference generated from
the docstrings (autodoc + napoleon), the furo theme. Built in CI with warnings as errors
(python_tests/test_docs.py: ``sphinx-build -W``)."""

import verireward

project = "verireward"
author = "the verireward developers"
release = version = verireward.__version__
extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.napoleon"]
source_suffix = {".md": "markdown"}
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3
exclude_patterns = ["_build"]
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True
napoleon_numpy_docstring = False
html_theme = "furo"
html_title = f"verireward {release}"
