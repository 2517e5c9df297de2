"""The machinery every exercise check shares.

A check calls the learner's code on well-chosen inputs, compares with the
reference, and either prints one friendly line or raises :class:`CheckFailed`.
``CheckFailed`` renders in Jupyter as a short message with a hint instead of a
traceback wall (IPython calls ``_render_traceback_``), and it still stops a
"Run all" and fails a grading run.
"""

from __future__ import annotations

import functools
import io
from collections.abc import Callable
from contextlib import redirect_stdout
from typing import Any

import numpy as np

from leptonlab.checks import _record
from leptonlab.checks._record import Raised, type_name


Hint = str | tuple[str, ...] | None

# Failed runs so far in this process, per exercise and diagnosis (the exercise's name and the first hint
# of the failure, which names the mistake found). Hints escalate with it: the first time an exercise
# fails with a diagnosis shows its first hint, every repeat the next (the last repeats). A learner stuck
# on one mistake gets more help; one who fixed it and meets the next mistake gets that one's nudge. A
# failure that judged no answer (not written yet, a non-function passed) does not count. This only picks
# which hint a message shows; no verdict reads it. Tests start each test from an empty count
# (tests/conftest.py); ``reset_hints()`` does the same elsewhere.
_FAILURES: dict[tuple[str, str], int] = {}


def reset_hints() -> None:
    """Forget earlier failures: every exercise shows its first hint again."""
    _FAILURES.clear()


class CheckFailed(AssertionError):
    """An exercise check found a mistake. ``str(err)`` is the whole message.

    ``hint`` is one hint, or a tuple of hints from a nudge to a stronger one: the first such failure
    of ``exercise`` in this process shows ``hint[0]``, a repeat of it ``hint[1]`` and so on (the last
    repeats; see ``_FAILURES``). ``hints`` keeps them all, ``hint`` is the one shown. No hint, at any
    level, may hold the solution's formula or code (tests/test_checks_messages.py).
    """

    counts = True  # whether this failure counts as an attempt (escalates the next hint)

    def __init__(self, exercise: str, problem: str, hint: Hint = None):
        self.exercise = exercise
        self.problem = problem
        self.hints = (hint,) if isinstance(hint, str) else tuple(h for h in (hint or ()) if h)
        self.key = (
            exercise,
            self.hints[0] if self.hints else problem,
        )  # the diagnosis, for _FAILURES
        self.level = min(_FAILURES.get(self.key, 0), len(self.hints) - 1) if self.hints else 0
        self.hint = self.hints[self.level] if self.hints else None
        text = f"{exercise}: {problem}"
        if self.hint:
            text += f"\n{self._hint_label()}: {self.hint}"
        super().__init__(text)

    def _hint_label(self) -> str:
        return "Hint" if self.level == 0 else "A stronger hint"

    def _render_traceback_(self) -> list[str]:  # called by IPython instead of a traceback
        lines = [f"\x1b[31m✗ {self.exercise}: not yet.\x1b[0m", f"  {self.problem}"]
        if self.hint:
            lines.append(f"  {self._hint_label()}: {self.hint}")
        return lines


def passed(exercise: str, message: str = "all cases agree with the reference.") -> None:
    """Print the pass line for ``exercise``.

    Returns None, so the check cell shows only that line; a failed check raises.
    """
    print(f"✓ {exercise}: {message}")


def _not_a_function(exercise: str, fn: Any) -> CheckFailed:
    return _not_an_attempt(
        CheckFailed(
            exercise,
            f"expected a function, got {type_name(fn)}.",
            "pass the function itself, without calling it: check(my_fn), not check(my_fn()).",
        )
    )


def _not_an_attempt(err: CheckFailed) -> CheckFailed:
    err.counts = False
    return err


