"""Checks for the exercises of notebook 00 (setup and JAX): ``vmap`` with ``grad``, PRNG keys."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

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


def _reference_per_example_grads(w: jax.Array, xs: jax.Array, ys: jax.Array) -> jax.Array:
    """d/dw (x . w - y)^2 = 2 (x . w - y) x for each example: [B, D]."""
    residual = xs @ w - ys  # [B]
    return 2.0 * residual[:, None] * xs  # [B, D]


@exercise
def per_example_grads(fn: Callable[[jax.Array, jax.Array, jax.Array], jax.Array]) -> None:
    """Check ``fn(w: [D], xs: [B, D], ys: [B]) -> [B, D]``, one gradient per example.

    The loss of one example is the squared error of a linear model,
    ``loss_one(w, x, y) = (x @ w - y) ** 2``; its gradient with respect to ``w`` is
    ``2 (x @ w - y) x``. The intended answer is
    one gradient per example (``jax.grad`` mapped with ``jax.vmap``).
    Exercise of notebook 00.
    """
    ex = "per_example_grads"
    w = jnp.array([0.5, -1.0, 2.0])  # [D=3]
    xs = jnp.array(
        [[1.0, 0.0, 2.0], [0.0, 1.0, 1.0], [2.0, 2.0, 0.0], [1.0, -1.0, 0.5]]
    )  # [B=4, D=3]
    ys = jnp.array([1.0, 0.0, -1.0, 2.0])  # [B=4]
    got = attempt(ex, fn, w, xs, ys)
    if isinstance(got, Raised):
        raise failure_from(
            ex,
            got,
            (
                "the weights are shared by every example and the data are batched: "
                "tell vmap which arguments to map over.",
                "in_axes has one entry per argument: None for one that is shared, 0 for "
                "one whose rows are the examples.",
            ),
        )
    got = as_array(ex, got, "the gradients")
    want = np.asarray(_reference_per_example_grads(w, xs, ys))
    if got.shape == (3,):
        raise CheckFailed(
            ex,
            "you returned one gradient of shape (3,) for the whole batch; expected (4, 3), one per example.",
            (
                "take the gradient of the ONE-example loss, then map it over the examples.",
                "jax.grad makes the gradient function of one example; jax.vmap turns it into one for "
                "a batch.",
            ),
        )
    expect_close(
        ex,
        got,
        want,
        what="the per-example gradients",
        hint=(
            "grad differentiates with respect to the first argument (w); check what vmap maps over.",
            "w is shared by all examples; xs and ys are mapped over their rows.",
        ),
    )
    passed(ex, "one gradient per example, all equal to 2 (x.w - y) x.")


@exercise
def two_normal_samples(fn: Callable[[Any, tuple[int, ...]], tuple[jax.Array, jax.Array]]) -> None:
    """Check ``fn(key, shape) -> (a, b)``: two independent standard-normal arrays from one key.

    Requirements: each of ``a`` and ``b`` has ``shape``; the same key gives the
    same pair (no hidden state); ``a`` and ``b`` differ (the key was split, not
    reused); neither equals ``jax.random.normal(key, shape)`` (a key that was
    split is not used again); another key gives other numbers.
    Exercise of notebook 00.
    """
    ex = "two_normal_samples"
    shape = (1000,)
    key = jax.random.key(42)
    out = call(ex, fn, key, shape)
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise CheckFailed(
            ex,
            f"expected a pair (a, b), got {type(out).__name__}.",
            "return the two samples together, as a pair.",
        )
    a, b = (as_array(ex, v, name) for v, name in zip(out, ("a", "b")))
    for name, arr in (("a", a), ("b", b)):
        if arr.shape != shape:
            raise CheckFailed(
                ex,
                f"{name} has shape {arr.shape}; expected {shape}.",
                "pass the shape you are given on to the sampler.",
            )
    if np.array_equal(a, b):
        raise CheckFailed(
            ex,
            "a and b are the same numbers.",
            (
                "you used one key twice: the same key always gives the same numbers.",
                "make two new keys from the one you are given (jax.random.split), one per sample.",
            ),
        )
    parent = np.asarray(jax.random.normal(key, shape), dtype=np.float64)
    if np.array_equal(a, parent) or np.array_equal(b, parent):
        raise CheckFailed(
            ex,
            "one of a, b was drawn with the key you split.",
            (
                "once a key is split, use only its children and never the key itself again.",
                "a split key's numbers are not independent of its children's: draw a from one child "
                "and b from the other.",
            ),
        )
    a2, b2 = (as_array(ex, v, "a second call") for v in call(ex, fn, key, shape))
    if not (np.array_equal(a, a2) and np.array_equal(b, b2)):
        raise CheckFailed(
            ex,
            "two calls with the same key gave different numbers.",
            "draw everything from the key you are given (no np.random, no global state): "
            "same key, same numbers.",
        )
    a3, _ = (
        as_array(ex, v, "a call with another key") for v in call(ex, fn, jax.random.key(7), shape)
    )
    if np.array_equal(a, a3):
        raise CheckFailed(
            ex,
            "another key gave the same numbers.",
            "derive the samples from the `key` argument, not from a fixed key inside the function.",
        )
    for name, arr in (("a", a), ("b", b)):
        if abs(arr.mean()) > 0.2 or not 0.85 < arr.std() < 1.15:
            raise CheckFailed(
                ex,
                f"{name} has mean {arr.mean():.3f} and standard deviation {arr.std():.3f}; "
                "standard normal samples have about 0 and 1.",
                "draw from the standard normal distribution, not the uniform one.",
            )
    expect_close(
        ex,
        np.corrcoef(a, b)[0, 1],
        0.0,
        what="the correlation of a and b",
        atol=0.15,
        hint="a and b should be independent: draw each from its own subkey.",
    )
    passed(ex, "two independent samples, reproducible from the key.")
