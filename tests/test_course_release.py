"""Student releases: stubs, hidden tests, malformed markers, and every course notebook."""

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from leptonlab.course import MarkerError, release, release_notebook
from leptonlab.course._release import BEGIN_SOLUTION, student_source, Where
from leptonlab.course._grading import graded_cells
from pathlib import Path

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
W = Where("nb.ipynb", 3)


def test_code_solution_becomes_an_indented_stub():
    source = (
        "def f(x):\n    ### BEGIN SOLUTION\n    y = x + 1\n    return y\n    ### END SOLUTION\n"
    )
    assert student_source(source, "code", W) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )


def test_markdown_answer_becomes_a_prompt_and_hidden_tests_vanish():
    assert student_source(
        "Why?\n### BEGIN SOLUTION\nBecause.\n### END SOLUTION", "markdown", W
    ) == ("Why?\nYOUR ANSWER HERE")
    source = "check(f)\n### BEGIN HIDDEN TESTS\nassert f(2) == 3\n### END HIDDEN TESTS\nprint('ok')"
    assert student_source(source, "code", W) == "check(f)\nprint('ok')"


@pytest.mark.parametrize(
    "source, message",
    [
        ("### BEGIN SOLUTION\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION\n", "without a"),
        (
            "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION",
            "inside the region",
        ),
        ("### BEGIN HIDDEN TESTS\nassert True\n", "never closed"),
    ],
)
def test_malformed_markers_name_notebook_cell_and_line(source, message):
    with pytest.raises(MarkerError, match=message) as info:
        student_source(source, "code", W)
    assert "nb.ipynb, cell 3, line" in str(info.value)


def _tiny(path, *sources):
    nb = new_notebook(cells=[new_code_cell(s) for s in sources])
    nb.cells[0].outputs = [nbformat.v4.new_output("stream", text="kept\n")]
    nbformat.write(nb, path)
    return path


def test_release_clears_outputs_only_of_changed_cells(tmp_path):
    src = _tiny(
        tmp_path / "a.ipynb",
        "print('kept')",
        "def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION",
    )
    nb = nbformat.read(src, 4)
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="secret\n")]
    nbformat.write(nb, src)
    done = release_notebook(src, tmp_path / "out" / "a.ipynb")
    out = nbformat.read(done.target, 4)
    assert out.cells[0].outputs and not out.cells[1].outputs and done.solutions == 1


def test_release_writes_nothing_when_one_notebook_is_malformed(tmp_path):
    good = _tiny(tmp_path / "good.ipynb", "x = 1")
    bad = _tiny(tmp_path / "bad.ipynb", "### BEGIN SOLUTION\nx = 2")
    with pytest.raises(MarkerError, match="bad.ipynb, cell 0"):
        release([good, bad], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_release_refuses_to_overwrite_the_solutions(tmp_path):
    nb = _tiny(tmp_path / "a.ipynb", "x = 1")
    with pytest.raises(ValueError, match="overwrite"):
        release([nb], tmp_path)


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_no_solution_text_survives_in_the_student_copy(notebook, tmp_path):
    done = release_notebook(notebook, tmp_path / notebook.name)
    source, student = nbformat.read(notebook, 4), nbformat.read(done.target, 4)
    assert done.solutions >= 2, "every notebook has at least two exercises"
    student_text = "\n".join(cell.source for cell in student.cells)
    assert BEGIN_SOLUTION not in student_text and "HIDDEN TESTS" not in student_text
    for cell, student_cell in zip(source.cells, student.cells):
        lines = cell.source.split("\n")
        inside = False
        for line in lines:
            if line.strip().startswith(BEGIN_SOLUTION):
                inside = True
            elif line.strip().startswith("### END SOLUTION"):
                inside = False
            elif inside and len(line.strip()) > 8:
                assert line not in student_cell.source.split("\n"), (
                    f"solution line survives: {line!r}"
                )
    assert graded_cells(student).keys() == graded_cells(source).keys(), (
        "checks are kept in the release"
    )


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.name)
def test_student_copy_stops_at_the_first_exercise_with_a_helpful_check(notebook, tmp_path):
    """Executed top to bottom, the student notebook runs until the first check, which says what to do."""
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    done = release_notebook(notebook, tmp_path / notebook.name)
    nb = nbformat.read(done.target, 4)
    client = NotebookClient(
        nb,
        timeout=300,
        kernel_name="leptonlab",
        resources={"metadata": {"path": str(notebook.parent)}},
    )
    with pytest.raises(CellExecutionError) as info:
        client.execute()
    failed = next(
        c for c in nb.cells if any(o.get("output_type") == "error" for o in c.get("outputs", []))
    )
    error = next(o for o in failed.outputs if o.output_type == "error")
    assert failed.metadata.get("nbgrader", {}).get("grade") is True, (
        "the first failure is a check cell"
    )
    assert error.ename == "CheckFailed" and "not written yet" in error.evalue
    assert "NotImplementedError" in str(info.value) or "not written yet" in str(info.value)
