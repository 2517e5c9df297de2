"""Grading synthetic submissions: right, wrong, raising, hanging, vandalising; the table is right."""

import csv
import io
import os
import tempfile
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
    nb = new_notebook(
        cells=[
            _cell(
                "def add(a, b):\n    ### BEGIN SOLUTION\n    return a + b\n    ### END SOLUTION",
                **SOLUTION,
                grade_id="add",
            ),
            _cell(
                'assert add(1, 2) == 3, "add(1, 2) should be 3"\n### BEGIN HIDDEN TESTS\n'
                'assert add(-1, 1) == 0, "add(-1, 1) should be 0"\n### END HIDDEN TESTS',
                **CHECK,
                grade_id="add-check",
                points=2,
            ),
            _cell(
                "def mul(a, b):\n    ### BEGIN SOLUTION\n    return a * b\n    ### END SOLUTION",
                **SOLUTION,
                grade_id="mul",
            ),
            _cell(
                'assert mul(2, 3) == 6, "mul(2, 3) should be 6"',
                **CHECK,
                grade_id="mul-check",
                points=1,
            ),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "leptonlab",
        "display_name": "Python (leptonlab)",
        "language": "python",
    }
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "tiny.ipynb")
    return folder / "tiny.ipynb"


def _submit(
    root: Path,
    student: str,
    release: Path,
    add_body: str,
    mul_body: str = "return a * b",
    check_cell: str | None = None,
) -> None:
    nb = nbformat.read(release, 4)
    nb.cells[0].source = f"def add(a, b):\n    {add_body}"
    nb.cells[2].source = f"def mul(a, b):\n    {mul_body}"
    if check_cell is not None:
        nb.cells[1].source = check_cell  # a student editing the locked check away
    (root / student).mkdir(parents=True)
    nbformat.write(nb, root / student / "tiny.ipynb")


def _needs_sandbox():
    from leptonlab.course._sandbox import bubblewrap

    if bubblewrap() is None:
        if os.environ.get("CI"):
            pytest.fail(
                "bubblewrap is missing in CI: .ci/run installs it (apt-get install bubblewrap)."
            )
        pytest.skip(
            "bubblewrap (bwrap) is missing or user namespaces are disabled here: the sandbox cannot run"
        )


def _add_cell(root: Path, student: str, source: str, **nbgrader) -> None:
    """A student's own extra cell, appended to their notebook."""
    path = root / student / "tiny.ipynb"
    nb = nbformat.read(path, 4)
    nb.cells.append(_cell(source, **nbgrader))
    nbformat.write(nb, path)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    _needs_sandbox()
    tmp = tmp_path_factory.mktemp("grading")
    source = _source_notebook(tmp / "source")
    release = release_notebook(source, tmp / "release" / "tiny.ipynb").target
    subs = tmp / "submissions"
    outside = tmp / "outside.txt"
    outside.write_text("the instructor's file")
    _submit(subs, "alice", release, "return a + b")
    _submit(subs, "bob", release, "return a - b")
    _submit(subs, "carl", release, "raise ValueError('no idea')")
    _submit(subs, "dana", release, "return a + b", "import time\n    time.sleep(10_000)")
    _submit(
        subs,
        "dave",
        release,
        f"import pathlib; pathlib.Path({str(source)!r}).unlink()\n    return a + b",
    )
    _submit(subs, "eve", release, "return 3", check_cell="pass  # checks removed")
    _submit(
        subs,
        "fay",
        release,
        "import os; os.remove('tiny.ipynb') if os.path.exists('tiny.ipynb') else None\n    return a + b",
    )
    (subs / "gus").mkdir()  # submitted nothing
    # Attacks (issue 23). 1: a cell of one's own, marked as graded and worth 100 points.
    _submit(subs, "greedy", release, "return 0")
    _add_cell(subs, "greedy", "x = 1", **CHECK, grade_id="bonus", points=100)
    _add_cell(
        subs, "greedy", "y = 2", **{**CHECK, "grade_id": "add-check", "points": 50}
    )  # a second copy
    # 3: reading the solutions (full marks only if they were readable) and finding the grader in /proc.
    _submit(subs, "snoop", release, f"return a + b + len(open({str(source)!r}).read())")
    _submit(
        subs,
        "spy",
        release,
        "import pathlib\n    cmd = ' '.join(p.read_text(errors='ignore') for p in "
        "pathlib.Path('/proc').glob('[0-9]*/cmdline') if p.exists())\n"
        "    return a + b + (1000 if '_grading' in cmd or 'submissions' in cmd else 0)",
    )
    # 4: a detached process that outlives the kernel and edits the next student's notebook.
    victim = subs / "vic" / "tiny.ipynb"
    _submit(subs, "uma", release, "return a + b")
    _add_cell(
        subs,
        "uma",
        "import subprocess\nsubprocess.Popen(['sh', '-c', "
        f"'sleep 3; echo vandal > {victim}; sleep 1000 # leptonlab-grading-test-daemon'], "
        "start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)",
    )
    _submit(subs, "vic", release, "return a + b")
    # 5, 6: planting a notebook among the sources; writing a file outside both watched folders.
    _submit(
        subs,
        "wes",
        release,
        "import pathlib\n"
        f"    try: pathlib.Path({str(source.parent / 'planted.ipynb')!r}).write_text('{{}}'); return 0\n"
        f"    except OSError: pass\n"
        f"    try: pathlib.Path({str(outside)!r}).write_text('vandal'); return 0\n"
        f"    except OSError: return a + b",
    )
    # 7: a loop that ignores SIGINT.
    _submit(
        subs,
        "xena",
        release,
        "return a + b",
        "import signal, time\n    signal.signal(signal.SIGINT, signal.SIG_IGN)\n"
        "    while True: time.sleep(0.05)",
    )
    lines = []
    rows = grade(subs, source.parent, timeout=5, grace=2, memory_mb=4096, progress=lines.append)
    return source, rows, lines, tmp


