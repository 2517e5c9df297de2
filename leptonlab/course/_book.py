"""The course book: a static HTML site of every notebook with its outputs, built with Sphinx.

``make book`` (``leptonlab book``) stages a Sphinx source folder from files that already exist and
builds it with ``docs/conf.py`` (Sphinx, myst-nb, sphinx-book-theme; CONTRIBUTING.md says why):

- one page per notebook, from *executed* copies (a ``leptonlab run`` folder, or the notebooks
  nbval executed in ``make test``: see :func:`save_executed_notebook`); the book never runs code;
  each page starts with links to Colab and to the notebook on GitHub at the course's version tag;
- the landing page from the README's introduction, set-up and course/package tables; the
  instructors' guide from its "For instructors" section (one source, no copy to keep in step);
- RESULTS.md, PERFORMANCE.md and ERRATA.md as they are, with links to other repository files
  pointed at GitHub;
- an API reference of ``leptonlab`` from its docstrings (autodoc), one page per public module.

:func:`site_problems` checks a built site: a page per notebook, every figure a notebook drew
present as an image file its page shows, no error output, no internal link to a missing file or
anchor. ``tests/test_book.py`` runs it on the book of the notebooks ``make test`` executed.
"""

from __future__ import annotations

import html.parser
import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

#: Markdown pages of the repository that the book shows as they are.
PAGES = ("RESULTS.md", "PERFORMANCE.md", "ERRATA.md")
#: The README's sections the landing page is made of, and the one the instructors' guide is.
LANDING_SECTIONS = ("Set-up: two commands", "The course", "The package")
INSTRUCTORS_SECTION = "For instructors: release, collect, grade"
IMAGE_MIMES = ("image/png", "image/jpeg", "image/svg+xml", "image/gif")
_COURSE_NOTEBOOK = re.compile(r"^\d{2}_.+\.ipynb$")
_MD_LINK = re.compile(r"(!?\[[^\]]*\]\()([^)\s]+)(\))")
_NOTEBOOK_CODE = re.compile(r"\| `(\d{2}_\w+)` \|")


class BookError(ValueError):
    """Bad input to the book's build: one line saying what is wrong and what to do."""


