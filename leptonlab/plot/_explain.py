"""Figures for evaluating, explaining and attacking classifiers, and for embeddings (notebooks 17 and 18)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, curves_by_name, finish, new_figure


def _curve_dict(curves: Any, name: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError(f"{name} needs a non-empty dict {{label: (x, y)}} of curves.")
    out = {}
    for label, pair in curves.items():
        if not (isinstance(pair, (tuple, list)) and len(pair) >= 2):
            raise ValueError(
                f"curve {label!r} must be a pair (x, y) of arrays, got {type(pair).__name__}."
            )
        x, y = np.asarray(pair[0], float), np.asarray(pair[1], float)
        if x.ndim != 1 or x.shape != y.shape or x.size < 2:
            raise ValueError(
                f"curve {label!r}: x and y must be 1-D arrays of the same length >= 2, "
                f"got {x.shape} and {y.shape}."
            )
        out[str(label)] = (x, y)
    return out


def roc_curves(curves: Mapping[str, Any], *, title: str = "ROC curves") -> Figure:
    """ROC curves on one axes: ``curves`` maps a label (e.g. "cat, AUC 0.91") to ``(fpr, tpr)``.

    Use :func:`leptonlab.metrics.roc_curve` or ``metrics.one_vs_rest_roc``. The dashed
    diagonal is a classifier that guesses.
    """
    curves = _curve_dict(curves, "roc_curves")
    fig, ax = new_figure(width=4.8, height=4.2)
    for i, (label, (fpr, tpr)) in enumerate(curves.items()):
        ax.plot(fpr, tpr, color=COLORS[i % len(COLORS)], lw=1.5, label=label)
    ax.plot([0, 1], [0, 1], "k--", lw=1, label="chance")
    ax.set(
        xlabel="false positive rate",
        ylabel="true positive rate (recall)",
        title=title,
        xlim=(0, 1),
        ylim=(0, 1.01),
    )
    ax.set_aspect("equal")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower right")
    return finish(fig)


def precision_recall(
    curves: Mapping[str, Any], *, title: str = "precision-recall curves"
) -> Figure:
    """Precision against recall: ``curves`` maps a label to ``(recall, precision)``
    (from :func:`leptonlab.metrics.precision_recall_curve`)."""
    curves = _curve_dict(curves, "precision_recall")
    fig, ax = new_figure(width=4.8, height=4.2)
    for i, (label, (recall, precision)) in enumerate(curves.items()):
        ax.step(recall, precision, where="post", color=COLORS[i % len(COLORS)], lw=1.5, label=label)
    ax.set(xlabel="recall", ylabel="precision", title=title, xlim=(0, 1), ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    return finish(fig)


def reliability_diagram(
    reliability: Any, *, title: str | None = None, ece: float | None = None
) -> Figure:
    """Accuracy against confidence per bin, with the diagonal of perfect calibration.

    ``reliability`` is :func:`leptonlab.metrics.reliability`'s result. Bars below the
    diagonal mean over-confidence. The lower panel shows how many predictions fall in
    each bin (most of a good classifier's are near 1).
    """
    try:
        edges, conf, acc, count = (np.asarray(a, float) for a in reliability)
    except (TypeError, ValueError):
        raise ValueError(
            "reliability_diagram needs metrics.reliability(probs, labels), a 4-tuple "
            "(edges, confidence, accuracy, count)."
        ) from None
    if (
        edges.ndim != 1
        or conf.shape != (edges.size - 1,)
        or acc.shape != conf.shape
        or count.shape != conf.shape
    ):
        raise ValueError(
            f"inconsistent reliability data: edges {edges.shape}, confidence {conf.shape}, "
            f"accuracy {acc.shape}, count {count.shape}."
        )
    fig, (top, bottom) = new_figure(
        1, 2, width=4.8, height=2.3, sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    centres, widths = (edges[:-1] + edges[1:]) / 2, np.diff(edges)
    full = count > 0
    top.bar(
        centres[full],
        acc[full],
        width=widths[full],
        color=COLORS[0],
        edgecolor="white",
        label="accuracy",
    )
    top.bar(
        centres[full],
        conf[full] - acc[full],
        bottom=acc[full],
        width=widths[full],
        color=COLORS[1],
        alpha=0.35,
        edgecolor="white",
        label="gap to confidence",
    )
    top.plot([0, 1], [0, 1], "k--", lw=1, label="perfect calibration")
    heading = title or "reliability diagram"
    if ece is not None:
        heading += f" (ECE {ece:.3f})"
    top.set(ylabel="accuracy", title=heading, xlim=(0, 1), ylim=(0, 1))
    top.legend(fontsize=7, loc="upper left")
    bottom.bar(
        centres, count / max(count.sum(), 1), width=widths, color=COLORS[7], edgecolor="white"
    )
    bottom.set(xlabel="confidence (top probability)", ylabel="share")
    return finish(fig)


def _to_rgb(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, float)
    if img.ndim == 3 and img.shape[-1] == 1:
        img = img[..., 0]
    return np.clip(img, 0, 1)


def saliency_overlays(
    images: Any,
    maps: Mapping[str, Any] | Any,
    *,
    titles: Sequence[str] | None = None,
    alpha: float = 0.55,
) -> Figure:
    """Each image (a row) next to its attribution maps (columns), drawn as heat over the image.

    ``images: [N, H, W, C]`` floats in [0, 1]; ``maps`` an array ``[N, H, W(, C)]`` or a dict
    ``{method name: array}``. A map is shown as ``|attribution|`` (maximum over channels),
    scaled to its own 99th percentile. ``titles``: one per image (e.g. "cat 93%").
    """
    images = np.asarray(images, float)
    if images.ndim != 4 or images.shape[0] == 0:
        raise ValueError(f"saliency_overlays needs images [N, H, W, C], got shape {images.shape}.")
    maps = dict(maps) if isinstance(maps, Mapping) else {"saliency": maps}
    if not maps:
        raise ValueError("maps must hold at least one attribution array.")
    heat = {}
    for name, m in maps.items():
        m = np.abs(np.asarray(m, float))
        if m.ndim == 4:
            m = m.max(axis=-1)  # [N, H, W]: the strongest channel
        if m.shape != images.shape[:3]:
            raise ValueError(
                f"map {name!r} has shape {m.shape}; expected {images.shape[:3]} (or with channels)."
            )
        scale = np.percentile(m.reshape(len(m), -1), 99, axis=1)[:, None, None]
        heat[name] = np.clip(m / np.maximum(scale, 1e-12), 0, 1)
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles has {len(titles)} entries for {len(images)} images.")
    ncols = 1 + len(heat)
    fig, axes = new_figure(ncols, len(images), width=1.6, height=1.6)
    axes = np.asarray(axes).reshape(len(images), ncols)
    for i, img in enumerate(images):
        axes[i, 0].imshow(_to_rgb(img))
        axes[i, 0].set_title(titles[i] if titles is not None else "image", fontsize=7)
        for j, (name, h) in enumerate(heat.items(), start=1):
            axes[i, j].imshow(
                _to_rgb(img).mean(axis=-1) if img.shape[-1] == 3 else _to_rgb(img), cmap="gray"
            )
            axes[i, j].imshow(h[i], cmap="inferno", alpha=alpha, vmin=0, vmax=1)
            if i == 0:
                axes[i, j].set_title(name, fontsize=7)
    for ax in axes.ravel():
        ax.axis("off")
    return finish(fig)


def adversarial_examples(
    images: Any,
    adversarial: Any,
    labels: Sequence[str],
    adv_labels: Sequence[str],
    *,
    epsilon: float,
) -> Figure:
    """Clean images (top row) over their FGSM versions (bottom row), each titled with its prediction."""
    images, adversarial = np.asarray(images, float), np.asarray(adversarial, float)
    if images.ndim != 4 or images.shape != adversarial.shape or images.shape[0] == 0:
        raise ValueError(
            f"images and adversarial must both be [N, H, W, C], got {images.shape} and {adversarial.shape}."
        )
    if len(labels) != len(images) or len(adv_labels) != len(images):
        raise ValueError("labels and adv_labels need one entry per image.")
    n = len(images)
    fig, axes = new_figure(n, 2, width=1.5, height=1.65)
    axes = np.asarray(axes).reshape(2, n)
    for i in range(n):
        axes[0, i].imshow(_to_rgb(images[i]))
        axes[0, i].set_title(labels[i], fontsize=7)
        axes[1, i].imshow(_to_rgb(adversarial[i]))
        axes[1, i].set_title(
            adv_labels[i], fontsize=7, color="#d62728" if adv_labels[i] != labels[i] else "black"
        )
    for ax in axes.ravel():
        ax.axis("off")
    fig.suptitle(f"top: clean; bottom: FGSM, every pixel moved by ε = {epsilon:g}", fontsize=9)
    return finish(fig)


def accuracy_vs_epsilon(
    epsilons: Any, runs: Mapping[str, Any], *, title: str = "accuracy under FGSM"
) -> Figure:
    """Accuracy against the attack strength ``epsilon``, one curve per model (``runs``: name -> ``[E]``)."""
    eps = np.asarray(epsilons, float)
    if eps.ndim != 1 or eps.size < 1 or not isinstance(runs, Mapping) or not runs:
        raise ValueError(
            "accuracy_vs_epsilon needs epsilons [E] and a non-empty dict {model name: accuracies [E]}."
        )
    fig, ax = new_figure(width=5.5, height=3.6)
    curves_by_name(ax, eps, runs, what="run", x_name="epsilon", values_name="accuracies", lw=1.6)
    ax.set(
        xlabel="ε (largest change per pixel, pixels in [0, 1])",
        ylabel="test accuracy",
        title=title,
        ylim=(0, 1),
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)


def embedding_projection(
    points: Any,
    labels: Any,
    *,
    class_names: Sequence[str] | None = None,
    title: str = "embeddings, first two principal components",
) -> Figure:
    """A scatter plot of 2-D points ``[N, 2]`` (e.g. :func:`leptonlab.transfer.pca` of embeddings) by class."""
    points, labels = np.asarray(points, float), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or labels.shape != (points.shape[0],):
        raise ValueError(
            f"embedding_projection needs points [N, 2] and labels [N], got {points.shape} and {labels.shape}."
        )
    classes = np.unique(labels)
    if class_names is not None and len(class_names) < int(classes.max()) + 1:
        raise ValueError(
            f"class_names has {len(class_names)} names; labels go up to {int(classes.max())}."
        )
    fig, ax = new_figure(width=5.2, height=4.2)
    for i, c in enumerate(classes):
        pts = points[labels == c]
        name = class_names[int(c)] if class_names is not None else str(c)
        ax.scatter(pts[:, 0], pts[:, 1], s=6, alpha=0.6, color=COLORS[i % len(COLORS)], label=name)
    ax.set(xlabel="PC 1", ylabel="PC 2", title=title)
    ax.legend(fontsize=7, markerscale=2)
    return finish(fig)


def verification_scores(
    scores: Any,
    same: Any,
    threshold: float,
    *,
    title: str = "verification: cosine similarity of each trial",
) -> Figure:
    """Histograms of the similarity of genuine (same class) and impostor trials, and the threshold."""
    scores, same = np.asarray(scores, float), np.asarray(same, bool)
    if scores.ndim != 1 or scores.shape != same.shape or same.all() or not same.any():
        raise ValueError(
            "verification_scores needs scores [T] and same [T] with both genuine and impostor trials."
        )
    fig, ax = new_figure(width=5.5, height=3.4)
    bins = np.linspace(scores.min(), scores.max(), 41)
    ax.hist(
        scores[~same],
        bins=bins,
        density=True,
        alpha=0.55,
        color=COLORS[1],
        label="impostor (different class)",
    )
    ax.hist(
        scores[same],
        bins=bins,
        density=True,
        alpha=0.55,
        color=COLORS[0],
        label="genuine (same class)",
    )
    ax.axvline(threshold, color="k", ls="--", lw=1.2, label=f"threshold {threshold:.3f}")
    ax.set(xlabel="cosine similarity to the gallery template", ylabel="density", title=title)
    ax.legend(fontsize=7)
    return finish(fig)
