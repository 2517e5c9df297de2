"""Neighbourhood collaborative filtering: predict from similar users or items (notebook 14).

User-based CF predicts user ``u``'s rating of item ``i`` from the ``k`` users most
similar to ``u`` among those who rated ``i``:

    r_hat(u, i) = m_u + sum_v s(u, v) (r_vi - m_v) / sum_v |s(u, v)|

with ``m_u`` the user's mean rating. Item-based CF is the same on the
transposed matrix. Similarities are cosine or Pearson over co-rated items.

With a ``baseline`` (biases ``b_ui = mu + b_u + b_i`` from ``fit_biases``) the
neighbours average residuals instead (Koren 2010's "KNN with baselines"):

    r_hat(u, i) = b_ui + sum_v s(u, v) (r_vi - b_vi) / sum_v |s(u, v)|
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab.recsys._data import Interactions, check_interactions, rating_matrix
from leptonlab.recsys._mf import MFParams, mf_predict

SIMILARITIES = ("cosine", "pearson")
KINDS = ("user", "item")


def similarity_matrix(R, mask, *, kind: str = "pearson", shrinkage: float = 0.0) -> jax.Array:
    """``[U, U] float32`` similarity between the rows of ``R: [U, I]`` over co-rated columns.

    ``mask: [U, I] bool`` marks observed entries. ``"cosine"``: the cosine of the
    raw rating vectors (unobserved = 0). ``"pearson"``: the correlation over the
    items both rated, each user centred by their own mean. ``shrinkage`` > 0
    multiplies by ``n / (n + shrinkage)`` (n = co-rated items), damping
    similarities that rest on a handful of items. The diagonal is set to 0.

    Introduced in notebook 14.
    """
    if kind not in SIMILARITIES:
        raise ValueError(f"unknown similarity {kind!r}; choose one of {SIMILARITIES}.")
    R = jnp.asarray(R, jnp.float32)
    M = jnp.asarray(mask, jnp.float32)
    if R.ndim != 2 or R.shape != M.shape:
        raise ValueError(
            f"R and mask must be [U, I] of the same shape, got {R.shape} and {M.shape}."
        )
    if shrinkage < 0:
        raise ValueError(f"shrinkage must be >= 0, got {shrinkage}.")
    return _similarity(R * M, M, kind == "pearson", float(shrinkage))


@jax.jit(static_argnames=("pearson", "shrinkage"))
def _similarity(R, M, pearson, shrinkage):
    if pearson:
        mean = R.sum(1, keepdims=True) / jnp.maximum(M.sum(1, keepdims=True), 1.0)  # [U, 1]
        R = (R - mean) * M  # centred, 0 where unobserved
    num = R @ R.T  # [U, U], only co-rated items contribute
    if pearson:  # norms over the co-rated items only
        sq = R * R
        den = jnp.sqrt((sq @ M.T) * (M @ sq.T))
    else:
        norms = jnp.sqrt(jnp.sum(R * R, axis=1))
        den = norms[:, None] * norms[None, :]
    sim = jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)
    if shrinkage > 0:
        n = M @ M.T
        sim = sim * n / (n + shrinkage)
    return sim * (1.0 - jnp.eye(sim.shape[0]))


class NeighbourModel(NamedTuple):
    """A fitted neighbourhood model (``kind`` "user": rows are users; "item": rows are items)."""

    kind: str  # "user" or "item"
    k: int  # neighbours used per prediction
    R: (
        jax.Array
    )  # [rows, cols] float32 ratings (residuals r - b_ui with a baseline), 0 where unobserved
    mask: jax.Array  # [rows, cols] bool
    means: (
        jax.Array
    )  # [rows] float32 mean rating of each row (global mean if empty; 0 with a baseline)
    sim: jax.Array  # [rows, rows] float32
    baseline: MFParams | None = None  # rank-0 biases whose predictions the residuals are taken from


def fit_neighbours(
    train: Interactions,
    *,
    kind: str = "user",
    similarity: str = "pearson",
    k: int = 40,
    shrinkage: float = 0.0,
    baseline: MFParams | None = None,
) -> NeighbourModel:
    """Similarities of all users (``kind="user"``) or items (``"item"``) in ``train``. Notebook 14.

    ``baseline`` (e.g. ``fit_biases(train)``): work on the residuals ``r - b_ui``
    (similarities included) and predict ``b_ui`` plus the neighbours' weighted
    residual, instead of row means plus deviations.
    """
    train = check_interactions(train, "train")
    if baseline is not None:
        if not isinstance(baseline, MFParams):
            raise TypeError(
                f"baseline must be MFParams (from fit_biases), got {type(baseline).__name__}."
            )
        if (
            baseline.user_bias.shape[0] != train.n_users
            or baseline.item_bias.shape[0] != train.n_items
        ):
            raise ValueError(
                "baseline must be fitted on data indexed like train (same users= and items=)."
            )
        residual = train.rating - np.asarray(mf_predict(baseline, train.user, train.item))
        train = train._replace(rating=residual.astype(np.float32))
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; choose one of {KINDS}.")
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k must be a positive int (neighbours per prediction), got {k!r}.")
    R, mask = rating_matrix(train)
    if kind == "item":
        R, mask = R.T, mask.T
    counts = mask.sum(1)
    means = np.where(counts > 0, R.sum(1) / np.maximum(counts, 1), float(train.rating.mean()))
    if baseline is not None:
        means = np.zeros_like(means)  # residuals are already centred by the baseline
    sim = similarity_matrix(R, mask, kind=similarity, shrinkage=shrinkage)
    return NeighbourModel(
        kind=kind,
        k=int(k),
        R=jnp.asarray(R),
        mask=jnp.asarray(mask),
        means=jnp.asarray(means, jnp.float32),
        sim=sim,
        baseline=baseline,
    )


def predict_neighbours(model: NeighbourModel, users, items, *, batch_size: int = 2048) -> jax.Array:
    """``[N] float32`` predictions for ``users, items: [N]`` rows (clipped to 1..5). Notebook 14.

    A pair without any neighbour that rated the target falls back to the row's mean
    (to ``b_ui`` with a baseline).
    """
    if not isinstance(model, NeighbourModel):
        raise TypeError(
            f"model must be a NeighbourModel (from fit_neighbours), got {type(model).__name__}."
        )
    users, items = np.asarray(users), np.asarray(items)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(
            f"users and items must be [N] rows of the same length, got {users.shape} and {items.shape}."
        )
    rows, cols = (users, items) if model.kind == "user" else (items, users)
    if rows.size and (
        rows.min() < 0
        or rows.max() >= model.R.shape[0]
        or cols.min() < 0
        or cols.max() >= model.R.shape[1]
    ):
        raise ValueError(
            "a user or item row is out of range for this model: index test data with the same "
            "users= and items= as the training data."
        )
    k = min(model.k, model.R.shape[0] - 1)
    n = rows.size
    if n == 0:
        return jnp.zeros(0, jnp.float32)
    base = (
        model.means[rows] if model.baseline is None else mf_predict(model.baseline, users, items)
    )  # [N]
    # Pad to whole chunks (repeating row 0) so that every call has the same shape and compiles once.
    b = min(batch_size, n)
    pad = -n % b
    rows, cols = (
        np.concatenate([rows, np.repeat(rows[:1], pad)]),
        np.concatenate([cols, np.repeat(cols[:1], pad)]),
    )
    base = jnp.concatenate([base, jnp.repeat(base[:1], pad)])
    out = [
        _predict_chunk(
            model.R,
            model.mask,
            model.means,
            model.sim,
            jnp.asarray(rows[s : s + b]),
            jnp.asarray(cols[s : s + b]),
            base[s : s + b],
            k,
        )
        for s in range(0, rows.size, b)
    ]
    return jnp.concatenate(out)[:n]


@jax.jit(static_argnames="k")
def _predict_chunk(R, mask, means, sim, rows, cols, base, k):
    s = sim[rows]  # [B, rows] similarity of each query row to every other row
    rated = mask[:, cols].T  # [B, rows] which rows rated the target column
    s_masked = jnp.where(rated, s, -jnp.inf)
    top_s, top_idx = jax.lax.top_k(
        s_masked, k
    )  # [B, k]: the k most similar rows that rated the target
    valid = jnp.isfinite(top_s) & (top_s > 0)  # only positively similar neighbours
    w = jnp.where(valid, top_s, 0.0)
    dev = (
        R[top_idx, cols[:, None]] - means[top_idx]
    )  # [B, k] neighbours' deviations from their means
    num = jnp.sum(w * dev, axis=1)
    den = jnp.sum(jnp.abs(w), axis=1)
    pred = base + jnp.where(den > 0, num / jnp.where(den > 0, den, 1.0), 0.0)
    return jnp.clip(pred, 1.0, 5.0)
