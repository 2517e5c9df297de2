"""Models of the course as Flax NNX modules.

Every model maps a batch to a batch: the leading axis ``B`` is the batch. Create
one with an explicit ``rngs=nnx.Rngs(seed)``; train it with :func:`leptonlab.train.fit`.
Every model is called as ``model(x, rngs=key)``: ``key`` (a PRNG key, or None) drives
dropout in training mode (``model.train()``) and is ignored in evaluation mode
(``model.eval()``) and by models without randomness.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from leptonlab import kernels
from leptonlab.layers import BatchNorm

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
        dropout: probability of zeroing each hidden unit in training mode (0 = no dropout).
        rngs: the NNX random streams that initialise the weights.
    """

    def __init__(
        self,
        in_features: int,
        hidden: Sequence[int],
        out_features: int,
        *,
        activation: str = "relu",
        dropout: float = 0.0,
        rngs: nnx.Rngs,
    ):
        widths = [in_features, *hidden, out_features]
        if any(not isinstance(w, int) or isinstance(w, bool) or w < 1 for w in widths):
            raise ValueError(
                f"MLP widths must be positive integers, got in={in_features!r}, "
                f"hidden={list(hidden)!r}, out={out_features!r}."
            )
        if activation not in _ACTIVATIONS:
            raise ValueError(
                f"unknown activation {activation!r}; choose one of {sorted(_ACTIVATIONS)}."
            )
        _check_rate(dropout)
        self.in_features = in_features
        self.activation = activation
        self.layers = nnx.List(
            [nnx.Linear(a, b, rngs=rngs) for a, b in zip(widths[:-1], widths[1:])]
        )
        self.dropout = nnx.Dropout(dropout)

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        if x.ndim < 2:
            raise ValueError(
                f"MLP expects a batch [B, features], got shape {x.shape}; "
                "add a batch axis with x[None] or x.reshape(-1, 1)."
            )
        x = x.reshape(x.shape[0], -1)  # [B, ...] -> [B, in_features]
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"MLP was built for {self.in_features} input features, got {x.shape[1]} "
                f"(input shape {x.shape})."
            )
        act = _ACTIVATIONS[self.activation]
        for layer in self.layers[:-1]:
            x = self.dropout(act(layer(x)), rngs=rngs)  # [B, width]
        return self.layers[-1](x)  # [B, out_features]


def count_params(
    params: nnx.Module | nnx.State, trainable: Callable[[tuple], bool] | None = None
) -> int:
    """Number of scalar parameters: of every ``nnx.Param`` of a model, or of every array of a state.

    ``params`` is an ``nnx.Module`` or an ``nnx.State`` (such as ``TrainState.params``); with
    ``trainable(path)`` only the entries whose path passes it count (notebooks 11, 13, 16, 17).
    The one parameter count of the package (:mod:`leptonlab.transfer` re-exports it).
    """
    if isinstance(params, nnx.Module):
        params = nnx.state(params, nnx.Param)
    elif not isinstance(params, nnx.State):
        raise TypeError(f"expected a flax.nnx.Module or nnx.State, got {type(params).__name__}.")
    flat = nnx.to_flat_state(params)
    return int(
        sum(
            np.size(v.get_value() if isinstance(v, nnx.Variable) else v)
            for path, v in flat
            if trainable is None or trainable(path)
        )
    )


def _check_rate(rate: float) -> None:
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {rate!r}.")


def flatten_size(image_size: int, channels: Sequence[int]) -> int:
    """Features after the conv blocks of :class:`CNN`: ``channels[-1] * side**2``.

    Each block halves the side with a 2x2 max-pool (rounding down), so a 28x28 image
    after two blocks is 7x7: ``flatten_size(28, (32, 64)) == 64 * 7 * 7 == 3136``.
    (A source's CNN uses ``64 * 8 * 8``, the size for 32x32 inputs: notebook 08.)
    """
    if image_size < 1 or not channels:
        raise ValueError(
            f"need image_size >= 1 and at least one conv block, got {image_size}, {channels}."
        )
    side = image_size
    for _ in channels:
        side //= 2
    if side < 1:
        raise ValueError(
            f"{len(channels)} pooling blocks shrink a {image_size}px image to nothing; use fewer blocks."
        )
    return channels[-1] * side * side


