"""Checks for notebook 17 (transfer learning and embeddings)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


@exercise
def cosine_similarity(fn) -> None:
    """Check ``fn(a: [N, D], b: [M, D]) -> [N, M]``, the cosine of the angle between every pair of rows."""
    name = "cosine_similarity"
    a = np.array([[3.0, 4.0, 0.0], [1.0, 0.0, 0.0]])
    b = np.array([[6.0, 8.0, 0.0], [0.0, 0.0, 2.0], [-1.0, 1.0, 0.0]])
    unit = lambda m: m / np.linalg.norm(m, axis=1, keepdims=True)
    want = unit(a) @ unit(b).T  # [2, 3]
    got = as_array(name, call(name, fn, a, b), "the similarity matrix")
    if got.shape == (3, 2):
        raise CheckFailed(
            name,
            "your matrix is [M, N]; row i should hold a[i]'s similarity to every row of b.",
            "entry (i, j) pairs row i of a with row j of b: check the order of your product.",
        )
    if got.shape == want.shape:
        if np.allclose(got, a @ b.T):
            raise CheckFailed(
                name,
                "these are plain dot products: they grow with the length of the vectors.",
                (
                    "a cosine ignores lengths: normalise each row of both a and b first.",
                    "divide each row by its own Euclidean length.",
                ),
            )
        if np.allclose(got, unit(a) @ b.T) or np.allclose(got, a @ unit(b).T):
            raise CheckFailed(
                name,
                "only one of the two matrices was normalised.",
                "normalise the rows of both a and b.",
            )
        with np.errstate(invalid="ignore", divide="ignore"):
            by_column = (a / np.linalg.norm(a, axis=0, keepdims=True)) @ (
                b / np.linalg.norm(b, axis=0, keepdims=True)
            ).T
        if np.allclose(got, by_column):
            raise CheckFailed(
                name,
                "you normalised the columns; each *row* is one embedding.",
                (
                    "each row's length is a norm over its entries (the feature axis).",
                    "keep that axis so the lengths broadcast over each row.",
                ),
            )
    expect_close(
        name,
        got,
        want,
        what="the cosine similarities",
        hint=(
            "entry (i, j) is the cosine between row i of a and row j of b.",
            "scale each row to unit length first; then one matrix product gives every pair.",
        ),
    )
    return passed(name)


@exercise
def threshold_from_roc(fn) -> None:
    """Check ``fn(fpr: [T], tpr: [T], thresholds: [T]) -> float``: the threshold maximising tpr - fpr."""
    name = "threshold_from_roc"
    fpr = np.array([0.0, 0.0, 0.1, 0.2, 0.5, 1.0])
    tpr = np.array([0.0, 0.3, 0.7, 0.75, 0.95, 1.0])
    thresholds = np.array([np.inf, 0.9, 0.8, 0.6, 0.4, 0.1])
    want = 0.8  # tpr - fpr = 0, 0.3, 0.6, 0.55, 0.45, 0
    got = as_array(name, call(name, fn, fpr, tpr, thresholds), "the threshold")
    if got.shape != ():
        raise CheckFailed(
            name,
            f"the result has shape {got.shape}; a threshold is one number.",
            "return the threshold itself (one float), not its index.",
        )
    value = float(got)
    mistakes = [
        (
            2.0,
            "you returned the index of the best point; return the threshold there: thresholds[index].",
        ),
        (
            0.1,
            "maximising the true positive rate alone (or tpr + fpr) accepts everything at the loosest "
            "threshold: maximise tpr - fpr, the height above the diagonal.",
        ),
    ]
    if value != want:
        hint = next(
            (h for wrong, h in mistakes if value == wrong),
            "index = argmax(tpr - fpr); return thresholds[index].",
        )
        raise CheckFailed(
            name,
            f"you returned {value:g}; expected {want:g} (where tpr - fpr = 0.6 is largest).",
            hint,
        )
    expect_close(
        name,
        call(
            name,
            fn,
            np.array([0.0, 0.5, 1.0]),
            np.array([0.0, 1.0, 1.0]),
            np.array([np.inf, 0.3, -0.2]),
        ),
        0.3,
        what="the threshold of a second ROC curve",
    )
    return passed(name)
