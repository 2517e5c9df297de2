"""Data augmentation as batched, jit-able array operations (notebooks 06 and 09).

Every augmentation maps ``(x: [B, H, W] or [B, H, W, C], key) -> x`` of the same
shape and dtype, so :func:`leptonlab.train.fit` applies it inside the compiled
training step, on the device, with a key split from the training state.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp
from jax import lax


def _as_nhwc(x: jax.Array) -> tuple[jax.Array, bool]:
    if x.ndim == 3:
        return x[..., None], True  # [B, H, W] -> [B, H, W, 1]
    if x.ndim == 4:
        return x, False
    raise ValueError(f"augmentation expects images [B, H, W] or [B, H, W, C], got shape {x.shape}.")


def _restore(x: jax.Array, squeezed: bool) -> jax.Array:
    return x[..., 0] if squeezed else x


def random_crop(x: jax.Array, key: jax.Array, *, padding: int) -> jax.Array:
    """Pad each image by ``padding`` pixels of zeros, then cut a random window of the original size.

    The same as shifting each image by up to ``padding`` pixels in each direction.
    """
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}.")
    if padding == 0:
        return x
    x4, squeezed = _as_nhwc(x)
    b, h, w, c = x4.shape
    padded = jnp.pad(
        x4, ((0, 0), (padding, padding), (padding, padding), (0, 0))
    )  # [B, H+2p, W+2p, C]
    offsets = jax.random.randint(key, (b, 2), 0, 2 * padding + 1)  # [B, 2]: (row, column) corners
    crop = jax.vmap(lambda img, o: lax.dynamic_slice(img, (o[0], o[1], 0), (h, w, c)))
    return _restore(crop(padded, offsets), squeezed)  # [B, H, W, C]


def random_flip(x: jax.Array, key: jax.Array) -> jax.Array:
    """Mirror each image left-right with probability 1/2 (for photos, not for digits or text)."""
    x4, squeezed = _as_nhwc(x)
    flip = jax.random.bernoulli(key, 0.5, (x4.shape[0], 1, 1, 1))  # [B, 1, 1, 1]
    return _restore(jnp.where(flip, x4[:, :, ::-1, :], x4), squeezed)


def random_rotation(x: jax.Array, key: jax.Array, *, max_degrees: float) -> jax.Array:
    """Rotate each image about its centre by a uniform angle in ``[-max_degrees, max_degrees]``.

    Bilinear interpolation; pixels from outside the image are 0.
    """
    if max_degrees < 0:
        raise ValueError(f"max_degrees must be >= 0, got {max_degrees}.")
    if max_degrees == 0:
        return x
    x4, squeezed = _as_nhwc(x)
    b, h, w, c = x4.shape
    angles = jax.random.uniform(key, (b,), minval=-max_degrees, maxval=max_degrees) * (
        math.pi / 180
    )  # [B]
    rows, cols = jnp.meshgrid(
        jnp.arange(h, dtype=jnp.float32), jnp.arange(w, dtype=jnp.float32), indexing="ij"
    )
    cy, cx = (h - 1) / 2, (w - 1) / 2

    def rotate(img, angle):  # img: [H, W, C]
        cos, sin = jnp.cos(angle), jnp.sin(angle)
        src_r = (
            cy + cos * (rows - cy) - sin * (cols - cx)
        )  # [H, W]: where each output pixel comes from
        src_c = cx + sin * (rows - cy) + cos * (cols - cx)
        channel = lambda ch: jax.scipy.ndimage.map_coordinates(
            ch, [src_r, src_c], order=1, mode="constant"
        )
        return jax.vmap(channel, in_axes=2, out_axes=2)(img.astype(jnp.float32)).astype(img.dtype)

    return _restore(jax.vmap(rotate)(x4, angles), squeezed)


@dataclasses.dataclass(frozen=True)
class Augment:
    """A pipeline of augmentations with its settings; ``Augment(...)(x, key)`` applies it.

    Frozen and hashable, so the compiled training step is reused across runs with
    the same settings. Order: rotation, then crop (shift), then flip.
    """

    crop_padding: int = (
        0  # pixels of zero padding before the random crop (max shift in each direction)
    )
    flip: bool = False  # mirror left-right with probability 1/2
    max_degrees: float = 0.0  # largest rotation, in degrees

    def __post_init__(self):
        if self.crop_padding < 0 or self.max_degrees < 0:
            raise ValueError(
                f"crop_padding and max_degrees must be >= 0, got {self.crop_padding}, {self.max_degrees}."
            )

    def __call__(self, x: jax.Array, key: jax.Array) -> jax.Array:
        k_rot, k_crop, k_flip = jax.random.split(key, 3)
        x = random_rotation(x, k_rot, max_degrees=self.max_degrees)
        x = random_crop(x, k_crop, padding=self.crop_padding)
        return random_flip(x, k_flip) if self.flip else x
