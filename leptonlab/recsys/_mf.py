"""Biased matrix factorisation trained under ``jit`` (notebook 14).

The model predicts a rating as

    r_hat(u, i) = mu + b_u + b_i + p_u . q_i

with the global mean ``mu``, a bias per user and per item, and a ``rank``-dim
factor per user (``p_u``) and per item (``q_i``). Training minimises the mean over
ratings of the squared error plus, for each rating, an L2 penalty on the
parameters it touches (so a user with many ratings is regularised in proportion,
as in Funk's SGD). ``rank=0`` is the user/item-bias baseline.

Why not :func:`leptonlab.train.fit`: the parameters are four plain arrays, not an NNX
module, and by default every step uses every rating, so the whole run is one ``lax.scan``
over epochs (no batches, no host round trip per epoch) - full-batch by design.
"""

from __future__ import annotations

import dataclasses
import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from leptonlab.recsys._data import Interactions, check_interactions, check_train_val


@dataclasses.dataclass(frozen=True)
class MFConfig:
    """Hyperparameters of :func:`fit_mf`, each with its unit."""

    rank: int = 64  # latent dimensions per user and item (0 = biases only)
    epochs: int = 300  # passes over the ratings (full batch: one step each)
    batch_size: int | None = None  # ratings per step; None = full batch (every rating, every step)
    learning_rate: float = 0.02  # Adam step size
    l2: float = 0.05  # penalty on |p_u|^2 + |q_i|^2 per rating (stars^2 per unit^2)
    l2_bias: float = 0.005  # penalty on b_u^2 + b_i^2 per rating
    init_scale: float = 0.1  # std of the initial factors
    clip: tuple[float, float] | None = (
        1.0,
        5.0,
    )  # predictions clipped to the rating scale when evaluating
    l2_uniform: float = 0.0  # penalty on |P|^2 + |Q|^2 as a whole, per training rating on average

    def __post_init__(self):
        def need(ok, msg):
            if not ok:
                raise ValueError(msg)

        need(
            isinstance(self.rank, int) and self.rank >= 0,
            f"rank must be an int >= 0, got {self.rank!r}.",
        )
        need(
            isinstance(self.epochs, int) and self.epochs >= 1,
            f"epochs must be an int >= 1, got {self.epochs!r}.",
        )
        need(
            self.batch_size is None or (isinstance(self.batch_size, int) and self.batch_size >= 1),
            f"batch_size must be None (full batch) or an int >= 1, got {self.batch_size!r}.",
        )
        need(
            self.learning_rate > 0 and math.isfinite(self.learning_rate),
            f"learning_rate must be a positive number, got {self.learning_rate!r}.",
        )
        need(
            self.l2 >= 0 and self.l2_bias >= 0,
            f"l2 and l2_bias must be >= 0, got {self.l2!r}, {self.l2_bias!r}.",
        )
        need(self.init_scale >= 0, f"init_scale must be >= 0, got {self.init_scale!r}.")
        need(
            self.clip is None or (len(self.clip) == 2 and self.clip[0] < self.clip[1]),
            f"clip must be None or (low, high) with low < high, got {self.clip!r}.",
        )
        if self.clip is not None:
            object.__setattr__(
                self, "clip", (float(self.clip[0]), float(self.clip[1]))
            )  # hashable for jit


class MFParams(NamedTuple):
    """Parameters of biased MF (a pytree)."""

    mu: jax.Array  # [] float32, global mean rating
    user_bias: jax.Array  # [U] float32
    item_bias: jax.Array  # [I] float32
    user_factors: jax.Array  # [U, rank] float32
    item_factors: jax.Array  # [I, rank] float32


def init_mf(
    n_users: int,
    n_items: int,
    rank: int,
    *,
    key: jax.Array,
    mu: float = 0.0,
    init_scale: float = 0.1,
) -> MFParams:
    """Zero biases and ``N(0, init_scale^2)`` factors. Introduced in notebook 14."""
    for name, v in (("n_users", n_users), ("n_items", n_items)):
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}.")
    if not isinstance(rank, (int, np.integer)) or rank < 0:
        raise ValueError(f"rank must be an int >= 0, got {rank!r}.")
    ku, ki = jax.random.split(key)
    return MFParams(
        mu=jnp.asarray(mu, jnp.float32),
        user_bias=jnp.zeros(n_users),
        item_bias=jnp.zeros(n_items),
        user_factors=init_scale * jax.random.normal(ku, (n_users, rank)),
        item_factors=init_scale * jax.random.normal(ki, (n_items, rank)),
    )


def mf_predict(params: MFParams, users, items) -> jax.Array:
    """``r_hat = mu + b_u + b_i + p_u . q_i`` for ``users, items: [N] int`` rows; ``[N] float32``."""
    users, items = jnp.asarray(users), jnp.asarray(items)
    if users.shape != items.shape or users.ndim != 1:
        raise ValueError(
            f"users and items must be [N] rows of the same length, got {users.shape} and {items.shape}."
        )
    return _predict(params, users, items)


