"""The machinery every exercise check shares.

A check calls the learner's code on well-chosen inputs, compares with the
reference, and either prints one friendly line or raises :class:`CheckFailed`.
``CheckFailed`` renders in Jupyter as a short message with a hint instead of a
traceback wall (IPython calls ``_render_traceback_``), and it still stops a
"Run all" and fails a grading run.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class CheckFailed(AssertionError):
    """An exercise check found a mistake. ``str(err)`` is the whole message."""

    def __init__(self, exercise: str, problem: str, hint: str | None = None):
        self.exercise = exercise
        self.problem = problem
        self.hint = hint
        text = f"{exercise}: {problem}"
        if hint:
            text += f"\nHint: {hint}"
        super().__init__(text)

    def _render_traceback_(self) -> list[str]:  # called by IPython instead of a traceback
        lines = [f"\x1b[31m✗ {self.exercise}: not yet.\x1b[0m", f"  {self.problem}"]
        if self.hint:
            lines.append(f"  Hint: {self.hint}")
        return lines


def passed(exercise: str, message: str = "all cases agree with the reference.") -> None:
    """Print the pass line for ``exercise``.

    Returns None, so the check cell shows only that line; a failed check raises.
    """
    print(f"✓ {exercise}: {message}")


def call(exercise: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call the learner's ``fn``; turn anything it raises into a friendly :class:`CheckFailed`."""
    if not callable(fn):
        raise CheckFailed(exercise, f"expected a function, got {type(fn).__name__}.",
                          "pass the function itself, without calling it: check(my_fn), not check(my_fn()).")
    try:
        return fn(*args, **kwargs)
    except NotImplementedError:
        raise CheckFailed(exercise, "the exercise is not written yet.",
                          "replace `raise NotImplementedError()` with your code, run that cell, then run this one.") from None
    except Exception as err:  # the learner's code failed: say what and where, briefly
        raise CheckFailed(exercise, f"your code raised {type(err).__name__}: {err}",
                          "run your function on a small input in a new cell to see where it fails.") from None


def as_array(exercise: str, value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 NumPy array, or a CheckFailed saying it is not numeric."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(exercise, f"{what} should be numbers, got {type(value).__name__}.",
                          "return an array or a float, not a string, list of lists of mixed types or None.") from None
    return arr


def expect_close(exercise: str, got: Any, want: Any, *, what: str, hint: str | None = None,
                 rtol: float = 1e-5, atol: float = 1e-6) -> None:
    """Raise CheckFailed unless ``got`` matches ``want`` in shape and value.

    The message names ``what`` was compared and the first differing entry;
    NaN or infinity gets its own message, since it usually means an overflow.
    """
    got_arr = as_array(exercise, got, what)
    want_arr = np.asarray(want, dtype=np.float64)
    if got_arr.shape != want_arr.shape:
        raise CheckFailed(exercise, f"{what} has shape {got_arr.shape}, expected {want_arr.shape}.",
                          "check which axis you reduce over, and that you keep the batch dimension.")
    bad_nan = ~np.isfinite(got_arr) & np.isfinite(want_arr)
    if bad_nan.any():
        idx = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        raise CheckFailed(exercise, f"{what} is {got_arr[idx]} at index {idx} where {want_arr[idx]:.6g} was expected.",
                          hint or "an exp() or log() overflowed: look for a numerically stable form.")
    if not np.allclose(got_arr, want_arr, rtol=rtol, atol=atol, equal_nan=True):
        diff = np.abs(got_arr - want_arr) - (atol + rtol * np.abs(want_arr))
        idx = tuple(int(i) for i in np.unravel_index(int(np.nanargmax(diff)), diff.shape)) if diff.ndim else ()
        raise CheckFailed(exercise,
                          f"{what} is {float(got_arr[idx]):.6g} at index {idx}; expected {float(want_arr[idx]):.6g}.",
                          hint)
