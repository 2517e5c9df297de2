"""The course runner end to end on two tiny notebooks with the leptonlab kernel, and bad input.

The end-to-end run starts two Jupyter kernels (about 10 s on 2 CPU cores); it runs once
per module and the tests below read its result.
"""

import csv
import os
from pathlib import Path

import nbformat
import pytest

from leptonlab.course import RunInfo, run_course
from leptonlab.course import _runner

REPO = Path(__file__).resolve().parents[1]
KERNELSPEC = {"name": "leptonlab", "display_name": "Python (leptonlab)", "language": "python"}
RECORDS = """\
import os
import leptonlab as lepton
lepton.record(quick=QUICK, seed=SEED, env_quick=os.environ["LEPTONLAB_QUICK"], cwd=os.getcwd())
"""


def notebook(path, *sources, parameters=None):
    cells = [nbformat.v4.new_code_cell(s) for s in sources]
    if parameters is not None:
        cell = nbformat.v4.new_code_cell(parameters)
        cell.metadata["tags"] = ["parameters"]
        cells.insert(0, cell)
    nbformat.write(nbformat.v4.new_notebook(cells=cells, metadata={"kernelspec": KERNELSPEC}), path)
    return path


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    """Run a failing notebook, then one that records metrics; return (report, progress, folder)."""
    folder = tmp_path_factory.mktemp("course")
    failing = notebook(
        folder / "01_fails.ipynb",
        "import leptonlab as lepton\nlepton.record(before=1)",
        "raise ValueError('boom:\\n  on two lines')",
        "lepton.record(after=2)",
    )
    recording = notebook(folder / "02_records.ipynb", RECORDS, parameters="QUICK = False\nSEED = 0")
    lines = []
    # The kernel imports this checkout's leptonlab, whatever the working directory.
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in env.items():
            mp.setenv(name, value)
        report = run_course(
            [failing, recording],
            out_dir=folder / "out",
            quick=True,
            timeout=120,
            progress=lines.append,
        )
    return report, lines, folder


def test_statuses_and_the_failure_does_not_stop_the_next(run):
    report, _, _ = run
    assert [(r.notebook, r.status) for r in report.rows] == [
        ("01_fails.ipynb", "failed"),
        ("02_records.ipynb", "ok"),
    ]
    assert report.failed == 1 and not report.ok


def test_error_is_name_and_message_of_the_failing_cell(run):
    failed = run[0].rows[0]
    # In [1] is the cell papermill injects (this notebook has no parameters cell).
    assert failed.error == "ValueError: boom: on two lines (cell In [3])"
    assert failed.metrics == {"before": 1}  # recorded before the failure, still reported


def test_quick_is_injected_and_set_in_the_environment_and_cwd_is_the_notebook_folder(run):
    report, _, folder = run
    metrics = report.rows[1].metrics
    assert metrics["quick"] is True  # papermill overrode QUICK = False
    assert metrics["seed"] == 0
    assert metrics["env_quick"] == "1"
    assert Path(metrics["cwd"]).resolve() == folder.resolve()
    assert report.rows[1].error is None


def test_time_and_peak_memory_are_measured(run):
    for row in run[0].rows:
        assert row.seconds > 0
        assert row.peak_mib is not None and 20 < row.peak_mib < 4096


def test_report_files_and_executed_copies(run):
    report, _, folder = run
    out = folder / "out"
    assert report.out_dir == out and report.info.quick
    assert (out / "01_fails.ipynb").is_file() and (out / "02_records.ipynb").is_file()
    text = (out / "report.md").read_text(encoding="utf-8")
    assert "02_records.ipynb | ✓ ok" in text and "01_fails.ipynb | ✗ failed" in text
    rows = list(csv.DictReader((out / "report.csv").open(encoding="utf-8")))
    assert [r["status"] for r in rows] == ["failed", "ok"] and rows[1]["env_quick"] == "1"


def test_progress_names_notebook_status_and_seconds(run):
    lines = run[1]
    assert len(lines) == 4
    assert lines[1].startswith("[1/2] 01_fails.ipynb: FAILED in ") and " s" in lines[1]
    assert lines[3].startswith("[2/2] 02_records.ipynb: ok in ")


@pytest.fixture
def one(tmp_path):
    return notebook(tmp_path / "00_x.ipynb", "x = 1")


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"notebooks": "00_x.ipynb"}, TypeError, "list of paths"),
        ({"notebooks": []}, ValueError, "no notebooks to run"),
        ({"notebooks": ["missing.ipynb"]}, FileNotFoundError, "no notebook at"),
        ({"quick": "yes"}, TypeError, "quick must be True or False"),
        ({"kernel": ""}, TypeError, "kernel must be"),
        ({"kernel": "no-such-kernel"}, ValueError, "no Jupyter kernel named 'no-such-kernel'"),
        ({"timeout": 0}, ValueError, "timeout must be a positive number"),
        ({"parameters": {"QUICK": True}}, ValueError, "QUICK is set by quick"),
        ({"parameters": {"bad name": 1}}, ValueError, "identifiers"),
        ({"parameters": {"x": object()}}, TypeError, "plain values"),
        ({"progress": "print"}, TypeError, "progress must be"),
        ({"out_dir": 3}, TypeError, "out_dir must be"),
    ],
)
def test_bad_input(tmp_path, one, kwargs, error, match):
    arguments = {"notebooks": [one], "out_dir": tmp_path / "out", "quick": True, **kwargs}
    notebooks = arguments.pop("notebooks")
    with pytest.raises(error, match=match):
        run_course(notebooks, **arguments)


def test_notebooks_named_alike_are_refused(tmp_path, one):
    (tmp_path / "b").mkdir()
    other = notebook(tmp_path / "b" / "00_x.ipynb", "y = 2")
    with pytest.raises(ValueError, match="overwrite each other"):
        run_course([one, other], out_dir=tmp_path / "out", quick=True)


def test_out_dir_must_not_be_the_notebooks_folder(tmp_path, one):
    with pytest.raises(ValueError, match="would overwrite them"):
        run_course([one], out_dir=tmp_path, quick=True)


def test_a_crashed_runner_process_is_a_failed_row(tmp_path, one, monkeypatch):
    info = RunInfo("2025-01-01 00:00", True, "0.6", "cpu", "1 × cpu", "test")
    monkeypatch.setattr(_runner, "run_info", lambda **kwargs: info)
    monkeypatch.setattr(_runner, "_CHILD", "import sys; sys.stderr.write('kaput'); sys.exit(3)")
    report = run_course([one], out_dir=tmp_path / "out", quick=False, progress=None)
    (row,) = report.rows
    assert row.status == "failed" and row.peak_mib is None and row.metrics == {}
    assert row.error == "ChildProcessError: the runner process exited with code 3: kaput"
