"""Neural recommenders for implicit feedback, trained with negative sampling (notebook 15).

Both models map a batch of ``(user, item)`` row pairs ``x: [B, 2] int32`` to a
logit ``[B]``: how likely the user interacts with the item. They train with
:func:`leptonlab.train.fit` and the loss from :func:`negative_sampling_loss`,
which pairs every observed interaction with ``n`` items drawn uniformly at
random (inside the jitted step, from the step's key) as presumed negatives.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx


def _check_sizes(n_users, n_items, dim):
    for name, v in (("n_users", n_users), ("n_items", n_items), ("dim", dim)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 1:
            raise ValueError(f"{name} must be a positive int, got {v!r}.")


def _check_pairs(x: jax.Array) -> jax.Array:
    if x.ndim != 2 or x.shape[1] != 2:
        raise ValueError(f"expected (user, item) pairs [B, 2], got shape {x.shape}.")
    return x.astype(jnp.int32)


class NCF(nnx.Module):
    """Neural collaborative filtering (He et al. 2017, NeuMF): GMF and an MLP side by side.

    The GMF branch multiplies a user and an item embedding elementwise; the MLP
    branch concatenates two other embeddings and passes them through ``hidden``
    ReLU layers; a linear layer on both outputs gives the logit.
    ``x: [B, 2] int32 -> [B]`` logits. Introduced in notebook 15.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        dim: int = 32,
        hidden: Sequence[int] = (64, 32),
        *,
        rngs: nnx.Rngs,
    ):
        _check_sizes(n_users, n_items, dim)
        if any(not isinstance(h, int) or h < 1 for h in hidden):
            raise ValueError(f"hidden widths must be positive ints, got {list(hidden)!r}.")
        self.n_users, self.n_items = int(n_users), int(n_items)
        init = nnx.initializers.normal(0.05)
        self.user_gmf = nnx.Embed(n_users, dim, embedding_init=init, rngs=rngs)
        self.item_gmf = nnx.Embed(n_items, dim, embedding_init=init, rngs=rngs)
        self.user_mlp = nnx.Embed(n_users, dim, embedding_init=init, rngs=rngs)
        self.item_mlp = nnx.Embed(n_items, dim, embedding_init=init, rngs=rngs)
        widths = [2 * dim, *hidden]
        self.layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])]
        )
        self.out = nnx.Linear(dim + widths[-1], 1, rngs=rngs)

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        x = _check_pairs(x)
        u, i = x[:, 0], x[:, 1]
        gmf = self.user_gmf(u) * self.item_gmf(i)  # [B, dim]
        h = jnp.concatenate([self.user_mlp(u), self.item_mlp(i)], axis=-1)  # [B, 2 dim]
        for layer in self.layers:
            h = nnx.relu(layer(h))  # [B, width]
        return self.out(jnp.concatenate([gmf, h], axis=-1))[:, 0]  # [B]


