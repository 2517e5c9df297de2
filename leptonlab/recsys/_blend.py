"""A linear blend of rating predictors, fitted by least squares on a validation split (notebook 14)."""

from __future__ import annotations

import numpy as np


def _design(preds) -> np.ndarray:
    X = np.asarray(preds, np.float64)
    if X.ndim != 2 or X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"preds must be [N, M]: N ratings (N >= 1) by M models (M >= 1), got shape {X.shape}."
        )
    if not np.isfinite(X).all():
        raise ValueError("preds contain NaN or inf: a model diverged or a prediction is missing.")
    return np.column_stack([np.ones(X.shape[0]), X])  # [N, 1 + M]


def fit_blend(preds, target, *, ridge: float = 0.0) -> np.ndarray:
    """Weights ``w: [1 + M]`` (intercept first) minimising ``|w0 + preds @ w[1:] - target|^2 + ridge |w[1:]|^2``.

    ``preds: [N, M]`` are M models' predictions of the ``target: [N]`` ratings
    of a VALIDATION split (never the test fold). Introduced in notebook 14.
    """
    X = _design(preds)
    y = np.asarray(target, np.float64)
    if y.shape != (X.shape[0],):
        raise ValueError(
            f"target must be [N] with N = {X.shape[0]} (one per row of preds), got shape {y.shape}."
        )
    if X.shape[0] < X.shape[1]:
        raise ValueError(
            f"{X.shape[0]} ratings cannot determine {X.shape[1]} weights: use more validation ratings."
        )
    if not (ridge >= 0 and np.isfinite(ridge)):
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge!r}.")
    reg = ridge * np.eye(X.shape[1])
    reg[0, 0] = 0.0  # the intercept is not shrunk
    return np.linalg.solve(X.T @ X + reg, X.T @ y)


def blend_predict(weights, preds, *, clip: tuple[float, float] | None = (1.0, 5.0)) -> np.ndarray:
    """``[N]`` blended predictions ``w0 + preds @ w[1:]`` for ``preds: [N, M]``, clipped to ``clip``."""
    X = _design(preds)
    w = np.asarray(weights, np.float64)
    if w.shape != (X.shape[1],):
        raise ValueError(
            f"weights must be [1 + M] = [{X.shape[1]}] (intercept first) for {X.shape[1] - 1} models, "
            f"got shape {w.shape}."
        )
    out = X @ w
    return np.clip(out, *clip) if clip is not None else out
