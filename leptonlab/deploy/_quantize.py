"""Int8 post-training quantisation of weights, with one scale per output channel (notebook 21).

A float weight array ``w`` is stored as int8 values ``q`` in [-127, 127] and a float32
scale per output channel ``c`` (the last axis of a Flax kernel)::

    scale[c] = max |w[..., c]| / 127        q = round(w / scale)        w ≈ q * scale

Rounding to the nearest integer makes the error of every weight at most half a step,
``|w - q * scale| <= scale / 2``, and a per-channel scale keeps the step small for
channels whose weights are small. Biases and normalisation parameters (one axis) stay
float32: they are few. Quantised models are evaluated by dequantising the weights
("weight-only" quantisation: the storage shrinks about 4x; the arithmetic stays float).
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from leptonlab.train import TrainState

QMAX = 127  # int8 values are kept in [-127, 127], symmetric around 0


class QuantizedArray(NamedTuple):
    """An int8 array and its per-channel scales: ``values * scale`` approximates the float array.

    ``values``: int8, the shape of the original array. ``scale``: float32, the same number of
    axes with size 1 everywhere except the channel axis (so it broadcasts against ``values``).
    """

    values: jax.Array
    scale: jax.Array

    @property
    def nbytes(self) -> int:
        return int(
            self.values.size * self.values.dtype.itemsize
            + self.scale.size * self.scale.dtype.itemsize
        )


def quantize_int8(w: jax.Array, *, axis: int = -1) -> QuantizedArray:
    """Symmetric int8 quantisation of ``w`` with one scale per index of ``axis`` (the output channel).

    ``w: [..., C] float`` -> ``QuantizedArray(values [..., C] int8, scale [1, ..., 1, C] float32)``
    (for ``axis=-1``). Channels that are all zero get scale 1. ``dequantize`` inverts it up to
    ``scale / 2`` per weight. Introduced in notebook 21.
    """
    w = np.asarray(w)  # NumPy: a handful of small arrays, no compilation per shape
    if not np.issubdtype(w.dtype, np.floating):
        raise TypeError(f"quantize_int8 expects a float array, got dtype {w.dtype}.")
    if w.ndim == 0:
        raise ValueError("quantize_int8 needs an array with a channel axis, got a scalar.")
    if not -w.ndim <= axis < w.ndim:
        raise ValueError(f"axis {axis} is out of range for an array of shape {w.shape}.")
    if not np.all(np.isfinite(w)):
        raise ValueError(
            "quantize_int8: the weights contain NaN or infinity; fix the training run first."
        )
    w = w.astype(np.float32)
    axis = axis % w.ndim
    others = tuple(a for a in range(w.ndim) if a != axis)
    amax = np.max(np.abs(w), axis=others, keepdims=True)  # [1, ..., C, ..., 1]
    scale = np.where(amax > 0, amax / QMAX, 1.0).astype(np.float32)
    values = np.clip(np.round(w / scale), -QMAX, QMAX).astype(np.int8)
    values, scale = jnp.asarray(values), jnp.asarray(scale)
    return QuantizedArray(values, scale)


def dequantize(q: QuantizedArray) -> jax.Array:
    """The float32 array ``q.values * q.scale`` (same shape as the quantised array)."""
    if not isinstance(q, QuantizedArray):
        raise TypeError(
            f"dequantize expects a QuantizedArray (from quantize_int8), got {type(q).__name__}."
        )
    if q.values.dtype != jnp.int8:
        raise TypeError(f"QuantizedArray.values must be int8, got {q.values.dtype}.")
    return q.values.astype(jnp.float32) * q.scale


def _is_q(x: Any) -> bool:
    return isinstance(x, QuantizedArray)


def quantize_params(params) -> dict:
    """Quantise every weight matrix and kernel (>= 2 axes) of ``params`` to int8, per output channel.

    ``params``: an ``nnx.State`` or a nested dict of arrays. Returns a nested dict (``State.to_pure_dict``
    layout) whose kernels are :class:`QuantizedArray` and whose other arrays are kept as they are.
    """
    if isinstance(params, nnx.State):
        params = nnx.to_pure_dict(params)
    if not jax.tree.leaves(params):
        raise ValueError("params is empty: pass nnx.state(model, nnx.Param).")
    return jax.tree.map(lambda w: quantize_int8(w) if getattr(w, "ndim", 0) >= 2 else w, params)


def dequantize_params(qparams) -> dict:
    """The nested dict of float arrays that :func:`quantize_params` approximated."""
    return jax.tree.map(lambda x: dequantize(x) if _is_q(x) else x, qparams, is_leaf=_is_q)


def nbytes(tree) -> int:
    """Bytes held by the arrays of ``tree`` (int8 values count 1 byte each, float32 4)."""
    leaves = jax.tree.leaves(tree, is_leaf=_is_q)
    if not leaves:
        raise ValueError("nbytes: the tree holds no arrays.")
    total = 0
    for leaf in leaves:
        if _is_q(leaf):
            total += leaf.nbytes
        elif hasattr(leaf, "dtype"):
            total += int(np.size(leaf) * np.dtype(leaf.dtype).itemsize)
        else:
            raise TypeError(f"nbytes: expected arrays, found {type(leaf).__name__}.")
    return total


def quantize_model(model: nnx.Module | TrainState) -> tuple[Any, dict]:
    """``(model_q, qparams)``: ``qparams`` stores the weights in int8; ``model_q`` is a copy of
    ``model`` computing with the dequantised weights (what an int8-weight model predicts).

    ``model``: an NNX module, or a :class:`TrainState` (then ``model_q`` is a state with the
    dequantised parameters, ready for ``evaluate``). Non-parameter state (batch-norm
    statistics) is kept unchanged. Introduced in notebook 21.
    """
    if isinstance(model, TrainState):
        qparams = quantize_params(model.params)
        params = jax.tree.map(lambda v: v, model.params)  # a copy to fill in
        nnx.replace_by_pure_dict(params, dequantize_params(qparams))
        return model.replace(params=params), qparams
    if not isinstance(model, nnx.Module):
        raise TypeError(
            f"quantize_model expects a flax.nnx.Module or a TrainState, got {type(model).__name__}."
        )
    graphdef, params, rest = nnx.split(model, nnx.Param, ...)
    qparams = quantize_params(params)
    params = jax.tree.map(lambda v: v, params)  # a copy to fill in
    nnx.replace_by_pure_dict(params, dequantize_params(qparams))
    return nnx.merge(graphdef, params, jax.tree.map(jnp.copy, rest)), qparams
