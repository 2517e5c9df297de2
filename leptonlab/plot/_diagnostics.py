"""Figures of the diagnostics of notebook 09: per-layer statistics and the learning-rate range test."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, finish, new_figure


_PANELS = (  # (field, title, y label, x label, log scale)
    ("act_std", "forward: activations", "std of activations", "hidden layer", True),
    ("delta_std", "backward: signal dLoss/dz", "std of dLoss/dz per example", "hidden layer", True),
    ("grad_std", "weight gradients", "std of dLoss/dW", "weight matrix (last = output)", True),
    (
        "dead_fraction",
        "dead units (0 on every example)",
        "fraction of units",
        "hidden layer",
        False,
    ),
)


def layer_stats(stats: Mapping[str, Any], *, title: str = "") -> Figure:
    """Four panels, one line per entry of ``stats`` (name -> :class:`leptonlab.diagnostics.LayerStats`).

    The standard deviation of each hidden layer's activations, of the backward signal at each
    hidden layer and of each weight matrix's gradient (log scales), and the fraction of dead
    units per hidden layer. Values of 0 or inf cannot sit on a log axis and are left out (the
    legend says how many). Notebook 09.
    """
    if not stats:
        raise ValueError("layer_stats needs at least one entry: {name: LayerStats}.")
    for name, s in stats.items():
        if not all(hasattr(s, field) for field, *_ in _PANELS):
            raise TypeError(
                f"{name!r} is a {type(s).__name__}, not a LayerStats (diagnostics.layer_stats(...))."
            )
    fig, axes = new_figure(2, 2, width=4.6, height=3.2)
    for ax, (field, panel_title, ylabel, xlabel, log) in zip(axes.ravel(), _PANELS):
        for i, (name, s) in enumerate(stats.items()):
            values = np.asarray(getattr(s, field), np.float64)
            layers = np.arange(1, len(values) + 1)
            shown = np.isfinite(values) & ((values > 0) if log else True)
            off = int((~shown).sum())
            label = name if off == 0 else f"{name} ({off} off the axis: 0 or inf)"
            ax.plot(
                layers[shown], values[shown], "o-", ms=3, color=COLORS[i % len(COLORS)], label=label
            )
        ax.set(xlabel=xlabel, ylabel=ylabel, title=panel_title)
        if log:
            ax.set_yscale("log")
        else:
            ax.set_ylim(-0.03, 1.03)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    return finish(fig)


def lr_range_test(result: Any, *, title: str = "learning-rate range test") -> Figure:
    """The loss of each step against its learning rate (log axis), raw and smoothed, for a
    :class:`leptonlab.diagnostics.LRRangeResult`; the rate at the lowest smoothed loss, the
    suggested rate (a decade below) and, if the test stopped early, where the loss diverged.
    Notebook 09.
    """
    if not all(hasattr(result, f) for f in ("learning_rates", "losses", "smoothed", "lr_at_min")):
        raise TypeError(
            f"expected a LRRangeResult (diagnostics.lr_range_test(...)), got {type(result).__name__}."
        )
    lr = np.asarray(result.learning_rates, np.float64)
    fig, ax = new_figure(width=6.5, height=3.8)
    raw = np.asarray(result.losses, np.float64)
    smooth = np.asarray(result.smoothed, np.float64)
    finite = np.isfinite(raw) & np.isfinite(smooth)
    ax.plot(lr[finite], raw[finite], color=COLORS[7], alpha=0.5, lw=1, label="batch loss")
    ax.plot(lr[finite], smooth[finite], color=COLORS[0], lw=2, label="smoothed")
    ax.axvline(result.lr_at_min, color=COLORS[1], ls="--", label=f"lowest: {result.lr_at_min:.2g}")
    ax.axvline(
        result.suggested, color=COLORS[2], ls=":", lw=2, label=f"suggested: {result.suggested:.2g}"
    )
    if result.diverged_at is not None:
        ax.axvline(
            result.diverged_at,
            color=COLORS[3],
            ls="-.",
            label=f"diverged: {result.diverged_at:.2g}",
        )
    top = np.nanmax(smooth[finite]) if finite.any() else 1.0
    bottom = np.nanmin(raw[finite]) if finite.any() else 0.0
    ax.set(
        xscale="log",
        ylim=(max(0.0, bottom - 0.05 * (top - bottom)), top * 1.1),
        xlabel="learning rate",
        ylabel="loss",
        title=title,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    return finish(fig)
