"""SVD++: biased matrix factorisation plus implicit feedback (notebook 14).

Koren (2008) adds to each user's factor what the *set* of items they rated
says about them, whatever the stars:

    r_hat(u, i) = mu + b_u + b_i + q_i . (p_u + |N(u)|^(-1/2) sum_{j in N(u)} y_j)

with ``N(u)`` the items ``u`` rated in the training data and one more vector
``y_j`` per item. Trained here by full-batch Adam like :func:`fit_mf`; the loss
adds to the biased-MF loss a per-rating penalty ``l2_implicit * |y_i|^2`` on the
rated item's implicit vector (and ``y`` shares the uniform ``l2_uniform`` term).

Once trained the bracket is just a user vector, so :func:`fit_svdpp` returns
ordinary :class:`MFParams` whose ``user_factors`` hold ``p_u + |N(u)|^(-1/2)
sum_j y_j``: ``mf_predict``, ``evaluate_mf``, ``mf_scores`` and ``Recommender``
work on it unchanged (for the users and ratings of that training set).
"""

from __future__ import annotations

import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from leptonlab.recsys._data import Interactions, check_interactions, check_train_val
from leptonlab.recsys._mf import MFConfig, MFHistory, MFParams, device_arrays, init_mf


class _SVDppParams(NamedTuple):
    mf: MFParams  # biases, p_u [U, rank], q_i [I, rank]
    implicit: jax.Array  # [I, rank] y_j


def implicit_matrix(train: Interactions) -> jax.Array:
    """``[n_users, n_items] float32``: ``|N(u)|^(-1/2)`` where ``u`` rated the item in ``train``, else 0.

    Row ``u`` times ``Y: [n_items, rank]`` is ``|N(u)|^(-1/2) sum_{j in N(u)} y_j``.
    A user without training ratings gets a zero row. Introduced in notebook 14.
    """
    train = check_interactions(train, "train")
    seen = np.zeros((train.n_users, train.n_items), np.float32)
    seen[train.user, train.item] = 1.0
    counts = seen.sum(axis=1, keepdims=True)  # [U, 1] |N(u)|
    return jnp.asarray(seen / np.sqrt(np.maximum(counts, 1.0)))


def _user_vectors(params: _SVDppParams, N: jax.Array) -> jax.Array:
    return params.mf.user_factors + N @ params.implicit  # [U, rank]


def svdpp_loss(params: _SVDppParams, N, users, items, ratings, hyper, n_train) -> jax.Array:
    """Mean over the ratings ``[B]`` of squared error + per-rating penalties, + the uniform term (a scalar).

    ``hyper = [lr, l2, l2_bias, l2_uniform, l2_implicit]``.
    """
    mf = params.mf
    z = _user_vectors(params, N)[users]  # [B, rank]
    q, y = mf.item_factors[items], params.implicit[items]  # [B, rank]
    p = mf.user_factors[users]
    bu, bi = mf.user_bias[users], mf.item_bias[items]
    err = mf.mu + bu + bi + jnp.sum(z * q, axis=-1) - ratings  # [B]
    penalty = (
        hyper[1] * (jnp.sum(p * p, -1) + jnp.sum(q * q, -1))
        + hyper[2] * (bu * bu + bi * bi)
        + hyper[4] * jnp.sum(y * y, -1)
    )  # [B]
    uniform = (
        hyper[3]
        * (jnp.sum(mf.user_factors**2) + jnp.sum(mf.item_factors**2) + jnp.sum(params.implicit**2))
        / n_train
    )
    return jnp.mean(err * err + penalty) + uniform


@jax.jit(static_argnames=("epochs", "clip"), donate_argnames="params")
def _train(params, N, train, val, hyper, epochs, clip):
    tx = optax.adam(hyper[0])
    n_train = train[0].shape[0]

    def body(carry, _):
        params, opt_state = carry
        loss, grads = jax.value_and_grad(svdpp_loss)(params, N, *train, hyper, n_train)
        grads = grads._replace(
            mf=grads.mf._replace(mu=jnp.zeros_like(grads.mf.mu))
        )  # mu stays the training mean
        updates, opt_state = tx.update(grads, opt_state, params)
        params = optax.apply_updates(params, updates)
        z = _user_vectors(params, N)
        pred = (
            params.mf.mu
            + params.mf.user_bias[val[0]]
            + params.mf.item_bias[val[1]]
            + jnp.sum(z[val[0]] * params.mf.item_factors[val[1]], -1)
        )
        if clip is not None:
            pred = jnp.clip(pred, clip[0], clip[1])
        return (params, opt_state), (loss, jnp.sqrt(jnp.mean(jnp.square(pred - val[2]))))

    (params, _), (losses, vals) = jax.lax.scan(body, (params, tx.init(params)), None, length=epochs)
    return params, losses, vals


def fit_svdpp(
    train: Interactions,
    config: MFConfig = MFConfig(),
    *,
    key: jax.Array,
    l2_implicit: float = 0.7,
    val: Interactions | None = None,
) -> tuple[MFParams, MFHistory]:
    """Train SVD++ on ``train`` by full-batch Adam; returns ``(params, history)`` like :func:`fit_mf`.

    ``config`` supplies rank, epochs, learning rate, ``l2``, ``l2_bias``,
    ``l2_uniform``, ``init_scale`` and ``clip`` (``batch_size`` must be None);
    ``l2_implicit`` is the per-rating penalty on the implicit vectors ``y``. With
    ``val`` the clipped RMSE on it is recorded after every step (it never
    influences training: pick the step count from it, then refit). The returned
    ``user_factors`` already include the implicit sum (see the module docstring).

    Introduced in notebook 14.
    """
    train, val = check_train_val(train, val)
    if not isinstance(config, MFConfig):
        raise TypeError(f"config must be an MFConfig, got {type(config).__name__}.")
    if config.batch_size is not None:
        raise ValueError("fit_svdpp trains full batch only: pass an MFConfig with batch_size=None.")
    if not (l2_implicit >= 0 and np.isfinite(l2_implicit)):
        raise ValueError(f"l2_implicit must be a finite number >= 0, got {l2_implicit!r}.")
    start = time.perf_counter()
    k_mf, k_y = jax.random.split(key)
    mf = init_mf(
        train.n_users,
        train.n_items,
        config.rank,
        key=k_mf,
        mu=float(np.mean(train.rating)),
        init_scale=config.init_scale,
    )
    params = _SVDppParams(
        mf=mf, implicit=config.init_scale * jax.random.normal(k_y, (train.n_items, config.rank))
    )
    N = implicit_matrix(train)
    tr = device_arrays(train)
    va = device_arrays(val) if val is not None else tuple(a[:1] for a in tr)
    hyper = jnp.array(
        [config.learning_rate, config.l2, config.l2_bias, config.l2_uniform, l2_implicit],
        jnp.float32,
    )
    params, losses, vals = _train(params, N, tr, va, hyper, config.epochs, config.clip)
    out = params.mf._replace(user_factors=_user_vectors(params, N))
    jax.block_until_ready(out)
    history = MFHistory(
        train_loss=np.asarray(losses),
        val_rmse=np.asarray(vals) if val is not None else np.zeros(0, np.float32),
        seconds=time.perf_counter() - start,
    )
    return out, history
