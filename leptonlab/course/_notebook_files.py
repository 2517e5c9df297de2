"""Notebook files: finding the course's notebooks, keeping them clean, reading their metrics.

The conventions checked here are those of CONTRIBUTING.md ("Notebooks"):
the ``leptonlab`` kernel, a cell tagged ``parameters``, no outputs except in
cells tagged ``nbval-check-output``, and nbgrader's solution markers and
metadata. ``leptonlab strip`` and ``leptonlab check-notebooks`` call these.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from leptonlab.course._record import METRICS_MIME

if TYPE_CHECKING:
    from nbformat import NotebookNode

KERNEL_NAME = "leptonlab"
PARAMETERS_TAG = "parameters"
KEEP_OUTPUT_TAG = "nbval-check-output"
INJECTED_TAG = "injected-parameters"  # papermill's cell holding the parameters it was given
ERROR_MARKER_TAG = "papermill-error-cell-tag"  # papermill's "An Exception was encountered" cells
BEGIN_SOLUTION = "### BEGIN SOLUTION"
END_SOLUTION = "### END SOLUTION"

_NOISE_CELL_TAGS = {INJECTED_TAG, ERROR_MARKER_TAG}
_NOISE_METADATA = (
    "papermill",
    "execution",
    "ExecuteTime",
    "widgets",
)  # run records and widget state, not content
_COURSE_NOTEBOOK = re.compile(r"^\d{2}_.+\.ipynb$")


def _notebook_path(path: str | Path) -> Path:
    """``path`` as a Path to an existing ``.ipynb`` file, or a clear error."""
    if not isinstance(path, (str, Path)):
        raise TypeError(f"expected a notebook path (str or Path), got {type(path).__name__}.")
    p = Path(path)
    if p.suffix != ".ipynb":
        raise ValueError(f"{p} is not a notebook: expected a file ending in .ipynb.")
    if not p.is_file():
        raise FileNotFoundError(
            f"no notebook at {p}: check the path (it is read relative to {Path.cwd()})."
        )
    return p


def _tags(cell: Any) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _read(path: Path) -> NotebookNode:
    import nbformat  # imported here: it takes seconds, and every notebook imports leptonlab

    return nbformat.read(path, as_version=nbformat.NO_CONVERT)


def course_notebooks(folder: str | Path) -> list[Path]:
    """The course notebooks ``NN_name.ipynb`` in ``folder``, in course order."""
    folder = Path(folder)
    return sorted(p for p in folder.glob("*.ipynb") if _COURSE_NOTEBOOK.match(p.name))


def find_notebooks_dir(start: str | Path | None = None) -> Path:
    """The folder holding the course notebooks, searched from ``start`` (default: here).

    Looks at ``start/notebooks``, ``start`` itself, then ``notebooks/`` in each parent
    folder, and finally next to the installed package (an editable install of the repo).

    Raises:
        FileNotFoundError: if none of these holds an ``NN_name.ipynb`` notebook.
    """
    here = Path.cwd() if start is None else Path(start)
    package_root = Path(__file__).resolve().parents[2]
    candidates = [
        here / "notebooks",
        here,
        *(p / "notebooks" for p in here.resolve().parents),
        package_root / "notebooks",
    ]
    for folder in candidates:
        if folder.is_dir() and course_notebooks(folder):
            return folder
    raise FileNotFoundError(
        f"no course notebooks (notebooks/NN_name.ipynb) found from {here}: "
        "run this in the leptonlab repository or name the notebooks."
    )


def _strip_cell(cell: Any) -> None:
    for key in _NOISE_METADATA:
        cell.metadata.pop(key, None)
    if cell.cell_type != "code" or KEEP_OUTPUT_TAG in _tags(cell):
        return
    cell.outputs = []
    cell.execution_count = None


def strip_outputs(path: str | Path) -> bool:
    """Clear a notebook's outputs in place, as committed notebooks carry them (CONTRIBUTING.md).

    Clears outputs and execution counts of every code cell except those tagged
    ``nbval-check-output``; removes papermill's injected-parameters and error cells and
    the run records in the metadata (papermill, execution times). Idempotent.

    Returns:
        True if the file changed, False if it was already clean.
    """
    import nbformat

    p = _notebook_path(path)
    before = p.read_text(encoding="utf-8")
    nb = nbformat.reads(before, as_version=nbformat.NO_CONVERT)
    nb.cells = [cell for cell in nb.cells if not _NOISE_CELL_TAGS.intersection(_tags(cell))]
    for cell in nb.cells:
        _strip_cell(cell)
    for key in _NOISE_METADATA:
        nb.metadata.pop(key, None)
    after = nbformat.writes(nb)
    after += "" if after.endswith("\n") else "\n"  # as nbformat.write does
    if after == before:
        return False
    p.write_text(after, encoding="utf-8")
    return True


def _cell_name(index: int, cell: Any) -> str:
    return f"cell {index} ({cell.cell_type})"


def _kernel_problems(nb: Any) -> list[str]:
    name = nb.metadata.get("kernelspec", {}).get("name")
    if name == KERNEL_NAME:
        return []
    return [
        f"kernelspec name is {name!r}, expected {KERNEL_NAME!r}: "
        'set metadata.kernelspec to {"name": "leptonlab", '
        '"display_name": "Python (leptonlab)", "language": "python"}.'
    ]


def _parameters_problems(nb: Any) -> list[str]:
    cells = [(i, cell) for i, cell in enumerate(nb.cells) if PARAMETERS_TAG in _tags(cell)]
    if not cells:
        return [f"no cell tagged {PARAMETERS_TAG!r}: tag the cell that sets QUICK and SEED."]
    return [problem for index, cell in cells for problem in _literal_problems(index, cell)]


def _literal_problems(index: int, cell: Any) -> list[str]:
    """papermill reads the parameters cell without running it: only ``NAME = literal`` lines."""
    import ast

    try:
        tree = ast.parse(cell.get("source", ""))
    except SyntaxError as err:
        return [f"{_cell_name(index, cell)} (parameters) is not valid Python: {err.msg}."]
    problems = []
    for node in tree.body:
        literal = (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
        )
        if literal:
            try:
                ast.literal_eval(node.value)
            except ValueError:
                literal = False
        if not literal:
            problems.append(
                f"{_cell_name(index, cell)} (parameters), line {node.lineno}: "
                f"{ast.unparse(node)[:60]!r} is not NAME = literal, which papermill cannot read: "
                "write QUICK = None there and resolve it in the next cell "
                "(QUICK = lepton.quick_mode(QUICK))."
            )
    return problems


def _output_problems(index: int, cell: Any) -> list[str]:
    if cell.cell_type != "code" or KEEP_OUTPUT_TAG in _tags(cell):
        return []
    if cell.get("outputs") or cell.get("execution_count") is not None:
        return [
            f"{_cell_name(index, cell)} has outputs or an execution count: "
            "run `leptonlab strip` on the notebook (or tag the cell nbval-check-output)."
        ]
    return []


def _noise_problems(index: int, cell: Any) -> list[str]:
    noise = sorted(_NOISE_CELL_TAGS.intersection(_tags(cell)))
    if not noise:
        return []
    return [f"{_cell_name(index, cell)} is papermill's {noise[0]!r} cell: run `leptonlab strip`."]


def _markers_balanced(source: str) -> bool:
    depth = 0
    for line in source.splitlines():
        stripped = line.strip()
        if stripped.startswith(BEGIN_SOLUTION):
            depth += 1
        elif stripped.startswith(END_SOLUTION):
            depth -= 1
        if depth not in (0, 1):
            return False
    return depth == 0


def _solution_problems(index: int, cell: Any) -> list[str]:
    source = cell.get("source", "")
    if BEGIN_SOLUTION not in source and END_SOLUTION not in source:
        return []
    problems = []
    if not _markers_balanced(source):
        problems.append(
            f"{_cell_name(index, cell)}: unbalanced {BEGIN_SOLUTION!r} / "
            f"{END_SOLUTION!r} markers: each BEGIN needs one END after it, not nested."
        )
    nbgrader = cell.metadata.get("nbgrader", {})
    if nbgrader.get("solution") is not True or not nbgrader.get("grade_id"):
        problems.append(
            f"{_cell_name(index, cell)} holds a solution but lacks nbgrader metadata: "
            'set {"nbgrader": {"solution": true, "grade": false, "locked": false, '
            '"grade_id": "<nb>-<name>", "schema_version": 3}}.'
        )
    return problems


_CELL_CHECKS = (_output_problems, _noise_problems, _solution_problems)


def check_notebook(path: str | Path) -> list[str]:
    """The ways a notebook breaks the conventions of CONTRIBUTING.md; an empty list if none.

    Checks: the kernelspec name is ``leptonlab``; a cell is tagged ``parameters``; no
    outputs left on cells not tagged ``nbval-check-output``; no papermill cells left;
    ``### BEGIN SOLUTION`` / ``### END SOLUTION`` balanced in each cell; every cell with
    these markers carries nbgrader solution metadata with a ``grade_id``.

    Raises:
        FileNotFoundError, ValueError: if ``path`` is not an existing ``.ipynb`` file.
    """
    p = _notebook_path(path)
    try:
        nb = _read(p)
    except Exception as err:  # nbformat raises several kinds for a broken file
        return [f"not a readable notebook ({type(err).__name__}: {err})."]
    problems = _kernel_problems(nb) + _parameters_problems(nb)
    for index, cell in enumerate(nb.cells):
        for check in _CELL_CHECKS:
            problems += check(index, cell)
    return problems


def _metric_outputs(cells: Iterable[Any]) -> Iterable[dict[str, Any]]:
    for cell in cells:
        for output in cell.get("outputs", []):
            data = output.get("data", {})
            shown = output.get("output_type") in ("display_data", "execute_result")
            if shown and METRICS_MIME in data:
                yield data[METRICS_MIME]


def recorded_metrics(path: str | Path) -> dict[str, Any]:
    """The metrics an executed notebook recorded with ``lepton.record``, later values winning."""
    nb = _read(_notebook_path(path))
    metrics: dict[str, Any] = {}
    for values in _metric_outputs(nb.cells):
        metrics.update(values)
    return metrics
