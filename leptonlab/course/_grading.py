"""Autograding submissions without a JupyterHub (for instructors).

Layout: ``submissions/<student>/<NN_name>.ipynb`` and the solution notebooks in
``notebooks/``. For each student a fresh worker process (``python -m
leptonlab.course._grading``) grades a temporary copy of the student's folder:
every graded cell is put back from the source notebook (the checks, with their
hidden tests, so a student cannot edit them away), cells a student marked as
graded are not scored, and each notebook runs in a Jupyter kernel with a
per-cell time limit (interrupt, then kill after a short grace) and a memory
limit. Points and grade ids come only from the source notebook.

Isolation (``leptonlab.course._sandbox``): with bubblewrap the kernel runs in a
sandbox that sees only its working copy (writable), the Python installation,
the package and the data (read-only): not the solutions, not the other
submissions, not the grader's processes, no network; every process it starts
ends with it. Without bubblewrap, grading refuses to start unless asked for
``unsafe=True`` (then only the robustness measures apply). In both modes the
submissions and sources are compared with a snapshot taken before grading after
every student: changes are undone, and the student who made them gets 0.

Verdicts (:func:`score`): a graded cell earns its points when the kernel reports it
ran without error and each ``checks.NAME(...)`` it calls passes again here, replayed
from the record the check showed (:func:`replayed_verdict`,
``leptonlab.checks._record``), so what the student's code did to the kernel's
modules cannot turn a wrong answer into points.
"""

from __future__ import annotations

import csv
import dataclasses
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
RECORD_ENV = "LEPTONLAB_CHECK_RECORD"  # leptonlab.checks._record.RECORD_ENV (not imported: it pulls in NumPy)


@dataclasses.dataclass(frozen=True)
class GradeRow:
    """One exercise of one notebook of one student."""

    student: str
    notebook: str
    exercise: str  # the grade_id of the graded cell
    points: float
    max_points: float
    message: str
    graded_by: str = (
        "grader"  # "grader": scored here; "hand": a written answer the instructor scores
    )


def _is_written_answer(cell) -> bool:
    """nbgrader's manually graded answer: a cell that is both a solution and graded (its points by hand)."""
    meta = cell.get("metadata", {}).get("nbgrader", {})
    return meta.get("grade") is True and meta.get("solution") is True


def _written_answer(cell) -> str | None:
    """The student's written answer in ``cell``, whitespace collapsed; None if empty or left as released."""
    text = " ".join(str(cell.get("source", "")).split())
    return (
        None
        if not text or text in ("YOUR ANSWER HERE", "# YOUR CODE HERE raise NotImplementedError()")
        else text
    )


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
    """The student's notebook with every graded cell taken from the source (hidden tests included).

    A graded cell the student deleted is put back at the end; a second copy of one is dropped;
    a cell the student marked as graded (``grade``/``points`` in its nbgrader metadata) keeps its
    code but loses those marks, so it earns nothing: points come only from the source.
    """
    import copy

    source_cells = {
        gid: c for gid, c in graded_cells(source_nb).items() if not _is_written_answer(c)
    }
    answers = {gid for gid, c in graded_cells(source_nb).items() if _is_written_answer(c)}
    nb = copy.deepcopy(student_nb)
    cells, placed = [], set()
    for cell in nb.cells:
        meta = dict(cell.metadata.get("nbgrader", {}))
        grade_id = meta.get("grade_id")
        if grade_id in source_cells:
            if grade_id not in placed:
                cells.append(copy.deepcopy(source_cells[grade_id]))
                placed.add(grade_id)
            continue
        if (
            grade_id in answers and grade_id not in placed
        ):  # the student's own written answer: kept as written
            placed.add(grade_id)
        elif meta.get("grade") or "points" in meta:
            meta.pop("points", None)
            meta["grade"] = False
            cell.metadata["nbgrader"] = meta
        cells.append(cell)
    cells += [
        copy.deepcopy(cell) for grade_id, cell in source_cells.items() if grade_id not in placed
    ]
    for cell in cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    nb.cells = cells
    return nb


KILLED_KEY = "leptonlab_killed_cell"


def _error_message(cell) -> str | None:
    for output in cell.get("outputs", []):
        if output.get("output_type") == "error" and output.get("ename") == "KeyboardInterrupt":
            return "interrupted: a cell ran past the time limit per cell"
        if output.get("output_type") == "error":
            text = f"{output.get('ename', 'Error')}: {output.get('evalue', '')}".strip()
            return " ".join(text.split())[:300]
    return None


