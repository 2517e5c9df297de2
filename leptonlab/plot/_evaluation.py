"""Figures for judging a trained classifier and comparing runs (notebooks 08 and 09)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from leptonlab.plot._style import COLORS, finish, new_figure


def _class_names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(i) for i in range(num_classes)]
    names = [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"class_names has {len(names)} names for {num_classes} classes; give one name per class."
        )
    return names


def confusion_matrix(
    cm: Any,
    class_names: Sequence[str] | None = None,
    *,
    normalize: bool = False,
    title: str = "confusion matrix",
) -> Figure:
    """A heatmap of a confusion matrix ``cm: [C, C]`` (row = true class, column = predicted).

    Each cell shows its count (or, with ``normalize=True``, the fraction of its
    row: the recall of the true class on the diagonal). The colour scale
    is logarithmic in the counts so that the few mistakes stand out next to the
    large diagonal. Compute ``cm`` with :func:`leptonlab.metrics.confusion_matrix`.
    """
    cm = np.asarray(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1] or cm.shape[0] == 0:
        raise ValueError(f"confusion_matrix expects a square matrix [C, C], got shape {cm.shape}.")
    if not np.issubdtype(cm.dtype, np.number) or np.any(cm < 0):
        raise ValueError(
            "a confusion matrix holds counts >= 0; compute it with metrics.confusion_matrix."
        )
    names = _class_names(class_names, cm.shape[0])
    rows = cm.sum(axis=1, keepdims=True)
    shown = cm / np.maximum(rows, 1) if normalize else cm
    size = max(4.0, 0.55 * len(names) + 1.5)
    fig, ax = new_figure(width=size + 0.8, height=size)
    shade = np.log10(
        1 + 1000 * cm / np.maximum(rows, 1)
    )  # [C, C] in [0, 3]: log of the row fraction
    ax.imshow(shade, cmap="Blues", vmin=0, vmax=3)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            value = shown[i, j]
            text = f"{value:.2f}" if normalize else f"{int(value)}"
            if value == 0:
                text = "·"
            ax.text(
                j,
                i,
                text,
                ha="center",
                va="center",
                fontsize=7,
                color="white" if shade[i, j] > 2 else "black",
            )
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set(xlabel="predicted class", ylabel="true class", title=title)
    return finish(fig)


def worst_mistakes(
    images: Any,
    labels: Any,
    probs: Any,
    *,
    k: int = 16,
    class_names: Sequence[str] | None = None,
    ncols: int = 8,
    cmap: str = "gray",
) -> Figure:
    """The ``k`` most confident wrong predictions: each image titled "predicted p (true)".

    ``images: [N, H, W(, C)]``, ``labels: [N]`` int, ``probs: [N, C]`` class
    probabilities (softmax of the logits). The order is
    :func:`leptonlab.metrics.worst_mistakes`: most confident mistake first.
    """
    from leptonlab.metrics import worst_mistakes as worst_indices

    images, labels, probs = np.asarray(images), np.asarray(labels), np.asarray(probs)
    if images.ndim not in (3, 4) or len(images) != len(labels) or probs.shape[:1] != labels.shape:
        raise ValueError(
            f"worst_mistakes needs images [N, H, W(, C)], labels [N] and probs [N, C] for the same N, "
            f"got {images.shape}, {labels.shape} and {probs.shape}."
        )
    idx = np.asarray(worst_indices(probs, labels, k))
    if idx.size == 0:
        raise ValueError("there are no mistakes to show: every prediction is right.")
    names = _class_names(class_names, probs.shape[1])
    ncols = min(ncols, idx.size)
    nrows = -(-idx.size // ncols)
    fig, axes = new_figure(ncols, nrows, width=1.45, height=1.65)
    axes = np.atleast_1d(axes).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, idx):
        pred = int(np.argmax(probs[i]))
        ax.imshow(images[i], cmap=cmap if images.ndim == 3 else None)
        ax.set_title(
            f"{names[pred]} {probs[i, pred]:.1%}\n({names[int(labels[i])]})",
            fontsize=7,
            color="#d62728",
        )
    fig.suptitle("most confident mistakes: predicted, probability (true)", fontsize=9)
    return finish(fig)


def compare_runs(
    histories: Mapping[str, Any],
    metric: str = "val_loss",
    *,
    log: bool | None = None,
    title: str | None = None,
) -> Figure:
    """One curve per run of ``metric`` over epochs, all on one axes.

    ``histories`` maps a run's name to its :class:`leptonlab.train.History`, e.g.
    ``compare_runs({"baseline": h1, "dropout": h2}, metric="val_loss")``. By default a
    loss spanning more than a factor of 5 is drawn on a log scale (``log=True/False`` forces it). The best epoch of each run
    (lowest loss, highest accuracy) is marked with a dot.
    """
    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(
            "compare_runs needs a non-empty dict {name: history}, e.g. {'baseline': history}."
        )
    for name, history in histories.items():
        if not hasattr(history, "names") or metric not in history.names:
            known = history.names if hasattr(history, "names") else type(history).__name__
            raise ValueError(f"run {name!r} has no metric {metric!r}; it has {known}.")
    lower_is_better = "loss" in metric
    if log is None:  # a log axis helps when the losses span more than a factor of 5
        values = np.concatenate([np.asarray(h[metric], dtype=float) for h in histories.values()])
        log = (
            lower_is_better and np.nanmin(values) > 0 and np.nanmax(values) > 5 * np.nanmin(values)
        )
    fig, ax = new_figure(width=6.0, height=3.8)
    for i, (name, history) in enumerate(histories.items()):
        color = COLORS[i % len(COLORS)]
        epochs, values = history["epoch"], history[metric]
        ax.plot(epochs, values, "-", color=color, lw=1.6, label=name)
        best = int(np.nanargmin(values) if lower_is_better else np.nanargmax(values))
        ax.plot(epochs[best], values[best], "o", color=color, ms=5)
    if log and all(np.all(h[metric] > 0) for h in histories.values()):
        ax.set_yscale("log")
    ax.set(xlabel="epoch", ylabel=metric, title=title or f"{metric} by run (dot: best epoch)")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)


def learning_rate_schedules(
    schedules: Mapping[str, Callable[[Any], Any]], steps: int, *, steps_per_epoch: int | None = None
) -> Figure:
    """The learning rate of each schedule over ``steps`` optimizer steps.

    ``schedules`` maps a name to an optax schedule (a function step -> learning
    rate), e.g. ``{"cosine": train.learning_rate_schedule(config, steps_per_epoch)}``.
    With ``steps_per_epoch`` the x axis is in epochs.
    """
    if not isinstance(schedules, Mapping) or not schedules:
        raise ValueError("learning_rate_schedules needs a non-empty dict {name: schedule}.")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be an int >= 1, got {steps!r}.")
    if steps_per_epoch is not None and (
        not isinstance(steps_per_epoch, int) or steps_per_epoch < 1
    ):
        raise ValueError(f"steps_per_epoch must be an int >= 1 or None, got {steps_per_epoch!r}.")
    t = np.arange(steps)
    x = t / steps_per_epoch if steps_per_epoch else t
    fig, ax = new_figure(width=6.0, height=3.5)
    for i, (name, schedule) in enumerate(schedules.items()):
        if not callable(schedule):
            raise TypeError(
                f"schedule {name!r} is a {type(schedule).__name__}, not a function step -> learning rate."
            )
        try:  # optax schedules are jax functions of the step: evaluate all steps at once
            lr = np.asarray(jax.vmap(schedule)(jnp.arange(steps)), dtype=np.float64)
        except Exception:  # a plain Python function of an int step
            lr = np.asarray([float(schedule(int(s))) for s in t], dtype=np.float64)
        ax.plot(x, lr, color=COLORS[i % len(COLORS)], lw=2, label=name)
    ax.set(
        xlabel="epoch" if steps_per_epoch else "step",
        ylabel="learning rate",
        title="learning-rate schedules",
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)
