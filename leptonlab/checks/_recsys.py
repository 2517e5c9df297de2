"""Checks for notebooks 14-15 (recommender systems)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


@exercise
def rmse(fn) -> None:
    """Check ``fn(pred: [N], target: [N]) -> float``, the root mean squared error."""
    name = "rmse"
    pred = np.array([3.5, 4.0, 2.0, 5.0, 1.0])
    target = np.array([4.0, 4.0, 3.0, 3.0, 2.0])
    want = np.sqrt(np.mean((pred - target) ** 2))
    got = as_array(name, call(name, fn, pred, target), "the RMSE")
    if got.shape != ():
        raise CheckFailed(
            name,
            f"the result has shape {got.shape}; the RMSE is one number.",
            "average over all ratings: reduce with .mean() over the whole vector.",
        )
    value = float(got)
    mistakes = [
        (np.mean((pred - target) ** 2), "that is the mean squared error: take its square root."),
        (
            np.mean(np.abs(pred - target)),
            "that is the mean absolute error: square the errors, average, then sqrt.",
        ),
        (
            np.sqrt(np.sum((pred - target) ** 2)),
            "you summed the squared errors: divide by the number of ratings first.",
        ),
        (
            np.mean(np.sqrt(np.abs(pred - target))),
            "the square root comes last, after the average of the squared errors.",
        ),
    ]
    if not np.isclose(value, want, rtol=1e-5):
        hint = next(
            (h for wrong, h in mistakes if np.isclose(value, wrong, rtol=1e-5)),
            (
                "the RMSE is the root of the mean of the squared errors: check each of the three steps.",
                "work the 5 ratings by hand: errors, their squares, the average, its square root.",
            ),
        )
        raise CheckFailed(
            name, f"for 5 hand-made ratings you returned {value:.6g}; expected {want:.6g}.", hint
        )
    expect_close(
        name,
        call(name, fn, np.array([2.0]), np.array([2.0])),
        0.0,
        what="the RMSE of a perfect prediction",
    )
    return passed(name)


@exercise
def predict_rating(fn) -> None:
    """Check ``fn(mu, b_u: [N], b_i: [N], p_u: [N, r], q_i: [N, r]) -> [N]``, biased MF's prediction."""
    name = "predict_rating"
    rng = np.random.default_rng(0)
    mu, bu, bi = 3.5, rng.normal(size=4) * 0.3, rng.normal(size=4) * 0.3
    p, q = rng.normal(size=(4, 3)), rng.normal(size=(4, 3))
    want = mu + bu + bi + np.sum(p * q, axis=1)
    got = as_array(name, call(name, fn, mu, bu, bi, p, q), "the predicted ratings")
    if got.shape == (4, 4):
        raise CheckFailed(
            name,
            "the result is [N, N]: p_u @ q_i.T pairs every user with every item.",
            (
                "each rating needs only its own (user, item) pair: one number per row, [N].",
                "a matrix product pairs every user with every item; you need the row-by-row dot products.",
            ),
        )
    mistakes = [
        (
            bu + bi + np.sum(p * q, axis=1),
            "the global mean mu is missing: predictions sit around 0 instead of 3.5.",
        ),
        (mu + np.sum(p * q, axis=1), "the user and item biases b_u and b_i are missing."),
        (mu + bu + bi, "the interaction term p_u . q_i is missing."),
        (
            mu + bu + bi + np.sum(p * q),
            "you summed p_u * q_i over everything: sum over the factor axis only (axis=1).",
        ),
    ]
    if got.shape == want.shape and not np.allclose(got, want, rtol=1e-5, atol=1e-6):
        hint = next(
            (
                h
                for wrong, h in mistakes
                if np.shape(wrong) == got.shape and np.allclose(got, wrong, rtol=1e-5)
            ),
            (
                "the prediction adds the global mean, both biases and the user-item interaction.",
                "the interaction is a dot product over the factor axis, one number per (user, item) pair.",
            ),
        )
        raise CheckFailed(
            name, f"the predictions are {np.round(got, 4)}; expected {np.round(want, 4)}.", hint
        )
    expect_close(name, got, want, what="the predicted ratings of 4 (user, item) pairs")
    return passed(name)


