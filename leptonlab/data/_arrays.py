"""Turning loaded arrays into model inputs: scaling, standardising, splitting (notebook 06)."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np


def to_float(images: np.ndarray) -> jax.Array:
    """uint8 pixels ``[N, ...]`` in 0..255 as float32 in [0, 1] on the default device."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(
            f"to_float expects uint8 pixels (0..255), got {images.dtype}; "
            "floats are probably scaled already."
        )
    return jnp.asarray(images, jnp.float32) / 255.0


class Standardizer(NamedTuple):
    """Per-channel mean and standard deviation, computed on training data only."""

    mean: jax.Array  # [C] or []
    std: jax.Array  # [C] or [], > 0

    def __call__(self, x: jax.Array) -> jax.Array:
        """``(x - mean) / std`` (channels last); explicit broadcasting, so it also runs under
        ``jax_numpy_rank_promotion="raise"``."""
        x = jnp.asarray(x)
        lead = (1,) * (x.ndim - jnp.ndim(self.mean))  # [C] -> [1, 1, 1, C] for x [N, H, W, C]
        mean = jnp.reshape(self.mean, lead + jnp.shape(self.mean))
        return (x - mean) / jnp.reshape(self.std, lead + jnp.shape(self.std))


def fit_standardizer(x: jax.Array, *, per_channel: bool = False) -> Standardizer:
    """Mean and std of training data ``x: [N, H, W(, C)]`` (per channel when ``per_channel``).

    Fit it on the training split and apply it to every split: statistics of the
    validation or test data must not leak into training.
    """
    x = jnp.asarray(x, jnp.float32)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(
            f"need at least two examples [N, ...] to standardise, got shape {x.shape}."
        )
    axes = tuple(range(x.ndim - 1)) if per_channel else tuple(range(x.ndim))
    mean, std = x.mean(axis=axes), x.std(axis=axes)
    return Standardizer(mean, jnp.maximum(std, 1e-6))


class Split(NamedTuple):
    """Index arrays of a train/validation split."""

    train: np.ndarray  # [N_train] int
    val: np.ndarray  # [N_val] int


def train_val_split(
    n: int, *, val_fraction: float, key: jax.Array, stratify: np.ndarray | None = None
) -> Split:
    """Shuffle ``range(n)`` with ``key`` and cut off ``val_fraction`` for validation.

    With ``stratify`` (labels ``[n]``) each class is split in the same proportion.
    Same key, same split.
    """
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}.")
    if n < 2:
        raise ValueError(f"need at least 2 examples to split, got {n}.")
    if stratify is None:
        order = np.asarray(jax.random.permutation(key, n))
        n_val = max(1, round(n * val_fraction))
        return Split(np.sort(order[n_val:]), np.sort(order[:n_val]))
    labels = np.asarray(stratify)
    if labels.shape != (n,):
        raise ValueError(
            f"stratify must hold one label per example, shape ({n},), got {labels.shape}."
        )
    order = np.asarray(
        jax.random.permutation(key, n)
    )  # one shuffle (one compiled program for any labels)
    order = order[
        np.argsort(labels[order], kind="stable")
    ]  # grouped by class, shuffled within each class
    train, val = [], []
    for c in np.unique(labels):
        members = order[labels[order] == c]
        n_val = round(len(members) * val_fraction)
        val.append(members[:n_val])
        train.append(members[n_val:])
    return Split(np.sort(np.concatenate(train)), np.sort(np.concatenate(val)))