STATUS_KEY = (
    "leptonlab_status"  # the kernel's execute_reply status of a cell: "ok", "error" or "aborted"
)


def checks_called(source: str) -> list[str] | None:
    """The ``leptonlab.checks`` functions a graded cell calls, in order (``checks.NAME(...)``).

    None if the cell is not valid Python (then the kernel's word is all there is).
    """
    import ast

    try:
        tree = ast.parse(source)
    except SyntaxError:
        return None
    calls = []
    for node in ast.walk(tree):
        func = getattr(node, "func", None) if isinstance(node, ast.Call) else None
        if isinstance(func, ast.Attribute) and (
            (isinstance(func.value, ast.Name) and func.value.id == "checks")
            or (isinstance(func.value, ast.Attribute) and func.value.attr == "checks")
        ):
            calls.append((node.lineno, node.col_offset, func.attr))
    return [name for *_, name in sorted(calls)]


def check_records(cell) -> list:
    """The check records a cell showed (``leptonlab.checks._record.MIMETYPE`` outputs), in order."""
    from leptonlab.checks._record import MIMETYPE

    return [
        output.get("data", {}).get(MIMETYPE)
        for output in cell.get("outputs", [])
        if output.get("output_type") == "display_data" and MIMETYPE in output.get("data", {})
    ]


def replayed_verdict(source_cell, executed_cell) -> str | None:
    """Judge a graded cell that ran without error again, here, from its check records: None if it passes.

    Each ``checks.NAME(...)`` call of the source cell must have left a record in the executed
    cell, and each record must pass when its check is replayed in this process
    (``leptonlab.checks._core.replay``), where nothing the student's code did to the kernel's
    modules can reach. A cell with no check call is judged by the kernel alone.
    """
    from leptonlab.checks._core import replay

    expected = checks_called(source_cell.source)
    if not expected:
        return None
    records = check_records(executed_cell)
    names = [r.get("check") if isinstance(r, dict) else None for r in records]
    if names != expected:
        return (
            f"the checks did not report as they should (expected {', '.join(expected)}; got "
            f"{', '.join(map(str, names)) or 'nothing'}): was leptonlab.checks changed in an earlier cell?"
        )
    for record in records:
        problem = replay(record)
        if problem is not None:
            return f"replayed by the grader: {problem}"[:300]
    return None


