"""Threshold curves and probability quality: ROC, precision-recall, calibration, top-k (notebook 18).

Re-exported by :mod:`leptonlab.metrics`. A curve has one point per distinct score, a
number known only from the data, so these functions work in NumPy on the host and
return NumPy arrays (``top_k_accuracy`` and the calibration numbers are plain floats).

Conventions: ``y_true: [N]`` binary labels (bool, or ints 0/1; 1 = positive) and
``scores: [N]`` float, larger = more positive (a probability, a logit, a similarity).
A point of a curve belongs to a threshold ``t``: every example with ``score >= t`` is
called positive.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np


def _binary(y_true, scores, name: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores)
    if y.ndim != 1 or s.shape != y.shape:
        raise ValueError(
            f"{name} needs y_true [N] and scores [N] of the same length, got {y.shape} and {s.shape}."
        )
    if y.shape[0] == 0:
        raise ValueError(f"{name} of an empty set is undefined: pass at least one example.")
    if y.dtype != bool:
        if not np.issubdtype(y.dtype, np.integer) or not np.isin(y, (0, 1)).all():
            raise ValueError(
                f"{name}: y_true must be binary (bool, or ints 0 and 1), got values "
                f"{np.unique(y)[:5]}; for C classes use one_vs_rest_roc."
            )
        y = y.astype(bool)
    if not np.issubdtype(s.dtype, np.number) or not np.isfinite(s).all():
        raise ValueError(
            f"{name}: scores must be finite numbers (probabilities, logits or similarities)."
        )
    if y.all() or not y.any():
        raise ValueError(
            f"{name} needs both positive and negative examples, got {int(y.sum())} positives "
            f"out of {y.shape[0]}."
        )
    return y, s.astype(np.float64)


def _counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(thresholds descending [T], true positives [T], false positives [T]) at each distinct score."""
    order = np.argsort(-s, kind="stable")  # [N] highest score first
    s, y = s[order], y[order]
    last = np.r_[
        np.nonzero(np.diff(s))[0], y.size - 1
    ]  # [T] last index of each run of equal scores
    tp = np.cumsum(y)[last]  # [T] positives with score >= threshold
    fp = (last + 1) - tp  # [T]
    return s[last], tp, fp


def roc_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The receiver operating characteristic: ``(fpr, tpr, thresholds)``, each ``[T + 1]``.

    ``tpr = TP / P`` (recall) and ``fpr = FP / N`` at every distinct score taken as the
    threshold, from the strictest (first point ``(0, 0)``, threshold ``+inf``) to the
    loosest (last point ``(1, 1)``). Ties move both rates at once (a diagonal step).
    """
    y, s = _binary(y_true, scores, "roc_curve")
    thresholds, tp, fp = _counts(y, s)
    tpr = np.r_[0.0, tp / y.sum()]
    fpr = np.r_[0.0, fp / (~y).sum()]
    return fpr, tpr, np.r_[np.inf, thresholds]


def auc(x, y) -> float:
    """Area under the curve through the points ``(x[i], y[i])`` by the trapezoid rule.

    ``x: [T]`` must be monotonic (increasing or decreasing), as an ROC curve's fpr is.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    if x.ndim != 1 or x.shape != y.shape or x.size < 2:
        raise ValueError(
            f"auc needs two curves x [T] and y [T] with T >= 2 points, got {x.shape} and {y.shape}."
        )
    dx = np.diff(x)
    if not ((dx >= 0).all() or (dx <= 0).all()):
        raise ValueError(
            "auc: x must be monotonic (sorted); pass the fpr of roc_curve or the recall of "
            "precision_recall_curve, in their order."
        )
    return float(abs(np.sum(dx * (y[1:] + y[:-1]) / 2)))


def roc_auc(y_true, scores) -> float:
    """Area under the ROC curve: the probability that a random positive scores higher than a
    random negative (ties count one half). 0.5 is chance, 1.0 a perfect ranking."""
    fpr, tpr, _ = roc_curve(y_true, scores)
    return auc(fpr, tpr)


class OneVsRest(NamedTuple):
    """Per-class ROC curves of a C-class classifier (each class against all the others)."""

    fpr: list[np.ndarray]  # C arrays [T_c + 1]
    tpr: list[np.ndarray]  # C arrays [T_c + 1]
    auc: np.ndarray  # [C] float64: area under each curve
    macro_auc: float  # the unweighted mean of auc


def _probs_labels(y_true, probs, name: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    p = np.asarray(probs, np.float64)
    if p.ndim != 2 or y.shape != (p.shape[0],):
        raise ValueError(
            f"{name} needs labels [N] and class scores [N, C], got {y.shape} and {p.shape}."
        )
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name}: labels must be integers, got {y.dtype}.")
    if y.size == 0:
        raise ValueError(f"{name} of an empty set is undefined: pass at least one example.")
    if y.min() < 0 or y.max() >= p.shape[1]:
        raise ValueError(
            f"{name}: labels must be in 0..{p.shape[1] - 1} (one score column per class), "
            f"got {y.min()}..{y.max()}."
        )
    return y, p


