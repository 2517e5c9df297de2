"""Checks for notebook 09 (training better: regularisation, early stopping)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def penalty_grad(fn, params, weight_decay: float):
    """Probe: the gradient of the learner's ``fn(params, weight_decay)`` with respect to params."""
    return jax.grad(lambda p: fn(p, weight_decay))(params)


@exercise
def l2_penalty(fn) -> None:
    """Check ``fn(params, weight_decay) -> (weight_decay / 2) * sum of w**2 over every leaf of params``."""
    name = "l2_penalty"
    params = {
        "dense": {"kernel": jnp.array([[1.0, -2.0], [0.5, 3.0]]), "bias": jnp.array([0.1, -0.3])},
        "head": {"kernel": jnp.array([[-1.5], [2.0]])},
    }
    leaves = jax.tree.leaves(params)
    squares = sum(float(jnp.sum(jnp.square(p))) for p in leaves)
    want = 0.5 * 0.01 * squares
    got = as_array(name, call(name, fn, params, 0.01), "the penalty")
    if got.shape != ():
        raise CheckFailed(
            name,
            f"the penalty has shape {got.shape}; it is one number added to the loss.",
            (
                "the penalty is one number: sum over every entry of every leaf.",
                "reduce each array to one number, then add those numbers up.",
            ),
        )
    value = float(got)
    if np.isclose(value, 0.01 * squares):
        raise CheckFailed(
            name,
            "your penalty is twice the expected value.",
            "the convention halves the sum of squares, so that the penalty's gradient is exactly lambda * w.",
        )
    if np.isclose(value, 0.5 * 0.01 * sum(float(jnp.sum(jnp.abs(p))) for p in leaves)):
        raise CheckFailed(
            name, "you summed |w|: that is the L1 penalty.", "the L2 penalty squares each weight."
        )
    if any(np.isclose(value, 0.5 * 0.01 * float(jnp.sum(jnp.square(p)))) for p in leaves):
        raise CheckFailed(
            name,
            "your penalty covers only one array of the parameters.",
            (
                "the penalty covers every array in the parameter tree.",
                "jax.tree.leaves lists every array of a pytree.",
            ),
        )
    expect_close(
        name,
        value,
        want,
        what="the penalty for weight_decay=0.01",
        hint=(
            "compare your penalty with the formula above the exercise, term by term.",
            "every entry of every array counts, and the factor in front is weight_decay over 2.",
        ),
    )
    expect_close(name, call(name, fn, params, 0.0), 0.0, what="the penalty for weight_decay=0")
    grads = call(name, fn, params, 0.01, probe=penalty_grad)
    expect_close(
        name,
        grads["dense"]["kernel"],
        0.01 * params["dense"]["kernel"],
        what="the gradient of your penalty",
        hint="use jax.numpy operations so that jax.grad works.",
    )
    return passed(name)


def _reference_should_stop(val_losses, patience: int) -> bool:
    if patience == 0 or len(val_losses) == 0:
        return False
    best_epoch = (
        int(np.argmin(val_losses)) + 1
    )  # epochs count from 1; the first of equal losses wins
    return len(val_losses) - best_epoch >= patience


