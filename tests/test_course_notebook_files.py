"""Notebook hygiene on tiny notebooks: strip_outputs, check_notebook, recorded_metrics."""

import nbformat
import pytest

from leptonlab.course import (
    METRICS_MIME,
    check_notebook,
    course_notebooks,
    recorded_metrics,
    strip_outputs,
)

KERNELSPEC = {"name": "leptonlab", "display_name": "Python (leptonlab)", "language": "python"}
SOLUTION_META = {
    "nbgrader": {
        "solution": True,
        "grade": False,
        "locked": False,
        "grade_id": "00-sigmoid",
        "schema_version": 3,
    }
}
SOLUTION = """\
def my_sigmoid(x):
    ### BEGIN SOLUTION
    return 1 / (1 + jnp.exp(-x))
    ### END SOLUTION
"""


def code(source, *, tags=(), outputs=(), count=None, **metadata):
    cell = nbformat.v4.new_code_cell(source, execution_count=count, outputs=list(outputs))
    cell.metadata.update(metadata)
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def stream(text):
    return nbformat.v4.new_output("stream", name="stdout", text=text)


def write(path, cells, kernel=KERNELSPEC, **metadata):
    kernelspec = {"kernelspec": dict(kernel)} if kernel else {}
    nb = nbformat.v4.new_notebook(cells=cells, metadata={**kernelspec, **metadata})
    nbformat.write(nb, path)
    return path


def clean_cells():
    return [
        code("import leptonlab as lepton"),
        code("QUICK = None  # follow LEPTONLAB_QUICK\nSEED = 0", tags=["parameters"]),
        code(SOLUTION, **SOLUTION_META),
        code("print(1 + 1)", tags=["nbval-check-output"], outputs=[stream("2\n")], count=4),
    ]


def executed(tmp_path):
    """A notebook as papermill leaves it: outputs, counts, injected cell, run metadata."""
    cells = clean_cells()
    cells[0].outputs, cells[0].execution_count = [stream("hello\n")], 1
    cells[0].metadata["papermill"] = {"status": "completed"}
    cells[0].metadata["execution"] = {"iopub.status.idle": "2025-01-01T00:00:00"}
    injected = code("QUICK = True\n", tags=["injected-parameters"], count=2)
    error_marker = nbformat.v4.new_markdown_cell("An Exception was encountered")
    error_marker.metadata["tags"] = ["papermill-error-cell-tag"]
    return write(
        tmp_path / "01_run.ipynb",
        [error_marker, *cells[:2], injected, *cells[2:]],
        papermill={"parameters": {"QUICK": True}},
    )


def test_a_parameters_cell_papermill_cannot_read_is_a_problem(tmp_path):
    cells = clean_cells()
    cells[1] = code("QUICK = lepton.quick_mode()\nSEED = 0", tags=["parameters"])
    problems = check_notebook(write(tmp_path / "00_call.ipynb", cells))
    assert (
        len(problems) == 1
        and "line 1" in problems[0]
        and "QUICK = lepton.quick_mode(QUICK)" in problems[0]
    )


def test_clean_notebook_has_no_problems(tmp_path):
    assert check_notebook(write(tmp_path / "00_ok.ipynb", clean_cells())) == []


def test_strip_clears_outputs_and_papermill_noise_but_keeps_tagged_outputs(tmp_path):
    path = executed(tmp_path)
    assert check_notebook(path)  # outputs and the injected cell are problems
    assert strip_outputs(path) is True
    nb = nbformat.read(path, as_version=4)
    assert "papermill" not in nb.metadata
    tags = [c.metadata.get("tags", []) for c in nb.cells]
    assert tags == [[], ["parameters"], [], ["nbval-check-output"]]
    assert nb.cells[0].outputs == [] and nb.cells[0].execution_count is None
    assert nb.cells[0].metadata == {}
    assert nb.cells[3].outputs[0]["text"] == "2\n" and nb.cells[3].execution_count == 4
    assert check_notebook(path) == []


