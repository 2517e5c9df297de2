"""Metrics a notebook records for the course report.

``record(test_accuracy=0.97)`` displays the values with a private MIME type in
the cell's output. The course runner reads them back from the executed
notebook; in JupyterLab the learner sees a plain-text line.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

METRICS_MIME = "application/vnd.leptonlab.metrics+json"


def _plain(name: str, value: Any) -> float | int | str | bool:
    if isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    try:
        number = float(value)  # NumPy and JAX scalars, 0-d arrays
    except (TypeError, ValueError):
        raise TypeError(
            f"record({name}=...) takes a number, bool or str, got {type(value).__name__}."
        ) from None
    if not math.isfinite(number):
        raise ValueError(
            f"record({name}={number}) is not finite: a metric worth reporting is a real number."
        )
    return number


def record(**metrics: Any) -> dict[str, float | int | str | bool]:
    """Record named metrics of this notebook for the course report; returns them as plain values.

    Example: ``record(test_accuracy=acc, train_seconds=t)``. Introduced in notebook 00.
    """
    if not metrics:
        raise ValueError("record() needs at least one metric, e.g. record(test_accuracy=0.98).")
    values = {name: _plain(name, value) for name, value in metrics.items()}
    try:
        from IPython.display import display
    except ImportError:  # outside IPython: nothing to display into
        return values
    text = ", ".join(
        f"{k} = {v:.6g}" if isinstance(v, float) else f"{k} = {v}" for k, v in values.items()
    )
    display({METRICS_MIME: values, "text/plain": f"recorded: {text}"}, raw=True)
    return values
