"""Student releases: solution notebooks in, student notebooks out (for instructors).

The markers are nbgrader's, so an instructor can switch to nbgrader at any time:

- in a code cell, the lines between ``### BEGIN SOLUTION`` and ``### END SOLUTION``
  become ``# YOUR CODE HERE`` and ``raise NotImplementedError()`` at the same indentation;
- in a Markdown cell, they become ``YOUR ANSWER HERE``;
- ``### BEGIN HIDDEN TESTS`` ... ``### END HIDDEN TESTS`` blocks are removed from
  the student copy (grading puts them back from the source notebook);
- a changed cell loses its outputs; every other cell is copied untouched.

A marker left open, closed twice or nested is a :class:`MarkerError` naming the
notebook, the cell and the line.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

BEGIN_SOLUTION, END_SOLUTION = "### BEGIN SOLUTION", "### END SOLUTION"
BEGIN_HIDDEN, END_HIDDEN = "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS"
CODE_STUB = ("# YOUR CODE HERE", "raise NotImplementedError()")
ANSWER_STUB = "YOUR ANSWER HERE"


class MarkerError(ValueError):
    """A solution or hidden-test region is not well formed."""


@dataclasses.dataclass(frozen=True)
class Where:
    """A cell of a notebook, for messages."""

    notebook: str
    cell: int

    def __str__(self) -> str:
        return f"{self.notebook}, cell {self.cell}"


def regions(lines: list[str], begin: str, end: str, where: Where) -> list[tuple[int, int]]:
    """``(begin_line, end_line)`` index pairs of the ``begin``/``end`` regions in ``lines``."""
    found, start = [], None
    for i, line in enumerate(lines):
        text = line.strip()
        if text.startswith(begin):
            if start is not None:
                raise MarkerError(
                    f"{where}, line {i + 1}: {begin!r} inside the region opened on line "
                    f"{start + 1}: close it with {end!r} first."
                )
            start = i
        elif text.startswith(end):
            if start is None:
                raise MarkerError(f"{where}, line {i + 1}: {end!r} without a {begin!r} before it.")
            found.append((start, i))
            start = None
    if start is not None:
        raise MarkerError(
            f"{where}, line {start + 1}: {begin!r} is never closed: add {end!r} after the answer."
        )
    return found


def _replace(lines: list[str], spans: list[tuple[int, int]], stub) -> list[str]:
    out, previous = [], 0
    for start, stop in spans:
        out += lines[previous:start]
        indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
        out += [indent + line for line in stub]
        previous = stop + 1
    return out + lines[previous:]


def student_source(source: str, cell_type: str, where: Where) -> str:
    """The student version of one cell's source (unchanged when it has no markers)."""
    lines = source.split("\n")
    hidden = regions(lines, BEGIN_HIDDEN, END_HIDDEN, where)
    lines = _replace(lines, hidden, ())
    stub = CODE_STUB if cell_type == "code" else (ANSWER_STUB,)
    lines = _replace(lines, regions(lines, BEGIN_SOLUTION, END_SOLUTION, where), stub)
    return "\n".join(lines)


@dataclasses.dataclass(frozen=True)
class Released:
    """What the release of one notebook changed."""

    source: Path
    target: Path
    solutions: int  # cells whose answers became stubs
    hidden_tests: int  # cells whose hidden tests were removed


def release_notebook(source: str | Path, target: str | Path) -> Released:
    """Write the student version of the notebook ``source`` to ``target``."""
    import nbformat

    source, target = Path(source), Path(target)
    nb = nbformat.read(source, as_version=4)
    solutions = hidden = 0
    for index, cell in enumerate(nb.cells):
        where = Where(source.name, index)
        new = student_source(cell.source, cell.cell_type, where)
        if new == cell.source:
            continue
        solutions += BEGIN_SOLUTION in cell.source
        hidden += BEGIN_HIDDEN in cell.source
        cell.source = new
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    target.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, target)
    return Released(source, target, solutions, hidden)


def release(notebooks: list[Path], out_dir: str | Path) -> list[Released]:
    """Release every notebook into ``out_dir`` (same file names); checks all markers first.

    Nothing is written if any notebook has a malformed region.
    """
    import nbformat

    out_dir = Path(out_dir)
    sources = [Path(p) for p in notebooks]
    if not sources:
        raise ValueError("no notebooks to release.")
    for path in sources:  # validate everything before writing anything
        for index, cell in enumerate(nbformat.read(path, as_version=4).cells):
            student_source(cell.source, cell.cell_type, Where(path.name, index))
    if any(out_dir.resolve() == p.parent.resolve() for p in sources):
        raise ValueError(
            f"--out {out_dir} is the notebooks' own folder: the release would overwrite the solutions."
        )
    return [release_notebook(path, out_dir / path.name) for path in sources]
