"""Classification metrics as pure functions of labels and predictions (notebook 08 on).

Inputs are integer class labels ``y_true: [N]`` and ``y_pred: [N]`` in ``0..C-1``;
everything is computed with jax.numpy, so it jits and runs on the device.
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp


def _labels(y_true, y_pred, num_classes: int) -> tuple[jax.Array, jax.Array]:
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(f"y_true and y_pred must be label vectors [N] of the same length, "
                         f"got {y_true.shape} and {y_pred.shape}.")
    if not (jnp.issubdtype(y_true.dtype, jnp.integer) and jnp.issubdtype(y_pred.dtype, jnp.integer)):
        raise TypeError(f"labels must be integers, got {y_true.dtype} and {y_pred.dtype}; "
                        "for logits [N, C] pass jnp.argmax(logits, axis=-1).")
    if num_classes < 1:
        raise ValueError(f"num_classes must be >= 1, got {num_classes}.")
    return y_true, y_pred


def accuracy(y_true, y_pred) -> jax.Array:
    """Fraction of ``y_pred: [N]`` equal to ``y_true: [N]``: a float scalar."""
    y_true, y_pred = _labels(y_true, y_pred, 1)
    if y_true.shape[0] == 0:
        raise ValueError("accuracy of an empty set is undefined: pass at least one example.")
    return jnp.mean(y_true == y_pred)


def confusion_matrix(y_true, y_pred, num_classes: int) -> jax.Array:
    """``[C, C]`` int32 counts: row = true class, column = predicted class."""
    y_true, y_pred = _labels(y_true, y_pred, num_classes)
    flat = y_true * num_classes + y_pred  # [N]
    counts = jnp.zeros(num_classes * num_classes, jnp.int32).at[flat].add(1, mode="drop")
    return counts.reshape(num_classes, num_classes)


class PerClass(NamedTuple):
    """Per-class scores, each ``[C]`` float32 (0 where undefined: no predictions or no examples)."""

    precision: jax.Array
    recall: jax.Array
    f1: jax.Array
    support: jax.Array  # [C] int32: true examples of each class


def precision_recall_f1(y_true, y_pred, num_classes: int) -> PerClass:
    """Precision TP/(TP+FP), recall TP/(TP+FN) and F1 (their harmonic mean) for each class."""
    cm = confusion_matrix(y_true, y_pred, num_classes).astype(jnp.float32)  # [C, C]
    tp = jnp.diag(cm)  # [C]
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)  # [C], [C]
    precision = jnp.where(predicted > 0, tp / jnp.maximum(predicted, 1), 0.0)
    recall = jnp.where(actual > 0, tp / jnp.maximum(actual, 1), 0.0)
    denom = precision + recall
    f1 = jnp.where(denom > 0, 2 * precision * recall / jnp.where(denom > 0, denom, 1), 0.0)
    return PerClass(precision, recall, f1, actual.astype(jnp.int32))