def score(student: str, notebook: str, executed_nb, source_nb) -> list[GradeRow]:
    """Points of each graded cell of the source notebook, judged by its run in ``executed_nb``.

    Grade ids and points come from ``source_nb``; a cell earns its points only if the kernel
    answered that it ran without error (not merely because no error was shown). A written answer
    (nbgrader's manually graded cell) scores 0 here, ``graded_by="hand"``, with the answer's text
    in the message for the instructor.
    """
    executed = {}
    for index, cell in enumerate(executed_nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.metadata.get("nbgrader", {}).get("grade") is True and grade_id:
            executed[grade_id] = (index, cell)
    killed = executed_nb.metadata.get(KILLED_KEY)
    rows = []
    for grade_id, source_cell in graded_cells(source_nb).items():
        index, cell = executed.get(grade_id, (None, {}))
        if _is_written_answer(
            source_cell
        ):  # scored by hand: the table carries the answer to the instructor
            answer = _written_answer(cell) if cell else None
            rows.append(
                GradeRow(
                    student,
                    notebook,
                    grade_id,
                    0.0,
                    _points(source_cell),
                    f"written answer: {answer[:2000]}" if answer else "no written answer",
                    "hand",
                )
            )
            continue
        status = cell.get("metadata", {}).get(STATUS_KEY)
        error = _error_message(cell)
        if error is None and index is not None and index == killed:
            error = "killed: the cell ran past the time limit and ignored the interrupt"
        elif error is None and status is None:
            error = (
                "not run: the notebook stopped before this cell"
                if killed is None
                else f"not run: cell {killed} ran past the time limit, ignored the interrupt and was killed"
            )
        elif error is None and status != "ok":
            error = f"the kernel reported {status!r} for this cell"
        if error is None:
            error = replayed_verdict(source_cell, cell)
        points = _points(source_cell)
        rows.append(
            GradeRow(
                student, notebook, grade_id, 0.0 if error else points, points, error or "passed"
            )
        )
    return rows


def _grading_client(nb, workdir: Path, *, timeout: int, kernel: str, grace: float, km=None):
    """An nbclient that records each cell's reply status, and kills a kernel that ignores an interrupt."""
    import asyncio

    from nbclient import NotebookClient

    class GradingClient(NotebookClient):
        _running: int | None = None

        async def async_execute_cell(
            self, cell, cell_index, execution_count=None, store_history=True
        ):
            self._running = cell_index
            cell.metadata.pop(STATUS_KEY, None)
            try:
                return await super().async_execute_cell(
                    cell, cell_index, execution_count, store_history
                )
            finally:
                self._running = None

        async def _check_raise_for_error(self, cell, cell_index, exec_reply):
            if exec_reply is not None:  # the kernel's own word on the cell, not what it printed
                cell.metadata[STATUS_KEY] = exec_reply.get("content", {}).get("status")
            return await super()._check_raise_for_error(cell, cell_index, exec_reply)

        async def _async_handle_timeout(self, timeout, cell=None):
            running = self._running
            result = await super()._async_handle_timeout(timeout, cell)  # interrupts the kernel

            async def kill_if_still_running():
                await asyncio.sleep(grace)
                if self._running == running and self.km is not None:
                    self.nb.metadata[KILLED_KEY] = running
                    await self.km.shutdown_kernel(now=True)

            if not hasattr(self, "_kill_tasks"):
                self._kill_tasks = []
            self._kill_tasks.append(asyncio.ensure_future(kill_if_still_running()))
            return result

    return GradingClient(
        nb,
        km=km,
        timeout=timeout,
        kernel_name=kernel,
        allow_errors=True,
        interrupt_on_timeout=True,
        resources={"metadata": {"path": str(workdir)}},
        record_timing=False,
    )


def _sandboxed_kernel(kernel: str, workdir: Path, sockets: Path, bwrap: str, hidden: list[Path]):
    from leptonlab.course._sandbox import SandboxedKernelManager

    return SandboxedKernelManager(
        kernel_name=kernel,
        transport="ipc",
        ip=str(sockets / "kernel"),
        connection_file=str(sockets / "kernel.json"),
        bwrap=bwrap,
        writable=[str(workdir), str(sockets)],
        hidden=[str(p) for p in hidden],
    )


def _execute(nb, workdir: Path, *, timeout: int, kernel: str, grace: float = 5.0, km=None):
    client = _grading_client(nb, workdir, timeout=timeout, kernel=kernel, grace=grace, km=km)
    try:
        client.execute()
    except Exception as err:  # the kernel died, was killed or could not start: grade what ran
        nb.metadata["leptonlab_grading_error"] = f"{type(err).__name__}: {err}"[:300]
    return nb


def _limit_memory(memory_mb: int) -> None:
    import resource

    limit = memory_mb * 2**20
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))  # inherited by the kernel


def grade_student_folder(
    workdir: Path,
    student: str,
    sources: dict[str, Any],
    *,
    timeout: int,
    memory_mb: int,
    kernel: str,
    grace: float = 5.0,
    bwrap: str | None = None,
    hidden: list[Path] = (),
) -> list[GradeRow]:
    """Grade one student's working copy ``workdir`` (in this process): the worker's job.

    With ``bwrap`` each notebook's kernel runs in the sandbox (``_sandbox``); ``hidden`` are the
    folders it must not see. ``workdir`` is the student's copy: the grader removes it afterwards.
    """
    import nbformat

    rows = []
    home = workdir.parent
    os.environ.update(HOME=str(home), MPLCONFIGDIR=str(home), JUPYTER_RUNTIME_DIR=str(home))
    os.environ[RECORD_ENV] = (
        "1"  # each check that passes shows its record, which score() replays here
    )
    _limit_memory(memory_mb)
    for name, source_nb in sorted(sources.items()):
        path = workdir / name
        if not path.is_file():
            rows += [
                GradeRow(
                    student,
                    name,
                    gid,
                    0.0,
                    _points(c),
                    "notebook not submitted",
                    "hand" if _is_written_answer(c) else "grader",
                )
                for gid, c in graded_cells(source_nb).items()
            ]
            continue
        try:
            student_nb = nbformat.read(path, as_version=4)
        except Exception as err:
            rows += [
                GradeRow(
                    student,
                    name,
                    gid,
                    0.0,
                    _points(c),
                    f"unreadable notebook: {type(err).__name__}",
                    "hand" if _is_written_answer(c) else "grader",
                )
                for gid, c in graded_cells(source_nb).items()
            ]
            continue
        km = None
        if bwrap:
            sockets = Path(tempfile.mkdtemp(prefix="sockets-", dir=home))
            km = _sandboxed_kernel(kernel, workdir, sockets, bwrap, list(hidden))
        executed = _execute(
            with_source_checks(student_nb, source_nb),
            workdir,
            timeout=timeout,
            kernel=kernel,
            grace=grace,
            km=km,
        )
        rows += score(student, name, executed, source_nb)
    return rows


