"""A ResNet-style network for small images such as CIFAR-10 (notebook 16).

A residual block adds its input back to what its two convolutions compute,
``out = relu(x + F(x))``, so a block only has to learn a correction to the identity;
its Jacobian is ``diag(relu'(x + F(x))) (I + dF/dx)``: the identity term gives the
gradient a path that does not shrink through F's layers (only the final relu's 0/1 mask
applies), which lets deep stacks train (checked numerically in notebook 16).
Batch norm after every convolution keeps each layer's inputs on a stable scale.

    model = ResNet(10, width=16, stages=(2, 2, 2), rngs=nnx.Rngs(0))  # a ResNet-14-style net
    logits = model(x)          # x: [B, 32, 32, 3] -> [B, 10]
    emb = model.features(x)    # [B, 64]: the embedding before the head (notebook 17)
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from leptonlab.layers import BatchNorm


_BN_MOMENTUM = 0.9  # running statistics: new = 0.9 * old + 0.1 * batch


def _positive_int(name: str, value: object) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive int, got {value!r}.")
    return value


class ResidualBlock(nnx.Module):
    """``relu(shortcut(x) + bn(conv(relu(bn(conv(x))))))`` with 3x3 convolutions.

    ``x: [B, H, W, in_channels] -> [B, H/stride, W/stride, out_channels]``. When the
    shape changes (stride 2 or more channels) the shortcut is a 1x1 convolution with
    batch norm (a "projection"); otherwise it is the identity. With ``zero_init`` the
    last batch norm's scale starts at 0, so every block starts as the identity.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        stride: int = 1,
        zero_init: bool = True,
        rngs: nnx.Rngs,
    ):
        _positive_int("in_channels", in_channels)
        _positive_int("out_channels", out_channels)
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}.")
        self.conv1 = nnx.Conv(
            in_channels,
            out_channels,
            (3, 3),
            strides=stride,
            padding="SAME",
            use_bias=False,
            rngs=rngs,
        )
        self.bn1 = BatchNorm(out_channels, momentum=_BN_MOMENTUM, rngs=rngs)
        self.conv2 = nnx.Conv(
            out_channels, out_channels, (3, 3), padding="SAME", use_bias=False, rngs=rngs
        )
        self.bn2 = BatchNorm(
            out_channels,
            momentum=_BN_MOMENTUM,
            scale_init=nnx.initializers.zeros_init() if zero_init else nnx.initializers.ones_init(),
            rngs=rngs,
        )
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nnx.Conv(
                in_channels, out_channels, (1, 1), strides=stride, use_bias=False, rngs=rngs
            )
            self.shortcut_bn = BatchNorm(out_channels, momentum=_BN_MOMENTUM, rngs=rngs)
        else:
            self.shortcut = None
            self.shortcut_bn = None

    def __call__(self, x: jax.Array) -> jax.Array:
        y = nnx.relu(self.bn1(self.conv1(x)))  # [B, H', W', out]
        y = self.bn2(self.conv2(y))  # [B, H', W', out]
        skip = (
            x if self.shortcut is None else self.shortcut_bn(self.shortcut(x))
        )  # [B, H', W', out]
        return nnx.relu(skip + y)


class ResNet(nnx.Module):
    """A ResNet for small images: stem, stages of residual blocks, global average pool, dense head.

    * stem: 3x3 conv (``width`` channels) -> batch norm -> ReLU, at full resolution
      (``stem_stride=1``) or at half (``stem_stride=2``: about 4x cheaper, a little less accurate);
    * stage ``i`` (``i = 0 .. len(stages)-1``): ``stages[i]`` residual blocks with
      ``width * 2**i`` channels; every stage after the first starts with stride 2
      (halving height and width);
    * global average pool -> ``features`` ``[B, width * 2**(len(stages)-1)]`` -> dense head.

    ``width`` sets the cost (about ``width**2``), ``stages`` the depth: ``(2, 2, 2)`` has
    ``2 * 6 + 2 = 14`` weight layers; ``width=64, stages=(2, 2, 2, 2)`` is ResNet-18's layout.
    ``x: [B, H, W, in_channels] float -> logits [B, num_classes]``. Called as
    ``model(x, rngs=key)`` like every course model (the key is unused: no dropout). Batch norm
    uses batch statistics in ``model.train()`` mode and running averages in ``model.eval()``.

    Introduced in notebook 16; its ``features`` are the embeddings of notebook 17.
    """

    def __init__(
        self,
        num_classes: int = 10,
        *,
        in_channels: int = 3,
        width: int = 16,
        stages: Sequence[int] = (2, 2, 2),
        stem_stride: int = 1,
        zero_init: bool = True,
        rngs: nnx.Rngs,
    ):
        _positive_int("num_classes", num_classes)
        if stem_stride not in (1, 2):
            raise ValueError(f"stem_stride must be 1 or 2, got {stem_stride!r}.")
        _positive_int("in_channels", in_channels)
        _positive_int("width", width)
        if isinstance(stages, (str, bytes)) or not isinstance(stages, Sequence) or not stages:
            raise ValueError(
                f"stages must be a non-empty sequence of blocks per stage, e.g. (2, 2, 2), "
                f"got {stages!r}."
            )
        for n in stages:
            _positive_int("every entry of stages", n)
        self.in_channels = in_channels
        self.num_classes = num_classes
        self.feature_dim = width * 2 ** (len(stages) - 1)
        self.stem = nnx.Conv(
            in_channels,
            width,
            (3, 3),
            strides=stem_stride,
            padding="SAME",
            use_bias=False,
            rngs=rngs,
        )
        self.stem_bn = BatchNorm(width, momentum=_BN_MOMENTUM, rngs=rngs)
        blocks, channels = [], width
        for i, n in enumerate(stages):
            out = width * 2**i
            for j in range(n):
                stride = 2 if (i > 0 and j == 0) else 1
                blocks.append(
                    ResidualBlock(channels, out, stride=stride, zero_init=zero_init, rngs=rngs)
                )
                channels = out
        self.blocks = nnx.List(blocks)
        self.head = nnx.Linear(self.feature_dim, num_classes, rngs=rngs)

    def features(self, x: jax.Array) -> jax.Array:
        """The embedding before the head: ``[B, H, W, in_channels] -> [B, feature_dim]``."""
        if x.ndim != 4 or x.shape[-1] != self.in_channels:
            raise ValueError(
                f"ResNet expects images [B, H, W, {self.in_channels}] (channels last), "
                f"got shape {x.shape}."
            )
        if not jnp.issubdtype(x.dtype, jnp.floating):
            raise TypeError(
                f"ResNet expects float images (scaled and normalised), got {x.dtype}; "
                "convert uint8 pixels first, e.g. with leptonlab.data.to_float."
            )
        x = nnx.relu(self.stem_bn(self.stem(x)))  # [B, H / stem_stride, W / stem_stride, width]
        for block in self.blocks:
            x = block(x)  # [B, h, w, c]
        return x.mean(axis=(1, 2))  # [B, feature_dim]

    def __call__(self, x: jax.Array, *, rngs: jax.Array | None = None) -> jax.Array:
        return self.head(self.features(x))  # [B, num_classes]


__all__ = [  # the public names (explicit re-exports and definitions)
    "ResidualBlock",
    "ResNet",
]