@jax.jit
def _predict(params: MFParams, users: jax.Array, items: jax.Array) -> jax.Array:
    dot = jnp.sum(params.user_factors[users] * params.item_factors[items], axis=-1)  # [N]
    return params.mu + params.user_bias[users] + params.item_bias[items] + dot


def mf_loss(
    params: MFParams,
    users: jax.Array,
    items: jax.Array,
    ratings: jax.Array,
    l2: float,
    l2_bias: float,
    l2_uniform: float = 0.0,
    n_train: int = 1,
) -> jax.Array:
    """Mean over the batch of squared error + per-rating L2 penalty, + a uniform L2 term (a scalar).

    ``users, items, ratings: [B]``. The uniform term is ``l2_uniform * (|P|^2 +
    |Q|^2) / n_train``: every factor pays the same, so rarely rated users and
    items are shrunk harder relative to their few ratings.
    """
    p, q = params.user_factors[users], params.item_factors[items]  # [B, rank]
    bu, bi = params.user_bias[users], params.item_bias[items]  # [B]
    err = params.mu + bu + bi + jnp.sum(p * q, axis=-1) - ratings  # [B]
    penalty = l2 * (jnp.sum(p * p, -1) + jnp.sum(q * q, -1)) + l2_bias * (bu * bu + bi * bi)  # [B]
    uniform = (
        l2_uniform * (jnp.sum(params.user_factors**2) + jnp.sum(params.item_factors**2)) / n_train
    )
    return jnp.mean(err * err + penalty) + uniform


class MFHistory(NamedTuple):
    """Per-epoch curves of :func:`fit_mf` (NumPy)."""

    train_loss: np.ndarray  # [epochs] mean regularised loss of the epoch's steps
    val_rmse: np.ndarray  # [epochs] RMSE on val data after each epoch (empty without val data)
    seconds: float  # wall time of the training, compilation included


def _val_rmse(params, val, clip):
    pred = _predict(params, val[0], val[1])
    if clip is not None:
        pred = jnp.clip(pred, clip[0], clip[1])
    return jnp.sqrt(jnp.mean(jnp.square(pred - val[2])))


def _hyper(config: MFConfig) -> jax.Array:
    """The continuous hyperparameters as one traced ``[4]`` array: changing them does not recompile."""
    return jnp.array(
        [config.learning_rate, config.l2, config.l2_bias, config.l2_uniform], jnp.float32
    )


def _step(params, opt_state, batch, hyper, n_train):
    tx = optax.adam(hyper[0])
    loss, grads = jax.value_and_grad(mf_loss)(params, *batch, hyper[1], hyper[2], hyper[3], n_train)
    grads = grads._replace(mu=jnp.zeros_like(grads.mu))  # mu is fixed to the training mean
    updates, opt_state = tx.update(grads, opt_state, params)
    return optax.apply_updates(params, updates), opt_state, loss


@jax.jit(static_argnames=("epochs", "clip"), donate_argnames=("params", "opt_state"))
def _full_batch_epochs(params, opt_state, train, val, hyper, epochs, clip):
    """All epochs of full-batch descent as one scan: ``train``/``val`` are (users, items, ratings) ``[N]``."""

    def body(carry, _):
        params, opt_state = carry
        params, opt_state, loss = _step(params, opt_state, train, hyper, train[0].shape[0])
        return (params, opt_state), (loss, _val_rmse(params, val, clip))

    (params, opt_state), (losses, vals) = jax.lax.scan(
        body, (params, opt_state), None, length=epochs
    )
    return params, opt_state, losses, vals


@jax.jit(static_argnames="clip", donate_argnames=("params", "opt_state"))
def _minibatch_epoch(params, opt_state, train, val, idx, hyper, clip):
    """One epoch: a scan over the batches ``idx: [S, B]`` of rows of ``train``."""

    def body(carry, rows):
        params, opt_state = carry
        batch = tuple(a[rows] for a in train)  # each [B]
        params, opt_state, loss = _step(params, opt_state, batch, hyper, train[0].shape[0])
        return (params, opt_state), loss

    (params, opt_state), losses = jax.lax.scan(body, (params, opt_state), idx)
    return params, opt_state, losses.mean(), _val_rmse(params, val, clip)


def device_arrays(data: Interactions):
    return (jnp.asarray(data.user), jnp.asarray(data.item), jnp.asarray(data.rating, jnp.float32))


