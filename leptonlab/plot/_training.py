"""Figures of a training run and of what a trained model does (notebook 05 on)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from leptonlab.plot._style import COLORS, finish, new_figure


def training_curves(history, metrics: Sequence[str] = ("loss", "accuracy")) -> Figure:
    """One panel per metric name, train and validation curves over epochs.

    ``history`` is a :class:`leptonlab.train.History`; a metric is drawn for
    each of ``train_<name>`` and ``val_<name>`` that the history holds.
    """
    names = [
        m for m in metrics if any(f"{split}_{m}" in history.names for split in ("train", "val"))
    ]
    if not names:
        raise ValueError(f"none of {list(metrics)} is in this history; it has {history.names}.")
    fig, axes = new_figure(len(names), width=4.5, height=3.2)
    axes = np.atleast_1d(axes)
    epochs = history["epoch"]
    for ax, name in zip(axes, names):
        for color, split in zip(COLORS, ("train", "val")):
            key = f"{split}_{name}"
            if key in history.names:
                ax.plot(epochs, history[key], "o-", color=color, ms=3, label=split)
        ax.set(xlabel="epoch", ylabel=name, title=name)
        if name == "loss" and np.all(history[f"train_{name}"] > 0):
            ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    return finish(fig)


def regression_fit(
    x: np.ndarray,
    y: np.ndarray,
    x_grid: np.ndarray,
    predictions: dict[str, np.ndarray],
    *,
    title: str = "",
) -> Figure:
    """Data points ``(x: [N], y: [N])`` and one curve per entry of ``predictions`` (``name -> [M]`` on ``x_grid: [M]``)."""
    fig, ax = new_figure(width=6, height=3.8)
    ax.scatter(np.ravel(x), np.ravel(y), s=10, color="0.55", label="data")
    for color, (name, pred) in zip(COLORS, predictions.items()):
        ax.plot(np.ravel(x_grid), np.ravel(pred), color=color, lw=2, label=name)
    ax.set(xlabel="x", ylabel="y", title=title)
    ax.grid(alpha=0.3)
    ax.legend()
    return finish(fig)


def image_grid(
    images: np.ndarray,
    labels: Sequence | None = None,
    predictions: Sequence | None = None,
    *,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
) -> Figure:
    """A grid of images ``[N, H, W]`` or ``[N, H, W, C]`` with their labels (and predictions, red when wrong)."""
    images = np.asarray(images)
    if images.ndim not in (3, 4) or len(images) == 0:
        raise ValueError(
            f"image_grid expects images [N, H, W] or [N, H, W, C] with N >= 1, got {images.shape}."
        )
    n = len(images)
    ncols = min(ncols, n)
    nrows = -(-n // ncols)
    fig, axes = new_figure(ncols, nrows, width=1.3, height=1.5)
    axes = np.atleast_1d(axes).ravel()

    def name(c):
        return class_names[int(c)] if class_names is not None else str(int(c))

    for i, ax in enumerate(axes):
        ax.axis("off")
        if i >= n:
            continue
        ax.imshow(images[i], cmap=cmap if images.ndim == 3 else None)
        if labels is not None:
            text, color = name(labels[i]), "black"
            if predictions is not None:
                text = f"{name(predictions[i])} ({text})" if predictions[i] != labels[i] else text
                color = "black" if predictions[i] == labels[i] else "red"
            ax.set_title(text, fontsize=8, color=color)
    return finish(fig)