# 2x2 max-pooling whose gradient is one elementwise pass (kernels.py; same values as nnx.max_pool).
max_pool_2x2 = kernels.max_pool_2x2


class CNN(nnx.Module):
    """A small convolutional classifier for square images (notebook 08).

    ``len(channels)`` blocks of [3x3 conv (SAME) -> batch norm (optional) -> ReLU ->
    2x2 max-pool], then flatten -> dense(``dense``) -> ReLU -> dropout -> dense(num_classes).
    ``x: [B, H, W] or [B, H, W, C] -> logits [B, num_classes]`` with ``H = W = image_size``.
    The defaults are the MNIST network of notebook 08 (conv32-conv64-dense256).
    """

    def __init__(
        self,
        in_channels: int = 1,
        num_classes: int = 10,
        *,
        image_size: int = 28,
        channels: Sequence[int] = (32, 64),
        dense: int = 256,
        dropout: float = 0.0,
        batch_norm: bool = False,
        rngs: nnx.Rngs,
    ):
        _check_rate(dropout)
        self.image_size = image_size
        self.in_channels = in_channels
        n_flat = flatten_size(image_size, channels)
        widths = [in_channels, *channels]
        self.convs = nnx.List(
            [
                nnx.Conv(a, b, (3, 3), padding="SAME", use_bias=not batch_norm, rngs=rngs)
                for a, b in zip(widths[:-1], widths[1:])
            ]
        )
        self.norms = nnx.List(
            [BatchNorm(c, momentum=0.9, rngs=rngs) for c in channels] if batch_norm else []
        )
        self.hidden = nnx.Linear(n_flat, dense, rngs=rngs)
        self.dropout = nnx.Dropout(dropout)
        self.head = nnx.Linear(dense, num_classes, rngs=rngs)

    def features(self, x: jax.Array) -> jax.Array:
        """The output of the conv blocks: ``[B, H, W(, C)] -> [B, h, w, channels[-1]]``."""
        if x.ndim == 3:
            x = x[..., None]  # [B, H, W] -> [B, H, W, 1]
        if x.ndim != 4 or x.shape[1:] != (self.image_size, self.image_size, self.in_channels):
            raise ValueError(
                f"CNN expects images [B, {self.image_size}, {self.image_size}, {self.in_channels}] "
                f"(or [B, H, W] for one channel), got shape {x.shape}."
            )
        for i, conv in enumerate(self.convs):
            x = conv(x)  # [B, h, w, c]
            if len(self.norms):
                x = self.norms[i](x)
            x = nnx.relu(
                max_pool_2x2(x)
            )  # [B, h/2, w/2, c]; = pool(relu(x)), relu on 4x fewer values
        return x

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        x = self.features(x)  # [B, h, w, c]
        x = x.reshape(x.shape[0], -1)  # [B, h*w*c]
        x = self.dropout(nnx.relu(self.hidden(x)), rngs=rngs)  # [B, dense]
        return self.head(x)  # [B, num_classes]


from leptonlab.resnet import ResidualBlock as ResidualBlock  # noqa: E402  (notebook 16)
from leptonlab.resnet import ResNet as ResNet  # noqa: E402


# The recurrent models of notebooks 10-13 live in leptonlab.recurrent; listed here with the other models.
from leptonlab.recurrent import CharRNN as CharRNN  # noqa: E402
from leptonlab.recurrent import GRUCell as GRUCell  # noqa: E402
from leptonlab.recurrent import LSTMCell as LSTMCell  # noqa: E402
from leptonlab.recurrent import RecurrentClassifier as RecurrentClassifier  # noqa: E402
from leptonlab.recurrent import RNNCell as RNNCell  # noqa: E402


__all__ = [  # the public names (explicit re-exports and definitions)
    "CharRNN",
    "CNN",
    "count_params",
    "flatten_size",
    "GRUCell",
    "LSTMCell",
    "MLP",
    "RecurrentClassifier",
    "ResidualBlock",
    "ResNet",
    "RNNCell",
]
