"""Run the course in batch: each notebook with papermill, then a report.

:func:`run_course` executes the notebooks one at a time, each in a fresh child
process (``python -c ...`` calling :func:`_child_main`) that runs papermill and,
once papermill has shut the kernel down and waited for it, reads the kernel's
peak memory with ``getrusage(RUSAGE_CHILDREN)``. The parent measures the wall
time and reads the metrics the notebook recorded (``lepton.record``) from the
executed copy. ``leptonlab run`` is the command-line face of this module.
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from leptonlab._env import QUICK_ENV
from leptonlab.course._notebook_files import _notebook_path, recorded_metrics
from leptonlab.course._report import FAILED, OK, NotebookRow, Report, RunInfo, write_report

_CHILD = "from leptonlab.course._runner import _child_main; _child_main()"
_PROBE = """\
import json, jax
devices = jax.devices()
print(json.dumps({"jax": jax.__version__, "backend": jax.default_backend(),
                  "devices": f"{len(devices)} × {devices[0].device_kind}"}))
"""
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_STDERR_TAIL = 2000  # characters of a crashed child's stderr kept in the error


@dataclass(frozen=True)
class _Job:
    """What the child process needs to execute one notebook (passed as JSON)."""

    input: str  # absolute path of the notebook
    output: str  # absolute path of the executed copy
    kernel: str  # Jupyter kernel name
    cwd: str  # working directory of the kernel: the notebook's folder
    parameters: dict[str, Any]  # papermill parameters, QUICK included
    timeout: float | None  # per-cell limit [s]; None: no limit
    result: str  # where the child writes its JSON result


# ---------------------------------------------------------------- child process


def one_line(text: str) -> str:
    """Text without ANSI colours, on one line."""
    return " ".join(_ANSI.sub("", text).split())


def _describe(err: BaseException) -> str:
    """``"ErrorName: message"`` of a papermill cell error or of any other exception."""
    name = getattr(err, "ename", None) or type(err).__name__
    message = getattr(err, "evalue", None)
    cell = getattr(err, "exec_count", None)
    where = f" (cell In [{cell}])" if cell is not None else ""
    return one_line(f"{name}: {message if message is not None else err}") + where


def _children_peak_mib() -> float | None:
    """Peak resident memory of the largest finished child process [MiB]; None if unknown."""
    try:
        import resource
    except ImportError:  # Windows
        return None
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    scale = 1 if sys.platform == "darwin" else 1024  # macOS reports bytes, Linux KiB
    return peak * scale / 2**20 if peak > 0 else None


def _execute(job: _Job) -> dict[str, Any]:
    """Run one notebook with papermill in this process; its kernel is our child."""
    import papermill

    status, error = OK, None
    try:
        papermill.execute_notebook(
            job.input,
            job.output,
            parameters=job.parameters,
            kernel_name=job.kernel,
            cwd=job.cwd,
            execution_timeout=job.timeout,
            progress_bar=False,
            log_output=False,
        )
    except Exception as err:  # a cell's error, a dead kernel, a timeout: all make the notebook fail
        status, error = FAILED, _describe(err)
    return {"status": status, "error": error, "peak_mib": _children_peak_mib()}


def _child_main() -> None:
    """Entry point of the child process: ``python -c _CHILD '<job as JSON>'``."""
    job = _Job(**json.loads(sys.argv[1]))
    result = _execute(job)
    Path(job.result).write_text(json.dumps(result), encoding="utf-8")


# ---------------------------------------------------------------- parent process


def _kernel_python(kernel: str) -> str:
    """The Python the kernel ``kernel`` runs, or a clear error if there is no such kernel."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(kernel)
    except NoSuchKernel:
        raise ValueError(
            f"no Jupyter kernel named {kernel!r}: install it with "
            f"`python -m ipykernel install --user --name {kernel}` or pass kernel=... "
            "(list them with `jupyter kernelspec list`)."
        ) from None
    return spec.argv[0] if spec.argv and "python" in Path(spec.argv[0]).name else sys.executable