def repository_root() -> Path:
    """The checkout the package runs from (it holds pyproject.toml, README.md, docs/)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "docs" / "conf.py").is_file() or not (root / "README.md").is_file():
        raise BookError(
            f"no docs/conf.py and README.md under {root}: the book is built from a "
            "checkout of the repository (pip install -e .), not from an installed wheel"
        )
    return root


# ---------------------------------------------------------------- executed notebooks from nbval


def save_executed_notebook(
    source: str | Path, outputs: dict[int, list[Any]], out_dir: str | Path, notebook: Any = None
) -> Path:
    """Write ``source`` with the outputs a run produced, cell by cell, into ``out_dir``.

    ``outputs`` maps the index of a code cell among the code cells (nbval's ``cell_num``) to the
    outputs it produced; cells that did not run keep none. ``notebook``: the notebook as it was
    read when it ran (nbval's copy; default: read ``source``), so that a file edited or renamed
    meanwhile changes nothing. Used by the pytest hook in the repository's ``conftest.py``, so the
    book is built from the notebooks ``make test`` executed.
    """
    import copy

    import nbformat

    nb = (
        copy.deepcopy(notebook)
        if notebook is not None
        else nbformat.read(Path(source), as_version=4)
    )
    code = [cell for cell in nb.cells if cell.cell_type == "code"]
    for number, cell in enumerate(code, start=0):
        produced = outputs.get(number)
        cell.outputs = [nbformat.from_dict(dict(o)) for o in produced] if produced else []
        for output in cell.outputs:
            if output.output_type == "execute_result":
                output.setdefault("execution_count", number + 1)
                output.setdefault("metadata", {})
            elif output.output_type == "display_data":
                output.setdefault("metadata", {})
                output.pop("execution_count", None)
        cell.execution_count = number + 1 if produced is not None else None
    target = Path(out_dir) / Path(source).name
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return target


# ---------------------------------------------------------------- staging


def readme_section(readme: str, title: str) -> str:
    """The README section ``## title`` (its heading included), up to the next ``## `` heading."""
    lines = readme.splitlines()
    try:
        start = lines.index(f"## {title}")
    except ValueError:
        raise BookError(
            f"README.md has no section '## {title}': the book's pages are made from it; "
            "rename it back or update leptonlab/course/_book.py"
        ) from None
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    return "\n".join(lines[start:end]).rstrip() + "\n"


def _github_blob(path: str) -> str:
    from leptonlab.course._colab import repository_url, version_tag

    return f"{repository_url().rstrip('/')}/blob/{version_tag()}/{path}"


def rewrite_links(markdown: str, staged: Iterable[str]) -> str:
    """Relative links to repository files the book lacks point at GitHub at the version tag.

    Links to a staged page (``ERRATA.md``, ``notebooks/01_x.ipynb``), anchors and absolute
    addresses are kept; code spans are left alone.
    """
    staged = set(staged)

    def fix(match: re.Match[str]) -> str:
        target = match.group(2)
        parts = urlsplit(target)
        if parts.scheme or parts.netloc or target.startswith(("#", "mailto:")):
            return match.group(0)
        if unquote(parts.path) in staged:
            return match.group(0)
        return f"{match.group(1)}{_github_blob(parts.path)}{'#' + parts.fragment if parts.fragment else ''}{match.group(3)}"

    out = []
    for chunk in re.split(r"(```.*?```|`[^`\n]*`)", markdown, flags=re.DOTALL):
        out.append(chunk if chunk.startswith("`") else _MD_LINK.sub(fix, chunk))
    return "".join(out)


def landing_page(readme: str, notebooks: list[str]) -> str:
    """index.md: the README's title and introduction, set-up, course and package tables, the contents."""
    intro = readme.split("\n## ", 1)[0].rstrip() + "\n"
    body = "\n".join(readme_section(readme, title) for title in LANDING_SECTIONS)
    stems = {Path(name).stem for name in notebooks}
    body = _NOTEBOOK_CODE.sub(
        lambda m: (
            f"| [`{m.group(1)}`](notebooks/{m.group(1)}.ipynb) |"
            if m.group(1) in stems
            else m.group(0)
        ),
        body,
    )
    toc_notebooks = "\n".join(f"notebooks/{Path(n).stem}" for n in notebooks)
    toc = (
        f"\n```{{toctree}}\n:caption: The notebooks\n:maxdepth: 1\n\n{toc_notebooks}\n```\n\n"
        "```{toctree}\n:caption: Results and reference\n:maxdepth: 1\n\n"
        + "\n".join(Path(p).stem for p in PAGES)
        + "\ninstructors\napi/index\n```\n"
    )
    return intro + "\n" + body + toc


def instructors_page(readme: str) -> str:
    """instructors.md: the README's instructors' section, under its own title."""
    section = readme_section(readme, INSTRUCTORS_SECTION)
    return "# For instructors" + section[len(f"## {INSTRUCTORS_SECTION}") :].replace(
        "\n### ", "\n## "
    )


def public_modules() -> list[str]:
    """``leptonlab`` and its public modules and subpackages (no leading underscore), sorted."""
    import pkgutil

    import leptonlab

    names = [
        f"leptonlab.{m.name}"
        for m in pkgutil.iter_modules(leptonlab.__path__)
        if not m.name.startswith("_")
    ]
    return ["leptonlab", *sorted(n for n in names if n != "leptonlab.cli")] + ["leptonlab.cli"]


def api_pages(dest: Path) -> list[str]:
    """api/index.md and one api/<module>.md per public module (autodoc from docstrings)."""
    import importlib

    api = dest / "api"
    api.mkdir(parents=True, exist_ok=True)
    modules = public_modules()
    for name in modules:
        if name == "leptonlab":
            options = []  # the package's docstring only: its modules have pages of their own
        elif hasattr(importlib.import_module(name), "__path__"):
            options = [
                ":members:",
                ":imported-members:",
            ]  # a subpackage re-exports from private modules
        else:
            options = [":members:"]
        (api / f"{name}.md").write_text(
            f"# `{name}`\n\n```{{eval-rst}}\n.. automodule:: {name}\n"
            + "".join(f"   {option}\n" for option in options)
            + "```\n",
            encoding="utf-8",
        )
    (api / "index.md").write_text(
        "# API reference\n\nGenerated from the docstrings of the `leptonlab` package.\n\n"
        "```{toctree}\n:maxdepth: 1\n\n" + "\n".join(modules) + "\n```\n",
        encoding="utf-8",
    )
    return modules


def _links(name: str, executed_from: str, *, colab: bool) -> str:
    from leptonlab.course._colab import colab_url, notebook_url

    return (
        f"[Open in Colab]({colab_url(name)}) · " if colab else ""
    ) + f"[The notebook on GitHub]({notebook_url(name)}) · outputs from {executed_from}"


def _run_description(nb: Any) -> str | None:
    """'a quick-mode run (`leptonlab run`, 2026-12-06)' from papermill's record, if it has one."""
    record = nb.metadata.get("papermill", {})
    quick = record.get("parameters", {}).get("QUICK")
    if quick is None:
        return None
    day = str(record.get("start_time") or "")[:10]
    return f"a {'quick-mode' if quick else 'full'} run (`leptonlab run`{', ' + day if day else ''})"


def stage_notebook(source: Path, dest: Path, executed_from: str) -> None:
    """Copy an executed notebook into the book, with its Colab and GitHub links under the title."""
    import nbformat

    from leptonlab.course._colab import BADGE_IMAGE, colab_url

    nb = nbformat.read(source, as_version=4)
    executed_from = _run_description(nb) or executed_from
    title = nb.cells[0] if nb.cells and nb.cells[0].cell_type == "markdown" else None
    if (
        title is not None
    ):  # the badge is an image on Colab's site: the book loads nothing from elsewhere
        title.source = title.source.replace(f"![Open In Colab]({BADGE_IMAGE})", "Open in Colab")
    has_colab = title is not None and colab_url(source.name) in title.source
    links = _links(source.name, executed_from, colab=not has_colab)
    if title is not None:
        head, _, rest = title.source.partition("\n")
        title.source = f"{head}\n\n{links}\n{rest}"
    else:
        nb.cells.insert(0, nbformat.v4.new_markdown_cell(links))
    nbformat.write(nb, dest)


def course_notebooks_in(folder: Path) -> list[Path]:
    """The executed course notebooks ``NN_*.ipynb`` in a run folder, sorted."""
    return sorted(p for p in folder.glob("*.ipynb") if _COURSE_NOTEBOOK.match(p.name))


def stage_book(
    executed: str | Path,
    dest: str | Path,
    *,
    root: Path | None = None,
    executed_from: str | None = None,
    course: Iterable[str] | None = None,
) -> list[Path]:
    """Write the book's Sphinx sources into ``dest`` (emptied first); returns the notebooks staged.

    ``course``: the names of the course's notebooks (default: ``notebooks/NN_*.ipynb`` now).

    Raises:
        BookError: if ``executed`` is not a folder, holds no course notebook, or lacks one of the
            course's notebooks (a book with a missing chapter would pass for complete).
    """
    root = root or repository_root()
    folder = Path(executed)
    if not folder.is_dir():
        raise BookError(
            f"no folder {folder}: give a run folder of executed notebooks "
            "(leptonlab run --quick --out DIR), e.g. make book RUN=runs/full-..."
        )
    notebooks = course_notebooks_in(folder)
    wanted = (
        list(course)
        if course is not None
        else [
            p.name
            for p in sorted((root / "notebooks").glob("*.ipynb"))
            if _COURSE_NOTEBOOK.match(p.name)
        ]
    )
    missing = sorted(set(wanted) - {p.name for p in notebooks})
    if missing:
        raise BookError(
            f"{folder} lacks executed copies of {', '.join(missing)}: run them "
            f"(leptonlab run --quick --out {folder} notebooks/<name>) or give a complete run folder"
        )
    dest = Path(dest)
    if dest.exists():
        shutil.rmtree(dest)
    (dest / "notebooks").mkdir(parents=True)
    where = executed_from or f"`{folder}`"
    for path in notebooks:
        stage_notebook(path, dest / "notebooks" / path.name, where)
    staged = [*PAGES, *(f"notebooks/{p.name}" for p in notebooks)]
    readme = (root / "README.md").read_text(encoding="utf-8")
    (dest / "index.md").write_text(
        rewrite_links(landing_page(readme, [p.name for p in notebooks]), staged), encoding="utf-8"
    )
    (dest / "instructors.md").write_text(
        rewrite_links(instructors_page(readme), staged), encoding="utf-8"
    )
    for page in PAGES:
        text = (root / page).read_text(encoding="utf-8")
        (dest / page).write_text(rewrite_links(text, staged), encoding="utf-8")
    api_pages(dest)
    return notebooks


def build_book(
    executed: str | Path,
    out: str | Path,
    *,
    root: Path | None = None,
    executed_from: str | None = None,
    course: Iterable[str] | None = None,
) -> Path:
    """Stage and build the book; returns the folder holding ``index.html``.

    The Sphinx sources go to ``<out>/src``, the site to ``<out>/html``.

    Raises:
        BookError: on bad input (see :func:`stage_book`) or when Sphinx fails (its last lines).
    """
    from leptonlab.course._colab import repository_url, version_tag

    root = root or repository_root()
    out = Path(out)
    src, html_dir = out / "src", out / "html"
    stage_book(executed, src, root=root, executed_from=executed_from, course=course)
    if html_dir.exists():
        shutil.rmtree(html_dir)
    env = {
        **os.environ,
        "LEPTONLAB_BOOK_REPOSITORY": repository_url(),
        "LEPTONLAB_BOOK_TAG": version_tag(),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "sphinx",
            "-b",
            "html",
            "-q",
            "-c",
            str(root / "docs"),
            "-d",
            str(out / "doctrees"),
            str(src),
            str(html_dir),
        ],
        env=env,
        capture_output=True,
        text=True,
    )
    (out / "sphinx.log").write_text(done.stdout + done.stderr, encoding="utf-8")
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        raise BookError(
            f"sphinx-build failed (exit {done.returncode}; whole log in {out / 'sphinx.log'}):\n{tail}"
        )
    return html_dir


# ---------------------------------------------------------------- checks of the built site


class _Page(html.parser.HTMLParser):
    """The links, image sources and ids of one HTML page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.links: list[str] = []
        self.images: list[str] = []
        self.ids: set[str] = set()
        self.tracebacks = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        if a.get("name") and tag == "a":
            self.ids.add(a["name"])
        if "traceback" in (a.get("class") or "").split():
            self.tracebacks += 1
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag in ("link",) and a.get("href"):
            self.links.append(a["href"])
        elif tag in ("img", "script") and a.get("src"):
            (self.images if tag == "img" else self.links).append(a["src"])


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8", errors="replace"))
    return page


def figure_files(nb: dict[str, Any]) -> list[str]:
    """The ``_images/`` file names myst-nb gives a notebook's figures: sha256 of the image's bytes."""
    import base64
    import hashlib

    names = []
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            data = (
                o.get("data", {})
                if o.get("output_type") in ("display_data", "execute_result")
                else {}
            )
            mime = next((m for m in IMAGE_MIMES if m in data), None)
            if mime is None:
                continue
            text = "".join(data[mime]) if isinstance(data[mime], list) else data[mime]
            raw = text.encode() if mime == "image/svg+xml" else base64.b64decode(text)
            names.append(
                hashlib.sha256(raw).hexdigest()
                + {
                    "image/png": ".png",
                    "image/jpeg": ".jpg",
                    "image/svg+xml": ".svg",
                    "image/gif": ".gif",
                }[mime]
            )
    return names


def error_outputs(nb: dict[str, Any]) -> list[str]:
    """``cell K: Name: message`` for each error output of an executed notebook."""
    return [
        f"cell {i}: {o.get('ename')}: {o.get('evalue')}"
        for i, cell in enumerate(nb.get("cells", []))
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def _local(html_file: Path, html_dir: Path, target: str) -> tuple[Path, str] | None:
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or target.startswith(("mailto:", "javascript:", "data:")):
        return None
    path = (html_file.parent / unquote(parts.path)).resolve() if parts.path else html_file.resolve()
    if path.is_dir():
        path = path / "index.html"
    return path, parts.fragment


def broken_links(html_dir: str | Path) -> list[str]:
    """Internal links, scripts, stylesheets and images of the site that lead nowhere."""
    html_dir = Path(html_dir).resolve()
    pages = {
        p.resolve(): _parse(p)
        for p in html_dir.rglob("*.html")
        if p.relative_to(html_dir).parts[0] != "_static"
    }  # the themes' Jinja macro files
    problems = []
    for path, page in sorted(pages.items()):
        for target in page.links + page.images:
            local = _local(path, html_dir, target)
            if local is None:
                continue
            file, fragment = local
            where = path.relative_to(html_dir)
            if not file.is_file():
                problems.append(f"{where}: link to a missing file {target}")
            elif (
                fragment
                and file.suffix == ".html"
                and file in pages
                and fragment not in pages[file].ids
            ):
                problems.append(f"{where}: link to a missing anchor {target}")
    return problems


def site_problems(html_dir: str | Path, notebooks: Iterable[str | Path]) -> list[str]:
    """What is wrong with a built book, given the executed notebooks it was built from."""
    html_dir = Path(html_dir)
    problems = []
    if not (html_dir / "index.html").is_file():
        return [f"no index.html in {html_dir}: the book was not built"]
    for source in map(Path, notebooks):
        page_path = html_dir / "notebooks" / f"{source.stem}.html"
        if not page_path.is_file():
            problems.append(f"{source.name}: no page notebooks/{source.stem}.html")
            continue
        nb = json.loads(source.read_text(encoding="utf-8"))
        problems += [f"{source.name}: error output in {e}" for e in error_outputs(nb)]
        page = _parse(page_path)
        if page.tracebacks:
            problems.append(f"{source.name}: its page shows {page.tracebacks} traceback(s)")
        shown = {
            Path(unquote(src)).name
            for src in page.images
            if "_images/" in src and (page_path.parent / unquote(src)).is_file()
        }
        lost = [name for name in figure_files(nb) if name not in shown]
        if lost:
            problems.append(
                f"{source.name}: {len(lost)} of the {len(figure_files(nb))} figure(s) it drew are "
                f"not image files its page shows (e.g. _images/{lost[0]})"
            )
    return problems + broken_links(html_dir)
