"""The quick course's own time inside a test run: nbval's per-cell durations summed per notebook.

``make test`` runs the notebooks in quick mode as nbval items (one per cell, named
``notebooks/NN_name.ipynb::Cell K``). The root ``conftest.py`` hands every test report's
``(nodeid, seconds)`` to :func:`notebook_seconds` and prints :func:`format_notebook_times`
after the run, so every CI log states how long the course took (issue target: 15 minutes).
"""

from __future__ import annotations

from collections.abc import Iterable

#: The issue's budget for the whole course in quick mode in CI, in seconds.
QUICK_COURSE_BUDGET_S = 15 * 60


def notebook_seconds(durations: Iterable[tuple[str, float]]) -> dict[str, float]:
    """``{notebook file name: seconds}`` from ``(nodeid, seconds)`` pairs of a pytest run;
    items that are not notebook cells are left out. Setup, call and teardown all count."""
    totals: dict[str, float] = {}
    for nodeid, seconds in durations:
        path = nodeid.split("::", 1)[0]
        if path.endswith(".ipynb"):
            name = path.rsplit("/", 1)[-1]
            totals[name] = totals.get(name, 0.0) + float(seconds)
    return dict(sorted(totals.items()))


def format_notebook_times(totals: dict[str, float], *, slowest: int = 5) -> str:
    """One summary line (count, total, the budget) and the ``slowest`` notebooks, or ``""``."""
    if not totals:
        return ""
    total = sum(totals.values())
    verdict = "within" if total <= QUICK_COURSE_BUDGET_S else "OVER"
    lines = [
        f"quick course: {len(totals)} notebooks in {total / 60:.1f} min "
        f"({verdict} the {QUICK_COURSE_BUDGET_S // 60}-minute budget)"
    ]
    for name, seconds in sorted(totals.items(), key=lambda kv: -kv[1])[:slowest]:
        lines.append(f"  {seconds:7.1f} s  {name}")
    return "\n".join(lines)
