"""Checks for the exercises of notebook 01 (sigmoid and activations)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab import activations as _ref
from leptonlab.checks._core import (
    CheckFailed,
    Raised,
    as_array,
    attempt,
    call,
    exercise,
    expect_close,
    failure_from,
    passed,
)

_NOT_JAX_HINT = (
    "write it with jax.numpy (jnp.exp, jnp.where, ...), not numpy or math, "
    "so that jax.grad can differentiate it."
)


def elementwise_grad(fn: Callable[..., Any], xs: jax.Array) -> jax.Array:
    """Probe: ``d fn / dx`` at each of ``xs`` (1-D), ``jax.vmap(jax.grad(fn))``."""
    return jax.vmap(jax.grad(lambda x: jnp.asarray(fn(x), dtype=jnp.float32)))(xs)


def _grad_values(exercise: str, fn: Callable[..., Any], xs: jax.Array) -> np.ndarray:
    """``d fn / dx`` at each of ``xs`` (1-D), with a friendly failure."""
    outcome = attempt(exercise, fn, xs, probe=elementwise_grad)
    if isinstance(outcome, Raised):
        if outcome.isa("NotImplementedError"):
            raise failure_from(exercise, outcome)
        first = outcome.message.splitlines()[0] if outcome.message else ""
        raise CheckFailed(
            exercise,
            f"jax.grad could not differentiate your function ({outcome.type_name}: {first}).",
            _NOT_JAX_HINT,
        )
    return as_array(exercise, outcome, "the gradient")


@exercise
def sigmoid(fn: Callable[[jax.Array], jax.Array]) -> None:
    """Check a learner's numerically stable sigmoid ``fn(x) -> [same shape as x]``.

    Compares with :func:`leptonlab.activations.sigmoid` on ordinary inputs, a
    2-D batch, inputs as large as |x| = 1000, and checks that ``jax.grad(fn)``
    is finite there and equals sigma(x)(1 - sigma(x)). Exercise of notebook 01.
    """
    ex = "sigmoid"
    xs = jnp.array([-3.0, -1.0, 0.0, 0.5, 2.0, 4.0])  # [6]
    got = as_array(ex, call(ex, fn, xs), "sigmoid(x)")
    want = np.asarray(_ref.sigmoid(xs))
    if (
        got.shape == want.shape
        and np.allclose(got, 1.0 - want, atol=1e-5)
        and not np.allclose(got, want, atol=1e-5)
    ):
        raise CheckFailed(
            ex,
            f"sigmoid(2) is {got[4]:.4f}; expected 0.8808.",
            (
                "you computed sigma(-x): check the sign in the exponent.",
                "sigma grows with x: sigma(2) must be above 0.5, sigma(-2) below.",
            ),
        )
    expect_close(
        ex,
        got,
        want,
        what="sigmoid(x)",
        hint=(
            "compare with the definition above the exercise: sigma(0) = 0.5 and sigma(2) = 0.8808.",
            "compute sigma(2) by hand from the definition and compare each step with your code.",
        ),
    )

    batch = jnp.array([[-2.0, 0.0, 2.0], [1.0, -1.0, 3.0]])  # [2, 3]
    expect_close(
        ex,
        call(ex, fn, batch),
        _ref.sigmoid(batch),
        what="sigmoid of a [2, 3] batch",
        hint="sigmoid works elementwise: the output has the input's shape.",
    )

    big = jnp.array([-1000.0, -100.0, -30.0, 30.0, 100.0, 1000.0])  # [6]
    positive = np.asarray(big) > 0
    got_big = as_array(ex, call(ex, fn, big), "sigmoid(x) for large |x|")
    if got_big.shape == big.shape and not np.all(np.isfinite(got_big)):
        side = "positive" if not np.all(np.isfinite(got_big[positive])) else "negative"
        term = "exp(x)" if side == "positive" else "exp(-x)"
        raise CheckFailed(
            ex,
            f"sigmoid(x) is not finite for large {side} x: {got_big.tolist()}.",
            (
                f"for large {side} x, {term} overflows to inf (inf / inf = nan): look for a form whose "
                "exponential never overflows.",
                "an exponential of a number <= 0 is at most 1: write sigma with such an exponential, "
                "one expression for x >= 0 and one for x < 0.",
            ),
        )
    expect_close(
        ex,
        got_big,
        _ref.sigmoid(big),
        what="sigmoid(x) for large |x|",
        hint=(
            "for large |x| sigmoid is 0 or 1 to float32 precision.",
            "check both signs: each of your two forms must be right for the x it is used on.",
        ),
    )

    points = jnp.array([-1000.0, -20.0, 0.0, 3.0, 1000.0])  # [5]
    grads = _grad_values(ex, fn, points)
    if not np.all(np.isfinite(grads)):
        raise CheckFailed(
            ex,
            f"jax.grad of your sigmoid is not finite at x = {points.tolist()}: {grads.tolist()}.",
            (
                "an exp() overflowed inside the gradient. Note that jnp.where computes BOTH branches "
                "(and their gradients), so each branch must stay finite for every x.",
                "compute the exponential once, of an argument that is never positive, BEFORE choosing "
                "a branch; then both branches only see a number in (0, 1].",
            ),
        )
    expect_close(
        ex,
        grads,
        _ref.sigmoid_derivative(points),
        what="jax.grad of your sigmoid",
        hint=(
            "the gradient should be sigma(x)(1 - sigma(x)), 0.25 at x = 0.",
            "jnp.abs has no useful derivative at 0: build -|x| from x with a choice of sign instead.",
        ),
    )
    passed(ex, "matches the reference, stays finite at |x| = 1000, and so does its gradient.")


def scalar_grad(fn: Callable[[jax.Array], jax.Array], x: float) -> jax.Array:
    """Probe: ``jax.grad(fn)(x)`` at one scalar ``x``."""
    return jax.grad(lambda t: jnp.asarray(fn(t), dtype=jnp.float32))(jnp.float32(x))


@exercise
def sigmoid_more_cases(fn: Callable[[jax.Array], jax.Array]) -> None:
    """The hidden test of notebook 01's sigmoid: a scalar, a 3-D batch, saturation at |x| = 800.

    Cases the visible check does not show, so that an answer fitted to its inputs fails here.
    """
    ex = "sigmoid"
    for x, want in ((-800.0, 0.0), (0.0, 0.5), (800.0, 1.0)):
        got = as_array(ex, call(ex, fn, jnp.float32(x)), f"sigmoid({x:g})")
        if got.shape != ():
            raise CheckFailed(
                ex,
                f"sigmoid of a scalar has shape {got.shape}; a scalar in gives a scalar out.",
                "work elementwise on whatever shape comes in.",
            )
        expect_close(
            ex,
            got,
            want,
            what=f"sigmoid({x:g})",
            hint="for |x| this large sigmoid saturates to 0 or 1.",
        )
    cube = jnp.linspace(-6.0, 6.0, 12).reshape(2, 2, 3)  # [2, 2, 3]
    expect_close(
        ex,
        call(ex, fn, cube),
        _ref.sigmoid(cube),
        what="sigmoid of a [2, 2, 3] array",
        hint="work elementwise on whatever shape comes in.",
    )
    grad = as_array(ex, call(ex, fn, -800.0, probe=scalar_grad), "the gradient at -800")
    if not np.isfinite(grad).all():
        raise CheckFailed(
            ex,
            f"jax.grad of your sigmoid at x = -800 is {grad}.",
            "an exp() overflowed inside the gradient: keep every branch finite for every x.",
        )
    passed(ex, "also right on a scalar, a 3-D array and at |x| = 800.")


@exercise
def sigmoid_derivative(fn: Callable[[jax.Array], jax.Array]) -> None:
    """Check a learner's ``fn(x)`` = sigma'(x) = sigma(x)(1 - sigma(x)), elementwise, finite at |x| = 1000.

    Exercise of notebook 01.
    """
    ex = "sigmoid_derivative"
    xs = jnp.array([-4.0, -1.0, 0.0, 0.5, 2.0, 5.0])  # [6]
    got = as_array(ex, call(ex, fn, xs), "sigma'(x)")
    want = np.asarray(_ref.sigmoid_derivative(xs))
    if got.shape == want.shape and np.allclose(got, np.asarray(_ref.sigmoid(xs)), atol=1e-5):
        raise CheckFailed(
            ex,
            "your function returns sigma(x) itself.",
            "the derivative is a product of sigma(x) and another factor (see above the exercise).",
        )
    expect_close(
        ex,
        got,
        want,
        what="sigma'(x)",
        hint=(
            "at x = 0 sigma'(x) is 0.25, its maximum; compare with the formula above the exercise.",
            "express the derivative through sigma(x) itself rather than through exp.",
        ),
    )
    big = jnp.array([-1000.0, -100.0, 100.0, 1000.0])  # [4]
    expect_close(
        ex,
        call(ex, fn, big),
        _ref.sigmoid_derivative(big),
        what="sigma'(x) for large |x|",
        hint=(
            "exp(-x) / (1 + exp(-x))**2 is inf / inf = nan for large negative x.",
            "reuse your stable sigmoid: write the derivative in terms of its output.",
        ),
    )
    batch = jnp.array([[0.0, 1.0, -1.0], [2.0, -2.0, 3.0]])  # [2, 3]
    expect_close(
        ex,
        call(ex, fn, batch),
        _ref.sigmoid_derivative(batch),
        what="sigma'(x) of a [2, 3] batch",
        hint="work elementwise: the output has the input's shape.",
    )
    passed(ex, "equals sigma(x)(1 - sigma(x)), also at |x| = 1000.")


@exercise
def softmax(fn: Callable[[jax.Array], jax.Array]) -> None:
    """Check a learner's stable softmax over the last axis: ``fn(x: [..., C]) -> [..., C]``.

    Compares with :func:`leptonlab.activations.softmax` on a vector, on a
    non-square and a square batch (to catch normalising the wrong axis), and on
    scores as large as 1000. Exercise of notebook 01.
    """
    ex = "softmax"
    v = jnp.array([1.0, 2.0, 3.0, 0.5])  # [4]
    expect_close(
        ex,
        call(ex, fn, v),
        _ref.softmax(v),
        what="softmax of [1, 2, 3, 0.5]",
        hint=(
            "compare with the definition above the exercise; the outputs are positive and sum to 1.",
            "exponentiate every entry, then divide each by the total.",
        ),
    )

    batch = jnp.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])  # [2, 3]
    got = attempt(ex, fn, batch)
    if isinstance(got, Raised):
        raise failure_from(
            ex,
            got,
            when="on a [2, 3] batch",
            hint=(
                "each row is its own distribution: normalise over the last axis.",
                "a row's sum must keep its axis (shape [2, 1]) to divide that row.",
            ),
        )
    expect_close(
        ex,
        got,
        _ref.softmax(batch),
        what="softmax of a [2, 3] batch",
        hint=(
            "normalise each row (the last axis), not the whole batch.",
            "a row's total must keep its axis to broadcast over that row (keepdims).",
        ),
    )

    square = jnp.array([[1.0, 2.0, 3.0], [3.0, 0.0, 1.0], [0.0, 5.0, 2.0]])  # [3, 3]
    expect_close(
        ex,
        call(ex, fn, square),
        _ref.softmax(square),
        what="softmax of a [3, 3] batch",
        hint=(
            "each ROW must sum to 1: check which axis you sum over.",
            "without keepdims a square batch silently divides by the column sums.",
        ),
    )

    big = jnp.array([[1000.0, 1001.0, 1002.0], [-1000.0, 0.0, 1000.0]])  # [2, 3]
    got_big = as_array(ex, call(ex, fn, big), "softmax of large scores")
    if got_big.shape == big.shape and not np.all(np.isfinite(got_big)):
        raise CheckFailed(
            ex,
            f"softmax([1000, 1001, 1002]) gives {got_big[0].tolist()}.",
            (
                "exp(1000) overflows to inf and inf / inf = nan.",
                "softmax does not change when the same number is subtracted from a whole row: choose "
                "a number that keeps every exponent <= 0.",
            ),
        )
    expect_close(
        ex,
        got_big,
        _ref.softmax(big),
        what="softmax of large scores",
        hint=(
            "shift each row before exponentiating so nothing overflows.",
            "shift each row by its own maximum, not the batch's.",
        ),
    )
    passed(ex, "matches the reference on vectors, batches and scores up to 1000.")
