"""Every notebook check, fed wrong answers, fails cleanly and never shows the solution (issue 25).

For each check a notebook's check cell calls: a stub raising NotImplementedError, a function that
returns None, and one that returns NaN in the right shape each get a CheckFailed (never another
exception), with the message meant for that case, and no message at any hint level holds the
notebook's solution code (tests/_solutions.py). The typical wrong answers of tests/test_checks_*.py
are screened the same way by tests/conftest.py, for every CheckFailed any test makes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

import _solutions
from leptonlab import checks
from leptonlab.checks import CheckFailed, _core

NAMES = sorted(_solutions.solutions())


def test_every_notebook_check_is_found_and_exists():
    assert len(NAMES) >= 50, NAMES
    missing = [name for name in NAMES if name not in checks.__all__]
    assert not missing, f"check cells call checks that leptonlab.checks does not export: {missing}"


def _failure(check, fn) -> CheckFailed:
    with pytest.raises(CheckFailed) as info:
        check(fn)
    return info.value


def assert_no_leak(name: str, err: CheckFailed) -> None:
    _, _, solution = _solutions.solutions()[name]
    for text in (err.problem, *err.hints):
        shown = _solutions.leaks(text, solution)
        assert not shown, f"{name}: the message shows the solution's code {shown}: {text!r}"


def _solution(name: str):
    """The notebook's own answer to ``name``, run here (None if it needs more of its notebook than imports)."""
    namespace = {"jax": jax, "jnp": jnp, "np": np, "math": math, "optax": optax, "nnx": nnx}
    exec(_solutions.answer_cell(name), namespace)  # the repository's own notebook code
    return namespace[_solutions.answer_name(name)]


def _nan_like(value):
    """``value`` with every float entry NaN (same structure, shapes and dtypes)."""
    def nan(leaf):
        arr = jnp.asarray(leaf) if isinstance(leaf, (float, np.floating, np.ndarray, jax.Array)) else None
        if arr is not None and jnp.issubdtype(arr.dtype, jnp.floating):
            out = jnp.full_like(arr, jnp.nan)
            return float(out) if isinstance(leaf, float) else out
        return leaf
    return jax.tree.map(nan, value)


def stub(*args, **kwargs):
    raise NotImplementedError()


def returns_none(*args, **kwargs):
    return None


@pytest.mark.parametrize("name", NAMES)
def test_stub_and_none_fail_cleanly_without_the_solution(name):
    check = getattr(checks, name)
    for level in range(2):  # a first failure, then a repeated one (the stronger hint)
        err = _failure(check, stub)
        assert "not written yet" in err.problem and err.level == min(level, len(err.hints) - 1)
        assert_no_leak(name, err)
    err = _failure(check, returns_none)
    assert "returned nothing (None)" in err.problem or "was None" in err.problem, str(err)
    assert_no_leak(name, err)


def test_hints_escalate_per_exercise_and_say_which_level():
    def wrong_mse(predictions, targets):
        return jnp.sum((predictions - targets) ** 2)
    first, second, third = (_failure(checks.mse, wrong_mse) for _ in range(3))
    assert (first.level, second.level, third.level) == (0, 1, 1)
    assert str(first).count("\nHint: ") == 1 and "A stronger hint: " in str(second)
    assert first.problem == second.problem  # the diagnosis stays; only the hint grows
    assert first.hint != second.hint
    assert _failure(checks.gd_step, stub).level == 0  # another exercise starts at its first hint
    _core.reset_hints()
    assert _failure(checks.mse, wrong_mse).level == 0


# Checks whose notebook answer uses names defined elsewhere in its notebook (a class, an earlier answer).
NEEDS_ITS_NOTEBOOK = {"autodiff_sin", "per_example_grads", "rnn_forward", "sigmoid_derivative"}


@pytest.mark.parametrize("name", [n for n in NAMES if n not in NEEDS_ITS_NOTEBOOK])
def test_the_notebook_answer_passes_and_its_nan_version_fails_cleanly(name, capsys):
    check, answer = getattr(checks, name), _solution(name)
    with jax.numpy_rank_promotion("allow"):  # as in a notebook (tests/conftest.py makes it an error here)
        _check_answer(name, check, answer, capsys)


def _check_answer(name, check, answer, capsys):
    assert check(answer) is None and capsys.readouterr().out.startswith("✓")

    def nan_answer(*args, **kwargs):
        return _nan_like(answer(*args, **kwargs))

    produces_floats = True
    try:
        check(nan_answer)
    except CheckFailed as err:
        assert_no_leak(name, err)
    else:  # only an answer with no float in it (indices, ints, booleans) may pass with NaN "applied"
        produces_floats = False
    assert produces_floats or name in INTEGER_ANSWERS, f"{name} passed an answer of NaNs"


INTEGER_ANSWERS = {"causal_mask", "confusion_matrix", "flatten_size", "halving_survivors", "local_batch_rows",
                   "mask_seen", "output_size", "pad_and_truncate", "should_stop", "top_k_filter"}
