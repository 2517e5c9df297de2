"""Layers shared by the course models.

``BatchNorm`` is Flax's batch norm with one change for mixed precision: its output has
the dtype of its input. Flax computes the batch statistics in float32 (as it should) but
then returns float32 even for bfloat16 inputs, because the running statistics are float32;
every layer after the first batch norm then silently computes in float32, so
``compute_dtype="bfloat16"`` bought nothing on a GPU (the measurement: PERFORMANCE.md).
"""

from __future__ import annotations

import jax
from flax import nnx

__all__ = ["BatchNorm"]


class BatchNorm(nnx.BatchNorm):
    """``nnx.BatchNorm`` whose output keeps the input's dtype (statistics still in float32).

    ``x: [B, ..., C] -> [B, ..., C]``, same dtype as ``x``.
    """

    def __call__(self, x: jax.Array, *args, **kwargs) -> jax.Array:
        return super().__call__(x, *args, **kwargs).astype(x.dtype)