def _quick_env(quick: bool) -> dict[str, str]:
    return {**os.environ, QUICK_ENV: "1" if quick else "0"}


def _machine() -> str:
    """Host name, OS, architecture, CPU count and memory, on one line."""
    text = f"{platform.node()}, {platform.system()} {platform.machine()}, {os.cpu_count()} CPUs"
    try:
        import psutil
    except ImportError:
        return text
    return f"{text}, {psutil.virtual_memory().total / 2**30:.0f} GiB RAM"


def run_info(*, quick: bool, python: str = sys.executable) -> RunInfo:
    """The report header: date, mode, JAX as ``python`` sees it, and this machine.

    JAX is asked in a short-lived subprocess (without preallocating GPU memory), so
    that this process never holds an accelerator while the notebooks run.
    """
    env = {**_quick_env(quick), "XLA_PYTHON_CLIENT_PREALLOCATE": "false"}
    try:
        done = subprocess.run(
            [python, "-c", _PROBE], env=env, capture_output=True, text=True, timeout=300, check=True
        )
        probe = json.loads(done.stdout.strip().splitlines()[-1])
    except (OSError, subprocess.SubprocessError, ValueError, IndexError):
        probe = {}
    return RunInfo(
        date=datetime.now().strftime("%Y-%m-%d %H:%M"),
        quick=quick,
        jax_version=probe.get("jax", "unknown"),
        backend=probe.get("backend", "unknown"),
        devices=probe.get("devices", "unknown"),
        machine=_machine(),
    )


def _crash_message(done: subprocess.CompletedProcess[str]) -> str:
    tail = one_line(done.stderr[-_STDERR_TAIL:]) or "no error output"
    return f"ChildProcessError: the runner process exited with code {done.returncode}: {tail}"


def _run_notebook(
    path: Path,
    output: Path,
    *,
    quick: bool,
    kernel: str,
    parameters: Mapping[str, Any],
    timeout: float | None,
) -> NotebookRow:
    """Execute one notebook in a fresh child process and describe the outcome."""
    output.unlink(missing_ok=True)  # never read metrics from an earlier run's copy
    with tempfile.TemporaryDirectory(prefix="leptonlab-run-") as tmp:
        job = _Job(
            input=str(path.resolve()),
            output=str(output.resolve()),
            kernel=kernel,
            cwd=str(path.resolve().parent),
            parameters={"QUICK": quick, **parameters},
            timeout=timeout,
            result=str(Path(tmp) / "result.json"),
        )
        start = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-c", _CHILD, json.dumps(asdict(job))],
            env=_quick_env(quick),
            capture_output=True,
            text=True,
        )
        seconds = time.perf_counter() - start
        result_file = Path(job.result)
        result = (
            json.loads(result_file.read_text(encoding="utf-8"))
            if result_file.is_file()
            else {"status": FAILED, "error": _crash_message(done), "peak_mib": None}
        )
    metrics = recorded_metrics(output) if output.is_file() else {}
    return NotebookRow(
        notebook=path.name,
        status=result["status"],
        seconds=seconds,
        peak_mib=result["peak_mib"],
        metrics=metrics,
        error=result["error"],
        output=str(output),
    )


def _progress_line(index: int, total: int, row: NotebookRow) -> str:
    where = f"[{index}/{total}] {row.notebook}"
    memory = "" if row.peak_mib is None else f", peak {row.peak_mib:.0f} MiB"
    if row.ok:
        return f"{where}: ok in {row.seconds:.1f} s{memory}"
    return f"{where}: FAILED in {row.seconds:.1f} s{memory}: {row.error}"


def _check_notebooks(notebooks: Iterable[str | Path]) -> list[Path]:
    if isinstance(notebooks, (str, Path)):
        raise TypeError(
            "notebooks must be a list of paths, e.g. [Path('notebooks/00_setup.ipynb')]."
        )
    paths = [_notebook_path(p) for p in notebooks]
    if not paths:
        raise ValueError("no notebooks to run: pass at least one .ipynb path.")
    names = [p.name for p in paths]
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"notebooks named alike would overwrite each other's executed copy: {repeated}."
        )
    return paths


