"""A trained model's outputs: plain, and averaged with the mirror image (test-time augmentation)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from leptonlab.train.core import TrainState, cast_floats, eval_model

__all__ = ["predict", "predict_tta"]


def predict(state: TrainState, x: jax.Array, *, batch_size: int = 1024) -> jax.Array:
    """The model's outputs on ``x: [N, ...]`` in evaluation mode, batch by batch: ``[N, ...]`` float32."""
    x = jnp.asarray(x)
    if x.ndim == 0 or x.shape[0] == 0:
        raise ValueError(f"predict needs a batch of at least one example, got shape {x.shape}.")
    outputs = [
        _predict_batch(state, x[i : i + batch_size]) for i in range(0, x.shape[0], batch_size)
    ]
    return jnp.concatenate(outputs)


@jax.jit
def _predict_batch(state: TrainState, x: jax.Array) -> jax.Array:
    return eval_model(state)(cast_floats(x, state.compute_dtype)).astype(jnp.float32)


def predict_tta(
    state: TrainState, x: jax.Array, *, flip: bool = True, batch_size: int = 1024
) -> jax.Array:
    """Test-time augmentation: class probabilities averaged over each image and its mirror image.

    ``x: [N, H, W, C]`` (or ``[N, H, W]``) -> ``[N, classes]`` float32 probabilities: the mean
    of the softmax of the model's logits on ``x`` and on ``x`` flipped left-right. Use it only
    for data whose labels do not change under a left-right flip (photos; not digits or text).
    With ``flip=False`` it is the softmax of :func:`predict`. Introduced in notebook 16.
    """
    if not isinstance(state, TrainState):
        raise TypeError(f"state must be a TrainState (from fit), got {type(state).__name__}.")
    x = jnp.asarray(x)
    if x.ndim not in (3, 4) or x.shape[0] == 0:
        raise ValueError(
            f"predict_tta needs images [N, H, W, C] or [N, H, W] with N >= 1, got shape {x.shape}."
        )
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}.")
    probs = jax.nn.softmax(predict(state, x, batch_size=batch_size), axis=-1)  # [N, classes]
    if not flip:
        return probs
    mirrored = jax.nn.softmax(
        predict(state, x[:, :, ::-1], batch_size=batch_size), axis=-1
    )  # axis 2 = width
    return (probs + mirrored) / 2
