"""Figures of notebook 16: accuracy against wall-clock time, per-channel pixel statistics."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, finish, new_figure


def time_to_accuracy(
    histories: Mapping[str, Any],
    *,
    target: float | None = None,
    metric: str = "val_accuracy",
    title: str = "time to accuracy",
) -> Figure:
    """Accuracy against elapsed training time, one curve per run, with an optional target line.

    ``histories`` maps a run's name to its :class:`leptonlab.train.History`; the x axis is
    :func:`leptonlab.train.elapsed_seconds` (cumulative wall-clock seconds at the end of each
    epoch). With ``target``, a dashed line marks it and each run's first epoch at or above it
    is circled. Introduced in notebook 16.
    """
    from leptonlab.train import (
        History,
        elapsed_seconds,
    )  # plot stays importable without training code

    if not isinstance(histories, Mapping) or not histories:
        raise ValueError(
            "time_to_accuracy needs a non-empty dict {name: history}, e.g. {'resnet': history}."
        )
    for name, history in histories.items():
        if not isinstance(history, History):
            raise TypeError(
                f"run {name!r} is a {type(history).__name__}, not a leptonlab.train.History."
            )
        if metric not in history.names or "seconds" not in history.names:
            raise ValueError(
                f"run {name!r} needs the metrics {metric!r} and 'seconds'; it has {history.names}."
            )
    if target is not None and not 0 < target <= 1:
        raise ValueError(f"target must be an accuracy in (0, 1], got {target!r}.")
    fig, ax = new_figure(width=6.0, height=3.8)
    for i, (name, history) in enumerate(histories.items()):
        color = COLORS[i % len(COLORS)]
        seconds, values = elapsed_seconds(history), history[metric]
        ax.plot(seconds, values, "o-", color=color, lw=1.6, ms=3, label=name)
        if target is not None:
            reached = np.flatnonzero(values >= target)
            if reached.size:
                j = reached[0]
                ax.plot(seconds[j], values[j], "o", ms=11, mfc="none", mec=color, mew=1.5)
    if target is not None:
        ax.axhline(target, color="black", ls="--", lw=1, label=f"target {target:.0%}")
    ax.set_xlabel("elapsed training time (s, wall clock)")
    ax.set_ylabel(metric.replace("_", " "))
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)


def channel_means(
    stats: Mapping[str, Sequence[float]],
    *,
    channels: Sequence[str] = ("red", "green", "blue"),
    title: str = "per-channel mean",
) -> Figure:
    """Bars of per-channel statistics for several sets of images (e.g. train and test means).

    ``stats`` maps a label to one value per channel (``[C]``). Introduced in notebook 16.
    """
    if not isinstance(stats, Mapping) or not stats:
        raise ValueError("channel_means needs a non-empty dict {label: [C] values}.")
    arrays = {str(k): np.asarray(v, dtype=np.float64).reshape(-1) for k, v in stats.items()}
    c = len(channels)
    for label, values in arrays.items():
        if values.shape != (c,):
            raise ValueError(f"{label!r} has {values.size} values; expected one per channel ({c}).")
    fig, ax = new_figure(width=5.5, height=3.2)
    width = 0.8 / len(arrays)
    for i, (label, values) in enumerate(arrays.items()):
        ax.bar(
            np.arange(c) + (i - (len(arrays) - 1) / 2) * width,
            values,
            width,
            label=label,
            color=COLORS[i % len(COLORS)],
        )
    ax.set_xticks(np.arange(c), list(channels))
    ax.set_title(title)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, axis="y")
    return finish(fig)
