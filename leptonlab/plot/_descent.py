"""Figures for gradients (notebook 03) and gradient descent (notebook 04)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import jax
import numpy as np
from matplotlib.colors import LogNorm
from matplotlib.ticker import MaxNLocator
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, finish, new_figure


def _flat(tree: Any) -> np.ndarray:
    leaves = jax.tree_util.tree_leaves(tree)
    if not leaves:
        raise ValueError("a gradient to plot is empty.")
    return np.concatenate([np.ravel(np.asarray(leaf, dtype=np.float64)) for leaf in leaves])


def step_size_errors(
    steps: Sequence[float], errors: Mapping[str, Any], *, title: str = ""
) -> Figure:
    """Error of finite-difference derivatives against the step ``h`` (log-log), one line per method.

    ``errors`` maps a label (e.g. ``"central, float64"``) to ``[S]`` absolute errors at
    ``steps [S]``, as :func:`leptonlab.gradients.step_size_errors` returns. Notebook 03.
    """
    hs = np.asarray(steps, dtype=np.float64)
    if hs.ndim != 1 or hs.size < 2 or not errors:
        raise ValueError("step_size_errors needs at least two steps and one curve of errors.")
    fig, ax = new_figure(width=6.0, height=4.0)
    for color, (label, err) in zip(COLORS, errors.items()):
        err = np.asarray(err, dtype=np.float64)
        if err.shape != hs.shape:
            raise ValueError(
                f"errors[{label!r}] has shape {err.shape}; expected {hs.shape} like steps."
            )
        ax.loglog(hs, np.maximum(err, 1e-17), "o-", ms=3, color=color, label=label)
    ax.set(
        xlabel="step h",
        ylabel="|numerical - exact|",
        title=title or "finite differences: error against step size",
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    return finish(fig)


def gradient_agreement(
    reference: Any, others: Mapping[str, Any], *, reference_label: str = "numerical"
) -> Figure:
    """Two panels comparing gradients entry by entry: value against the reference, and |difference| (log).

    ``reference`` and each value of ``others`` are arrays or pytrees (e.g. gradient dicts)
    with the same structure; entries are flattened in the same order. Notebook 03.
    """
    ref = _flat(reference)
    if not others:
        raise ValueError("others is empty: pass e.g. {'by hand': grads, 'jax.grad': jax_grads}.")
    fig, (ax_val, ax_err) = new_figure(2, width=4.6, height=3.8)
    lo, hi = float(ref.min()), float(ref.max())
    ax_val.plot([lo, hi], [lo, hi], color="0.6", lw=1, label="y = x")
    idx = np.arange(ref.size)
    markers = ("o", "x", "+", "s")
    for i, (label, tree) in enumerate(others.items()):
        got = _flat(tree)
        if got.shape != ref.shape:
            raise ValueError(f"{label!r} has {got.size} entries, the reference {ref.size}.")
        ax_val.scatter(ref, got, s=22, marker=markers[i % 4], color=COLORS[i], label=label)
        ax_err.semilogy(
            idx, np.maximum(np.abs(got - ref), 1e-17), markers[i % 4], color=COLORS[i], label=label
        )
    ax_val.set(
        xlabel=f"{reference_label} gradient entry", ylabel="gradient entry", title="same values"
    )
    ax_err.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax_err.set(
        xlabel="parameter index", ylabel=f"|gradient - {reference_label}|", title="differences"
    )
    for ax in (ax_val, ax_err):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return finish(fig)


def loss_curves(
    curves: Mapping[str, Any],
    *,
    logy: bool = True,
    title: str = "loss during descent",
    xlabel: str = "step",
    ylabel: str = "loss (MSE)",
) -> Figure:
    """Loss against step, one line per entry of ``curves`` (label -> ``[T+1]`` losses).

    Diverging runs (huge or non-finite losses) leave through the top of the plot instead
    of squashing the others: the y-axis stops at 100 times the largest starting loss.
    Notebook 04.
    """
    if not curves:
        raise ValueError("curves is empty: pass e.g. {'lr = 0.1': trajectory.losses}.")
    fig, ax = new_figure(width=6.0, height=3.8)
    starts, lows = [], []
    for color, (label, losses) in zip(COLORS, curves.items()):
        losses = np.asarray(losses, dtype=np.float64)
        if losses.ndim != 1 or losses.size == 0:
            raise ValueError(
                f"curves[{label!r}] should be a 1-D array of losses, got shape {losses.shape}."
            )
        shown = np.where(np.isfinite(losses), losses, np.nan)
        ax.plot(np.arange(losses.size), shown, color=color, lw=2, label=label)
        starts.append(shown[0])
        if np.isfinite(shown).any():
            lows.append(np.nanmin(shown))
    if logy:
        ax.set_yscale("log")
    top = 100.0 * np.nanmax(starts) if np.isfinite(starts).any() else None
    if top is not None and lows:
        bottom = min(lows)
        ax.set_ylim((bottom * 0.5, top) if logy else (min(0.0, bottom), top))
    ax.set(xlabel=xlabel, ylabel=ylabel, title=title)
    ax.grid(alpha=0.3, which="both" if logy else "major")
    ax.legend(fontsize=8)
    return finish(fig)


def descent_paths(
    X: Any,
    y: Any,
    paths: Mapping[str, Any],
    *,
    optimum: Any | None = None,
    w_range: tuple[float, float] | None = None,
    b_range: tuple[float, float] | None = None,
    title: str = "paths over the loss contours",
    grid: int = 120,
) -> Figure:
    """Contours of the MSE over ``(w, b)`` with optimisation paths drawn on top.

    ``X [N, 2]``, ``y [N]`` define the loss (one feature and the bias); ``paths`` maps a
    label to ``[T+1, 2]`` parameters (``Trajectory.params``); ``optimum [2]`` is marked
    with a star. The view spans the paths' starting points and the optimum unless
    ``w_range`` / ``b_range`` are given; paths that diverge leave the view. Notebook 04.
    """
    from leptonlab.descent import loss_surface

    if not paths:
        raise ValueError("paths is empty: pass e.g. {'GD': trajectory.params}.")
    arrays = {}
    for label, p in paths.items():
        p = np.asarray(p, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != 2:
            raise ValueError(
                f"paths[{label!r}] should be [T+1, 2] (w, b) points, got shape {p.shape}."
            )
        arrays[label] = p
    anchors = [p[0] for p in arrays.values()]
    if optimum is not None:
        anchors.append(np.asarray(optimum, dtype=np.float64).reshape(2))
    anchors = np.stack(anchors)
    center = anchors.mean(axis=0) if optimum is None else anchors[-1]
    span = np.maximum(np.abs(anchors - center).max(axis=0) * 1.35, 0.5)
    w_range = w_range or (center[0] - span[0], center[0] + span[0])
    b_range = b_range or (center[1] - span[1], center[1] + span[1])
    ws = np.linspace(*w_range, grid)
    bs = np.linspace(*b_range, grid)
    surface = np.asarray(loss_surface(X, y, ws, bs), dtype=np.float64)  # [Gb, Gw]
    fig, ax = new_figure(width=6.0, height=4.6)
    levels = np.geomspace(surface.min() * 1.02, surface.max(), 18)
    ax.contour(ws, bs, surface, levels=levels, norm=LogNorm(), cmap="Greys_r", linewidths=0.8)
    for color, (label, p) in zip(COLORS, arrays.items()):
        ax.plot(p[:, 0], p[:, 1], ".-", color=color, lw=1.3, ms=4, label=label)
        ax.plot(p[0, 0], p[0, 1], "o", color=color, ms=6)
    if optimum is not None:
        ax.plot(anchors[-1][0], anchors[-1][1], "*", color="k", ms=14, label="least squares")
    ax.set(xlim=w_range, ylim=b_range, xlabel="w (slope)", ylabel="b (bias)", title=title)
    ax.legend(fontsize=8, loc="best")
    return finish(fig)