class TwoTower(nnx.Module):
    """A two-tower model whose towers also read genres, so it can score a new user.

    user vector = E_user[u] + W_u g_u, item vector = E_item[i] + W_i g_i, logit =
    <user, item> + b_i, where ``g_i: [G]`` are the item's genre flags and ``g_u``
    the user's genre profile (the mean genre flags of the items they interacted
    with). Row ``n_users`` of ``E_user`` is reserved for "unknown user"; in
    training mode each user id is replaced by it with probability
    ``id_dropout``, so that the genre path alone learns to stand in for a new
    user. ``x: [B, 2] int32 -> [B]`` logits. Introduced in notebook 15.
    """

    def __init__(
        self,
        n_users: int,
        n_items: int,
        item_genres,
        user_genres,
        dim: int = 32,
        *,
        id_dropout: float = 0.2,
        rngs: nnx.Rngs,
    ):
        _check_sizes(n_users, n_items, dim)
        item_genres = jnp.asarray(item_genres, jnp.float32)
        user_genres = jnp.asarray(user_genres, jnp.float32)
        if item_genres.ndim != 2 or item_genres.shape[0] != n_items:
            raise ValueError(
                f"item_genres must be [n_items={n_items}, G], got {item_genres.shape}."
            )
        if user_genres.shape != (n_users, item_genres.shape[1]):
            raise ValueError(
                f"user_genres must be [n_users={n_users}, G={item_genres.shape[1]}], got {user_genres.shape}."
            )
        if not 0 <= id_dropout < 1:
            raise ValueError(f"id_dropout must be in [0, 1), got {id_dropout!r}.")
        self.n_users, self.n_items, self.id_dropout = int(n_users), int(n_items), float(id_dropout)
        self.deterministic = False  # nnx's model.train()/eval() set this
        g = item_genres.shape[1]
        init = nnx.initializers.normal(0.05)
        self.item_genres = nnx.Variable(item_genres)  # [I, G] constant features
        self.user_genres = nnx.Variable(user_genres)  # [U, G] constant features
        self.user_emb = nnx.Embed(n_users + 1, dim, embedding_init=init, rngs=rngs)
        self.item_emb = nnx.Embed(n_items, dim, embedding_init=init, rngs=rngs)
        self.user_genre_proj = nnx.Linear(g, dim, use_bias=False, rngs=rngs)
        self.item_genre_proj = nnx.Linear(g, dim, use_bias=False, rngs=rngs)
        self.item_bias = nnx.Param(jnp.zeros(n_items))

    def user_vectors(self, users: jax.Array, profiles: jax.Array) -> jax.Array:
        """``[B, dim]`` from user rows ``[B]`` (``n_users`` = unknown) and genre profiles ``[B, G]``."""
        return self.user_emb(users) + self.user_genre_proj(profiles)

    def item_vectors(self) -> jax.Array:
        """``[I, dim]`` every item's vector."""
        return self.item_emb(jnp.arange(self.n_items)) + self.item_genre_proj(self.item_genres[...])

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        x = _check_pairs(x)
        u, i = x[:, 0], x[:, 1]
        profiles = self.user_genres[...][u]  # [B, G]
        if not self.deterministic and rngs is not None and self.id_dropout > 0:
            drop = jax.random.bernoulli(rngs, self.id_dropout, u.shape)
            u = jnp.where(drop, self.n_users, u)  # forget who this is: the genre path must carry it
        user = self.user_vectors(u, profiles)  # [B, dim]
        item = self.item_emb(i) + self.item_genre_proj(self.item_genres[...][i])  # [B, dim]
        return jnp.sum(user * item, axis=-1) + self.item_bias[...][i]  # [B]

    def cold_start_scores(self, profiles, items) -> jax.Array:
        """``[U, C]`` logits of candidate ``items: [U, C]`` for users known only by genre ``profiles: [U, G]``.

        Every user gets the "unknown user" embedding, so only the genre path
        tells them apart: this is how a brand-new user would be scored.
        """
        profiles, items = jnp.asarray(profiles, jnp.float32), jnp.asarray(items)
        if profiles.ndim != 2 or profiles.shape[1] != self.item_genres.shape[1]:
            raise ValueError(
                f"profiles must be [U, G={self.item_genres.shape[1]}], got {profiles.shape}."
            )
        if items.ndim != 2 or items.shape[0] != profiles.shape[0]:
            raise ValueError(
                f"items must be [U={profiles.shape[0]}, C] candidate rows, got {items.shape}."
            )
        user = self.user_vectors(jnp.full(profiles.shape[0], self.n_users), profiles)  # [U, dim]
        item = self.item_vectors()[items]  # [U, C, dim]
        return jnp.einsum("ud,ucd->uc", user, item) + self.item_bias[...][items]

    def new_user_scores(self, profile) -> jax.Array:
        """``[I]`` logits of every item for a user the model has never seen, from a genre profile ``[G]``."""
        profile = jnp.asarray(profile, jnp.float32)
        if profile.shape != (self.item_genres.shape[1],):
            raise ValueError(
                f"profile must be [G={self.item_genres.shape[1]}] genre weights, got {profile.shape}."
            )
        user = self.user_vectors(jnp.array([self.n_users]), profile[None])  # [1, dim]
        return (self.item_vectors() @ user[0]) + self.item_bias[...]  # [I]


