"""The course book (issue 27): staging and checks on small inputs, then the real book.

The real book is built from the notebooks nbval executed earlier in the same pytest session
(``conftest.py`` writes each with its outputs to build/test-notebooks/): ``make test`` runs every
notebook once (in parallel workers), and these tests (marked ``after_notebooks``) then run in a
second pytest process that reads those copies from ``LEPTONLAB_BOOK_FROM`` and builds and checks the
site; in a single pytest session they run last and read the session's own copies. Run alone,
without the notebooks, the real-book tests skip and say so.
Measured 2026-12-06 on the shared 2-core CPU: the Sphinx build of 22 quick-run notebooks (87
figures) and the API reference took 2 min (34 s of CPU time), the site checks and the browser 29 s.
"""

import json
import os
import shutil
from pathlib import Path

import nbformat
import pytest

from leptonlab.course import _book
from leptonlab.course._colab import colab_url

ROOT = Path(__file__).resolve().parents[1]
COURSE = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb") if p.name[:2].isdigit())


# ---------------------------------------------------------------- small inputs


def test_readme_sections_the_book_is_made_of_exist():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for title in (*_book.LANDING_SECTIONS, _book.INSTRUCTORS_SECTION):
        assert _book.readme_section(readme, title).startswith(f"## {title}\n")
    with pytest.raises(_book.BookError, match="no section '## Nope'"):
        _book.readme_section(readme, "Nope")


def test_landing_page_links_each_notebook_of_the_course_table():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    page = _book.landing_page(readme, COURSE)
    for name in COURSE:
        stem = name[:-6]
        assert f"[`{stem}`](notebooks/{name})" in page, stem
        assert f"\nnotebooks/{stem}\n" in page  # in the toctree
    assert "instructors\napi/index" in page


def test_links_to_files_outside_the_book_point_at_github_and_staged_pages_stay():
    text = "See [errata](ERRATA.md), [bench](benchmarks/__main__.py#L3), [web](https://x.org), `[no](a.md)`."
    out = _book.rewrite_links(text, ["ERRATA.md"])
    assert "[errata](ERRATA.md)" in out and "[web](https://x.org)" in out and "`[no](a.md)`" in out
    assert (
        "[bench](https://github.com/leptonlab/leptonlab/blob/v0.1.0/benchmarks/__main__.py#L3)"
        in out
    )


def _nb(tmp_path, name, cells):
    path = tmp_path / name
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_save_executed_notebook_puts_each_cells_outputs_back(tmp_path):
    source = _nb(
        tmp_path,
        "00_x.ipynb",
        [
            nbformat.v4.new_markdown_cell("# 00 · X"),
            nbformat.v4.new_code_cell("print(1)"),
            nbformat.v4.new_code_cell("1 + 1"),
            nbformat.v4.new_code_cell("skipped"),
        ],
    )
    outputs = {
        0: [{"output_type": "stream", "name": "stdout", "text": "1\n"}],
        1: [{"output_type": "execute_result", "data": {"text/plain": "2"}, "metadata": {}}],
    }
    written = _book.save_executed_notebook(source, outputs, tmp_path / "out")
    nb = nbformat.read(written, as_version=4)
    nbformat.validate(nb)
    assert nb.cells[1].outputs[0].text == "1\n" and nb.cells[2].outputs[0].data["text/plain"] == "2"
    assert nb.cells[3].outputs == [] and nb.cells[3].execution_count is None


PNG = "iVBORw0KGgo="  # base64 of the PNG signature: a figure's bytes, as a notebook stores them
PNG_FILE = (
    "4c4b6a3be1314ab86138bef4314dde022e600960d8689a2c8f8631802d20dab6.png"  # sha256 of those bytes
)


def _site(tmp_path, body, image=True):
    html_dir = tmp_path / "html"
    (html_dir / "notebooks").mkdir(parents=True)
    (html_dir / "_images").mkdir()
    if image:
        (html_dir / "_images" / PNG_FILE).write_bytes(b"png")
    (html_dir / "index.html").write_text('<a href="notebooks/00_x.html#top">x</a>')
    (html_dir / "notebooks" / "00_x.html").write_text(f'<div id="top">{body}</div>')
    return html_dir


def _drawn(tmp_path, error=False):
    cell = nbformat.v4.new_code_cell("plot()")
    cell.outputs = [
        nbformat.v4.new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"})
    ]
    if error:
        cell.outputs.append(
            nbformat.v4.new_output("error", ename="ValueError", evalue="bad", traceback=[])
        )
    return _nb(tmp_path, "00_x.ipynb", [nbformat.v4.new_markdown_cell("# 00"), cell])


def test_site_problems_pass_a_complete_site(tmp_path):
    html_dir = _site(tmp_path, f'<img src="../_images/{PNG_FILE}">')
    assert _book.site_problems(html_dir, [_drawn(tmp_path)]) == []


def test_site_problems_find_a_missing_figure_an_error_a_broken_link_and_a_missing_page(tmp_path):
    html_dir = _site(tmp_path, '<a href="../nowhere.html">n</a><a href="#gone">g</a>', image=False)
    problems = _book.site_problems(
        html_dir, [_drawn(tmp_path, error=True), _nb(tmp_path, "01_y.ipynb", [])]
    )
    text = "\n".join(problems)
    assert (
        f"00_x.ipynb: 1 of the 1 figure(s) it drew are not image files its page shows (e.g. _images/{PNG_FILE})"
        in text
    )
    assert "00_x.ipynb: error output in cell 1: ValueError: bad" in text
    assert "notebooks/00_x.html: link to a missing file ../nowhere.html" in text
    assert "notebooks/00_x.html: link to a missing anchor #gone" in text
    assert "01_y.ipynb: no page notebooks/01_y.html" in text


