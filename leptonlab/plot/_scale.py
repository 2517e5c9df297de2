"""Figures for hyperparameter search and scaling out (notebooks 19 and 20)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from leptonlab.plot._style import COLORS, finish, new_figure


def _xy(x: Any, y: Any, what: str) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 1 or x.shape != y.shape or len(x) == 0:
        raise ValueError(
            f"{what}: need two 1-D arrays of one non-zero length, got {x.shape} and {y.shape}."
        )
    return x, y


def cost_curve(
    models: Sequence[int], seconds: Sequence[float], *, title: str = "the cost of N models"
) -> Figure:
    """Wall time of N models trained together against N, next to N separate runs (``N * seconds[0]``).

    ``models`` must start with 1 (the single model the others are compared to).
    Left: seconds against N (log-log). Right: seconds per model. Notebook 19.
    """
    n, t = _xy(models, seconds, "cost_curve")
    if n[0] != 1 or np.any(t <= 0):
        raise ValueError("cost_curve: models must start with 1 and every time must be > 0 seconds.")
    fig, (left, right) = new_figure(2)
    left.plot(n, n * t[0], "--", color=COLORS[7], label="N separate runs (N × one model)")
    left.plot(n, t, "o-", color=COLORS[0], label="N models at once (vmap)")
    left.set(xscale="log", yscale="log", xlabel="models N", ylabel="seconds per epoch", title=title)
    left.legend()
    right.plot(n, t / n, "o-", color=COLORS[0])
    right.axhline(t[0], ls="--", color=COLORS[7], label="one model alone")
    right.set(
        xscale="log",
        yscale="log",
        xlabel="models N",
        ylabel="seconds per model",
        title="cost per model",
    )
    right.legend()
    return finish(fig)


def lr_sensitivity(
    learning_rates: Any,
    values: Any,
    *,
    groups: Any = None,
    best: float | None = None,
    metric: str = "validation loss",
    title: str = "sensitivity to the learning rate",
) -> Figure:
    """The final ``metric`` of each trial against its learning rate (log axis), one line per group (e.g. seed).

    ``values`` may hold NaN (a diverged run): it is drawn as an ``x`` at the top of
    the plot. ``best`` marks the chosen learning rate. Notebook 19.
    """
    lr, v = _xy(learning_rates, values, "lr_sensitivity")
    if np.any(lr <= 0):
        raise ValueError("lr_sensitivity: learning rates must be > 0 (the axis is logarithmic).")
    groups = np.zeros(len(lr), int) if groups is None else np.asarray(groups)
    if groups.shape != lr.shape:
        raise ValueError(f"groups must have one entry per trial ({lr.shape}), got {groups.shape}.")
    fig, ax = new_figure(width=6.0)
    finite = np.isfinite(v)
    top = np.nanmax(v[finite]) if finite.any() else 1.0
    for i, g in enumerate(np.unique(groups)):
        m = (groups == g) & finite
        order = np.argsort(lr[m])
        label = None if len(np.unique(groups)) == 1 else f"seed {g}"
        ax.plot(
            lr[m][order], v[m][order], "o-", color=COLORS[i % len(COLORS)], alpha=0.8, label=label
        )
    if (~finite).any():
        ax.plot(
            lr[~finite],
            np.full((~finite).sum(), top),
            "x",
            color=COLORS[1],
            ms=9,
            label="diverged (NaN)",
        )
    if best is not None:
        ax.axvline(best, color=COLORS[2], ls=":", label=f"best: {best:.2g}")
    ax.set(xscale="log", xlabel="learning rate", ylabel=metric, title=title)
    if ax.get_legend_handles_labels()[0]:
        ax.legend()
    return finish(fig)


def halving_rounds(
    rounds: Sequence[Mapping[str, Any]], learning_rates: Any, *, metric: str = "validation loss"
) -> Figure:
    """Successive halving: each trial's score after each round it survived, coloured by learning rate.

    ``rounds`` is ``HalvingResult.rounds`` (dicts with ``trials``, ``epochs``, ``scores``). Notebook 19.
    """
    if not rounds:
        raise ValueError("halving_rounds: no rounds to plot.")
    lr = np.asarray(learning_rates, dtype=np.float64)
    fig, ax = new_figure(width=6.0)
    import matplotlib as mpl

    cmap, norm = (
        mpl.colormaps["viridis"],
        mpl.colors.LogNorm(lr.min(), lr.max() if lr.max() > lr.min() else lr.min() * 10),
    )
    paths: dict[int, list[tuple[float, float]]] = {}
    for rnd in rounds:
        for t, s in zip(rnd["trials"], rnd["scores"]):
            if np.isfinite(s):
                paths.setdefault(int(t), []).append((rnd["epochs"], float(s)))
    for t, pts in paths.items():
        e, s = zip(*pts)
        ax.plot(e, s, "o-", color=cmap(norm(lr[t])), alpha=0.8, ms=4)
    fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, label="learning rate")
    ax.set(xlabel="epochs trained", ylabel=metric, yscale="log", title="successive halving")
    return finish(fig)


def scaling_curve(
    devices: Sequence[int], seconds: Sequence[float], *, title: str = "data-parallel scaling"
) -> Figure:
    """Speed-up ``seconds[0] / seconds`` against the number of devices, with the ideal line. Notebook 20."""
    d, t = _xy(devices, seconds, "scaling_curve")
    if np.any(t <= 0) or np.any(d < 1):
        raise ValueError("scaling_curve: device counts must be >= 1 and times > 0 seconds.")
    fig, (left, right) = new_figure(2)
    left.plot(d, t * 1e3, "o-", color=COLORS[0])
    left.set(xlabel="devices", ylabel="ms per step (same global batch)", title="time per step")
    speedup = t[0] / t
    right.plot(d, d / d[0], "--", color=COLORS[7], label="ideal (linear)")
    right.plot(d, speedup, "o-", color=COLORS[0], label="measured")
    right.set(xlabel="devices", ylabel=f"speed-up over {int(d[0])} device(s)", title=title)
    right.legend()
    return finish(fig)


def sharding_map(
    table: Sequence[Mapping[str, Any]], shape: Sequence[int], *, title: str = ""
) -> Figure:
    """Which device holds which block of a 1-D or 2-D array: one coloured rectangle per shard.

    ``table`` is :func:`leptonlab.scale.shard_table` of the array, ``shape`` its shape.
    A replicated array shows every device on the whole array. Notebook 20.
    """
    shape = tuple(int(s) for s in shape)
    if len(shape) not in (1, 2) or not table:
        raise ValueError(
            f"sharding_map draws 1-D or 2-D arrays with at least one shard, got shape {shape}."
        )
    rows, cols = (shape[0], 1) if len(shape) == 1 else shape
    fig, ax = new_figure(width=4.5, height=min(4.5, 1.2 + 3.3 * rows / max(rows, cols)))
    devices = sorted(
        {r["device"] for r in table}, key=lambda s: (s.split(":")[0], int(s.split(":")[1]))
    )
    stacked: dict[tuple, list[str]] = {}
    for r in table:
        stacked.setdefault(tuple(r["index"]), []).append(r["device"])
    for index, devs in stacked.items():
        (r0, r1), (c0, c1) = index[0], (index[1] if len(index) > 1 else (0, 1))
        color = COLORS[devices.index(devs[0]) % len(COLORS)] if len(devs) == 1 else "#dddddd"
        ax.add_patch(
            Rectangle((c0, r0), c1 - c0, r1 - r0, facecolor=color, edgecolor="black", alpha=0.7)
        )
        label = devs[0] if len(devs) == 1 else f"all {len(devs)} devices\n({', '.join(devs)})"
        ax.text((c0 + c1) / 2, (r0 + r1) / 2, label, ha="center", va="center", fontsize=8)
    ax.set(
        xlim=(0, cols),
        ylim=(rows, 0),
        xlabel="columns" if len(shape) == 2 else "",
        ylabel="rows",
        title=title or f"array {shape}",
    )
    if len(shape) == 1:
        ax.set_xticks([])
    return finish(fig)