def user_genre_profiles(seen, item_genres) -> np.ndarray:
    """``[U, G] float32``: each user's mean genre flags over the items they interacted with. Notebook 15."""
    seen = np.asarray(seen, np.float32)
    item_genres = np.asarray(item_genres, np.float32)
    if seen.ndim != 2 or item_genres.ndim != 2 or seen.shape[1] != item_genres.shape[0]:
        raise ValueError(
            f"seen must be [U, I] and item_genres [I, G], got {seen.shape} and {item_genres.shape}."
        )
    counts = seen.sum(1, keepdims=True)
    return (seen @ item_genres) / np.maximum(counts, 1.0)


@functools.cache
def negative_sampling_loss(n_negatives: int = 4) -> Callable:
    """A loss for :func:`leptonlab.train.fit` on positive pairs, with ``n_negatives`` sampled per positive.

    The returned ``loss_fn(model, batch, key)`` takes ``batch = (x: [B, 2]
    positive (user, item) pairs, y: [B] ignored)``, draws ``[B, n_negatives]``
    items uniformly from ``model.n_items`` with ``key`` (an occasional draw is in
    fact a positive: with ~6% density this label noise is small), and returns the
    mean binary cross-entropy over positives (label 1) and negatives (label 0),
    with per-example metric ``loss``. The same ``n_negatives`` gives the same
    function object, so ``fit`` compiles once. Introduced in notebook 15.
    """
    if not isinstance(n_negatives, int) or n_negatives < 1:
        raise ValueError(f"n_negatives must be a positive int, got {n_negatives!r}.")

    def loss_fn(model, batch, key):
        x, _ = batch
        x = x.astype(jnp.int32)  # [B, 2]
        k_neg, k_model = jax.random.split(key)
        neg = jax.random.randint(k_neg, (x.shape[0], n_negatives), 0, model.n_items)  # [B, n]
        users = jnp.repeat(x[:, :1], n_negatives, axis=1)  # [B, n]
        pairs = jnp.concatenate(
            [x, jnp.stack([users, neg], axis=-1).reshape(-1, 2)]
        )  # [B (1 + n), 2]
        labels = jnp.concatenate([jnp.ones(x.shape[0]), jnp.zeros(x.shape[0] * n_negatives)])
        logits = model(pairs, rngs=k_model)  # [B (1 + n)]
        losses = optax.sigmoid_binary_cross_entropy(logits, labels)
        per_example = losses[: x.shape[0]] + losses[x.shape[0] :].reshape(
            x.shape[0], n_negatives
        ).sum(1)
        return losses.mean(), {"loss": per_example / (1 + n_negatives)}

    loss_fn.__name__ = f"negative_sampling_loss_{n_negatives}"
    return loss_fn


def score_pairs(model: nnx.Module, users, items, *, batch_size: int = 65536) -> np.ndarray:
    """Logits of ``model`` (in evaluation mode) for ``users: [U]`` x candidate ``items: [U, C]`` -> ``[U, C]``."""
    users, items = np.asarray(users), np.asarray(items)
    if users.ndim != 1 or items.ndim != 2 or items.shape[0] != users.shape[0]:
        raise ValueError(
            f"users must be [U] and items [U, C], got {users.shape} and {items.shape}."
        )
    pairs = (
        np.stack([np.repeat(users[:, None], items.shape[1], 1), items], -1)
        .reshape(-1, 2)
        .astype(np.int32)
    )
    model.eval()
    graphdef, state = nnx.split(model)
    out = [
        np.asarray(_score(graphdef, state, jnp.asarray(pairs[s : s + batch_size])))
        for s in range(0, pairs.shape[0], batch_size)
    ]
    model.train()
    return np.concatenate(out).reshape(items.shape)


@jax.jit(static_argnames="graphdef")
def _score(graphdef, state, pairs):
    return nnx.merge(graphdef, state)(pairs)