def _check_parameters(parameters: Mapping[str, Any] | None) -> dict[str, Any]:
    if parameters is None:
        return {}
    if not isinstance(parameters, Mapping):
        raise TypeError(
            f"parameters must be a dict of name -> value, got {type(parameters).__name__}."
        )
    bad = [name for name in parameters if not (isinstance(name, str) and name.isidentifier())]
    if bad:
        raise ValueError(f"parameter names must be Python identifiers, got {bad}.")
    if "QUICK" in parameters:
        raise ValueError("QUICK is set by quick=True/False: leave it out of parameters.")
    try:
        json.dumps(dict(parameters))
    except TypeError as err:
        raise TypeError(
            f"parameters must be plain values (numbers, str, bool, lists, dicts): {err}."
        ) from None
    return dict(parameters)


def _check_options(quick: Any, kernel: Any, timeout: Any, progress: Any) -> None:
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be True or False, got {quick!r}.")
    if not isinstance(kernel, str) or not kernel:
        raise TypeError(
            f"kernel must be a Jupyter kernel name such as 'leptonlab', got {kernel!r}."
        )
    if timeout is not None and (
        isinstance(timeout, bool) or not isinstance(timeout, (int, float)) or timeout <= 0
    ):
        raise ValueError(
            f"timeout must be a positive number of seconds per cell or None, got {timeout!r}."
        )
    if progress is not None and not callable(progress):
        raise TypeError(
            f"progress must be a function taking a str (e.g. print) or None, got {progress!r}."
        )


def run_course(
    notebooks: Iterable[str | Path],
    *,
    out_dir: str | Path,
    quick: bool,
    kernel: str = "leptonlab",
    parameters: Mapping[str, Any] | None = None,
    timeout: float | None = None,
    progress: Callable[[str], Any] | None = print,
) -> Report:
    """Execute notebooks one at a time with papermill and write a report into ``out_dir``.

    Each notebook runs with the kernel ``kernel``, its own folder as working directory,
    ``LEPTONLAB_QUICK=1`` (or ``0``) in the kernel's environment and ``QUICK`` (plus
    ``parameters``) injected by papermill. The executed copies, ``report.md`` and
    ``report.csv`` go into ``out_dir``. A failing notebook does not stop the others.

    Args:
        notebooks: paths of ``.ipynb`` files, run in this order.
        out_dir: folder for the executed copies and the report (created if needed).
        quick: quick mode (small, fast runs) or the full course.
        kernel: name of the Jupyter kernel to run them with.
        parameters: more papermill parameters, name -> plain value.
        timeout: limit per cell in seconds; None for no limit.
        progress: called with one line of text per notebook; None for silence.

    Returns:
        The :class:`Report`; ``report.failed`` says how many notebooks failed.
    """
    _check_options(quick, kernel, timeout, progress)
    paths = _check_notebooks(notebooks)
    extra = _check_parameters(parameters)
    if not isinstance(out_dir, (str, Path)):
        raise TypeError(f"out_dir must be a folder path, got {type(out_dir).__name__}.")
    out = Path(out_dir)
    if any(p.resolve().parent == out.resolve() for p in paths):
        raise ValueError(
            f"out_dir {out} holds the notebooks themselves: the executed copies would "
            "overwrite them; choose another folder, e.g. runs/quick."
        )
    out.mkdir(parents=True, exist_ok=True)
    info = run_info(quick=quick, python=_kernel_python(kernel))
    say = progress or (lambda line: None)
    rows = []
    for index, path in enumerate(paths, start=1):
        say(f"[{index}/{len(paths)}] {path.name}: running ({'quick' if quick else 'full'}) ...")
        row = _run_notebook(
            path, out / path.name, quick=quick, kernel=kernel, parameters=extra, timeout=timeout
        )
        say(_progress_line(index, len(paths), row))
        rows.append(row)
    return write_report(rows, info, out)
