"""Figures for compression and deployment (notebook 21)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, finish, new_figure


def pruning_curve(
    curves: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    *,
    baseline: float | None = None,
    title: str = "accuracy after magnitude pruning",
) -> Figure:
    """Accuracy against sparsity, one line per method.

    ``curves`` maps a label (e.g. ``"global, no fine-tuning"``) to ``(sparsities, accuracies)``,
    both in [0, 1]; ``baseline`` (optional) is the dense model's accuracy, drawn dashed.
    Introduced in notebook 21.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(
            "pruning_curve expects a non-empty dict label -> (sparsities, accuracies)."
        )
    fig, ax = new_figure(width=6.0, height=3.8)
    for i, (label, pair) in enumerate(curves.items()):
        if len(pair) != 2:
            raise ValueError(f"curves[{label!r}] must be (sparsities, accuracies).")
        s, a = (np.asarray(v, float) for v in pair)
        if s.shape != a.shape or s.ndim != 1 or s.size == 0:
            raise ValueError(
                f"curves[{label!r}]: sparsities {s.shape} and accuracies {a.shape} must be "
                "1-D of the same length."
            )
        ax.plot(100 * s, 100 * a, "o-", color=COLORS[i % len(COLORS)], label=label)
    if baseline is not None:
        ax.axhline(
            100 * baseline, color="black", ls="--", lw=1, label=f"dense model ({baseline:.2%})"
        )
    ax.set(xlabel="weights removed (%)", ylabel="test accuracy (%)", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)


def model_sizes(sizes: Mapping[str, int], *, title: str = "model size") -> Figure:
    """Horizontal bars of model sizes in KiB; ``sizes`` maps a label to bytes. Introduced in notebook 21."""
    if not isinstance(sizes, Mapping) or not sizes:
        raise ValueError("model_sizes expects a non-empty dict label -> bytes.")
    labels = list(sizes)
    kib = np.array([float(sizes[k]) for k in labels]) / 1024
    if np.any(kib < 0) or not np.all(np.isfinite(kib)):
        raise ValueError(f"sizes must be byte counts >= 0, got {dict(sizes)}.")
    fig, ax = new_figure(width=6.0, height=0.5 * len(labels) + 1.4)
    y = np.arange(len(labels))
    ax.barh(y, kib, color=[COLORS[i % len(COLORS)] for i in range(len(labels))])
    for yi, k in zip(y, kib):
        ax.annotate(
            f"{k:,.0f} KiB",
            (k, yi),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set(xlabel="KiB", title=title)
    ax.set_xlim(0, kib.max() * 1.25 if kib.max() > 0 else 1)
    return finish(fig)


def drift_scores(
    scores: Mapping[str, Sequence[float]],
    threshold: float,
    *,
    title: str = "drift score of incoming batches",
) -> Figure:
    """Each group's batch scores as dots, and the monitor's threshold as a dashed line.

    ``scores`` maps a group (e.g. ``"clean"``, ``"inverted"``) to the scores of its
    batches (:meth:`leptonlab.deploy.DriftMonitor.score`). The score axis is
    logarithmic. Introduced in notebook 21.
    """
    if not isinstance(scores, Mapping) or not scores:
        raise ValueError("drift_scores expects a non-empty dict group -> list of scores.")
    if not threshold > 0:
        raise ValueError(f"threshold must be > 0, got {threshold!r}.")
    fig, ax = new_figure(width=6.0, height=3.5)
    for i, (label, values) in enumerate(scores.items()):
        v = np.atleast_1d(np.asarray(values, float))
        if v.size == 0 or np.any(v <= 0):
            raise ValueError(f"scores[{label!r}] must be positive scores, got {v}.")
        jitter = np.linspace(-0.15, 0.15, v.size) if v.size > 1 else np.zeros(1)
        ax.scatter(i + jitter, v, color=COLORS[i % len(COLORS)], s=18, zorder=3)
    ax.axhline(threshold, color="black", ls="--", lw=1, label=f"threshold {threshold:.3g}")
    ax.set_xticks(range(len(scores)), list(scores))
    ax.set_yscale("log")
    ax.set(ylabel="drift score (log scale)", title=title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)


def drift_map(feature_scores: Any, *, title: str = "per-pixel mean shift (z)") -> Figure:
    """A heatmap of :meth:`DriftMonitor.feature_scores` for an image batch ``[H, W]``. Introduced in notebook 21."""
    z = np.asarray(feature_scores, float)
    if z.ndim != 2:
        raise ValueError(f"drift_map expects per-pixel scores [H, W], got shape {z.shape}.")
    lim = max(float(np.abs(z).max()), 1e-6)
    fig, ax = new_figure(width=3.6, height=3.2)
    im = ax.imshow(z, cmap="RdBu_r", vmin=-lim, vmax=lim)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set(title=title, xticks=[], yticks=[])
    return finish(fig)
