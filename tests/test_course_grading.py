"""Grading synthetic submissions: right, wrong, raising, hanging, vandalising; the table is right."""

import csv
import io
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from leptonlab.cli import main
from leptonlab.course import grade, grades_csv, release_notebook

SOLUTION = {"solution": True, "grade": False, "locked": False, "schema_version": 3}
CHECK = {"solution": False, "grade": True, "locked": True, "schema_version": 3}


def _cell(source, **nbgrader):
    cell = new_code_cell(source)
    if nbgrader:
        cell.metadata["nbgrader"] = nbgrader
    return cell


def _source_notebook(folder: Path) -> Path:
    nb = new_notebook(cells=[
        _cell("def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION", **SOLUTION, grade_id="add"),
        _cell('assert add(1, 2) == 3, "add(1, 2) should be 3"\n### BEGIN HIDDEN TESTS\n'
              'assert add(-1, 1) == 0, "add(-1, 1) should be 0"\n### END HIDDEN TESTS',
              **CHECK, grade_id="add-check", points=2),
        _cell("def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION", **SOLUTION, grade_id="mul"),
        _cell('assert mul(2, 3) == 6, "mul(2, 3) should be 6"', **CHECK, grade_id="mul-check", points=1),
    ])
    nb.metadata["kernelspec"] = {"name": "leptonlab", "display_name": "Python (leptonlab)", "language": "python"}
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "tiny.ipynb")
    return folder / "tiny.ipynb"


def _submit(root: Path, student: str, release: Path, add_body: str, mul_body: str = "return a * b",
            check_cell: str | None = None) -> None:
    nb = nbformat.read(release, 4)
    nb.cells[0].source = f"def add(a, b):\n    {add_body}"
    nb.cells[2].source = f"def mul(a, b):\n    {mul_body}"
    if check_cell is not None:
        nb.cells[1].source = check_cell  # a student editing the locked check away
    (root / student).mkdir(parents=True)
    nbformat.write(nb, root / student / "tiny.ipynb")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grading")
    source = _source_notebook(tmp / "source")
    release = release_notebook(source, tmp / "release" / "tiny.ipynb").target
    subs = tmp / "submissions"
    _submit(subs, "alice", release, "return a + b")
    _submit(subs, "bob", release, "return a - b")
    _submit(subs, "carl", release, "raise ValueError('no idea')")
    _submit(subs, "dana", release, "return a + b", "import time\n    time.sleep(10_000)")
    _submit(subs, "dave", release, f"import pathlib; pathlib.Path({str(source)!r}).unlink()\n    return a + b")
    _submit(subs, "eve", release, "return 3", check_cell="pass  # checks removed")
    _submit(subs, "fay", release, "import os; os.remove('tiny.ipynb') if os.path.exists('tiny.ipynb') else None\n    return a + b")
    (subs / "gus").mkdir()  # submitted nothing
    rows = grade(subs, source.parent, timeout=5, memory_mb=4096, progress=lambda line: None)
    return source, rows


def _table(rows):
    return {(r.student, r.exercise): r for r in rows}


def test_correct_submission_gets_full_points(graded):
    table = _table(graded[1])
    assert table["alice", "add-check"].points == 2 and table["alice", "mul-check"].points == 1
    assert table["alice", "add-check"].message == "passed"


def test_wrong_submission_gets_partial_points_with_the_message(graded):
    table = _table(graded[1])
    assert table["bob", "add-check"].points == 0 and "add(1, 2) should be 3" in table["bob", "add-check"].message
    assert table["bob", "mul-check"].points == 1


def test_raising_submission_loses_only_that_exercise(graded):
    table = _table(graded[1])
    assert table["carl", "add-check"].points == 0 and "ValueError: no idea" in table["carl", "add-check"].message
    assert table["carl", "mul-check"].points == 1


def test_hanging_cell_is_interrupted_and_the_rest_still_graded(graded):
    table = _table(graded[1])
    assert table["dana", "add-check"].points == 2
    message = table["dana", "mul-check"].message
    assert table["dana", "mul-check"].points == 0 and ("NameError" in message or "time limit" in message)


def test_vandal_gets_zero_and_the_solutions_are_restored(graded):
    source, rows = graded
    table = _table(rows)
    assert source.is_file(), "the deleted source notebook was put back"
    assert table["dave", "add-check"].points == 0 and "outside its working copy" in table["dave", "add-check"].message
    assert table["eve", "add-check"].points >= 0  # students after the vandal were graded normally
    assert table["fay", "add-check"].points == 2, "deleting files in its own working copy harms nobody else"


def test_hidden_tests_are_put_back(graded):
    table = _table(graded[1])
    assert table["eve", "add-check"].points == 0 and "add(-1, 1) should be 0" in table["eve", "add-check"].message


def test_missing_notebook_and_table_totals(graded):
    rows = graded[1]
    table = _table(rows)
    assert table["gus", "add-check"].message == "notebook not submitted"
    assert len(rows) == 8 * 2 and all(r.max_points in (1, 2) for r in rows)
    parsed = list(csv.DictReader(io.StringIO(grades_csv(rows))))
    assert parsed[0].keys() == {"student", "notebook", "exercise", "points", "max_points", "message"}
    assert sum(float(r["points"]) for r in parsed if r["student"] == "alice") == 3


def test_grade_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match="submissions"):
        grade(tmp_path / "nope", tmp_path)
    (tmp_path / "subs").mkdir()
    (tmp_path / "src").mkdir()
    with pytest.raises(ValueError, match="graded cells"):
        grade(tmp_path / "subs", tmp_path / "src")
    assert main(["grade", str(tmp_path / "nope")]) == 2


def test_release_cli_reports_a_malformed_marker_in_one_line(tmp_path, capsys):
    nb = new_notebook(cells=[new_code_cell("### BEGIN SOLUTION\nx = 1")])
    nbformat.write(nb, tmp_path / "bad.ipynb")
    assert main(["release", str(tmp_path / "bad.ipynb"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert "bad.ipynb, cell 0" in err and err.count("\n") == 1