@exercise
def ndcg_single(fn) -> None:
    """Check ``fn(rank: int, k: int) -> float``: NDCG@k of one relevant item at 0-based ``rank``."""
    name = "ndcg_single"
    for rank, k in [(0, 10), (1, 10), (4, 10), (9, 10), (10, 10), (25, 10), (2, 3), (3, 3)]:
        want = 1.0 / np.log2(rank + 2) if rank < k else 0.0
        got = as_array(name, call(name, fn, rank, k), "the NDCG")
        if got.shape != ():
            raise CheckFailed(
                name, f"the result has shape {got.shape}; NDCG of one list is one number."
            )
        value = float(got)
        if np.isclose(value, want, atol=1e-6):
            continue
        mistakes = [
            (
                1.0 / np.log2(rank + 1) if rank > 0 else np.inf,
                "the rank is 0-based: the top item (rank 0) must get discount 1.",
            ),
            (
                1.0 / np.log(rank + 2) if rank < k else 0.0,
                "the discount uses log base 2 (np.log2), not the natural log.",
            ),
            (
                1.0 / np.log2(rank + 2),
                "items ranked at k or below are outside the list: return 0 when rank >= k.",
            ),
            (
                1.0 / (rank + 1) if rank < k else 0.0,
                "that is the reciprocal rank; NDCG discounts logarithmically.",
            ),
        ]
        hint = next(
            (
                h
                for wrong, h in mistakes
                if np.isclose(value, wrong, atol=1e-6) or (np.isinf(value) and np.isinf(wrong))
            ),
            (
                "with one relevant item the ideal DCG is 1, so NDCG is that item's discount (or 0 outside "
                "the top k).",
                "check your discount at rank 0 (it must be 1) and at rank k (the item is outside the list).",
            ),
        )
        raise CheckFailed(
            name, f"for rank={rank}, k={k} you returned {value:.6g}; expected {want:.6g}.", hint
        )
    return passed(name)


@exercise
def mask_seen(fn) -> None:
    """Check ``fn(scores: [U, I], seen: [U, I] bool) -> [U, I]`` with seen items at -inf."""
    name = "mask_seen"
    scores = np.array([[0.5, -1.0, 2.0, 0.1], [-0.3, -0.2, -4.0, 1.5]])
    seen = np.array([[True, False, True, False], [False, False, False, True]])
    want = np.where(seen, -np.inf, scores)
    got = as_array(name, call(name, fn, scores.copy(), seen.copy()), "the masked scores")
    if got.shape != want.shape:
        raise CheckFailed(
            name,
            f"the result has shape {got.shape}, expected {want.shape}.",
            "keep one score per (user, item): choose entry by entry between the score and -inf.",
        )
    if np.array_equal(got, np.where(~seen, -np.inf, scores)):
        raise CheckFailed(
            name,
            "you masked the items the user has NOT seen.",
            "seen items are the ones to hide: check which way round your condition is.",
        )
    if np.array_equal(got, np.where(seen, 0.0, scores)):
        raise CheckFailed(
            name,
            "seen items got score 0, which still beats every negative score (see user 2).",
            "use -np.inf so that a seen item can never enter the top k.",
        )
    if not np.array_equal(np.isneginf(got), seen):
        raise CheckFailed(
            name,
            "the -inf entries do not match the seen items.",
            "put -np.inf exactly where seen is True, and keep the other scores.",
        )
    expect_close(
        name,
        np.where(seen, 0.0, got),
        np.where(seen, 0.0, scores),
        what="the scores of unseen items",
        hint="leave the unseen items' scores unchanged.",
    )
    return passed(name)
