"""Checks for the exercises of notebook 02 (loss functions)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab import losses as _ref
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


def _scalar(ex: str, value: Any, what: str) -> float:
    arr = as_array(ex, value, what)
    if arr.shape != ():
        raise CheckFailed(
            ex,
            f"{what} has shape {arr.shape}; expected a single number (shape ()).",
            "reduce over every element with jnp.mean(...) and return the scalar.",
        )
    return float(arr)


@exercise
def mse(fn: Callable[[jax.Array, jax.Array], jax.Array]) -> None:
    """Check a learner's ``fn(predictions, targets) -> scalar`` mean squared error.

    Catches the usual slips by their value: a factor 1/2 (0.055 instead of
    0.11), a sum instead of a mean, a square root (RMSE), absolute errors (MAE).
    Exercise of notebook 02.
    """
    ex = "mse"
    one = _scalar(ex, call(ex, fn, jnp.array([1.0]), jnp.array([2.0])), "mse([1.], [2.])")
    preds = jnp.array([0.8, 1.9, 2.7, 3.6, 4.5])  # [5]
    targets = jnp.array([1.0, 2.0, 3.0, 4.0, 5.0])  # [5]
    got = _scalar(ex, call(ex, fn, preds, targets), "mse(preds, targets)")
    want = float(_ref.mse(preds, targets))  # 0.11
    wrong = {
        "0.5 * MSE": (
            0.5 * want,
            (
                "drop the factor 1/2: MSE is the plain mean of the squared errors "
                "(some texts halve it to simplify the gradient, but then it is not the MSE).",
                "remove the constant factor in front of your average.",
            ),
        ),
        "the sum": (
            5 * want,
            (
                "a mean divides the total by the number of elements.",
                "use the averaging reduction rather than the summing one.",
            ),
        ),
        "the RMSE": (
            want**0.5,
            (
                "do not take the square root: that is the RMSE.",
                "the last step of your computation is one too many.",
            ),
        ),
        "the MAE": (
            float(_ref.mae(preds, targets)),
            (
                "square the errors, do not take their absolute value (that is the MAE).",
                "an absolute value and a square both make errors positive; "
                "the MSE uses the square.",
            ),
        ),
    }
    if not np.isclose(got, want, rtol=1e-5, atol=1e-7):
        for name, (value, hint) in wrong.items():
            if np.isclose(got, value, rtol=1e-4, atol=1e-7):
                raise CheckFailed(
                    ex,
                    f"mse(preds, targets) is {got:.4g}, which is {name}; expected {want:.4g}.",
                    hint,
                )
    expect_close(
        ex,
        got,
        want,
        what="mse([0.8, 1.9, 2.7, 3.6, 4.5], [1, 2, 3, 4, 5])",
        hint=(
            "the MSE averages the squared differences between predictions and targets: "
            "here the squared errors add up to 0.55 over 5 elements.",
            "three steps, in this order: the difference per element, its square, the average.",
        ),
    )
    expect_close(ex, one, 1.0, what="mse([1.], [2.])", hint="one error of 1 squared is 1.")
    batch_p = jnp.array([[1.0, 2.0, 3.0], [0.0, -1.0, 4.0]])  # [2, 3]
    batch_t = jnp.array([[1.5, 2.0, 1.0], [0.0, 1.0, 4.0]])  # [2, 3]
    expect_close(
        ex,
        _scalar(ex, call(ex, fn, batch_p, batch_t), "mse of a [2, 3] batch"),
        _ref.mse(batch_p, batch_t),
        what="mse of a [2, 3] batch",
        hint=(
            "average over ALL elements, not per row or per column.",
            "a reduction without an axis argument reduces over every element.",
        ),
    )
    passed(ex, "mse([0.8, 1.9, 2.7, 3.6, 4.5], [1, ..., 5]) = 0.11, as it should.")


def grad_wrt_logits(
    fn: Callable[[jax.Array, jax.Array], jax.Array], logits: jax.Array, labels: jax.Array
) -> jax.Array:
    """Probe: the gradient of the learner's loss ``fn(logits, labels)`` with respect to the logits."""
    return jax.grad(lambda z: jnp.asarray(fn(z, labels), dtype=jnp.float32))(logits)


