"""The notebooks' solutions, as the code a check's message must never show (issue 25).

A notebook's answer cell holds the solution between ``### BEGIN SOLUTION`` and ``### END SOLUTION``;
its check cell (grade_id ``<answer's grade_id>-check``) calls ``checks.<name>(...)``
(CONTRIBUTING.md). :func:`solutions` maps each check's name to its solution's code;
:func:`leaks` says which of it a message shows.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
MIN_EXPRESSION = (
    10  # a solution expression this long (without spaces) must not appear whole in a message
)
MIN_SHARED = (
    26  # nor may a message share this many consecutive characters (without spaces) with one
)

_TARGET = re.compile(
    r"^[\w\s,\[\]\.:]+=(?!=)"
)  # `name =`, `a, b =`, `x[i] =` at the start of a line


def normalise(code: str) -> str:
    """``code`` without whitespace and without the ``jnp.``/``np.`` prefixes, for comparing with prose."""
    code = re.sub(r"\s+", "", code)
    return re.sub(r"\b(jax\.numpy|jnp|np|numpy)\.", "", code)


def expressions(solution: str) -> list[str]:
    """The normalised expressions of ``solution``'s lines: comments, ``return`` and targets taken off."""
    out = []
    for line in solution.splitlines():
        line = re.sub(r"\s#.*$", "", line).strip()
        if not line or line.startswith("#"):
            continue
        line = re.sub(r"^return\b", "", line).strip()
        line = _TARGET.sub("", line, count=1).strip()
        if re.fullmatch(r"[\w\s,()]*", line) and not re.search(
            r"\w\(", line
        ):  # names only: nothing to give away
            continue
        expr = normalise(line)
        if len(expr) >= MIN_EXPRESSION:
            out.append(expr)
    return out


@functools.cache
def solutions() -> dict[str, tuple[str, str, str]]:
    """``{check name: (notebook, grade_id, solution code)}`` for every check a notebook's check cell calls."""
    return {name: found[:3] for name, found in _found().items()}


def answer_name(check: str) -> str:
    """The name of the learner's function the check cell passes to ``check``."""
    return _found()[check][3]


@functools.cache
def _found() -> dict[str, tuple[str, str, str, str]]:
    found: dict[str, tuple[str, str, str, str]] = {}
    for path in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb")):
        cells = json.loads(path.read_text())["cells"]
        answers = {}
        for cell in cells:
            meta = cell.get("metadata", {}).get("nbgrader", {})
            src = "".join(cell["source"])
            if "### BEGIN SOLUTION" in src and meta.get("grade_id"):
                body = src.split("### BEGIN SOLUTION", 1)[1].split("### END SOLUTION", 1)[0]
                answers[meta["grade_id"]] = (src, body)
        for cell in cells:
            grade_id = cell.get("metadata", {}).get("nbgrader", {}).get("grade_id", "")
            if not grade_id.endswith("-check") or grade_id[: -len("-check")] not in answers:
                continue
            answer = grade_id[: -len("-check")]
            for name, fn in re.findall(r"\bchecks\.(\w+)\((\w+)", "".join(cell["source"])):
                found[name] = (path.name, answer, answers[answer][1], fn)
    return found


def answer_cell(check: str) -> str:
    """The whole answer cell (the function with its solution) of ``check``'s notebook exercise."""
    return answer_cells(check)[-1]


def answer_cells(check: str) -> list[str]:
    """The answer cells of ``check``'s notebook up to and including its own, in order (later answers may
    call earlier ones, as notebook 10's forward pass calls its step)."""
    notebook, grade_id, _ = solutions()[check]
    cells = []
    for cell in json.loads((NOTEBOOKS / notebook).read_text())["cells"]:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        if meta.get("solution") and "### BEGIN SOLUTION" in "".join(cell["source"]):
            cells.append("".join(cell["source"]))
            if meta.get("grade_id") == grade_id:
                return cells
    raise KeyError(check)


def leaks(message: str, solution: str) -> list[str]:
    """The pieces of ``solution`` that ``message`` shows (empty: it shows none)."""
    text = normalise(message)
    shown = []
    for expr in expressions(solution):
        if expr in text:
            shown.append(expr)
            continue
        match = difflib.SequenceMatcher(None, expr, text, autojunk=False).find_longest_match(
            0, len(expr), 0, len(text)
        )
        if match.size >= MIN_SHARED:
            shown.append(expr[match.a : match.a + match.size])
    return shown
