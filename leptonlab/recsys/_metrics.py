"""Rating and ranking metrics (notebooks 14-15).

Rating metrics compare predicted stars with true stars. Ranking metrics take a
score for each candidate item, ``scores: [U, C]``, and which candidates are
relevant, ``relevant: [U, C] bool``; they are averaged over the ``U`` users.
Ranks are pessimistic: a relevant item tied with others is ranked after all of
them, so a model that scores everything equally gets no credit from ties.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np

from leptonlab import losses


def _pair(pred, target) -> tuple[jnp.ndarray, jnp.ndarray]:
    pred = jnp.asarray(pred, jnp.float32)
    target = jnp.asarray(target, jnp.float32)
    if pred.ndim != 1 or pred.shape != target.shape:
        raise ValueError(
            f"pred and target must be vectors [N] of the same length, got {pred.shape} and {target.shape}."
        )
    if pred.shape[0] == 0:
        raise ValueError("pred and target are empty: an error over no ratings is undefined.")
    return pred, target


def rmse(pred, target) -> float:
    """Root mean squared error ``sqrt(mean((pred - target)^2))`` of ``pred, target: [N]``. Notebook 14."""
    pred, target = _pair(pred, target)
    return float(jnp.sqrt(losses.mse(pred, target)))


def mae(pred, target) -> float:
    """Mean absolute error ``mean(|pred - target|)`` of ``pred, target: [N]``. Notebook 14."""
    pred, target = _pair(pred, target)
    return float(losses.mae(pred, target))  # the package's one MAE (leptonlab.losses), as a float


def _ranking(scores, relevant, k) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(scores, np.float64)
    relevant = np.asarray(relevant)
    if scores.ndim != 2 or relevant.shape != scores.shape:
        raise ValueError(
            f"scores and relevant must both be [U, C], got {scores.shape} and {relevant.shape}."
        )
    if relevant.dtype != bool:
        raise TypeError(f"relevant must be a bool mask, got dtype {relevant.dtype}.")
    if not isinstance(k, (int, np.integer)) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be a positive int (the length of the list), got {k!r}.")
    if scores.shape[0] == 0 or scores.shape[1] == 0:
        raise ValueError(
            f"scores is empty ({scores.shape}): pass at least one user and one candidate."
        )
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN: a model diverged or a score is missing.")
    return scores, relevant


def candidate_ranks(scores) -> np.ndarray:
    """``[U, C] int``: each candidate's pessimistic 0-based rank in its row (0 = best).

    rank = #(candidates scored higher) + #(other candidates scored equal).
    """
    scores = np.asarray(scores, np.float64)
    if scores.ndim != 2:
        raise ValueError(f"scores must be [U, C], got shape {scores.shape}.")
    order = np.sort(scores, axis=1)  # [U, C] ascending
    below = np.stack(
        [np.searchsorted(row, s, side="left") for row, s in zip(order, scores)]
    )  # #(scored lower)
    return scores.shape[1] - below - 1  # #(scored >= s) - 1


def hit_rate_at_k(scores, relevant, k: int) -> float:
    """HR@K: fraction of users with at least one relevant item among their top ``k``. Notebook 15."""
    scores, relevant = _ranking(scores, relevant, k)
    hits = (candidate_ranks(scores) < k) & relevant
    return float(hits.any(axis=1).mean())


def precision_at_k(scores, relevant, k: int) -> float:
    """Precision@K: relevant items in the top ``k`` divided by ``k``, averaged over users. Notebook 15."""
    scores, relevant = _ranking(scores, relevant, k)
    hits = (candidate_ranks(scores) < k) & relevant
    return float((hits.sum(axis=1) / k).mean())


def ndcg_at_k(scores, relevant, k: int) -> float:
    """NDCG@K with binary relevance, averaged over users that have a relevant item. Notebook 15.

    DCG = sum over relevant items ranked r < k (0-based) of 1 / log2(r + 2);
    it is divided by the best possible DCG (all relevant items first).
    """
    scores, relevant = _ranking(scores, relevant, k)
    ranks = candidate_ranks(scores)
    gains = np.where(relevant & (ranks < k), 1.0 / np.log2(ranks + 2.0), 0.0).sum(axis=1)  # [U]
    n_rel = np.minimum(relevant.sum(axis=1), k)  # [U]
    discounts = 1.0 / np.log2(np.arange(k) + 2.0)  # [k]
    ideal = np.cumsum(discounts)[np.maximum(n_rel - 1, 0)] * (n_rel > 0)
    has = n_rel > 0
    if not has.any():
        raise ValueError("no user has a relevant candidate: NDCG is undefined.")
    return float((gains[has] / ideal[has]).mean())


def ranking_report(scores, relevant, k: int = 10) -> dict[str, float]:
    """``{"hr": HR@k, "ndcg": NDCG@k, "precision": precision@k}`` in one call. Notebook 15."""
    return {
        "hr": hit_rate_at_k(scores, relevant, k),
        "ndcg": ndcg_at_k(scores, relevant, k),
        "precision": precision_at_k(scores, relevant, k),
    }
