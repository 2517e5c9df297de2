"""Autograding submissions without a JupyterHub (for instructors).

Layout: ``submissions/<student>/<NN_name>.ipynb`` and the solution notebooks in
``notebooks/``. For each student a fresh process (``python -m
leptonlab.course._grading``) copies the student's folder to a temporary working
copy, puts back every graded cell from the source notebook (the checks, with
their hidden tests, so a student cannot edit them away), and executes each
notebook with a per-cell timeout and a memory limit. A graded cell that runs
without error earns its points (``nbgrader.points`` in the source cell's
metadata); one that fails earns 0 and its one-line error is the message.

A notebook that crashes, loops forever or eats memory costs that student points,
not the grading run: the cell is interrupted, the process is limited, and a
process that still hangs is killed. The grader reads nothing back from disk but
the worker's report, and checks that the source and submission folders are
unchanged after each student; a student whose notebook changed them gets 0.
This is robustness, not a security sandbox: run untrusted code as an
unprivileged user or in a container.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

REPORT_MARK = "LEPTONLAB-GRADES "


@dataclasses.dataclass(frozen=True)
class GradeRow:
    """One exercise of one notebook of one student."""

    student: str
    notebook: str
    exercise: str  # the grade_id of the graded cell
    points: float
    max_points: float
    message: str


def graded_cells(nb) -> dict[str, Any]:
    """The cells of ``nb`` that earn points, by ``grade_id`` (nbgrader ``grade: true``)."""
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") is True and meta.get("grade_id"):
            cells[meta["grade_id"]] = cell
    return cells


def _points(cell) -> float:
    return float(cell.metadata["nbgrader"].get("points", 1))


def with_source_checks(student_nb, source_nb):
    """The student's notebook with every graded cell replaced by the source's (hidden tests included).

    A graded cell the student deleted is put back after the solution cell it checks
    (or at the end).
    """
    import copy

    source_cells = graded_cells(source_nb)
    nb = copy.deepcopy(student_nb)
    present = set()
    for i, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in source_cells and cell.metadata["nbgrader"].get("grade") is True:
            nb.cells[i] = copy.deepcopy(source_cells[grade_id])
            present.add(grade_id)
    for grade_id, cell in source_cells.items():
        if grade_id not in present:
            nb.cells.append(copy.deepcopy(cell))
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _error_message(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" and output.get("ename") == "KeyboardInterrupt":
            return "interrupted: a cell ran past the time limit per cell"
        if output.get("output_type") == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
            return " ".join(text.split())[:300]
    return None


def score(student: str, notebook: str, executed_nb) -> list[GradeRow]:
    """Points of each graded cell of an executed notebook."""
    rows = []
    for grade_id, cell in graded_cells(executed_nb).items():
        error = _error_message(cell)
        if cell.get("execution_count") is None and error is None:
            error = "not run: the notebook stopped before this cell"
        points = _points(cell)
        rows.append(GradeRow(student, notebook, grade_id, 0.0 if error else points, points, error or "passed"))
    return rows


def _execute(nb, workdir: Path, *, timeout: int, kernel: str):
    from nbclient import NotebookClient

    client = NotebookClient(nb, timeout=timeout, kernel_name=kernel, allow_errors=True, interrupt_on_timeout=True,
                            resources={"metadata": {"path": str(workdir)}}, record_timing=False)
    try:
        client.execute()
    except Exception as err:  # the kernel died or could not start: grade what ran
        nb.metadata["leptonlab_grading_error"] = f"{type(err).__name__}: {err}"[:300]
    return nb


def _limit_memory(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # inherited by the kernel


def grade_student_folder(student_dir: Path, sources: dict[str, Any], *, timeout: int, memory_mb: int,
                         kernel: str) -> list[GradeRow]:
    """Grade one student's folder (in this process): the worker's job."""
    import nbformat

    student = student_dir.name
    rows = []
    with tempfile.TemporaryDirectory(prefix=f"grade-{student}-") as tmp:
        workdir = Path(tmp) / "work"
        shutil.copytree(student_dir, workdir)
        os.environ.update(HOME=tmp, MPLCONFIGDIR=tmp, JUPYTER_RUNTIME_DIR=tmp)
        _limit_memory(memory_mb)
        for name, source_nb in sorted(sources.items()):
            path = workdir / name
            if not path.is_file():
                rows += [GradeRow(student, name, gid, 0.0, _points(c), "notebook not submitted")
                         for gid, c in graded_cells(source_nb).items()]
                continue
            try:
                student_nb = nbformat.read(path, as_version=4)
            except Exception as err:
                rows += [GradeRow(student, name, gid, 0.0, _points(c), f"unreadable notebook: {type(err).__name__}")
                         for gid, c in graded_cells(source_nb).items()]
                continue
            executed = _execute(with_source_checks(student_nb, source_nb), workdir, timeout=timeout, kernel=kernel)
            rows += score(student, name, executed)
    return rows


def _snapshot(folders: list[Path]) -> dict[str, str]:
    digests = {}
    for folder in folders:
        for path in sorted(folder.rglob("*")):
            if path.is_file() and ".ipynb_checkpoints" not in path.parts:
                digests[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return digests


def _zero_rows(student: str, sources: dict[str, Any], message: str) -> list[GradeRow]:
    return [GradeRow(student, name, gid, 0.0, _points(c), message)
            for name, nb in sorted(sources.items()) for gid, c in graded_cells(nb).items()]


def _run_worker(student_dir: Path, source_dir: Path, *, timeout: int, memory_mb: int, kernel: str,
                budget: float) -> tuple[list[GradeRow] | None, str]:
    args = json.dumps({"student_dir": str(student_dir), "source_dir": str(source_dir), "timeout": timeout,
                       "memory_mb": memory_mb, "kernel": kernel})
    try:
        done = subprocess.run([sys.executable, "-m", "leptonlab.course._grading", args], capture_output=True,
                              text=True, timeout=budget, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return None, f"grading stopped after {budget:.0f} s: the notebooks ran too long"
    for line in done.stdout.splitlines():
        if line.startswith(REPORT_MARK):
            return [GradeRow(**row) for row in json.loads(line[len(REPORT_MARK):])], ""
    tail = " ".join((done.stderr or "").strip().splitlines()[-1:])[:200]
    return None, f"grading process failed (exit {done.returncode}): {tail}"


def grade(submissions: str | Path, source_dir: str | Path, *, timeout: int = 120, memory_mb: int = 6144,
          kernel: str = "leptonlab", progress=print) -> list[GradeRow]:
    """Grade every ``submissions/<student>/`` against the solution notebooks in ``source_dir``.

    ``timeout`` is per cell (seconds); ``memory_mb`` caps each student's kernel.
    Only notebooks present in ``source_dir`` are graded.
    """
    import nbformat

    submissions, source_dir = Path(submissions), Path(source_dir)
    for folder, what in ((submissions, "submissions"), (source_dir, "source notebooks")):
        if not folder.is_dir():
            raise FileNotFoundError(f"no {what} folder at {folder}")
    if timeout < 1 or memory_mb < 256:
        raise ValueError(f"timeout must be >= 1 s and memory_mb >= 256, got {timeout}, {memory_mb}.")
    sources = {p.name: nbformat.read(p, as_version=4) for p in sorted(source_dir.glob("*.ipynb"))}
    sources = {name: nb for name, nb in sources.items() if graded_cells(nb)}
    if not sources:
        raise ValueError(f"no notebook in {source_dir} has graded cells (nbgrader metadata grade: true).")
    source_bytes = {p: p.read_bytes() for p in source_dir.glob("*.ipynb")}
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise ValueError(f"{submissions} holds no student folders (expected submissions/<student>/<notebook>.ipynb).")
    cells = sum(len(nb.cells) for nb in sources.values())
    rows: list[GradeRow] = []
    for student_dir in students:
        before = _snapshot([submissions, source_dir])
        graded, problem = _run_worker(student_dir, source_dir, timeout=timeout, memory_mb=memory_mb, kernel=kernel,
                                      budget=60 + timeout * cells)
        changed = sorted(set(before.items()) ^ set(_snapshot([submissions, source_dir]).items()))
        if changed:
            for path, content in source_bytes.items():  # the solutions are put back as they were
                path.write_bytes(content)
            problem = f"the notebook changed files outside its working copy ({Path(changed[0][0]).name}): 0 points"
            graded = None
        student_rows = graded if graded is not None else _zero_rows(student_dir.name, sources, problem)
        rows += student_rows
        got, total = sum(r.points for r in student_rows), sum(r.max_points for r in student_rows)
        progress(f"{student_dir.name}: {got:g}/{total:g} points" + (f" ({problem})" if problem else ""))
    return rows


def grades_csv(rows: list[GradeRow]) -> str:
    """The table as CSV text: student, notebook, exercise, points, max_points, message."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in dataclasses.fields(GradeRow)])
    for row in rows:
        writer.writerow(dataclasses.astuple(row))
    return out.getvalue()


def _worker_main(raw: str) -> None:
    import nbformat

    args = json.loads(raw)
    sources = {p.name: nbformat.read(p, as_version=4) for p in sorted(Path(args["source_dir"]).glob("*.ipynb"))}
    sources = {name: nb for name, nb in sources.items() if graded_cells(nb)}
    rows = grade_student_folder(Path(args["student_dir"]), sources, timeout=args["timeout"],
                                memory_mb=args["memory_mb"], kernel=args["kernel"])
    print(REPORT_MARK + json.dumps([dataclasses.asdict(r) for r in rows]), flush=True)


if __name__ == "__main__":
    _worker_main(sys.argv[1])
