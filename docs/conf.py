"""Sphinx configuration of the course book (``make book``; leptonlab.course._book stages the pages).

Sphinx + myst-nb + sphinx-book-theme: every piece is a pip package, the build needs no Node.js
and no download, and MathJax is served from the book's own ``_static`` (sphinx-mathjax-offline).
Notebooks are never executed here: their outputs come from a run (nbval in ``make test``, or
``leptonlab run``). CONTRIBUTING.md says why this tool and not Jupyter Book 2.
"""

import os
import re

project = "leptonlab"
author = "the leptonlab authors"
copyright = "the leptonlab authors"
html_title = "leptonlab: deep learning with JAX, Flax and Optax"

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx-mathjax-offline",  # MathJax 3 copied into _static/mathjax: no CDN when the book is read
]

# Outputs come from a run; the book never executes a notebook.
nb_execution_mode = "off"
nb_merge_streams = True
# A notebook's recorded metrics (leptonlab.course.record) are data for the report, not for the page;
# progress widgets have no saved state, so their text form is shown.
nb_mime_priority_overrides = [
    ("html", "application/vnd.leptonlab.metrics+json", None),
    ("html", "application/vnd.jupyter.widget-view+json", None),
]
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

autodoc_default_options = {"members": True, "undoc-members": False, "show-inheritance": True}
autodoc_typehints = "description"
autodoc_member_order = "bysource"
napoleon_google_docstring = True

exclude_patterns = ["_build", "**.ipynb_checkpoints"]
master_doc = "index"
pygments_style = "sphinx"

_repository = os.environ.get("LEPTONLAB_BOOK_REPOSITORY", "")
_tag = os.environ.get("LEPTONLAB_BOOK_TAG", "main")
html_theme = "sphinx_book_theme"
html_theme_options = {
    "repository_url": _repository,
    "repository_branch": _tag,
    "path_to_docs": "",
    "use_repository_button": bool(_repository),
    "use_download_button": True,
    "launch_buttons": {"colab_url": "https://colab.research.google.com"} if _repository else {},
    "show_toc_level": 2,
}
html_static_path = []

_ABSOLUTE = re.compile(r"(?<![\w\\`|])\|(\S(?:[^|`]*?\S)?)\|(?![\w`|])")


def _plain_bars(app, what, name, obj, options, lines):
    """Docstrings write |x| for an absolute value, in plain text: show it, not an RST substitution."""
    for i, line in enumerate(lines):
        parts = re.split(r"(``.*?``|:math:`.*?`)", line)
        lines[i] = "".join(p if p.startswith(("``", ":math:")) else _ABSOLUTE.sub(r"\\|\1\\|", p) for p in parts)


def setup(app):
    app.connect("autodoc-process-docstring", _plain_bars)
html_last_updated_fmt = None
