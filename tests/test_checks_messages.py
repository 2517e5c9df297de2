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
    *earlier, own = _solutions.answer_cells(name)
    for source in earlier:  # the notebook's earlier answers, which a later one may call
        try:
            exec(source, namespace)  # the repository's own notebook code
        except (
            Exception
        ):  # an answer that needs more of its notebook than the imports: not needed here
            pass
    exec(own, namespace)
    return namespace[_solutions.answer_name(name)]


def _nan_like(value):
    """``value`` with every float entry NaN (same structure, shapes and dtypes)."""

    def nan(leaf):
        arr = (
            jnp.asarray(leaf)
            if isinstance(leaf, (float, np.floating, np.ndarray, jax.Array))
            else None
        )
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
    for _ in range(2):  # a stub is no attempt: it never escalates the hints
        err = _failure(check, stub)
        assert "not written yet" in err.problem and err.level == 0 and not err.counts
        assert_no_leak(name, err)
    err = _failure(check, returns_none)
    assert "returned nothing (None)" in err.problem or "was None" in err.problem, str(err)
    assert_no_leak(name, err)


def test_hints_escalate_per_exercise_and_mistake_and_say_which_level():
    def wrong_mse(predictions, targets):
        return jnp.sum((predictions - targets) ** 2)

    first, second, third = (_failure(checks.mse, wrong_mse) for _ in range(3))
    assert (first.level, second.level, third.level) == (0, 1, 1)
    assert str(first).count("\nHint: ") == 1 and "A stronger hint: " in str(second)
    assert first.problem == second.problem  # the diagnosis stays; only the hint grows
    assert first.hint != second.hint
    # another exercise, and another mistake of the same one, each start at their own first hint
    assert _failure(checks.gd_step, lambda t, g, lr: t).level == 0
    half = _failure(checks.mse, lambda p, t: 0.5 * jnp.mean((p - t) ** 2))
    assert half.level == 0 and "factor 1/2" in half.hint
    _core.reset_hints()
    _failure(checks.mse, stub)  # not written yet: no attempt, no escalation
    assert _failure(checks.mse, wrong_mse).level == 0


# Checks whose notebook answer uses names that its notebook defines outside answer cells (a class, a loss).
NEEDS_ITS_NOTEBOOK = {"autodiff_sin", "per_example_grads"}


@pytest.mark.parametrize("name", [n for n in NAMES if n not in NEEDS_ITS_NOTEBOOK])
def test_the_notebook_answer_passes_and_its_nan_version_fails_cleanly(name, capsys):
    check, answer = getattr(checks, name), _solution(name)
    with jax.numpy_rank_promotion(
        "allow"
    ):  # as in a notebook (tests/conftest.py makes it an error here)
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


INTEGER_ANSWERS = {
    "causal_mask",
    "confusion_matrix",
    "flatten_size",
    "halving_survivors",
    "local_batch_rows",
    "mask_seen",
    "output_size",
    "pad_and_truncate",
    "should_stop",
    "top_k_filter",
}


# ----------------------------------------------------------------- the cases issue 25 names


@pytest.mark.parametrize(
    "name, answer",
    [
        ("accuracy", lambda logits, labels: float("nan")),
        ("accuracy", lambda logits, labels: None),
        ("output_size", lambda n, k, p, s: float("nan")),
        ("output_size", lambda n, k, p, s: None),
        (
            "sgd_update",
            lambda params, grads, lr: jax.tree.map(lambda p: jnp.full_like(p, jnp.nan), params),
        ),
        ("sgd_update", lambda params, grads, lr: {key: None for key in params}),
        ("sgd_update", lambda params, grads, lr: None),
        (
            "data_parallel_grad",
            lambda loss_fn, params, x, y, n: jax.tree.map(
                lambda p: jnp.full_like(p, jnp.nan), params
            ),
        ),
        ("data_parallel_grad", lambda loss_fn, params, x, y, n: {"w": None, "b": None}),
        ("data_parallel_grad", lambda loss_fn, params, x, y, n: None),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_none_and_nan_answers_fail_cleanly(name, answer):
    err = _failure(getattr(checks, name), answer)
    assert "None" in err.problem or "nan" in err.problem.lower(), str(err)
    assert_no_leak(name, err)


def test_a_loss_written_in_numpy_is_told_to_use_jax_numpy():
    def numpy_loss(model, batch, key):
        x, y = batch
        errors = np.square(np.asarray(model(x)) - np.asarray(y))[
            :, 0
        ]  # NumPy: fine eagerly, not under jax.grad
        return errors.mean(), {"loss": errors}

    err = _failure(checks.mse_loss_fn, numpy_loss)
    assert "uses NumPy" in err.problem and "jax.numpy" in err.hint, str(err)
    assert "Tracer" not in str(err) and "Error" not in str(err)


def test_float_of_a_traced_value_and_python_if_get_their_own_message():
    err = _failure(checks.gd_step, lambda t, g, lr: t - float(lr) * np.asarray(g))
    assert "jax.jit" in err.problem  # the check's own diagnosis (gd_step compiles the update)
    err = _failure(
        checks.l2_penalty,
        lambda p, wd: 0.5 * wd * float(sum(np.sum(np.square(x)) for x in jax.tree.leaves(p))),
    )
    assert "uses NumPy" in err.problem, str(err)


def _raised_by(fn, *args):
    try:
        fn(*args)
    except Exception as err:
        return _core.Raised.of(err)
    raise AssertionError("expected an exception")


@pytest.mark.parametrize(
    "learner, words",
    [
        (lambda x: np.exp(x).sum(), "uses NumPy"),  # TracerArrayConversionError
        (lambda x: float(x.sum()), "uses NumPy"),  # ConcretizationTypeError
        (lambda x: x.sum() if x.sum() > 0 else 0.0, "Python `if`"),  # TracerBoolConversionError
    ],
)
def test_failure_from_names_the_jax_tracing_mistakes(learner, words):
    err = _core.failure_from("demo", _raised_by(jax.jit(jax.grad(learner)), jnp.ones(3)))
    assert words in err.problem and "jax" in err.hint.lower() and "Tracer" not in str(err), str(err)
    none = _core.failure_from("demo", _raised_by(jax.grad(lambda x: None), jnp.ones(3)))
    assert "was None" in none.problem and "`return`" in none.hint


def test_a_check_tripping_over_an_odd_answer_still_fails_cleanly():
    err = _failure(checks.accuracy, lambda logits, labels: "half")
    assert err.exercise == "accuracy" and "str" in str(err)
    err = _failure(checks.sgd_update, lambda params, grads, lr: {"w": "x", "b": object()})
    assert err.exercise == "sgd_update"
