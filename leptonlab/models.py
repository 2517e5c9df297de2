"""Models of the course as Flax NNX modules.

Every model maps a batch to a batch: the leading axis ``B`` is the batch. Create
one with an explicit ``rngs=nnx.Rngs(seed)``; train it with :func:`leptonlab.train.fit`.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

_ACTIVATIONS = {"relu": nnx.relu, "tanh": jnp.tanh, "sigmoid": nnx.sigmoid, "gelu": nnx.gelu}


class MLP(nnx.Module):
    """A multi-layer perceptron: dense layers with a nonlinearity between them.

    ``MLP(2, [10], 1, rngs=nnx.Rngs(0))`` is the one-hidden-layer regression net
    of notebook 05. Inputs with more than one feature axis (images) are
    flattened: ``x: [B, ...] -> [B, in_features] -> [B, out_features]`` logits
    or predictions, no activation after the last layer.

    Args:
        in_features: features per example after flattening (784 for 28x28 images).
        hidden: widths of the hidden layers, e.g. ``[10]`` or ``[256, 128]``.
        out_features: outputs per example (classes, or regression targets).
        activation: one of "relu", "tanh", "sigmoid", "gelu".
        rngs: the NNX random streams that initialise the weights.
    """

    def __init__(self, in_features: int, hidden: Sequence[int], out_features: int, *,
                 activation: str = "relu", rngs: nnx.Rngs):
        widths = [in_features, *hidden, out_features]
        if any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
            raise ValueError(f"MLP widths must be positive integers, got in={in_features!r}, "
                             f"hidden={list(hidden)!r}, out={out_features!r}.")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}.")
        self.in_features = in_features
        self.activation = activation
        self.layers = nnx.List([nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])])

    def __call__(self, x: jax.Array) -> jax.Array:
        if x.ndim < 2:
            raise ValueError(f"MLP expects a batch [B, features], got shape {x.shape}; "
                             "add a batch axis with x[None] or x.reshape(-1, 1).")
        x = x.reshape(x.shape[0], -1)  # [B, ...] -> [B, in_features]
        if x.shape[1] != self.in_features:
            raise ValueError(f"MLP was built for {self.in_features} input features, got {x.shape[1]} "
                             f"(input shape {x.shape}).")
        act = _ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = act(layer(x))  # [B, width]
        return self.layers[-1](x)  # [B, out_features]
