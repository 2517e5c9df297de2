"""Checks for notebooks 11 (sampling from a character model) and 13 (padding and masking words)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@exercise
def temperature_softmax(fn) -> None:
    """Check ``fn(logits: [..., V], temperature) -> [..., V]`` probabilities ``softmax(logits / temperature)``."""
    name = "temperature_softmax"
    logits = np.array([[2.0, 1.0, 0.1, -1.0], [0.0, 0.0, 3.0, 1.0]], np.float32)
    for t in (1.0, 0.5, 2.0):
        want = _softmax(logits / t)
        got = as_array(name, call(name, fn, logits, t), f"the probabilities at temperature {t}")
        if got.shape == want.shape and not np.allclose(got, want, atol=1e-5):
            if np.allclose(got, _softmax(logits * t), atol=1e-5):
                raise CheckFailed(
                    name,
                    f"at temperature {t} your distribution is sharp where it should be flat.",
                    "divide the logits by the temperature, do not multiply.",
                )
            if np.allclose(got, _softmax(logits) ** (1 / t), atol=1e-5):
                raise CheckFailed(
                    name,
                    "your probabilities do not sum to 1.",
                    "scale the logits first, then take the softmax (which normalises).",
                )
        expect_close(
            name,
            got,
            want,
            what=f"the probabilities at temperature {t}",
            atol=1e-5,
            hint=(
                "temperature divides the logits before the softmax.",
                "a high temperature flattens the distribution, a low one sharpens it: check the direction.",
            ),
        )
    big = np.array([1000.0, 0.0, -1000.0], np.float32)
    expect_close(
        name,
        call(name, fn, big, 0.1),
        [1.0, 0.0, 0.0],
        what="the probabilities of logits [1000, 0, -1000]",
        atol=1e-6,
        hint=(
            "subtract the maximum logit before exp() so nothing overflows.",
            "shifting all logits of a row by the same number leaves the softmax unchanged.",
        ),
    )
    return passed(name)


@exercise
def top_k_filter(fn) -> None:
    """Check ``fn(logits: [V], k) -> [V]``: the k largest logits kept, the others set to -inf."""
    name = "top_k_filter"
    logits = np.array([0.5, 2.0, -1.0, 3.0, 1.0, 0.0], np.float32)
    for k in (1, 3, 6):
        keep = np.argsort(-logits)[:k]
        want = np.full_like(logits, -np.inf)
        want[keep] = logits[keep]
        got = np.asarray(call(name, fn, logits, k), dtype=np.float64)
        if got.shape != want.shape:
            raise CheckFailed(
                name,
                f"the result has shape {got.shape}, expected {want.shape}.",
                "return an array like logits, with -inf where a token is dropped.",
            )
        kept = np.isfinite(got)
        if k < len(logits) and kept.all():
            raise CheckFailed(
                name,
                f"for k={k} no logit was dropped (none is -inf).",
                (
                    "set the dropped logits to -inf, so that softmax gives them probability 0.",
                    "choose entry by entry between the logit and -inf.",
                ),
            )
        if kept.sum() == k + 1:
            raise CheckFailed(
                name,
                f"for k={k} you kept {k + 1} tokens.",
                "keep exactly k: compare with > or >= carefully.",
            )
        smallest = np.argsort(logits)[:k]
        if k < len(logits) and set(np.flatnonzero(kept)) == set(smallest):
            raise CheckFailed(
                name,
                f"for k={k} you kept the k *least* likely tokens.",
                "sort in decreasing order.",
            )
        if not np.array_equal(kept, np.isfinite(want)) or not np.allclose(
            got[kept], want[np.isfinite(want)]
        ):
            raise CheckFailed(
                name,
                f"for k={k} you kept tokens {sorted(np.flatnonzero(kept).tolist())}, "
                f"expected {sorted(keep.tolist())} with their logits unchanged.",
                "find the k-th largest logit and replace every smaller one by -inf.",
            )
    return passed(name)


@exercise
def pad_and_truncate(fn) -> None:
    """Check ``fn(sequences: list[list[int]], max_length, pad_id) -> [N, max_length]``, padded at the end."""
    name = "pad_and_truncate"
    seqs = [[5, 6, 7], [8], [], [1, 2, 3, 4, 5, 6, 7]]
    want = np.array([[5, 6, 7, 0, 0], [8, 0, 0, 0, 0], [0, 0, 0, 0, 0], [1, 2, 3, 4, 5]])
    got = as_array(name, call(name, fn, seqs, 5, 0), "the padded batch")
    if got.shape == want.shape:
        left = np.array([[0, 0, 5, 6, 7], [0, 0, 0, 0, 8], [0, 0, 0, 0, 0], [1, 2, 3, 4, 5]])
        if np.array_equal(got, left):
            raise CheckFailed(
                name,
                "you padded at the start of each sequence.",
                "put the padding after the words (right padding): the model's mask expects it.",
            )
        if np.array_equal(got[3], [3, 4, 5, 6, 7]):
            raise CheckFailed(
                name,
                "a long sequence lost its beginning.",
                "keep the first max_length ids, dropping the end.",
            )
    elif got.ndim == 2 and got.shape[1] == 7:
        raise CheckFailed(
            name,
            "your rows have the length of the longest sequence.",
            "cut every sequence to max_length before padding.",
        )
    expect_close(
        name,
        got,
        want,
        what="the padded batch",
        hint=(
            "each row is its sequence, cut to max_length, then padded at the end.",
            "pad with pad_id up to max_length.",
        ),
    )
    got = as_array(name, call(name, fn, [[3]], 3, 9), "the padded batch with pad_id=9")
    expect_close(
        name,
        got,
        [[3, 9, 9]],
        what="[[3]] padded to 3 with pad_id=9",
        hint="use the pad_id argument, not 0.",
    )
    return passed(name)


@exercise
def masked_mean(fn) -> None:
    """Check ``fn(x: [B, T, D], mask: [B, T]) -> [B, D]``: the mean over the unmasked steps only."""
    name = "masked_mean"
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 5, 2)).astype(np.float32)
    mask = np.array([[1, 1, 1, 0, 0], [1, 0, 0, 0, 0], [1, 1, 1, 1, 1]], bool)
    want = (x * mask[..., None]).sum(1) / mask.sum(1)[:, None]
    got = as_array(name, call(name, fn, x, mask), "the masked mean")
    if got.shape == want.shape and not np.allclose(got, want, atol=1e-5):
        if np.allclose(got, x.mean(1), atol=1e-5):
            raise CheckFailed(
                name, "your mean includes the padded steps.", "multiply by the mask before summing."
            )
        if np.allclose(got, (x * mask[..., None]).sum(1) / x.shape[1], atol=1e-5):
            raise CheckFailed(
                name,
                "you divided by T, so short sentences get smaller features.",
                "divide by each sequence's number of real steps, not by T.",
            )
    expect_close(
        name,
        got,
        want,
        what="the masked mean",
        atol=1e-5,
        hint=(
            "average over the real (unmasked) steps of each sequence only.",
            "zero the padded steps, sum over time, and divide by each sequence's number of real steps; "
            "the mask needs a trailing axis to broadcast over the features.",
        ),
    )
    return passed(name)
