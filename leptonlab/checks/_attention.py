"""Checks for notebook 12 (attention): the attention weights, the causal mask, one attention head."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = z - z.max(axis=axis, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=axis, keepdims=True)


def _weights(
    q: np.ndarray, k: np.ndarray, scale: float, mask: np.ndarray | None = None, axis: int = -1
) -> np.ndarray:
    s = (q @ k.T) * scale
    if mask is not None:
        s = np.where(mask, s, -1e30)
    return _softmax(s, axis=axis)


def _cases() -> list[tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(12)
    small = (rng.normal(size=(3, 4)), rng.normal(size=(5, 4)))  # Tq = 3 queries, Tk = 5 keys, D = 4
    wide = (rng.normal(size=(4, 16)), rng.normal(size=(4, 16)))  # D = 16: the scale matters more
    large = (
        100.0 * rng.normal(size=(2, 9)),
        100.0 * rng.normal(size=(6, 9)),
    )  # scores in the thousands: exp overflows
    return [small, wide, large]


@exercise
def attention_weights(fn) -> None:
    """Check ``fn(q: [Tq, D], k: [Tk, D]) -> [Tq, Tk]``: ``softmax(q k^T / sqrt(D))`` over the keys."""
    name = "attention_weights"
    for q, k in _cases():
        d = q.shape[1]
        want = _weights(q, k, 1 / np.sqrt(d))
        got = as_array(
            name,
            call(name, fn, q.astype(np.float32), k.astype(np.float32)),
            f"the weights for q {q.shape}, k {k.shape}",
        )
        if got.shape == want.shape[::-1] and got.shape != want.shape:
            raise CheckFailed(
                name,
                f"the weights have shape {got.shape}, expected {want.shape} (queries x keys).",
                "one row per query and one column per key: check the order of your product.",
            )
        if (
            got.shape == want.shape
            and np.isfinite(got).all()
            and not np.allclose(got, want, atol=1e-5)
        ):
            if np.allclose(got, _weights(q, k, 1.0), atol=1e-5):
                raise CheckFailed(
                    name,
                    "your weights are the softmax of the raw scores q k^T.",
                    f"divide the scores by sqrt(D) = sqrt({d}) before the softmax.",
                )
            if np.allclose(got, _weights(q, k, 1 / d), atol=1e-5):
                raise CheckFailed(
                    name, f"you divided the scores by D = {d}.", "divide by the square root of D."
                )
            if np.allclose(got, _weights(q, k, 1 / np.sqrt(d), axis=0), atol=1e-5):
                raise CheckFailed(
                    name,
                    "each *column* of your weights sums to 1.",
                    "the softmax runs over the keys (the last axis): each query's weights sum to 1.",
                )
        expect_close(
            name,
            got,
            want,
            what=f"the weights for q {q.shape}, k {k.shape}",
            atol=1e-5,
            hint=(
                "the weights are a softmax over the keys of the scaled scores; subtract each row's "
                "maximum before exp() so large scores do not overflow.",
                "a score is a query's dot product with a key, scaled by the square root of their width.",
            ),
        )
    return passed(name)


@exercise
def causal_mask(fn) -> None:
    """Check ``fn(t) -> [t, t]`` booleans: True where query i may look at key j, that is j <= i."""
    name = "causal_mask"
    for t in (4, 7, 1):
        want = np.tril(np.ones((t, t), bool))
        got = as_array(name, call(name, fn, t), f"the mask for t = {t}")
        if got.shape != want.shape:
            raise CheckFailed(
                name,
                f"the mask for t = {t} has shape {got.shape}, expected {want.shape}.",
                "one row per query position, one column per key position.",
            )
        if not np.isin(got, (0.0, 1.0)).all():
            raise CheckFailed(
                name,
                f"the mask for t = {t} holds values other than True/False.",
                "return booleans: True where attending is allowed.",
            )
        got = got.astype(bool)
        if np.array_equal(got, want):
            continue
        if np.array_equal(got, want.T):
            raise CheckFailed(
                name,
                "your mask lets each position see the *later* positions and not the earlier ones.",
                (
                    "row i is query i: it may look at positions up to and including i, never later ones.",
                    "the allowed entries form a triangle of the matrix: which one?",
                ),
            )
        if np.array_equal(got, np.tril(np.ones((t, t), bool), -1)):
            raise CheckFailed(
                name,
                "your mask hides each position from itself.",
                "keep the diagonal: position i may look at j <= i, itself included.",
            )
        if np.array_equal(got, ~want):
            raise CheckFailed(
                name,
                "your mask is inverted: True where attending is forbidden.",
                "True should mean 'may attend' (j <= i).",
            )
        raise CheckFailed(
            name,
            f"for t = {t} your mask is {got.astype(int).tolist()}, "
            f"expected {want.astype(int).tolist()}.",
            "True where column j <= row i.",
        )
    return passed(name)


@exercise
def one_head(fn) -> None:
    """Check ``fn(x: [T, D], w_q, w_k, w_v: [D, Dh]) -> [T, Dh]``: one causal self-attention head."""
    name = "one_head"
    rng = np.random.default_rng(7)
    for t, d, dh in ((5, 8, 2), (1, 4, 4), (6, 12, 3)):
        x = rng.normal(size=(t, d)).astype(np.float32)
        w_q, w_k, w_v = (rng.normal(size=(d, dh)).astype(np.float32) for _ in range(3))
        q, k, v = x @ w_q, x @ w_k, x @ w_v
        mask = np.tril(np.ones((t, t), bool))
        want = _weights(q, k, 1 / np.sqrt(dh), mask) @ v
        got = as_array(name, call(name, fn, x, w_q, w_k, w_v), f"the head's output for x {x.shape}")
        if got.shape == want.shape and not np.allclose(got, want, atol=1e-4):
            if np.allclose(got, _weights(q, k, 1 / np.sqrt(dh)) @ v, atol=1e-4):
                raise CheckFailed(
                    name,
                    "your head lets each position attend to later positions.",
                    "apply the causal mask to the scores before the softmax (a large negative "
                    "number, or -inf, where j > i).",
                )
            if np.allclose(got, _weights(q, k, 1 / np.sqrt(d), mask) @ v, atol=1e-4):
                raise CheckFailed(
                    name,
                    f"you scaled by sqrt(D) = sqrt({d}), the input width.",
                    f"scale by the square root of the width of the queries and keys, Dh = {dh}.",
                )
            if np.allclose(got, _weights(q, k, 1.0, mask) @ v, atol=1e-4):
                raise CheckFailed(
                    name,
                    "your scores are not scaled.",
                    f"scale the scores by the square root of the head width Dh = {dh}.",
                )
        expect_close(
            name,
            got,
            want,
            what=f"the head's output for x {x.shape} and Dh = {dh}",
            atol=1e-4,
            hint=(
                "check each stage against the notebook: the projections, the scaled scores, the mask, "
                "the softmax, the weighted sum.",
                "print the shapes of your queries, keys, values, weights and output for x of shape "
                "[T, D]: they should be [T, Dh], [T, Dh], [T, Dh], [T, T], [T, Dh].",
            ),
        )
    return passed(name)
