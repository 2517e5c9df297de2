"""Shared figure helpers for the plot modules."""

from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np
from matplotlib.figure import Figure

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#17becf", "#7f7f7f")


def new_figure(
    ncols: int = 1, nrows: int = 1, *, width: float = 5.0, height: float = 3.5, **kwargs
):
    """A Figure with an ``nrows x ncols`` grid of axes, each ``width x height`` inches.

    Returns ``(fig, axes)``; ``axes`` is a single Axes when the grid is 1x1.
    """
    fig, axes = plt.subplots(
        nrows,
        ncols,
        figsize=(width * ncols, height * nrows),
        constrained_layout=True,
        squeeze=True,
        **kwargs,
    )
    return fig, axes


def finish(fig: Figure) -> Figure:
    """Close ``fig`` in pyplot's registry (the notebook shows the returned Figure once) and return it."""
    plt.close(fig)
    return fig


def curves_by_name(
    ax, x, curves, *, what: str, x_name: str, values_name: str = "values", **style
) -> None:
    """One ``"o-"`` line per entry of ``curves`` (name -> values ``[len(x)]``) on ``ax``, in the course colours.

    Raises ValueError naming the curve whose length does not match ``x`` (``what`` / ``x_name`` word it).
    """
    x = np.asarray(x)
    for i, (name, values) in enumerate(curves.items()):
        values = np.asarray(values, float)
        if values.shape != x.shape:
            raise ValueError(
                f"{what} {name!r} has {values.shape} {values_name} for {x.shape} values of {x_name}."
            )
        ax.plot(x, values, "o-", color=COLORS[i % len(COLORS)], label=name, **style)
