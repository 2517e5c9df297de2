"""Plots of functions: activations and their derivatives, loss curves and surfaces, timings.

Introduced in notebooks 00 (timing bars), 01 (activations) and 02 (losses).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, finish, new_figure


def _check_mapping(value: Any, fn: str, what: str) -> None:
    if not isinstance(value, Mapping) or not value:
        raise TypeError(
            f"{fn}() takes {what} as a non-empty dict {{label: ...}}, got {type(value).__name__}."
        )


def _check_range(lo: Any, hi: Any, fn: str, name: str) -> tuple[float, float]:
    try:
        lo, hi = float(lo), float(hi)
    except (TypeError, ValueError):
        raise TypeError(
            f"{fn}(): {name} must be two numbers (low, high), got {lo!r}, {hi!r}."
        ) from None
    if not (np.isfinite(lo) and np.isfinite(hi) and lo < hi):
        raise ValueError(f"{fn}(): {name} needs low < high (finite), got ({lo}, {hi}).")
    return lo, hi


def _check_num(num: Any, fn: str, minimum: int = 2) -> int:
    if isinstance(num, bool) or not isinstance(num, (int, np.integer)) or num < minimum:
        raise ValueError(f"{fn}(): num must be an int >= {minimum}, got {num!r}.")
    return int(num)


def _default_activations() -> dict[str, Callable[[jax.Array], jax.Array]]:
    from leptonlab import activations

    return {
        "sigmoid": activations.sigmoid,
        "tanh": activations.tanh,
        "ReLU": activations.relu,
        "GELU": activations.gelu,
    }


def activation_functions(
    functions: Mapping[str, Callable[[jax.Array], jax.Array]] | None = None,
    *,
    derivatives: bool = True,
    x_min: float = -5.0,
    x_max: float = 5.0,
    num: int = 401,
) -> Figure:
    """Plot activation functions (left) and, with ``derivatives=True``, their derivatives (right).

    ``functions`` maps a label to an elementwise function ``f(x: [N]) -> [N]``;
    by default sigmoid, tanh, ReLU and GELU from :mod:`leptonlab.activations`.
    Derivatives are computed with ``jax.vmap(jax.grad(f))``, so ``f`` must be
    written with ``jax.numpy``. Introduced in notebook 01.
    """
    functions = _default_activations() if functions is None else functions
    _check_mapping(functions, "activation_functions", "functions")
    for label, f in functions.items():
        if not callable(f):
            raise TypeError(
                f"activation_functions(): functions[{label!r}] is a {type(f).__name__}, not a function."
            )
    x_min, x_max = _check_range(x_min, x_max, "activation_functions", "x_min, x_max")
    num = _check_num(num, "activation_functions")
    xs = jnp.linspace(x_min, x_max, num)  # [num]
    fig, axes = new_figure(2 if derivatives else 1, width=5.0, height=3.5)
    ax_f, ax_d = (axes[0], axes[1]) if derivatives else (axes, None)
    for i, (label, f) in enumerate(functions.items()):
        color = COLORS[i % len(COLORS)]
        ax_f.plot(np.asarray(xs), np.asarray(f(xs)), color=color, label=label)
        if ax_d is not None:
            d = jax.vmap(jax.grad(lambda x, f=f: f(x)))(xs)  # [num]
            ax_d.plot(np.asarray(xs), np.asarray(d), color=color, label=f"{label}'")
    ax_f.set(title="activation functions", xlabel="x", ylabel="f(x)")
    if ax_d is not None:
        ax_d.set(title="their derivatives (jax.grad)", xlabel="x", ylabel="f'(x)")
    for ax in (ax_f, ax_d):
        if ax is not None:
            ax.axhline(0.0, color="0.8", lw=0.8, zorder=0)
            ax.axvline(0.0, color="0.8", lw=0.8, zorder=0)
            ax.grid(alpha=0.3)
            ax.legend()
    return finish(fig)


def function_curves(
    x: Any,
    curves: Mapping[str, Any],
    *,
    xlabel: str = "x",
    ylabel: str = "y",
    title: str | None = None,
    logy: bool = False,
    ylim: tuple[float, float] | None = None,
) -> Figure:
    """Plot several curves over the same ``x``: ``curves = {label: y}``, each ``y`` of shape ``[N]``.

    ``x: [N]``. For example a loss as a function of the prediction, one curve
    per loss. ``logy=True`` uses a logarithmic y axis (values must be positive).
    Introduced in notebook 02.
    """
    _check_mapping(curves, "function_curves", "curves")
    x = np.asarray(x, dtype=float)
    if x.ndim != 1 or x.size < 2:
        raise ValueError(
            f"function_curves(): x must be 1-D with at least 2 points, got shape {x.shape}."
        )
    fig, ax = new_figure(1, width=6.0, height=3.8)
    for i, (label, y) in enumerate(curves.items()):
        y = np.asarray(y, dtype=float)
        if y.shape != x.shape:
            raise ValueError(
                f"function_curves(): curve {label!r} has shape {y.shape}, but x has shape {x.shape}."
            )
        ax.plot(x, y, color=COLORS[i % len(COLORS)], label=label)
    if logy:
        ax.set_yscale("log")
    if ylim is not None:
        ax.set_ylim(*ylim)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    return finish(fig)


def loss_surfaces(
    surfaces: Mapping[str, Callable[[jax.Array, jax.Array], jax.Array]],
    *,
    w_range: tuple[float, float],
    b_range: tuple[float, float],
    num: int = 81,
    mark: tuple[float, float] | None = None,
    levels: int = 20,
    xlabel: str = "w (slope)",
    ylabel: str = "b (intercept)",
) -> Figure:
    """Contour plots of losses over a grid of two parameters, one panel per loss.

    ``surfaces`` maps a label to ``loss(w, b) -> scalar`` (written with
    ``jax.numpy``; it is evaluated on the ``num x num`` grid with two
    ``jax.vmap``). ``mark=(w, b)`` draws a star there, e.g. at the parameters
    that generated the data. Introduced in notebook 02.
    """
    _check_mapping(surfaces, "loss_surfaces", "surfaces")
    w_lo, w_hi = _check_range(*_pair(w_range, "w_range"), "loss_surfaces", "w_range")
    b_lo, b_hi = _check_range(*_pair(b_range, "b_range"), "loss_surfaces", "b_range")
    num = _check_num(num, "loss_surfaces", minimum=3)
    ws = jnp.linspace(w_lo, w_hi, num)  # [num]
    bs = jnp.linspace(b_lo, b_hi, num)  # [num]
    fig, axes = new_figure(len(surfaces), width=4.6, height=3.8)
    axes = np.atleast_1d(axes)
    for ax, (label, loss) in zip(axes, surfaces.items()):
        if not callable(loss):
            raise TypeError(
                f"loss_surfaces(): surfaces[{label!r}] is a {type(loss).__name__}, not a function."
            )
        grid = jax.vmap(lambda b, loss=loss: jax.vmap(lambda w: loss(w, b))(ws))(
            bs
        )  # [num_b, num_w]
        cs = ax.contourf(
            np.asarray(ws), np.asarray(bs), np.asarray(grid), levels=levels, cmap="viridis"
        )
        ax.contour(
            np.asarray(ws),
            np.asarray(bs),
            np.asarray(grid),
            levels=levels,
            colors="white",
            linewidths=0.4,
            alpha=0.6,
        )
        fig.colorbar(cs, ax=ax)
        if mark is not None:
            ax.plot([mark[0]], [mark[1]], marker="*", color="red", markersize=12, linestyle="none")
        ax.set(title=label, xlabel=xlabel, ylabel=ylabel)
    return finish(fig)


def _pair(value: Any, name: str) -> tuple[Any, Any]:
    if not isinstance(value, (tuple, list)) or len(value) != 2:
        raise TypeError(f"loss_surfaces(): {name} must be a pair (low, high), got {value!r}.")
    return value[0], value[1]


def timing_bars(timings: Mapping[str, Any], *, title: str = "time per call") -> Figure:
    """Horizontal bars of :class:`leptonlab.timing.Timing` results: median per call and first call.

    ``timings`` maps a label (e.g. ``"cpu:0, jit"``) to a ``Timing``. The time
    axis is logarithmic, since compile and run times differ by orders of
    magnitude. Introduced in notebook 00.
    """
    _check_mapping(timings, "timing_bars", "timings")
    for label, t in timings.items():
        if not (hasattr(t, "median_s") and hasattr(t, "first_call_s")):
            raise TypeError(
                f"timing_bars(): timings[{label!r}] is a {type(t).__name__}, "
                "not a Timing from leptonlab.timing.time_fn."
            )
    labels = list(timings)
    median_ms = np.array([timings[k].median_s for k in labels]) * 1e3
    first_ms = np.array([timings[k].first_call_s for k in labels]) * 1e3
    y = np.arange(len(labels))
    fig, ax = new_figure(1, width=6.5, height=0.55 * len(labels) + 1.6)
    ax.barh(
        y + 0.2,
        first_ms,
        height=0.4,
        color=COLORS[3],
        alpha=0.6,
        label="first call (incl. compile)",
    )
    ax.barh(y - 0.2, median_ms, height=0.4, color=COLORS[0], label="median call")
    for yi, m in zip(y, median_ms):
        ax.annotate(
            f"{m:.3g} ms",
            (m, yi - 0.2),
            xytext=(3, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.set_yticks(y, labels)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set(xlabel="milliseconds (log scale)", title=title)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8, frameon=False)
    return finish(fig)