def attempt(
    exercise: str,
    fn: Callable[..., Any],
    *args: Any,
    probe: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Run the learner's ``fn(*args, **kwargs)`` (or ``probe(fn, *args, **kwargs)``) once.

    Returns what it returned, as plain data (:func:`leptonlab.checks._record.normalise`: JAX arrays
    become NumPy arrays), or a :class:`~leptonlab.checks._record.Raised` describing what it raised,
    for the check to judge. This and :func:`call` are the only places a check touches the learner's
    code: the grader replays the check from what they recorded (``_record``).

    ``probe`` is a module-level function of the check that uses the learner's function in a way a
    plain call cannot (``jax.grad`` of it, ``jax.jit`` of it, reading the nodes it built) and
    returns plain data; it is recorded by its name.
    """
    if not callable(fn):
        raise _not_a_function(exercise, fn)
    label = "call" if probe is None else f"probe {probe.__module__}.{probe.__qualname__}"
    run = (lambda: fn(*args, **kwargs)) if probe is None else (lambda: probe(fn, *args, **kwargs))
    return _record.exchange(label, (args, kwargs), run)


def call(
    exercise: str,
    fn: Callable[..., Any],
    *args: Any,
    probe: Callable[..., Any] | None = None,
    **kwargs: Any,
) -> Any:
    """Like :func:`attempt`, but whatever the learner's code raised becomes a friendly :class:`CheckFailed`,
    and so does a result of ``None`` (no exercise answers with nothing: a ``return`` is missing). A check
    for which None is a valid answer uses :func:`attempt` and judges the outcome itself."""
    outcome = attempt(exercise, fn, *args, probe=probe, **kwargs)
    if isinstance(outcome, Raised):
        raise failure_from(exercise, outcome)
    if outcome is None:
        raise returned_nothing(exercise)
    return outcome


def returned_nothing(exercise: str) -> CheckFailed:
    """The :class:`CheckFailed` for a function that returned ``None``."""
    return CheckFailed(
        exercise,
        "your function returned nothing (None): did you forget `return`?",
        "a Python function without a `return` statement returns None; end yours with "
        "`return <your result>`.",
    )


# JAX's errors for NumPy, math or float() used on a value that jax.grad / jax.jit / jax.vmap is tracing.
_NOT_JAX_ERRORS = (
    "TracerArrayConversionError",
    "ConcretizationTypeError",
    "TracerIntegerConversionError",
)


def failure_from(
    exercise: str, raised: Raised, hint: Hint = None, *, when: str = ""
) -> CheckFailed:
    """The :class:`CheckFailed` that says the learner's code raised ``raised`` (``when``: on which input).

    Three causes get their own message instead of the exception's text: an exercise not written
    yet (``NotImplementedError``), a value that was None (a forgotten ``return``), and NumPy or
    Python's ``math``/``float()`` used where JAX traces the function (use ``jax.numpy``).
    """
    on = f"{when} " if when else ""
    if raised.isa("NotImplementedError"):
        return _not_an_attempt(
            CheckFailed(
                exercise,
                "the exercise is not written yet.",
                "replace `raise NotImplementedError()` with your code, run that cell, "
                "then run this one.",
            )
        )
    if raised.isa("TracerBoolConversionError"):
        return CheckFailed(
            exercise,
            f"{on}your code uses a Python `if` (or `and`/`or`/`while`) on a JAX array "
            "value, which jax.grad / jax.jit cannot follow.",
            "choose between values elementwise with jax.numpy (jnp.where) instead of a Python `if`.",
        )
    if any(raised.isa(name) for name in _NOT_JAX_ERRORS):
        return CheckFailed(
            exercise,
            f"{on}your code uses NumPy (np.*), Python's math module or float()/int() on "
            "a value that JAX is differentiating or compiling; JAX cannot follow those.",
            "write it with jax.numpy instead (`import jax.numpy as jnp`, then jnp.exp, jnp.sum, "
            "...), and keep values as arrays rather than Python floats.",
        )
    first = raised.message.splitlines()[0] if raised.message else ""
    if "NoneType" in first or first.endswith("Output was None."):
        return CheckFailed(
            exercise,
            f"{on}a value in your code was None ({raised.type_name}: {first})",
            "a function without a `return` statement returns None: does each of your functions "
            "(and helpers) end with `return <result>`?",
        )
    return CheckFailed(
        exercise,
        f"{on}your code raised {raised.type_name}: {first}".rstrip(": "),
        hint or "run your function on a small input in a new cell to see where it fails.",
    )


def under_jit(fn: Callable[..., Any], *args: Any) -> Any:
    """Probe: the learner's ``fn(*args)`` compiled with ``jax.jit`` (does it trace?)."""
    import jax

    return jax.jit(fn)(*args)


def exercise(check: Callable[..., Any]) -> Callable[..., Any]:
    """Mark ``check(fn)`` as an exercise check: the grader can replay it (``_record``).

    In a kernel the grader runs (``LEPTONLAB_CHECK_RECORD=1``), a check that passed shows its
    record as one extra output; elsewhere nothing changes.
    """

    @functools.wraps(check)
    def run(fn: Any) -> Any:
        keep = _record.recording_wanted()
        with _record.live(keep) as mode:
            try:
                result = check(fn)
            except CheckFailed as err:
                if err.counts:
                    _FAILURES[err.key] = _FAILURES.get(err.key, 0) + 1
                raise
            except (
                Exception
            ) as err:  # the check tripped over an odd answer: still a friendly failure
                failure = _unreadable(check.__name__, err)
                _FAILURES[failure.key] = _FAILURES.get(failure.key, 0) + 1
                raise failure from None
        if keep:
            _show_record(_record.make_record(check.__name__, mode.exchanges))
        return result

    run.replay = lambda: check(_record.NotTheLearnersFunction())  # type: ignore[attr-defined]
    return run


def _unreadable(exercise: str, err: Exception) -> CheckFailed:
    """What a check says when the learner's answer made its own code raise (an answer of an unexpected kind)."""
    first = str(err).splitlines()[0][:200] if str(err) else ""
    return CheckFailed(
        exercise,
        f"the check could not read your function's result ({type(err).__name__}: {first}).",
        "compare what your function returns (its type, shape and dtype) with what the exercise "
        "asks for; print it in a new cell.",
    )


def _show_record(record: dict) -> None:
    try:
        from IPython.display import display
    except ImportError:  # not in a kernel: nobody to show it to
        return
    display({_record.MIMETYPE: record}, raw=True)


def as_array(exercise: str, value: Any, what: str) -> np.ndarray:
    """``value`` as a float64 NumPy array, or a CheckFailed saying it is not numeric (or is None)."""
    if value is None:
        raise CheckFailed(
            exercise,
            f"{what} is None: your function returned nothing (None) there; did you forget "
            "`return`?",
            "a Python function without a `return` statement returns None.",
        )
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise CheckFailed(
            exercise,
            f"{what} should be numbers, got {type_name(value)}.",
            "return an array or a float, not a string, list of lists of mixed types or None.",
        ) from None
    return arr


def expect_close(
    exercise: str,
    got: Any,
    want: Any,
    *,
    what: str,
    hint: str | None = None,
    rtol: float = 1e-5,
    atol: float = 1e-6,
) -> None:
    """Raise CheckFailed unless ``got`` matches ``want`` in shape and value.

    The message names ``what`` was compared and the first differing entry;
    NaN or infinity gets its own message, since it usually means an overflow.
    """
    got_arr = as_array(exercise, got, what)
    want_arr = np.asarray(want, dtype=np.float64)
    if got_arr.shape != want_arr.shape:
        raise CheckFailed(
            exercise,
            f"{what} has shape {got_arr.shape}, expected {want_arr.shape}.",
            "check which axis you reduce over, and that you keep the batch dimension.",
        )
    bad_nan = ~np.isfinite(got_arr) & np.isfinite(want_arr)
    if bad_nan.any():
        idx = tuple(int(i) for i in np.argwhere(bad_nan)[0])
        raise CheckFailed(
            exercise,
            f"{what} is {got_arr[idx]} at index {idx} where {want_arr[idx]:.6g} was expected.",
            hint or "an exp() or log() overflowed: look for a numerically stable form.",
        )
    if not np.allclose(got_arr, want_arr, rtol=rtol, atol=atol, equal_nan=True):
        diff = np.abs(got_arr - want_arr) - (atol + rtol * np.abs(want_arr))
        idx = (
            tuple(int(i) for i in np.unravel_index(int(np.nanargmax(diff)), diff.shape))
            if diff.ndim
            else ()
        )
        raise CheckFailed(
            exercise,
            f"{what} is {float(got_arr[idx]):.6g} at index {idx}; expected {float(want_arr[idx]):.6g}.",
            hint,
        )


def replay(record: Any) -> str | None:
    """Judge a check again from its ``record`` (a kernel's output), in this process: None if it passes.

    Otherwise the reason, in one line: the check's own message, or why the record does not fit
    the check (a different check, calls missing or made with other inputs, a malformed record).
    Nothing in the record is executed; see :mod:`leptonlab.checks._record`.
    """
    import leptonlab.checks as registry

    if not isinstance(record, dict) or record.get("format") != _record.FORMAT:
        return "the check's record is missing or malformed"
    name = record.get("check")
    check = (
        getattr(registry, name, None)
        if isinstance(name, str) and name in registry.__all__
        else None
    )
    if check is None or not hasattr(check, "replay"):
        return f"the record names no check of leptonlab.checks ({str(name)[:60]!r})"
    try:
        with _record.replaying(record.get("exchanges")) as mode, redirect_stdout(io.StringIO()):
            check.replay()  # its "✓" line is not the grader's to print
        if mode.used != len(mode.exchanges):
            return (
                f"{name}: the record holds {len(mode.exchanges)} calls, the check made {mode.used}"
            )
    except CheckFailed as err:
        return " ".join(str(err).split())
    except (_record.ReplayMismatch, _record.RecordError) as err:
        return f"{name}: {err}"
    except Exception as err:  # a record that makes a check trip over its own feet: not a pass
        return f"{name}: the record could not be judged ({type(err).__name__}: {str(err)[:200]})"
    return None
