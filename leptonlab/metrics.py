"""Classification metrics as pure functions of labels and predictions (notebook 08 on).

Inputs are integer class labels ``y_true: [N]`` and ``y_pred: [N]`` in ``0..C-1``;
everything is computed with jax.numpy, so it jits and runs on the device.
:func:`time_to_accuracy` and :func:`elapsed_seconds` measure a training run by its
:class:`~leptonlab.train.History` instead (notebook 16).
"""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from leptonlab.train.history import History

__all__ = [
    "OneVsRest",
    "PerClass",
    "Reliability",
    "accuracy",
    "auc",
    "average_precision",
    "classification_report",
    "confusion_matrix",
    "elapsed_seconds",
    "expected_calibration_error",
    "one_vs_rest_roc",
    "precision_recall_curve",
    "precision_recall_f1",
    "reliability",
    "roc_auc",
    "roc_curve",
    "time_to_accuracy",
    "top_k_accuracy",
    "worst_mistakes",
]


def _labels(y_true, y_pred, num_classes: int) -> tuple[jax.Array, jax.Array]:
    y_true, y_pred = jnp.asarray(y_true), jnp.asarray(y_pred)
    if y_true.ndim != 1 or y_true.shape != y_pred.shape:
        raise ValueError(
            f"y_true and y_pred must be label vectors [N] of the same length, "
            f"got {y_true.shape} and {y_pred.shape}."
        )
    if not (
        jnp.issubdtype(y_true.dtype, jnp.integer) and jnp.issubdtype(y_pred.dtype, jnp.integer)
    ):
        raise TypeError(
            f"labels must be integers, got {y_true.dtype} and {y_pred.dtype}; "
            "for logits [N, C] pass jnp.argmax(logits, axis=-1)."
        )
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


def worst_mistakes(probs, y_true, k: int) -> jax.Array:
    """Indices of the ``k`` most confident wrong predictions, most confident first (notebook 08).

    ``probs: [N, C]`` class probabilities (softmax of the logits), ``y_true: [N]`` int.
    A prediction is wrong when ``argmax(probs) != y_true``; its confidence is the
    probability of the predicted class. Returns ``[min(k, wrong)]`` int32 indices
    into the N examples (empty when every prediction is right).
    """
    probs, y_true = jnp.asarray(probs), jnp.asarray(y_true)
    if probs.ndim != 2 or y_true.shape != (probs.shape[0],):
        raise ValueError(
            f"worst_mistakes needs probs [N, C] and labels [N], got {probs.shape} and {y_true.shape}."
        )
    if not jnp.issubdtype(y_true.dtype, jnp.integer):
        raise TypeError(f"labels must be integers, got {y_true.dtype}.")
    if not isinstance(k, int) or isinstance(k, bool) or k < 1:
        raise ValueError(f"k must be an int >= 1, got {k!r}.")
    predicted = jnp.argmax(probs, axis=-1)  # [N]
    confidence = jnp.max(probs, axis=-1)  # [N]
    score = jnp.where(predicted != y_true, confidence, -jnp.inf)  # [N]; right answers sort last
    order = jnp.argsort(-score, stable=True)[:k]  # [k]
    n_wrong = int(jnp.sum(predicted != y_true))
    return order[: min(k, n_wrong)].astype(jnp.int32)


def classification_report(y_true, y_pred, class_names) -> str:
    """A text table of per-class precision, recall, F1 and support, then accuracy and macro F1 (notebook 08).

    ``y_true, y_pred: [N]`` int labels in ``0..C-1``; ``class_names``: C names.
    """
    names = [str(n) for n in class_names]
    if not names:
        raise ValueError("class_names must name at least one class.")
    scores = precision_recall_f1(y_true, y_pred, len(names))
    width = max(12, *(len(n) for n in names))
    lines = [f"{'class':<{width}} precision  recall     f1  support"]
    for i, name in enumerate(names):
        lines.append(
            f"{name:<{width}} {float(scores.precision[i]):9.3f} {float(scores.recall[i]):7.3f} "
            f"{float(scores.f1[i]):6.3f} {int(scores.support[i]):8d}"
        )
    lines.append(
        f"{'accuracy':<{width}} {float(accuracy(y_true, y_pred)):24.3f} {int(scores.support.sum()):8d}"
    )
    lines.append(f"{'macro F1':<{width}} {float(scores.f1.mean()):24.3f}")
    return "\n".join(lines)


def elapsed_seconds(history: History) -> np.ndarray:
    """Wall-clock seconds since the start of training at the end of each epoch: ``[epochs]``.

    The cumulative sum of ``history["seconds"]`` (training and validation time, including
    compilation in the first epoch). Introduced in notebook 16.
    """
    if not isinstance(history, History):
        raise TypeError(
            f"history must be the History returned by fit, got {type(history).__name__}."
        )
    if not len(history):
        raise ValueError("the history is empty: no epoch has finished.")
    return np.cumsum(history["seconds"])


def time_to_accuracy(
    history: History, target: float, *, metric: str = "val_accuracy"
) -> float | None:
    """Seconds of training until ``history[metric]`` first reached ``target``; None if it never did.

    Time-to-accuracy (as in the DAWNBench and airbench CIFAR-10 benchmarks) measures a
    training recipe by how fast it gets good, not by its accuracy after an arbitrary number
    of epochs. Resolution: one epoch. Introduced in notebook 16.
    """
    if not isinstance(target, (int, float)) or not 0.0 < target <= 1.0:
        raise ValueError(f"target must be an accuracy in (0, 1], got {target!r}.")
    seconds = elapsed_seconds(history)
    values = history[metric]  # KeyError listing the recorded metrics
    reached = np.flatnonzero(values >= target)
    return float(seconds[reached[0]]) if reached.size else None


# Threshold curves and probability quality (notebook 18); the code lives in leptonlab/_curves.py.
from leptonlab._curves import OneVsRest as OneVsRest  # noqa: E402
from leptonlab._curves import Reliability as Reliability  # noqa: E402
from leptonlab._curves import auc as auc  # noqa: E402
from leptonlab._curves import average_precision as average_precision  # noqa: E402
from leptonlab._curves import expected_calibration_error as expected_calibration_error  # noqa: E402
from leptonlab._curves import one_vs_rest_roc as one_vs_rest_roc  # noqa: E402
from leptonlab._curves import precision_recall_curve as precision_recall_curve  # noqa: E402
from leptonlab._curves import reliability as reliability  # noqa: E402
from leptonlab._curves import roc_auc as roc_auc  # noqa: E402
from leptonlab._curves import roc_curve as roc_curve  # noqa: E402
from leptonlab._curves import top_k_accuracy as top_k_accuracy  # noqa: E402
