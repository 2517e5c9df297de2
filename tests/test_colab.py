"""Colab and hosted runtimes (issue 27): the "Open in Colab" link, the install cell, the bootstrap.

tests/test_colab_runtime.py runs a notebook under a kernel named ``python3`` where its first cell
installed leptonlab.
"""

import ast
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import pytest

from leptonlab import _bootstrap
from leptonlab.course import _colab

ROOT = Path(__file__).resolve().parents[1]
REPOSITORY = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["urls"]["Repository"]


def test_the_repository_url_is_read_from_pyproject():
    assert _colab.repository_url() == REPOSITORY
    assert (
        _colab.version_tag()
        == "v" + tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    )


def test_colab_link_opens_the_notebook_at_the_version_tag():
    url = _colab.colab_url("01_sigmoid_and_activations.ipynb")
    owner_repo = REPOSITORY.removeprefix("https://github.com/")
    assert url == (
        f"https://colab.research.google.com/github/{owner_repo}/blob/{_colab.version_tag()}"
        "/notebooks/01_sigmoid_and_activations.ipynb"
    )
    assert _colab.colab_badge("01_sigmoid_and_activations.ipynb").endswith(f"]({url})")


def test_install_cell_uses_only_the_standard_library_before_leptonlab_is_installed():
    tree = ast.parse(_colab.install_cell_source())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import)
        for alias in node.names
    }
    assert imported == {"leptonlab", "importlib.util", "os", "subprocess", "sys"}
    assert not any(isinstance(node, ast.ImportFrom) for node in ast.walk(tree))
    assert f"{_colab.INSTALL_FROM_ENV!r}" in _colab.install_cell_source()
    assert f"git+{REPOSITORY}@{_colab.version_tag()}" in _colab.install_cell_source()
    assert "'--no-deps'" in _colab.install_cell_source()


def test_install_cell_is_a_no_op_where_leptonlab_imports(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError(f"the install cell ran {args}")

    monkeypatch.setattr(subprocess, "run", refuse)
    namespace = {}
    exec(_colab.install_cell_source(), namespace)
    assert namespace["leptonlab"].__name__ == "leptonlab"


REQUIRES = [
    "jax>=0.8.1",
    "flax>=0.12.1",
    "optax>=0.2.4",
    "numpy>=1.26",
    "jupyterlab>=4.0",
    "papermill>=2.6",
    "tqdm>=4.66",
    'pytest>=8; extra == "test"',
]


def test_bootstrap_installs_only_what_is_missing_and_pins_the_runtimes_jax_stack():
    installed = {
        "jax": "0.9.0",
        "jaxlib": "0.9.0",
        "flax": "0.12.1",
        "numpy": "2.1.0",
        "optax": "0.2.2",
    }.get
    missing, constraints, warnings = _bootstrap.plan(REQUIRES, installed)
    assert missing == [
        "tqdm>=4.66"
    ]  # optax at any version stays; jupyterlab, papermill and extras left out
    assert sorted(constraints) == ["flax==0.12.1", "jax==0.9.0", "jaxlib==0.9.0", "numpy==2.1.0"]
    assert warnings == []


def test_bootstrap_reports_a_runtime_jax_older_than_supported_and_keeps_it():
    installed = {"jax": "0.7.2", "jaxlib": "0.7.2", "flax": "0.12.1", "numpy": "2.1.0"}.get
    missing, constraints, warnings = _bootstrap.plan(REQUIRES, installed)
    assert "jax==0.7.2" in constraints and not any(m.startswith("jax") for m in missing)
    assert (
        len(warnings) == 1
        and "jax 0.7.2 is older than leptonlab supports (jax>=0.8.1)" in warnings[0]
    )


def test_bootstrap_installs_jax_where_the_runtime_has_none():
    missing, constraints, _ = _bootstrap.plan(["jax>=0.8.1", "numpy>=1.26"], {"numpy": "2.1.0"}.get)
    assert missing == ["jax>=0.8.1"] and constraints == ["numpy==2.1.0"]


def test_bootstrap_runs_as_a_script_without_importing_leptonlab():
    script = ROOT / "leptonlab" / "_bootstrap.py"
    code = (
        f"import runpy, sys\ntry:\n    runpy.run_path({str(script)!r}, run_name='__main__')\n"
        "except SystemExit as done:\n    assert done.code == 0, done.code\n"
        "print('leptonlab imported' if 'leptonlab' in sys.modules else 'leptonlab not imported')"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd="/", timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "leptonlab: every dependency is already installed",
        "leptonlab not imported",
    ]


def _notebook(tmp_path, cells):
    path = tmp_path / "00_x.ipynb"
    nbformat.write(nbformat.v4.new_notebook(cells=cells), path)
    return path


def test_colab_problems_name_the_missing_link_and_cell_and_add_colab_cells_fixes_both(tmp_path):
    path = _notebook(
        tmp_path,
        [
            nbformat.v4.new_markdown_cell("# 00 · X\n\nIntro."),
            nbformat.v4.new_markdown_cell("**What a run costs.** ..."),
            nbformat.v4.new_code_cell("import leptonlab as lepton"),
        ],
    )
    problems = _colab.colab_problems(nbformat.read(path, as_version=4).cells, path.name)
    assert len(problems) == 2 and "cell 0 (the title) lacks the Open in Colab link" in problems[0]
    assert _colab.add_colab_cells(path) is True
    nb = nbformat.read(path, as_version=4)
    assert _colab.colab_problems(nb.cells, path.name) == []
    assert nb.cells[0].source.startswith("# 00 · X\n\n[![Open In Colab]") and nb.cells[
        0
    ].source.endswith("Intro.")
    assert [c.cell_type for c in nb.cells] == ["markdown", "markdown", "code", "code"]
    assert nb.cells[3].source == "import leptonlab as lepton"
    assert _colab.add_colab_cells(path) is False  # already there: nothing changes


COURSE = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))


@pytest.mark.parametrize("path", COURSE, ids=[p.name for p in COURSE])
def test_every_course_notebook_has_the_colab_link_and_the_install_cell(path):
    assert _colab.colab_problems(nbformat.read(path, as_version=4).cells, path.name) == []


def test_check_notebooks_reports_a_course_notebook_without_them(tmp_path, capsys):
    from leptonlab.cli import main

    (tmp_path / "notebooks").mkdir()
    path = _notebook(
        tmp_path / "notebooks",
        [nbformat.v4.new_markdown_cell("# 00 · X"), nbformat.v4.new_code_cell("x = 1")],
    )
    main(["check-notebooks", str(path)])
    out = capsys.readouterr().out
    assert (
        "lacks the Open in Colab link" in out
        and "the first code cell is not the install cell" in out
    )
    elsewhere = _notebook(
        tmp_path, [nbformat.v4.new_markdown_cell("# 00 · X"), nbformat.v4.new_code_cell("x = 1")]
    )
    main(
        ["check-notebooks", str(elsewhere)]
    )  # a scratch copy outside notebooks/ is not a course notebook
    assert "Open in Colab" not in capsys.readouterr().out