def fit_mf(
    train: Interactions,
    config: MFConfig = MFConfig(),
    *,
    key: jax.Array,
    val: Interactions | None = None,
) -> tuple[MFParams, MFHistory]:
    """Train biased MF on ``train`` with Adam; returns ``(params, history)``.

    Full batch (``config.batch_size=None``): every step uses every rating, and the
    whole run is one compiled ``lax.scan``. Mini-batch: each epoch shuffles the
    ratings with a key split from ``key`` and scans over ``N // batch_size``
    batches. ``mu`` is the training mean and stays fixed. With ``val`` the RMSE
    on it is recorded after every epoch (it never influences training).

    Introduced in notebook 14.
    """
    train, val = check_train_val(train, val)
    if not isinstance(config, MFConfig):
        raise TypeError(f"config must be an MFConfig, got {type(config).__name__}.")
    start = time.perf_counter()
    init_key, shuffle_key = jax.random.split(key)
    params = init_mf(
        train.n_users,
        train.n_items,
        config.rank,
        key=init_key,
        mu=float(np.mean(train.rating)),
        init_scale=config.init_scale,
    )
    opt_state = optax.adam(config.learning_rate).init(params)
    tr = device_arrays(train)
    va = device_arrays(val) if val is not None else tuple(a[:1] for a in tr)
    if config.batch_size is None or config.batch_size >= train.n_ratings:
        params, _, losses, vals = _full_batch_epochs(
            params, opt_state, tr, va, _hyper(config), config.epochs, config.clip
        )
        losses, vals = np.asarray(losses), np.asarray(vals)
    else:
        n, b = train.n_ratings, config.batch_size
        steps = n // b
        losses, vals = [], []
        for epoch in range(config.epochs):
            perm = jax.random.permutation(jax.random.fold_in(shuffle_key, epoch), n)[: steps * b]
            params, opt_state, loss, v = _minibatch_epoch(
                params, opt_state, tr, va, perm.reshape(steps, b), _hyper(config), config.clip
            )
            losses.append(loss)
            vals.append(v)
        losses, vals = np.asarray(jnp.stack(losses)), np.asarray(jnp.stack(vals))
    jax.block_until_ready(params)
    history = MFHistory(
        train_loss=losses,
        val_rmse=vals if val is not None else np.zeros(0, np.float32),
        seconds=time.perf_counter() - start,
    )
    return params, history


def evaluate_mf(
    params: MFParams, data: Interactions, *, clip: tuple[float, float] | None = (1.0, 5.0)
) -> dict:
    """``{"rmse": ..., "mae": ...}`` of ``params`` on ``data``, predictions clipped to ``clip``. Notebook 14."""
    from leptonlab.recsys._metrics import mae, rmse

    data = check_interactions(data)
    if not isinstance(params, MFParams):
        raise TypeError(f"params must be MFParams (from fit_mf), got {type(params).__name__}.")
    if data.n_users != params.user_bias.shape[0] or data.n_items != params.item_bias.shape[0]:
        raise ValueError(
            f"data is indexed for {data.n_users} users and {data.n_items} items but the model has "
            f"{params.user_bias.shape[0]} and {params.item_bias.shape[0]}: index both with the same "
            "users= and items=."
        )
    pred = mf_predict(params, data.user, data.item)
    if clip is not None:
        pred = jnp.clip(pred, clip[0], clip[1])
    return {"rmse": rmse(pred, data.rating), "mae": mae(pred, data.rating)}


def global_mean_baseline(train: Interactions) -> MFParams:
    """The constant predictor ``r_hat = mean training rating`` as MFParams of rank 0. Notebook 14."""
    train = check_interactions(train, "train")
    return MFParams(
        mu=jnp.asarray(np.mean(train.rating), jnp.float32),
        user_bias=jnp.zeros(train.n_users),
        item_bias=jnp.zeros(train.n_items),
        user_factors=jnp.zeros((train.n_users, 0)),
        item_factors=jnp.zeros((train.n_items, 0)),
    )


def fit_biases(
    train: Interactions, *, reg_item: float = 5.0, reg_user: float = 5.0, sweeps: int = 10
) -> MFParams:
    """The user/item-bias baseline ``mu + b_u + b_i`` by alternating shrunken means. Notebook 14.

    ``b_i = sum(r - mu - b_u) / (reg_item + n_i)`` then ``b_u = sum(r - mu - b_i) /
    (reg_user + n_u)``, repeated ``sweeps`` times (Koren 2010's baseline
    predictor; ``reg`` counts as that many pseudo-ratings at the mean).
    """
    train = check_interactions(train, "train")
    if reg_item < 0 or reg_user < 0 or not isinstance(sweeps, int) or sweeps < 1:
        raise ValueError(
            f"reg_item and reg_user must be >= 0 and sweeps an int >= 1, got {reg_item}, {reg_user}, {sweeps}."
        )
    u, i, r = train.user, train.item, train.rating.astype(np.float64)
    mu = r.mean()
    bu, bi = np.zeros(train.n_users), np.zeros(train.n_items)
    n_u = np.bincount(u, minlength=train.n_users)
    n_i = np.bincount(i, minlength=train.n_items)
    for _ in range(sweeps):
        bi = np.bincount(i, r - mu - bu[u], minlength=train.n_items) / (reg_item + n_i)
        bu = np.bincount(u, r - mu - bi[i], minlength=train.n_users) / (reg_user + n_u)
    return MFParams(
        mu=jnp.asarray(mu, jnp.float32),
        user_bias=jnp.asarray(bu, jnp.float32),
        item_bias=jnp.asarray(bi, jnp.float32),
        user_factors=jnp.zeros((train.n_users, 0)),
        item_factors=jnp.zeros((train.n_items, 0)),
    )