def one_vs_rest_roc(y_true, probs) -> OneVsRest:
    """ROC curve and AUC of each class c: positives ``y_true == c``, scores ``probs[:, c]``.

    ``y_true: [N]`` int in ``0..C-1``, ``probs: [N, C]`` class probabilities (or logits).
    Every class needs at least one example and one non-example.
    """
    y, p = _probs_labels(y_true, probs, "one_vs_rest_roc")
    fprs, tprs, areas = [], [], []
    for c in range(p.shape[1]):
        fpr, tpr, _ = roc_curve(y == c, p[:, c])
        fprs.append(fpr)
        tprs.append(tpr)
        areas.append(auc(fpr, tpr))
    areas = np.array(areas)
    return OneVsRest(fprs, tprs, areas, float(areas.mean()))


def precision_recall_curve(y_true, scores) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(precision, recall, thresholds)``, each ``[T + 1]``, recall increasing.

    ``precision = TP / (TP + FP)`` and ``recall = TP / P`` at every distinct score taken
    as the threshold, strictest first. The first point is ``(recall 0, precision 1)`` at
    threshold ``+inf`` (no prediction, no mistake), the convention that makes the curve
    start on the left edge.
    """
    y, s = _binary(y_true, scores, "precision_recall_curve")
    thresholds, tp, fp = _counts(y, s)
    precision = np.r_[1.0, tp / (tp + fp)]
    recall = np.r_[0.0, tp / y.sum()]
    return precision, recall, np.r_[np.inf, thresholds]


def average_precision(y_true, scores) -> float:
    """The step-wise area under the precision-recall curve, ``sum_k (R_k - R_{k-1}) P_k``.

    Unlike the trapezoid rule this never interpolates between points (which would be
    optimistic); 1.0 is a perfect ranking and the positive fraction is chance.
    """
    precision, recall, _ = precision_recall_curve(y_true, scores)
    return float(np.sum(np.diff(recall) * precision[1:]))


class Reliability(NamedTuple):
    """Reliability-diagram data: the predictions grouped by confidence into equal-width bins."""

    edges: np.ndarray  # [B + 1] bin edges from 0 to 1
    confidence: np.ndarray  # [B] mean confidence in each bin (nan for an empty bin)
    accuracy: np.ndarray  # [B] fraction correct in each bin (nan for an empty bin)
    count: np.ndarray  # [B] int: predictions in each bin


def _confidences(probs, y_true, name: str) -> tuple[np.ndarray, np.ndarray]:
    y, p = _probs_labels(y_true, probs, name)
    if (p < 0).any() or not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError(
            f"{name} needs probabilities [N, C] (each row >= 0 and summing to 1); "
            "pass jax.nn.softmax(logits), not the logits."
        )
    return p.max(axis=1), (p.argmax(axis=1) == y)  # [N], [N] bool


def reliability(probs, y_true, *, n_bins: int = 10) -> Reliability:
    """Group predictions by confidence (the top probability) and measure each group's accuracy.

    ``probs: [N, C]`` class probabilities, ``y_true: [N]`` int. A calibrated model is right
    70% of the time when it says 70%: its points lie on the diagonal. Bins are
    ``(edges[b], edges[b+1]]`` (the first also holds 0).
    """
    if not isinstance(n_bins, int) or isinstance(n_bins, bool) or n_bins < 1:
        raise ValueError(f"n_bins must be an int >= 1, got {n_bins!r}.")
    conf, correct = _confidences(probs, y_true, "reliability")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    bins = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)  # [N]
    count = np.bincount(bins, minlength=n_bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(bins, weights=conf, minlength=n_bins) / count
        mean_acc = np.bincount(bins, weights=correct.astype(np.float64), minlength=n_bins) / count
    return Reliability(edges, mean_conf, mean_acc, count)


def expected_calibration_error(probs, y_true, *, n_bins: int = 10) -> float:
    """ECE: the gap between confidence and accuracy, averaged over bins weighted by their size.

    ``ECE = sum_b (n_b / N) |accuracy_b - confidence_b|`` over the bins of :func:`reliability`.
    0 is perfectly calibrated; an over-confident network has accuracy below confidence.
    """
    r = reliability(probs, y_true, n_bins=n_bins)
    full = r.count > 0
    return float(
        np.sum(r.count[full] / r.count.sum() * np.abs(r.accuracy[full] - r.confidence[full]))
    )


def top_k_accuracy(y_true, scores, k: int) -> float:
    """Fraction of examples whose true class is among the ``k`` highest ``scores: [N, C]``.

    Ties are broken towards the lower class index (as ``argsort`` with a stable sort does).
    ``k = 1`` is the ordinary accuracy.
    """
    y, s = _probs_labels(y_true, scores, "top_k_accuracy")
    if not isinstance(k, int) or isinstance(k, bool) or not 1 <= k <= s.shape[1]:
        raise ValueError(f"k must be an int in 1..{s.shape[1]} (the number of classes), got {k!r}.")
    top = np.argsort(-s, axis=1, kind="stable")[:, :k]  # [N, k]
    return float(np.mean((top == y[:, None]).any(axis=1)))
