"""A simple input-drift monitor: compare incoming batches with the training set (notebook 21).

A model is only as good as the resemblance of its inputs to its training data. The
monitor remembers per-feature statistics of the training inputs (for images: the mean
and standard deviation of each pixel) and scores an incoming batch by how far its own
statistics are from them, in units of the training spread::

    z_mean[j] = (batch_mean[j] - mean[j]) / (std[j] + eps)
    z_std[j]  = (batch_std[j]  - std[j])  / (std[j] + eps)
    score     = sqrt(mean_j(z_mean**2 + z_std**2))

``eps`` keeps pixels that never vary (the border of MNIST) from dividing by zero.
A clean batch scores above 0 only through sampling noise, which shrinks with the batch
size; the threshold is calibrated on random batches of the training set of the
monitored batch size (``margin`` times the largest clean score).
"""

from __future__ import annotations

import dataclasses

import jax
import numpy as np


@dataclasses.dataclass(frozen=True)
class DriftReport:
    """The verdict on one batch: ``score``, the ``threshold`` and whether ``drifted``."""

    score: float  # the batch's drift score (0 = the training statistics exactly)
    threshold: float  # scores above it are flagged
    drifted: bool  # score > threshold
    mean_part: float  # sqrt(mean z_mean**2): shifts of the per-feature means
    std_part: float  # sqrt(mean z_std**2): changes of the per-feature spreads

    def __str__(self) -> str:
        verdict = "DRIFT" if self.drifted else "ok"
        return f"drift score {self.score:.3f} (threshold {self.threshold:.3f}): {verdict}"


def _features(x) -> np.ndarray:
    x = np.asarray(x, np.float64)
    if x.ndim < 2 or x.shape[0] < 2:
        raise ValueError(
            f"the drift monitor needs a batch [B, ...] with B >= 2 examples, got shape {x.shape}."
        )
    if not np.all(np.isfinite(x)):
        raise ValueError("the batch contains NaN or infinity: reject it before monitoring.")
    return x.reshape(x.shape[0], -1)  # [B, D]


@dataclasses.dataclass(frozen=True, eq=False)
class DriftMonitor:
    """Per-feature training statistics and a calibrated threshold; build with :meth:`fit`.

    ``monitor.check(x) -> DriftReport`` for a batch ``x: [B, ...]`` (the feature shape of the
    training inputs; ``B`` about ``batch_size``, the size the threshold was calibrated for).
    Introduced in notebook 21.
    """

    mean: np.ndarray  # [D] per-feature mean of the training inputs
    std: np.ndarray  # [D] per-feature standard deviation
    threshold: float  # scores above it are flagged as drift
    batch_size: int  # the batch size the threshold was calibrated for
    eps: float  # added to std: features that never vary do not divide by zero
    feature_shape: tuple[int, ...]  # the shape of one input, e.g. (28, 28)

    @classmethod
    def fit(
        cls,
        x_train,
        *,
        key: jax.Array,
        batch_size: int = 256,
        n_batches: int = 50,
        margin: float = 1.5,
        eps: float = 0.05,
    ) -> DriftMonitor:
        """Statistics of ``x_train: [N, ...]`` and a threshold = ``margin`` x the largest score
        of ``n_batches`` random training batches of ``batch_size`` examples (drawn with ``key``)."""
        feats = _features(x_train)  # [N, D]
        if not (isinstance(batch_size, int) and 2 <= batch_size <= feats.shape[0]):
            raise ValueError(
                f"batch_size must be an int in [2, {feats.shape[0]}] (the training examples), "
                f"got {batch_size!r}."
            )
        if not (isinstance(n_batches, int) and n_batches >= 1):
            raise ValueError(f"n_batches must be an int >= 1, got {n_batches!r}.")
        if not margin >= 1.0:
            raise ValueError(
                f"margin must be >= 1 (the threshold is margin x the clean scores), got {margin!r}."
            )
        if not eps > 0:
            raise ValueError(f"eps must be > 0, got {eps!r}.")
        mean, std = feats.mean(axis=0), feats.std(axis=0)
        monitor = cls(mean, std, np.inf, batch_size, float(eps), tuple(np.shape(x_train)[1:]))
        n = feats.shape[0]
        draw = jax.vmap(lambda k: jax.random.choice(k, n, (batch_size,), replace=False))
        batches = np.asarray(
            draw(jax.random.split(key, n_batches))
        )  # [n_batches, batch_size] indices
        clean = [monitor._parts(feats[idx]) for idx in batches]
        worst = max(float(np.sqrt(m**2 + s**2)) for m, s in clean)
        return dataclasses.replace(monitor, threshold=margin * worst)

    def _parts(self, feats: np.ndarray) -> tuple[float, float]:
        scale = self.std + self.eps  # [D]
        z_mean = (feats.mean(axis=0) - self.mean) / scale  # [D]
        z_std = (feats.std(axis=0) - self.std) / scale  # [D]
        return float(np.sqrt(np.mean(z_mean**2))), float(np.sqrt(np.mean(z_std**2)))

    def _batch(self, x) -> np.ndarray:
        if tuple(np.shape(x)[1:]) != self.feature_shape:
            raise ValueError(
                f"the monitor was fitted on inputs of shape {self.feature_shape}, "
                f"got a batch of shape {np.shape(x)}."
            )
        return _features(x)

    def feature_scores(self, x) -> np.ndarray:
        """Each feature's ``z_mean`` for the batch ``x``, in the shape of one input (e.g. ``[28, 28]``)."""
        feats = self._batch(x)
        return ((feats.mean(axis=0) - self.mean) / (self.std + self.eps)).reshape(
            self.feature_shape
        )

    def score(self, x) -> float:
        """The drift score of the batch ``x: [B, ...]`` (see the module docstring)."""
        mean_part, std_part = self._parts(self._batch(x))
        return float(np.sqrt(mean_part**2 + std_part**2))

    def check(self, x) -> DriftReport:
        """Score the batch ``x: [B, ...]`` and compare with the threshold."""
        mean_part, std_part = self._parts(self._batch(x))
        score = float(np.sqrt(mean_part**2 + std_part**2))
        return DriftReport(score, self.threshold, score > self.threshold, mean_part, std_part)

    def save(self, path) -> None:
        """Write the monitor to ``path`` (a ``.npz`` file)."""
        np.savez(
            path,
            mean=self.mean,
            std=self.std,
            threshold=self.threshold,
            batch_size=self.batch_size,
            eps=self.eps,
            feature_shape=np.asarray(self.feature_shape, np.int64),
        )

    @classmethod
    def load(cls, path) -> DriftMonitor:
        """The monitor that :meth:`save` wrote to ``path``."""
        with np.load(path) as f:
            return cls(
                f["mean"],
                f["std"],
                float(f["threshold"]),
                int(f["batch_size"]),
                float(f["eps"]),
                tuple(int(s) for s in f["feature_shape"]),
            )