def _table(rows):
    return {(r.student, r.exercise): r for r in rows}


def test_correct_submission_gets_full_points(graded):
    table = _table(graded[1])
    assert table["alice", "add-check"].points == 2 and table["alice", "mul-check"].points == 1
    assert table["alice", "add-check"].message == "passed"


def test_wrong_submission_gets_partial_points_with_the_message(graded):
    table = _table(graded[1])
    assert (
        table["bob", "add-check"].points == 0
        and "add(1, 2) should be 3" in table["bob", "add-check"].message
    )
    assert table["bob", "mul-check"].points == 1


def test_raising_submission_loses_only_that_exercise(graded):
    table = _table(graded[1])
    assert (
        table["carl", "add-check"].points == 0
        and "ValueError: no idea" in table["carl", "add-check"].message
    )
    assert table["carl", "mul-check"].points == 1


def test_hanging_cell_is_interrupted_and_the_rest_still_graded(graded):
    table = _table(graded[1])
    assert table["dana", "add-check"].points == 2
    message = table["dana", "mul-check"].message
    assert table["dana", "mul-check"].points == 0 and (
        "NameError" in message or "time limit" in message
    )


def test_the_solutions_are_out_of_the_sandbox_reach(graded):
    source, rows, *_ = graded
    table = _table(rows)
    assert source.is_file(), "the source notebook is still there"
    assert (
        table["dave", "add-check"].points == 0
        and "FileNotFoundError" in table["dave", "add-check"].message
    )
    assert table["fay", "add-check"].points == 2, (
        "deleting files in its own working copy harms nobody else"
    )


def test_hidden_tests_are_put_back(graded):
    table = _table(graded[1])
    assert (
        table["eve", "add-check"].points == 0
        and "add(-1, 1) should be 0" in table["eve", "add-check"].message
    )


def test_missing_notebook_and_table_totals(graded):
    rows = graded[1]
    table = _table(rows)
    assert table["gus", "add-check"].message == "notebook not submitted"
    assert len(rows) == 15 * 2 and all(r.max_points in (1, 2) for r in rows)
    parsed = list(csv.DictReader(io.StringIO(grades_csv(rows))))
    assert parsed[0].keys() == {
        "student",
        "notebook",
        "exercise",
        "points",
        "max_points",
        "message",
        "graded_by",
    }
    assert sum(float(r["points"]) for r in parsed if r["student"] == "alice") == 3


def test_a_students_own_graded_cell_earns_nothing(graded):
    rows = graded[1]
    greedy = [r for r in rows if r.student == "greedy"]
    assert {r.exercise for r in greedy} == {"add-check", "mul-check"}, (
        "grade ids come from the source only"
    )
    assert sum(r.max_points for r in greedy) == 3 and sum(r.points for r in greedy) == 1


def test_the_solutions_and_the_grader_cannot_be_seen(graded):
    table = _table(graded[1])
    assert (
        table["snoop", "add-check"].points == 0
        and "No such file" in table["snoop", "add-check"].message
    )
    assert table["spy", "add-check"].points == 2, "the grader's processes were visible in /proc"


def test_a_detached_process_dies_with_its_kernel_and_harms_nobody(graded):
    import psutil

    source, rows, _, tmp = graded
    table = _table(rows)
    assert table["uma", "add-check"].points == 2
    assert table["vic", "add-check"].points == 2 and table["vic", "mul-check"].points == 1
    assert "vandal" not in (tmp / "submissions" / "vic" / "tiny.ipynb").read_text()
    survivors = [
        p
        for p in psutil.process_iter(["cmdline"])
        if "leptonlab-grading-test-daemon" in " ".join(p.info["cmdline"] or [])
    ]
    assert not survivors, f"a student's process outlived the grading: {survivors}"