def test_strip_is_idempotent(tmp_path):
    path = executed(tmp_path)
    strip_outputs(path)
    once = path.read_bytes()
    assert strip_outputs(path) is False
    assert path.read_bytes() == once


PYTHON3 = {"name": "python3", "display_name": "Python 3", "language": "python"}


@pytest.mark.parametrize("kernel", [PYTHON3, None])
def test_check_wrong_kernel(tmp_path, kernel):
    problems = check_notebook(write(tmp_path / "00_k.ipynb", clean_cells(), kernel=kernel))
    assert len(problems) == 1 and "kernelspec name" in problems[0] and "'leptonlab'" in problems[0]


def test_check_missing_parameters_cell(tmp_path):
    cells = clean_cells()
    cells[1].metadata["tags"] = []
    assert check_notebook(write(tmp_path / "00_p.ipynb", cells)) == [
        "no cell tagged 'parameters': tag the cell that sets QUICK and SEED."
    ]


def test_check_outputs_on_untagged_cell(tmp_path):
    cells = clean_cells()
    cells[0].outputs = [stream("hi\n")]
    problems = check_notebook(write(tmp_path / "00_o.ipynb", cells))
    assert len(problems) == 1 and problems[0].startswith("cell 0 (code) has outputs")


@pytest.mark.parametrize(
    "source",
    [
        "### BEGIN SOLUTION\nx = 1\n",
        "x = 1\n### END SOLUTION\n",
        "### END SOLUTION\n### BEGIN SOLUTION\n",
        "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION\n",
    ],
)
def test_check_unbalanced_solution_markers(tmp_path, source):
    cells = [*clean_cells(), code(source, **SOLUTION_META)]
    problems = check_notebook(write(tmp_path / "00_u.ipynb", cells))
    assert len(problems) == 1 and "cell 4 (code): unbalanced" in problems[0]


@pytest.mark.parametrize(
    "metadata",
    [{}, {"nbgrader": {"solution": False, "grade_id": "x"}}, {"nbgrader": {"solution": True}}],
)
def test_check_solution_without_nbgrader_metadata(tmp_path, metadata):
    cells = [*clean_cells(), code(SOLUTION, **metadata)]
    problems = check_notebook(write(tmp_path / "00_s.ipynb", cells))
    assert len(problems) == 1 and "lacks nbgrader metadata" in problems[0]


def test_check_unreadable_notebook(tmp_path):
    path = tmp_path / "00_broken.ipynb"
    path.write_text("{not json", encoding="utf-8")
    assert check_notebook(path)[0].startswith("not a readable notebook")


def test_recorded_metrics_later_values_win(tmp_path):
    def metrics(values):
        data = {METRICS_MIME: values, "text/plain": "recorded"}
        return nbformat.v4.new_output("display_data", data=data)

    cells = [
        code("", outputs=[metrics({"acc": 0.5, "steps": 10})]),
        code("", outputs=[stream("x")]),
        code("", outputs=[metrics({"acc": 0.9})]),
    ]
    assert recorded_metrics(write(tmp_path / "00_m.ipynb", cells)) == {"acc": 0.9, "steps": 10}


def test_course_notebooks_in_order(tmp_path):
    for name in ["10_b.ipynb", "02_a.ipynb", "scratch.ipynb", "3_x.ipynb"]:
        write(tmp_path / name, [])
    assert [p.name for p in course_notebooks(tmp_path)] == ["02_a.ipynb", "10_b.ipynb"]


@pytest.mark.parametrize("function", [strip_outputs, check_notebook, recorded_metrics])
def test_bad_paths(tmp_path, function):
    with pytest.raises(FileNotFoundError, match="no notebook at"):
        function(tmp_path / "missing.ipynb")
    with pytest.raises(ValueError, match="expected a file ending in .ipynb"):
        function(tmp_path / "notes.txt")
    with pytest.raises(TypeError, match="expected a notebook path"):
        function(3)