def test_a_run_folder_missing_a_notebook_is_refused_by_name(tmp_path):
    _nb(tmp_path, "00_setup_and_jax.ipynb", [])
    with pytest.raises(
        _book.BookError, match="lacks executed copies of 01_sigmoid_and_activations.ipynb"
    ):
        _book.stage_book(tmp_path, tmp_path / "src")
    with pytest.raises(_book.BookError, match="no folder"):
        _book.stage_book(tmp_path / "nope", tmp_path / "src")


# ---------------------------------------------------------------- the real book


@pytest.fixture(scope="module")
def book(request, tmp_path_factory):
    """(html folder, executed notebooks): the book of the notebooks this session executed.

    ``make test`` runs the notebooks in parallel worker processes and this test in a second pytest
    process afterwards, naming the folder the workers wrote to in ``LEPTONLAB_BOOK_FROM``.
    """
    executed_from = os.environ.get("LEPTONLAB_BOOK_FROM")
    if executed_from:
        executed = {p.name: p for p in Path(executed_from).glob("*.ipynb")}
    else:
        executed = getattr(request.config, "leptonlab_executed", {})  # conftest.py's nbval hook
    missing = [name for name in COURSE if name not in executed]
    if missing and executed_from:
        pytest.fail(
            f"LEPTONLAB_BOOK_FROM={executed_from} lacks {len(missing)} executed notebook(s) "
            f"(e.g. {missing[0]}): run the notebooks under nbval first, as `make test` does"
        )
    if missing:
        pytest.skip(
            f"the book is built from the notebooks this pytest session executes, and "
            f"{len(missing)} did not run here (e.g. {missing[0]}): run "
            "`pytest tests notebooks --nbval-lax --nbval-kernel-name leptonlab` (make test)"
        )
    folder = tmp_path_factory.mktemp(
        "executed"
    )  # this session's copies only, whoever else writes there
    for name in COURSE:
        shutil.copy(executed[name], folder / name)
    html_dir = _book.build_book(
        folder,
        ROOT / "build" / "book-test",
        course=COURSE,
        executed_from="the quick-mode run of `make test` (nbval)",
    )
    return html_dir, [folder / name for name in COURSE]


@pytest.mark.after_notebooks
def test_the_book_has_every_notebook_and_figure_no_error_and_no_broken_link(book):
    html_dir, notebooks = book
    assert _book.site_problems(html_dir, notebooks) == []
    drawn = sum(len(_book.figure_files(json.loads(p.read_text()))) for p in notebooks)
    assert drawn > 0, "the quick run drew no figure at all: the nbval hook lost the image outputs"
    pages = {p.stem for p in (html_dir / "notebooks").glob("*.html")}
    assert pages == {name[:-6] for name in COURSE}
    for page in (
        "RESULTS",
        "PERFORMANCE",
        "ERRATA",
        "instructors",
        "api/index",
        "api/leptonlab.train",
    ):
        assert (html_dir / f"{page}.html").is_file(), page


@pytest.mark.after_notebooks
def test_each_notebook_page_links_to_colab_and_github_and_maths_is_served_locally(book):
    html_dir, notebooks = book
    for path in notebooks:
        page = (html_dir / "notebooks" / f"{path.stem}.html").read_text(encoding="utf-8")
        assert colab_url(path.name) in page, path.name
        assert f"github.com/leptonlab/leptonlab/blob/v0.1.0/notebooks/{path.name}" in page, (
            path.name
        )
        assert 'class="highlight-ipython3' in page or "highlight-python" in page, (
            f"{path.name}: code not highlighted"
        )
    maths = (html_dir / "notebooks" / "01_sigmoid_and_activations.html").read_text(encoding="utf-8")
    assert 'src="../_static/mathjax/tex-chtml.js"' in maths, "MathJax is not the book's own copy"
    assert (html_dir / "_static" / "mathjax" / "tex-chtml.js").is_file()


def _chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.mark.after_notebooks
def test_a_real_browser_renders_the_maths_and_loads_the_figures(book):
    """Headless Chromium (the system's, driven by Playwright) opens the landing page and notebook 01."""
    executable = _chromium()
    if executable is None:
        pytest.skip(
            "no system Chromium (Debian: apt-get install chromium; .ci/run installs it): "
            "the browser check of the book did not run"
        )
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="the playwright package is not installed"
    )
    html_dir, _ = book
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page()
            failed = []
            page.on("requestfailed", lambda r: failed.append(r.url))
            page.goto((html_dir / "index.html").as_uri())
            assert "leptonlab" in page.title()
            page.goto((html_dir / "notebooks" / "01_sigmoid_and_activations.html").as_uri())
            page.wait_for_function(
                "() => document.querySelectorAll('mjx-container').length > 0", timeout=30_000
            )
            rendered = page.eval_on_selector_all("mjx-container", "els => els.length")
            errors = page.eval_on_selector_all("mjx-merror", "els => els.length")
            assert rendered > 5 and errors == 0, (
                f"MathJax rendered {rendered} formulas, {errors} with errors"
            )
            images = page.eval_on_selector_all(
                "img[src*='_images/']",
                "els => els.map(e => [e.src, e.complete && e.naturalWidth > 0])",
            )
            assert images and all(ok for _, ok in images), f"figures that did not load: {images}"
            local_failures = [u for u in failed if u.startswith("file:")]
            assert not local_failures, (
                f"files of the book the browser could not load: {local_failures}"
            )
        finally:
            browser.close()