def test_nothing_outside_the_working_copy_can_be_written(graded):
    source, rows, _, tmp = graded
    assert _table(rows)["wes", "add-check"].points == 2, (
        "a write outside the working copy succeeded"
    )
    assert not (source.parent / "planted.ipynb").exists()
    assert (tmp / "outside.txt").read_text() == "the instructor's file"


def test_a_loop_that_ignores_the_interrupt_is_killed_and_cleaned_up(graded):
    _, rows, lines, _ = graded
    table = _table(rows)
    assert table["xena", "add-check"].points == 2, "the cells before the loop were graded"
    assert table["xena", "mul-check"].points == 0 and "killed" in table["xena", "mul-check"].message
    assert lines[0].startswith("isolation: bubblewrap"), "the run says which isolation it used"
    assert not [p for p in Path(tempfile.gettempdir()).glob("grade-xena-*")], (
        "temporary copies are removed"
    )


def test_without_a_sandbox_grading_refuses_unless_unsafe(tmp_path, monkeypatch):
    from leptonlab.course import IsolationError
    from leptonlab.course import _sandbox

    source = _source_notebook(tmp_path / "source")
    (tmp_path / "subs" / "ann").mkdir(parents=True)
    monkeypatch.setattr(_sandbox, "bubblewrap", lambda: None)
    with pytest.raises(IsolationError, match="apt-get install bubblewrap"):
        grade(tmp_path / "subs", source.parent, progress=lambda line: None)
    assert (
        main(
            [
                "grade",
                str(tmp_path / "subs"),
                "--source",
                str(source.parent),
                "--out",
                str(tmp_path / "g.csv"),
            ]
        )
        == 2
    )


def test_unsafe_grading_undoes_what_a_student_changed(tmp_path, monkeypatch):
    """Without a sandbox a vandal can act; the snapshot puts everything back and the vandal gets 0."""
    from leptonlab.course import _sandbox

    monkeypatch.setattr(_sandbox, "bubblewrap", lambda: None)
    source = _source_notebook(tmp_path / "source")
    release = release_notebook(source, tmp_path / "release" / "tiny.ipynb").target
    subs = tmp_path / "subs"
    _submit(subs, "ann", release, "return a + b")
    _submit(
        subs,
        "zed",
        release,
        "import pathlib\n"
        f"    pathlib.Path({str(subs / 'ann' / 'tiny.ipynb')!r}).unlink()\n"
        f"    pathlib.Path({str(source.parent / 'planted.ipynb')!r}).write_text('{{}}')\n    return a + b",
    )
    before = (subs / "ann" / "tiny.ipynb").read_bytes()
    lines = []
    rows = grade(subs, source.parent, timeout=5, memory_mb=4096, unsafe=True, progress=lines.append)
    table = _table(rows)
    assert "NONE (--unsafe)" in lines[0]
    assert table["ann", "add-check"].points == 2, (
        "the student graded before the vandal keeps their points"
    )
    assert (
        table["zed", "add-check"].points == 0
        and "outside its working copy" in table["zed", "add-check"].message
    )
    assert (subs / "ann" / "tiny.ipynb").read_bytes() == before, (
        "the deleted submission was put back"
    )
    assert not (source.parent / "planted.ipynb").exists(), "the planted notebook was removed"


def test_with_source_checks_keeps_one_copy_of_each_graded_cell(tmp_path):
    from leptonlab.course._grading import graded_cells, with_source_checks

    source = nbformat.read(_source_notebook(tmp_path / "source"), 4)
    student = nbformat.read(source_path := tmp_path / "source" / "tiny.ipynb", 4)
    student.cells.insert(0, _cell("pass", **CHECK, grade_id="add-check", points=9))
    student.cells.append(_cell("z = 0", **CHECK, grade_id="mine", points=100))
    merged = with_source_checks(student, source)
    assert sorted(graded_cells(merged)) == ["add-check", "mul-check"] and source_path.is_file()
    assert [c.source for c in merged.cells].count(graded_cells(source)["add-check"].source) == 1
    assert (
        merged.cells[-1].metadata["nbgrader"]["grade"] is False
        and "points" not in merged.cells[-1].metadata["nbgrader"]
    )


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


