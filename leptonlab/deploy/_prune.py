"""Magnitude pruning (notebook 21).

Pruning sets the smallest weights to zero. A *mask* (1 = keep, 0 = pruned) per
parameter array records which weights were removed, so that fine-tuning can keep
them at zero: :func:`keep_pruned` is an optax transformation that zeroes the updates
of pruned weights, and :func:`fit_pruned` trains with it.

Only weight matrices and convolution kernels (arrays with 2 or more axes) are
pruned; biases and normalisation scales (1 axis) are few and always kept.
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import optax
from flax import nnx

from leptonlab.train import (
    Batch,
    LossFn,
    TrainConfig,
    TrainState,
    classification_loss,
    fit,
    make_optimizer,
)

SCOPES = ("global", "layer")


def _is_prunable(leaf) -> bool:
    return hasattr(leaf, "ndim") and leaf.ndim >= 2


def _check_sparsity(sparsity: float) -> float:
    if isinstance(sparsity, bool) or not isinstance(sparsity, (int, float, np.floating)):
        raise TypeError(f"sparsity must be a number in [0, 1), got {type(sparsity).__name__}.")
    if not (0.0 <= float(sparsity) < 1.0) or math.isnan(float(sparsity)):
        raise ValueError(
            f"sparsity must be in [0, 1) (the fraction of weights set to zero), got {sparsity!r}."
        )
    return float(sparsity)


def _lowest(magnitudes: np.ndarray, k: int) -> np.ndarray:
    """A flat 0/1 mask zeroing exactly the ``k`` smallest entries (ties broken by position)."""
    mask = np.ones(magnitudes.size, np.float32)
    mask[np.argsort(magnitudes, kind="stable")[:k]] = 0.0
    return mask


def magnitude_masks(params, sparsity: float, *, scope: str = "global"):
    """0/1 masks that remove the fraction ``sparsity`` of the smallest-magnitude weights.

    ``params`` is a pytree of arrays (e.g. ``nnx.state(model, nnx.Param)``). Arrays
    with 2 or more axes are pruned; the masks of the others are all ones.
    ``scope="global"`` ranks every prunable weight of the model together (layers
    with many small weights lose more); ``scope="layer"`` removes the same fraction
    from each array. Exactly ``round(sparsity * n)`` weights are zeroed (of all
    ``n`` prunable weights, or of each array's ``n``). Returns masks (float32
    arrays) in the structure of ``params``. Introduced in notebook 21.
    """
    sparsity = _check_sparsity(sparsity)
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; choose one of {SCOPES}.")
    leaves, treedef = jax.tree.flatten(params)
    prunable = [i for i, leaf in enumerate(leaves) if _is_prunable(leaf)]
    if not prunable:
        raise ValueError(
            "params hold no weight matrix or kernel (no array with 2 or more axes) to prune."
        )
    masks = [np.ones(np.shape(leaf), np.float32) for leaf in leaves]
    if scope == "global":
        flat = np.concatenate(
            [np.abs(np.asarray(leaves[i], np.float32)).ravel() for i in prunable]
        )  # [n]
        mask = _lowest(flat, round(sparsity * flat.size))
        offset = 0
        for i in prunable:
            size = masks[i].size
            masks[i] = mask[offset : offset + size].reshape(masks[i].shape)
            offset += size
    else:
        for i in prunable:
            flat = np.abs(np.asarray(leaves[i], np.float32)).ravel()
            masks[i] = _lowest(flat, round(sparsity * flat.size)).reshape(masks[i].shape)
    return jax.tree.unflatten(treedef, [jnp.asarray(m) for m in masks])


def apply_masks(params, masks):
    """``params`` with the pruned weights (mask 0) set to zero; same structure and dtypes."""
    if jax.tree.structure(params) != jax.tree.structure(masks):
        raise ValueError(
            "masks do not match params: build them with magnitude_masks(params, ...) "
            "from the same model."
        )
    return jax.tree.map(lambda w, m: w * m.astype(w.dtype), params, masks)


def sparsity(params) -> float:
    """The fraction of exact zeros among the prunable weights (arrays with >= 2 axes) of ``params``."""
    prunable = [leaf for leaf in jax.tree.leaves(params) if _is_prunable(leaf)]
    if not prunable:
        raise ValueError("params hold no weight matrix or kernel (no array with 2 or more axes).")
    zeros = sum(int(np.sum(np.asarray(leaf) == 0)) for leaf in prunable)
    return zeros / sum(leaf.size for leaf in prunable)


def layer_sparsity(params) -> dict[str, float]:
    """The fraction of zeros of each prunable array, by its path (e.g. ``"convs.0.kernel"``)."""
    rows = {}
    for path, leaf in jax.tree_util.tree_flatten_with_path(params)[0]:
        if _is_prunable(leaf):
            rows[path_name(path)] = float(np.mean(np.asarray(leaf) == 0))
    return rows


def path_name(path) -> str:
    parts = []
    for entry in path:
        key = getattr(entry, "key", getattr(entry, "name", getattr(entry, "idx", entry)))
        if key != "value":
            parts.append(str(key))
    return ".".join(parts)


def prune(
    model: nnx.Module | TrainState, sparsity: float, *, scope: str = "global"
) -> tuple[Any, Any]:
    """A copy of ``model`` with the smallest weights zeroed, and the masks used.

    ``model``: an NNX module, or a :class:`TrainState` (then a state with the pruned
    parameters comes back, ready for ``evaluate``). See :func:`magnitude_masks` for
    ``sparsity`` and ``scope``. The masks have the structure of ``nnx.state(model, nnx.Param)``;
    pass them to :func:`fit_pruned` to fine-tune without bringing the pruned weights
    back. Introduced in notebook 21.
    """
    if isinstance(model, TrainState):
        masks = magnitude_masks(model.params, sparsity, scope=scope)
        return model.replace(params=apply_masks(model.params, masks)), masks
    if not isinstance(model, nnx.Module):
        raise TypeError(
            f"prune expects a flax.nnx.Module or a TrainState, got {type(model).__name__}."
        )
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    masks = magnitude_masks(params, sparsity, scope=scope)
    rest = jax.tree.map(jnp.copy, rest)  # batch statistics: the copy owns its arrays
    return nnx.merge(graphdef, apply_masks(params, masks), rest), masks


def keep_pruned(masks) -> optax.GradientTransformation:
    """An optax transformation that multiplies every update by ``masks`` (stateless).

    Chained after an optimizer, it keeps pruned weights (mask 0) exactly where they
    are: at zero, if they were zeroed before training.
    """
    if not jax.tree.leaves(masks):
        raise ValueError("masks is empty: build it with magnitude_masks or prune.")

    def init(params):
        del params
        return optax.EmptyState()

    def update(updates, state, params=None):
        del params
        return jax.tree.map(lambda u, m: u * m.astype(u.dtype), updates, masks), state

    return optax.GradientTransformation(init, update)


def fit_pruned(
    model: nnx.Module,
    masks,
    train_data: Batch,
    config: TrainConfig = TrainConfig(),
    *,
    loss_fn: LossFn = classification_loss,
    val_data: Batch | None = None,
):
    """Fine-tune a pruned ``model`` with :func:`leptonlab.train.fit`, keeping its pruned weights at zero.

    The optimizer of ``config`` is chained with :func:`keep_pruned`; ``model``'s weights are
    masked first (so a model that was not pruned yet is pruned by ``masks``). Returns
    ``(state, history)`` as ``fit`` does. Introduced in notebook 21.
    """
    if isinstance(model, TrainState):
        model = model.model()
    if not isinstance(model, nnx.Module):
        raise TypeError(
            f"fit_pruned expects a flax.nnx.Module or a TrainState, got {type(model).__name__}."
        )
    if not isinstance(config, TrainConfig):
        raise TypeError(f"config must be a TrainConfig, got {type(config).__name__}.")
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    # Copies: fit donates its state, which must not delete arrays that another model still uses.
    model = nnx.merge(graphdef, apply_masks(params, masks), jax.tree.map(jnp.copy, rest))
    n = len(train_data[0])
    steps = n // min(config.batch_size, n)
    tx = optax.chain(make_optimizer(config, max(steps, 1)), keep_pruned(masks))
    _, init_key = jax.random.split(jax.random.key(config.seed))  # as fit derives its state key
    state = TrainState.create(model, tx, key=init_key, compute_dtype=config.compute_dtype)
    return fit(None, train_data, config, loss_fn=loss_fn, val_data=val_data, state=state)
