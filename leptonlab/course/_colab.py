"""Colab and other hosted runtimes: the "Open in Colab" link and the install cell of each notebook.

The repository's URL lives in one place, ``pyproject.toml``'s ``[project.urls] Repository``; the
installed package reads it from its own metadata. From it come

- :func:`colab_url` / :func:`colab_badge`: the link that opens a notebook of the course's version
  tag (``v<version>``) in Colab, put in each notebook's title cell;
- :func:`install_cell_source`: the first code cell of each notebook. Where ``import leptonlab``
  works (the course's kernel, CI) it does nothing else. Where it fails (a fresh Colab runtime) it
  installs leptonlab from the repository at the version tag with ``pip install --no-deps`` and then
  runs ``leptonlab/_bootstrap.py``, which installs only the dependencies that are missing and never
  re-pins the runtime's own jax, jaxlib, flax or numpy. ``LEPTONLAB_INSTALL_FROM`` (a path, a
  wheel, any pip requirement) replaces the repository, for the test that runs this code path on a
  local checkout. The cell runs before leptonlab is importable, so it is plain lines only.

:func:`colab_problems` is the rule ``leptonlab check-notebooks`` and the tests apply to every course
notebook: the title cell holds the link, the first code cell is exactly the install cell.
"""

from __future__ import annotations

import re
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

#: The environment variable that points the install cell at another source (a path, a wheel).
INSTALL_FROM_ENV = "LEPTONLAB_INSTALL_FROM"
_GITHUB = re.compile(r"^https://github\.com/([\w.-]+)/([\w.-]+?)(?:\.git)?/?$")
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"


@cache
def repository_url() -> str:
    """``[project.urls] Repository`` of the installed leptonlab (from ``pyproject.toml``).

    Raises:
        LookupError: if leptonlab is not installed or its metadata has no Repository URL.
    """
    try:
        urls = metadata.metadata("leptonlab").get_all("Project-URL") or []
    except metadata.PackageNotFoundError:
        raise LookupError(
            "leptonlab is not installed: run `pip install -e .` in the repository"
        ) from None
    for entry in urls:
        label, _, url = entry.partition(",")
        if label.strip().lower() == "repository":
            return url.strip()
    raise LookupError(
        "pyproject.toml has no [project.urls] Repository (or the installed metadata is "
        "older than it): add it, then re-run `pip install -e .`"
    )


def version_tag() -> str:
    """The git tag of the course's version, ``v<version>`` (``v0.1.0``)."""
    return f"v{metadata.version('leptonlab')}"


def _github_parts() -> tuple[str, str]:
    url = repository_url()
    match = _GITHUB.match(url)
    if match is None:
        raise ValueError(
            f"the Repository URL {url!r} is not https://github.com/<owner>/<name>: "
            "Colab opens notebooks from GitHub only"
        )
    return match.group(1), match.group(2)


def notebook_url(name: str) -> str:
    """The notebook ``notebooks/<name>`` on GitHub at the course's version tag."""
    owner, repo = _github_parts()
    return f"https://github.com/{owner}/{repo}/blob/{version_tag()}/notebooks/{name}"


def colab_url(name: str) -> str:
    """The address that opens ``notebooks/<name>`` of the course's version tag in Colab."""
    owner, repo = _github_parts()
    return f"https://colab.research.google.com/github/{owner}/{repo}/blob/{version_tag()}/notebooks/{name}"


def colab_badge(name: str) -> str:
    """The Markdown "Open in Colab" link of a notebook's title cell."""
    return f"[![Open In Colab]({BADGE_IMAGE})]({colab_url(name)})"


def install_source() -> str:
    """What the install cell gives ``pip install --no-deps`` by default: the repository at the tag."""
    return f"git+{repository_url().rstrip('/')}@{version_tag()}"


def install_cell_source() -> str:
    """The first code cell of every course notebook (see the module's docstring)."""
    return (
        "# Colab or another hosted runtime: install leptonlab if it is missing (here it is a no-op).\n"
        "# Only leptonlab and its missing dependencies are installed; the runtime's jax, flax, numpy stay.\n"
        "try:\n"
        "    import leptonlab\n"
        "except ImportError:\n"
        "    import importlib.util, os, subprocess, sys\n"
        f"    source = os.environ.get({INSTALL_FROM_ENV!r}, {install_source()!r})\n"
        "    subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', source], check=True)\n"
        "    importlib.invalidate_caches()\n"
        "    package = importlib.util.find_spec('leptonlab').submodule_search_locations[0]\n"
        "    subprocess.run([sys.executable, os.path.join(package, '_bootstrap.py')], check=True)\n"
        "    import leptonlab"
    )


def _source(cell: Any) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def colab_problems(cells: list[Any], name: str) -> list[str]:
    """What the notebook ``name`` (cells as nbformat gives them) lacks of the Colab link and cell."""
    problems = []
    if (
        not cells
        or cells[0].get("cell_type") != "markdown"
        or colab_url(name) not in _source(cells[0])
    ):
        problems.append(f"cell 0 (the title) lacks the Open in Colab link: add {colab_badge(name)}")
    code = [c for c in cells if c.get("cell_type") == "code"]
    if not code or _source(code[0]).strip() != install_cell_source():
        problems.append(
            "the first code cell is not the install cell: put "
            "leptonlab.course.install_cell_source() there, unchanged"
        )
    return problems


def add_colab_cells(path: str | Path) -> bool:
    """Put the link in the title cell and the install cell before the first code cell, in place.

    Returns whether the file changed; the index of the inserted cell is what ERRATA.md's cell
    numbers past it shift by one for (:func:`insertion_index`).
    """
    import nbformat

    p = Path(path)
    nb = nbformat.read(p, as_version=4)
    changed = False
    title = nb.cells[0]
    if colab_url(p.name) not in title.source:
        head, _, rest = title.source.rstrip("\n").partition("\n")  # the heading, then the summary
        title.source = f"{head}\n\n{colab_badge(p.name)}\n" + (
            f"\n{rest.lstrip()}" if rest.strip() else ""
        )
        changed = True
    code = [i for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    if not code or nb.cells[code[0]].source.strip() != install_cell_source():
        where = code[0] if code else len(nb.cells)
        cell = nbformat.v4.new_code_cell(install_cell_source())
        cell.id = "install-leptonlab"  # a fixed id instead of a random one: the same cell in every notebook
        nb.cells.insert(where, cell)
        changed = True
    if changed:
        nb.cells = [_without_id(c) for c in nb.cells] if nb.nbformat_minor < 5 else nb.cells
        nbformat.write(nb, p)
    return changed


def _without_id(cell: Any) -> Any:
    cell.pop("id", None)
    return cell


def insertion_index(cells: list[Any]) -> int:
    """Where :func:`add_colab_cells` puts the install cell: before the first code cell."""
    return next((i for i, c in enumerate(cells) if c.get("cell_type") == "code"), len(cells))