def _files(folders: list[Path]) -> dict[Path, bytes]:
    """Every file under ``folders`` with its bytes: the read-only snapshot grading restores."""
    return {
        path: path.read_bytes()
        for folder in folders
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.is_symlink() and ".ipynb_checkpoints" not in path.parts
    }


def _restore(snapshot: dict[Path, bytes], folders: list[Path]) -> list[str]:
    """Undo every change under ``folders`` since ``snapshot``; the relative names of what changed."""
    changed = []
    now = _files(folders)
    for path in sorted(set(now) - set(snapshot)):  # planted
        path.unlink()
        changed.append(f"{path.name} (added)")
    for path, content in snapshot.items():
        if now.get(path) != content:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
            changed.append(f"{path.name} ({'deleted' if path not in now else 'changed'})")
    return changed


def _zero_rows(student: str, sources: dict[str, Any], message: str) -> list[GradeRow]:
    return [
        GradeRow(
            student,
            name,
            gid,
            0.0,
            _points(c),
            message,
            "hand" if _is_written_answer(c) else "grader",
        )
        for name, nb in sorted(sources.items())
        for gid, c in graded_cells(nb).items()
    ]


def _kill_tree(pid: int) -> None:
    """End a process and every process it started (the kernel too, even outside a sandbox)."""
    import psutil

    try:
        parent = psutil.Process(pid)
        family = [*parent.children(recursive=True), parent]
    except psutil.NoSuchProcess:
        return
    for process in family:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def _run_worker(args: dict[str, Any], *, budget: float) -> tuple[list[GradeRow] | None, str]:
    worker = subprocess.Popen(
        [sys.executable, "-m", "leptonlab.course._grading", json.dumps(args)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = worker.communicate(timeout=budget)
    except subprocess.TimeoutExpired:
        _kill_tree(worker.pid)
        worker.communicate()
        return None, f"grading stopped after {budget:.0f} s: the notebooks ran too long"
    finally:
        _kill_tree(worker.pid)
    for line in stdout.splitlines():
        if line.startswith(REPORT_MARK):
            return [GradeRow(**row) for row in json.loads(line[len(REPORT_MARK) :])], ""
    tail = " ".join((stderr or "").strip().splitlines()[-1:])[:200]
    return None, f"grading process failed (exit {worker.returncode}): {tail}"


class IsolationError(RuntimeError):
    """No sandbox can be had here, and unsafe grading was not asked for."""


def isolation(unsafe: bool = False) -> str | None:
    """The ``bwrap`` that will isolate each kernel, or None when ``unsafe`` and there is none.

    Raises:
        IsolationError: if bubblewrap is missing or refused here and ``unsafe`` is False.
    """
    from leptonlab.course._sandbox import bubblewrap

    bwrap = bubblewrap()
    if bwrap is None and not unsafe:
        raise IsolationError(
            "no sandbox for the students' code: bubblewrap (`bwrap`) is missing or user namespaces are "
            "disabled here. Install it (Debian/Ubuntu: apt-get install bubblewrap) or, only for code you "
            "trust, grade with --unsafe."
        )
    return bwrap


def grade(
    submissions: str | Path,
    source_dir: str | Path,
    *,
    timeout: int = 120,
    memory_mb: int = 6144,
    kernel: str = "leptonlab",
    unsafe: bool = False,
    grace: float = 5.0,
    progress=print,
) -> list[GradeRow]:
    """Grade every ``submissions/<student>/`` against the solution notebooks in ``source_dir``.

    ``timeout`` is per cell (seconds): a cell past it is interrupted, and killed ``grace`` seconds
    later if it is still running; ``memory_mb`` caps each student's kernel. Only notebooks present
    in ``source_dir`` are graded. Each kernel runs in a bubblewrap sandbox; without one, grading
    refuses to start unless ``unsafe`` (see :func:`isolation`).
    """
    import nbformat

    submissions, source_dir = Path(submissions).resolve(), Path(source_dir).resolve()
    for folder, what in ((submissions, "submissions"), (source_dir, "source notebooks")):
        if not folder.is_dir():
            raise FileNotFoundError(f"no {what} folder at {folder}")
    if timeout < 1 or memory_mb < 256 or grace < 0:
        raise ValueError(
            f"timeout must be >= 1 s, memory_mb >= 256 and grace >= 0, got {timeout}, {memory_mb}, {grace}."
        )
    sources = {p.name: nbformat.read(p, as_version=4) for p in sorted(source_dir.glob("*.ipynb"))}
    sources = {name: nb for name, nb in sources.items() if graded_cells(nb)}
    if not sources:
        raise ValueError(
            f"no notebook in {source_dir} has graded cells (nbgrader metadata grade: true)."
        )
    students = sorted(p for p in submissions.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not students:
        raise ValueError(
            f"{submissions} holds no student folders (expected submissions/<student>/<notebook>.ipynb)."
        )
    bwrap = isolation(unsafe)
    progress(
        f"isolation: {'bubblewrap sandbox (' + bwrap + ')' if bwrap else 'NONE (--unsafe): students run as you'}"
    )
    watched = [submissions, source_dir]
    snapshot = _files(watched)
    code_cells = sum(c.cell_type == "code" for nb in sources.values() for c in nb.cells)
    budget = 60 + (timeout + grace) * code_cells
    rows: list[GradeRow] = []
    for student_dir in students:
        tmp = Path(tempfile.mkdtemp(prefix=f"grade-{student_dir.name}-"))
        try:
            workdir = tmp / "work"
            shutil.copytree(student_dir, workdir, symlinks=True)
            args = {
                "workdir": str(workdir),
                "student": student_dir.name,
                "source_dir": str(source_dir),
                "timeout": timeout,
                "grace": grace,
                "memory_mb": memory_mb,
                "kernel": kernel,
                "bwrap": bwrap,
                "hidden": [str(p) for p in watched],
            }
            graded, problem = _run_worker(args, budget=budget)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        changed = _restore(snapshot, watched)
        if changed:
            problem = f"the notebook changed files outside its working copy ({', '.join(changed[:3])}): 0 points"
            graded = None
        student_rows = (
            graded if graded is not None else _zero_rows(student_dir.name, sources, problem)
        )
        rows += student_rows
        auto = [r for r in student_rows if r.graded_by == "grader"]
        got, total = sum(r.points for r in auto), sum(r.max_points for r in auto)
        by_hand = sum(r.max_points for r in student_rows if r.graded_by == "hand")
        progress(
            f"{student_dir.name}: {got:g}/{total:g} points"
            + (f" + {by_hand:g} to grade by hand" if by_hand else "")
            + (f" ({problem})" if problem else "")
        )
    return rows


def grades_csv(rows: list[GradeRow]) -> str:
    """The table as CSV text: student, notebook, exercise, points, max_points, message, graded_by."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([f.name for f in dataclasses.fields(GradeRow)])
    for row in rows:
        writer.writerow(dataclasses.astuple(row))
    return out.getvalue()


def _worker_main(raw: str) -> None:
    import nbformat

    args = json.loads(raw)
    sources = {
        p.name: nbformat.read(p, as_version=4)
        for p in sorted(Path(args["source_dir"]).glob("*.ipynb"))
    }
    sources = {name: nb for name, nb in sources.items() if graded_cells(nb)}
    rows = grade_student_folder(
        Path(args["workdir"]),
        args["student"],
        sources,
        timeout=args["timeout"],
        memory_mb=args["memory_mb"],
        kernel=args["kernel"],
        grace=args["grace"],
        bwrap=args["bwrap"],
        hidden=[Path(p) for p in args["hidden"]],
    )
    print(REPORT_MARK + json.dumps([dataclasses.asdict(r) for r in rows]), flush=True)


if __name__ == "__main__":
    _worker_main(sys.argv[1])