def _checks_notebook(folder: Path) -> Path:
    """A source notebook whose graded cell is a leptonlab check, as in the course."""
    nb = new_notebook(
        cells=[
            _cell("import jax.numpy as jnp\nfrom leptonlab import checks"),
            _cell(
                "def my_mse(p, t):\n    ### BEGIN SOLUTION\n    return jnp.mean((p - t) ** 2)\n    ### END SOLUTION",
                **SOLUTION,
                grade_id="mse",
            ),
            _cell("checks.mse(my_mse)", **CHECK, grade_id="mse-check", points=3),
        ]
    )
    nb.metadata["kernelspec"] = {
        "name": "leptonlab",
        "display_name": "Python (leptonlab)",
        "language": "python",
    }
    folder.mkdir(parents=True)
    nbformat.write(nb, folder / "mse.ipynb")
    return folder / "mse.ipynb"


WRONG_MSE = "return jnp.mean(jnp.abs(p - t))"  # the MAE
TAMPERING = {  # issue 23, item 2: make the kernel's check pass a wrong answer (and what the grader then says)
    "swap": "checks.mse = lambda fn: None",  # -> no record: "did not report"
    "patch": "import numpy as np\nimport leptonlab.checks._losses as L\n"
    "np.isclose = lambda *a, **k: False\nL.expect_close = lambda *a, **k: None",
    "forge": "import leptonlab.checks._core as c\nfrom IPython.display import display\n"
    "c.exercise.__globals__['_show_record'] = lambda record: None\n"
    "checks.mse = lambda fn: display({'application/vnd.leptonlab.check-record+json': "
    "{'format': 1, 'check': 'mse', 'exchanges': []}}, raw=True)",
}


@pytest.fixture(scope="module")
def graded_checks(tmp_path_factory):
    _needs_sandbox()
    tmp = tmp_path_factory.mktemp("grading-checks")
    source = _checks_notebook(tmp / "source")
    release = release_notebook(source, tmp / "release" / "mse.ipynb").target
    subs = tmp / "submissions"
    for student, body, tamper in [
        ("honest", "return jnp.mean((p - t) ** 2)", None),
        ("wrong", WRONG_MSE, None),
        *[(name, WRONG_MSE, code) for name, code in TAMPERING.items()],
    ]:
        nb = nbformat.read(release, 4)
        nb.cells[1].source = f"def my_mse(p, t):\n    {body}"
        if tamper:
            nb.cells.insert(2, _cell(tamper))
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / "mse.ipynb")
    return _table(
        grade(subs, source.parent, timeout=60, memory_mb=4096, progress=lambda line: None)
    )


def test_an_honest_answer_passes_the_replayed_check(graded_checks):
    assert (
        graded_checks["honest", "mse-check"].points == 3
        and graded_checks["honest", "mse-check"].message == "passed"
    )
    assert (
        graded_checks["wrong", "mse-check"].points == 0
        and "MAE" in graded_checks["wrong", "mse-check"].message
    )


@pytest.mark.parametrize(
    "student, words",
    [
        ("swap", "did not report"),
        ("patch", "which is the MAE"),
        ("forge", "the record holds only 0"),
    ],
)
def test_tampering_with_the_kernels_modules_earns_nothing(graded_checks, student, words):
    """The kernel says each of these cells ran without error; the grader's replay finds the answer wrong."""
    row = graded_checks[student, "mse-check"]
    assert row.points == 0 and words in row.message, f"{student}: {row.message}"
    assert "replayed by the grader" in row.message or "did not report" in row.message, row.message


def test_a_written_answer_is_kept_and_listed_for_grading_by_hand(tmp_path):
    """nbgrader's manually graded Markdown answer: the student's text stays, the table hands it to the instructor."""
    from nbformat.v4 import new_markdown_cell

    from leptonlab.course._grading import score, with_source_checks

    answer = {
        "solution": True,
        "grade": True,
        "locked": False,
        "schema_version": 3,
        "grade_id": "why",
        "points": 2,
    }
    source = nbformat.read(_source_notebook(tmp_path / "source"), 4)
    model = new_markdown_cell("### BEGIN SOLUTION\nBecause exp overflows.\n### END SOLUTION")
    model.metadata["nbgrader"] = answer
    source.cells.append(model)
    student = nbformat.read(tmp_path / "source" / "tiny.ipynb", 4)
    mine = new_markdown_cell("The exponent  overflows\nfor large x.")
    mine.metadata["nbgrader"] = dict(answer, points=50)
    student.cells.append(mine)
    merged = with_source_checks(student, source)
    assert merged.cells[-1].source == mine.source, (
        "the student's answer is not replaced by the model answer"
    )
    row = {r.exercise: r for r in score("ann", "tiny.ipynb", merged, source)}["why"]
    assert (row.points, row.max_points, row.graded_by) == (0.0, 2.0, "hand")
    assert row.message == "written answer: The exponent overflows for large x."
    merged.cells[-1].source = "YOUR ANSWER HERE"
    assert {r.exercise: r for r in score("ann", "tiny.ipynb", merged, source)}[
        "why"
    ].message == "no written answer"