@exercise
def binary_cross_entropy_with_logits(fn: Callable[[jax.Array, jax.Array], jax.Array]) -> None:
    """Check a learner's ``fn(logits, labels) -> scalar`` mean binary cross-entropy from logits.

    Compares with :func:`leptonlab.losses.binary_cross_entropy_with_logits` on
    ordinary logits and on logits as large as 1000 (where the probability form
    overflows or saturates), and checks that ``jax.grad`` is finite and equals
    ``(sigmoid(z) - y) / n``. Exercise of notebook 02.
    """
    ex = "binary_cross_entropy_with_logits"
    z = jnp.array([-2.0, -0.5, 0.0, 1.0, 3.0])  # [5]
    y = jnp.array([0.0, 1.0, 1.0, 0.0, 1.0])  # [5]
    got = _scalar(ex, call(ex, fn, z, y), "the loss")
    expect_close(
        ex,
        got,
        _ref.binary_cross_entropy_with_logits(z, y),
        what="the loss on small logits",
        hint=(
            "per example it is the binary cross-entropy of sigma(z) against y; the loss is their mean.",
            "start from the definition above the exercise, substitute sigma(z) = 1 / (1 + exp(-z)) "
            "and simplify separately for z >= 0 and z < 0: both cases are one expression in |z|.",
        ),
    )

    zb = jnp.array([100.0, -100.0, 1000.0, -1000.0, 30.0])  # [5]
    yb = jnp.array([0.0, 1.0, 1.0, 0.0, 0.0])  # [5]
    want_big = float(
        _ref.binary_cross_entropy_with_logits(zb, yb)
    )  # (100 + 100 + 0 + 0 + 30) / 5 = 46
    got_big = _scalar(ex, call(ex, fn, zb, yb), "the loss on large logits")
    if not np.isfinite(got_big):
        raise CheckFailed(
            ex,
            f"the loss is {got_big} for logits like 100 and 1000.",
            (
                "sigma(100) rounds to exactly 1.0, so log(1 - sigma(z)) = log(0) = -inf, and "
                "exp(1000) overflows: work with the logits, never with sigma(z) itself.",
                "rewrite the loss so the only exponential is exp(-|z|), which is at most 1 "
                "(the notebook's derivation of the stable form shows how).",
            ),
        )
    expect_close(
        ex,
        got_big,
        want_big,
        what="the loss on large logits [100, -100, 1000, -1000, 30]",
        hint=(
            "a clipped probability caps each loss near -log(eps) instead of the true value z: "
            "work with the logits directly.",
            "for a large wrong logit the loss grows like |z| itself: your expression must keep that "
            "linear term instead of going through a probability.",
        ),
    )

    g = attempt(ex, fn, zb, yb, probe=grad_wrt_logits)
    if isinstance(g, Raised):
        if g.isa("NotImplementedError"):
            raise failure_from(ex, g)
        raise CheckFailed(
            ex,
            f"jax.grad could not differentiate your loss ({g.type_name}).",
            "write it with jax.numpy functions, not numpy or math, so that jax.grad can follow it.",
        )
    g = as_array(ex, g, "the gradient")
    if not np.all(np.isfinite(g)):
        raise CheckFailed(
            ex,
            f"the gradient of your loss with respect to the logits is {g.tolist()}.",
            (
                "an exp() overflows in the gradient (jnp.where differentiates BOTH branches).",
                "make sure no exponential in your expression can see a large positive argument, "
                "in either branch.",
            ),
        )
    want_g = (np.asarray(jax.nn.sigmoid(zb), dtype=np.float64) - np.asarray(yb)) / zb.shape[0]
    expect_close(
        ex,
        g,
        want_g,
        what="d loss / d logits",
        atol=1e-6,
        hint=(
            "the gradient of the mean loss with respect to each logit is small and bounded: "
            "between -1/n and 1/n.",
            "differentiate your per-example expression by hand and compare with what jax.grad gives.",
        ),
    )
    passed(ex, "exact for logits up to 1000, with a finite gradient sigmoid(z) - y.")


@exercise
def categorical_cross_entropy(fn: Callable[[jax.Array, jax.Array], jax.Array]) -> None:
    """Check a learner's ``fn(logits: [B, C], labels: [B] int) -> scalar`` mean cross-entropy.

    Compares with :func:`leptonlab.losses.categorical_cross_entropy` on small
    logits and on logits as large as 1000. Exercise of notebook 02.
    """
    ex = "categorical_cross_entropy"
    logits = jnp.array(
        [[2.0, 1.0, 0.1], [0.5, 2.5, 0.3], [0.0, 0.0, 0.0], [1.0, -1.0, 3.0]]
    )  # [4, 3]
    labels = jnp.array([0, 1, 2, 0])  # [4]
    got = _scalar(ex, call(ex, fn, logits, labels), "the loss")
    want = float(_ref.categorical_cross_entropy(logits, labels))
    if np.isclose(got, -want, rtol=1e-5):
        raise CheckFailed(
            ex,
            f"the loss is {got:.4f}; expected {want:.4f}.",
            "a loss is >= 0: cross-entropy is MINUS the log-probability of the true class.",
        )
    if np.isclose(got, 4 * want, rtol=1e-5):
        raise CheckFailed(
            ex,
            f"the loss is {got:.4f}, the sum over the batch; expected the mean, {want:.4f}.",
            "the loss of a batch is the average of the per-example losses.",
        )
    expect_close(
        ex,
        got,
        want,
        what="the loss on a [4, 3] batch",
        hint=(
            "per example the loss is minus the log-probability of its true class; "
            "check that you pick each row's own label.",
            "compute log-probabilities for every class of every row first, then select one entry per "
            "row (row i, column labels[i]) and average.",
        ),
    )
    big = jnp.array([[1000.0, 0.0, -1000.0], [0.0, 1000.0, 0.0]])  # [2, 3]
    big_labels = jnp.array([2, 1])  # [2]; losses 2000 and 0
    got_big = _scalar(ex, call(ex, fn, big, big_labels), "the loss on large logits")
    if not np.isfinite(got_big):
        raise CheckFailed(
            ex,
            f"the loss is {got_big} for logits like 1000.",
            (
                "log(softmax(z)) overflows (exp(1000) = inf) or hits log(0) = -inf: "
                "use the log-sum-exp trick from the notebook.",
                "shift each row by its largest logit before exponentiating, and take the log of the "
                "sum, not of each probability.",
            ),
        )
    expect_close(
        ex,
        got_big,
        _ref.categorical_cross_entropy(big, big_labels),
        what="the loss on large logits",
        hint=(
            "a softmax probability of exactly 0 loses the true loss (2000 here): "
            "compute the log-probabilities with the log-sum-exp trick instead of log(softmax).",
            "a log-probability of a row is its logit minus that row's log-sum-exp; compute it "
            "without ever forming a probability.",
        ),
    )
    passed(ex, "matches the reference, also for logits of size 1000.")