@exercise
def should_stop(fn) -> None:
    """Check ``fn(val_losses: list[float], patience: int) -> bool``, the rule of ``TrainConfig(early_stopping=)``."""
    name = "should_stop"
    cases = [  # (val_losses, patience, why the answer is what it is)
        ([1.0, 0.8, 0.7], 2, "the loss is still falling"),
        ([1.0, 0.8, 0.9, 0.95], 2, "two epochs without a new best after epoch 2"),
        ([1.0, 0.8, 0.9, 0.95], 3, "only two epochs since the best, patience is three"),
        (
            [1.0, 0.8, 0.9, 0.85],
            2,
            "0.85 is lower than the epoch before, but not lower than the best 0.8",
        ),
        ([1.0, 0.8, 0.8, 0.8], 2, "equal to the best is not better"),
        ([1.0, 0.8, 0.9, 0.7], 2, "a new best in the last epoch"),
        ([1.0, 1.1, 1.2, 1.3, 1.4], 0, "patience 0 means never stop"),
        ([0.5], 1, "one epoch: it is the best so far"),
    ]
    for losses, patience, why in cases:
        want = _reference_should_stop(losses, patience)
        got = call(name, fn, list(losses), patience)
        if not isinstance(got, (bool, np.bool_)) and not (
            hasattr(got, "dtype") and np.ndim(got) == 0
        ):
            raise CheckFailed(
                name, f"return True or False, got {type(got).__name__}.", "return a single bool."
            )
        if bool(got) == want:
            continue
        hint = "count the epochs since the *best* validation loss (the first occurrence of the minimum)."
        if losses == [1.0, 0.8, 0.9, 0.85]:
            hint = "compare with the best loss so far, not with the previous epoch."
        elif losses == [1.0, 0.8, 0.8, 0.8]:
            hint = "an equal loss is no improvement: the best epoch is the FIRST with the minimum."
        elif patience == 0:
            hint = "early_stopping=0 switches it off: return False when patience is 0."
        elif losses == [1.0, 0.8, 0.9, 0.95]:
            hint = "stop when epochs_since_best >= patience (not >)."
        raise CheckFailed(
            name,
            f"should_stop({losses}, patience={patience}) returned {bool(got)}, "
            f"expected {want}: {why}.",
            hint,
        )
    return passed(name)


@exercise
def inverted_dropout(fn) -> None:
    """Check ``fn(x, rate, key) -> x * mask / (1 - rate)`` with ``mask ~ Bernoulli(1 - rate)`` per entry."""
    name = "inverted_dropout"
    x = jnp.full((200, 100), 2.0)  # [200, 100]
    got = as_array(name, call(name, fn, x, 0.25, jax.random.key(0)), "the output")
    if got.shape != x.shape:
        raise CheckFailed(
            name,
            f"the output has shape {got.shape}, the input {x.shape}.",
            "draw one keep/drop decision per entry: a mask of x's shape.",
        )
    dropped = float(np.mean(got == 0))
    if abs(dropped - 0.75) < 0.03:
        raise CheckFailed(
            name,
            f"{dropped:.0%} of the entries are zero; with rate=0.25 about 25% should be.",
            "rate is the probability of *dropping*: keep with probability 1 - rate.",
        )
    if abs(dropped - 0.25) > 0.03:
        raise CheckFailed(
            name,
            f"{dropped:.0%} of the entries are zero; with rate=0.25 about 25% should be.",
            (
                "each entry is kept with probability 1 - rate, independently of the others.",
                "draw a boolean mask of x's shape whose entries are True with the keep probability.",
            ),
        )
    kept = got[got != 0]
    if np.allclose(kept, 2.0):
        raise CheckFailed(
            name,
            "the kept entries are unchanged, so the mean activation shrinks by (1 - rate).",
            "divide the kept entries by (1 - rate): training and evaluation then see the same mean.",
        )
    expect_close(
        name,
        kept,
        np.full(kept.shape, 2.0 / 0.75),
        what="the kept entries (input 2.0, rate 0.25)",
        hint=(
            "kept entries are scaled up so the expected value of each entry stays x.",
            "an entry is kept with probability 1 - rate: scale kept entries by the inverse of that.",
        ),
    )
    expect_close(
        name,
        call(name, fn, x[:3], 0.0, jax.random.key(1)),
        x[:3],
        what="the output for rate=0",
        hint="with rate 0 nothing is dropped and nothing is scaled.",
    )
    again = as_array(name, call(name, fn, x, 0.25, jax.random.key(0)), "the output")
    if not np.array_equal(got, again):
        raise CheckFailed(
            name,
            "two calls with the same key gave different masks.",
            "draw the mask from the key you are given (no NumPy or Python random).",
        )
    return passed(name)
