"""Figures for notebooks 14-15 (recommender systems)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, curves_by_name, finish, new_figure


def rating_overview(ratings, item_counts, user_counts) -> Figure:
    """Three panels: the star distribution, ratings per item (sorted: the long tail), ratings per user.

    ``ratings: [N]`` stars 1..5, ``item_counts: [I]``, ``user_counts: [U]``. Introduced in notebook 14.
    """
    ratings = np.asarray(ratings)
    item_counts, user_counts = (
        np.sort(np.asarray(item_counts))[::-1],
        np.sort(np.asarray(user_counts))[::-1],
    )
    if ratings.ndim != 1 or ratings.size == 0:
        raise ValueError(f"ratings must be a non-empty vector [N], got shape {ratings.shape}.")
    fig, (a, b, c) = new_figure(3, width=4.2, height=3.2)
    stars, counts = np.unique(ratings, return_counts=True)
    a.bar(stars, counts / ratings.size, color=COLORS[0])
    a.set(xlabel="stars", ylabel="share of ratings", title="rating distribution")
    b.plot(np.arange(1, item_counts.size + 1), item_counts, color=COLORS[1])
    head = int(np.searchsorted(-np.cumsum(item_counts) / item_counts.sum(), -0.5)) + 1
    b.axvline(head, color="gray", ls="--", lw=1)
    b.text(head, item_counts.max() * 0.9, f" {head} items hold\n half the ratings", fontsize=8)
    b.set(xlabel="item (by popularity)", ylabel="ratings", title="long tail of items")
    c.plot(np.arange(1, user_counts.size + 1), user_counts, color=COLORS[2])
    c.set(xlabel="user (by activity)", ylabel="ratings", title="ratings per user", yscale="log")
    return finish(fig)


def regularisation_sweep(
    strengths: Sequence[float],
    train_rmse: Sequence[float],
    test_rmse: Sequence[float],
    *,
    target: float | None = None,
    held_out: str = "test",
) -> Figure:
    """Train and held-out RMSE against the L2 strength (log axis), best held-out point marked. Notebook 14.

    ``held_out`` names the held-out data in the legend (e.g. "validation").
    """
    s, tr, te = (np.asarray(v, float) for v in (strengths, train_rmse, test_rmse))
    if not (s.ndim == 1 and s.shape == tr.shape == te.shape and s.size >= 2):
        raise ValueError(
            "strengths, train_rmse and test_rmse must be vectors of the same length >= 2."
        )
    if (s <= 0).any():
        raise ValueError("strengths must be > 0 (they are plotted on a log axis).")
    fig, ax = new_figure(width=5.5, height=3.6)
    ax.plot(s, tr, "o-", color=COLORS[0], label="train")
    ax.plot(s, te, "o-", color=COLORS[1], label=held_out)
    best = int(np.argmin(te))
    ax.plot(
        s[best],
        te[best],
        "*",
        ms=14,
        color=COLORS[1],
        label=f"best {held_out} {te[best]:.3f} at {s[best]:g}",
    )
    if target is not None:
        ax.axhline(target, color="gray", ls="--", lw=1, label=f"target {target}")
    ax.set(
        xscale="log",
        xlabel="L2 strength",
        ylabel="RMSE",
        title="regularisation: fit vs generalisation",
    )
    ax.legend(fontsize=8)
    return finish(fig)


def latent_factors(
    coords,
    labels: Sequence[str],
    *,
    highlight: Sequence[int] = (),
    values=None,
    value_label: str = "",
) -> Figure:
    """Items in a 2-D projection of their latent factors, ``coords: [I, 2]``; ``highlight`` rows labelled.

    ``values: [I]`` (optional) colours the points (e.g. mean rating). Notebook 14.
    """
    coords = np.asarray(coords, float)
    if coords.ndim != 2 or coords.shape[1] != 2:
        raise ValueError(f"coords must be [I, 2], got {coords.shape}.")
    if len(labels) != coords.shape[0]:
        raise ValueError(
            f"labels must have one entry per row of coords ({coords.shape[0]}), got {len(labels)}."
        )
    fig, ax = new_figure(width=7.5, height=6.0)
    if values is not None:
        sc = ax.scatter(
            coords[:, 0], coords[:, 1], s=8, c=np.asarray(values, float), cmap="coolwarm", alpha=0.6
        )
        fig.colorbar(sc, ax=ax, label=value_label)
    else:
        ax.scatter(coords[:, 0], coords[:, 1], s=8, color=COLORS[0], alpha=0.6)
    for i in highlight:
        ax.annotate(
            str(labels[i])[:32], coords[i], fontsize=7, xytext=(3, 3), textcoords="offset points"
        )
        ax.plot(*coords[i], "k.", ms=4)
    ax.set(xlabel="component 1", ylabel="component 2", title="items in latent-factor space")
    return finish(fig)


def model_comparison(
    results: Mapping[str, float],
    *,
    metric: str = "RMSE",
    target: float | None = None,
    lower_is_better: bool = True,
) -> Figure:
    """Horizontal bars of one metric per model, best bar highlighted. Notebooks 14-15."""
    if not results:
        raise ValueError("results is empty: pass {model name: value}.")
    names, values = list(results), np.array([float(v) for v in results.values()])
    fig, ax = new_figure(width=6.0, height=0.45 * len(names) + 1.2)
    best = int(np.argmin(values) if lower_is_better else np.argmax(values))
    colors = [COLORS[1] if i == best else COLORS[0] for i in range(len(names))]
    ax.barh(names, values, color=colors)
    for y, v in enumerate(values):
        ax.text(v, y, f" {v:.3f}", va="center", fontsize=8)
    if target is not None:
        ax.axvline(target, color="gray", ls="--", lw=1, label=f"target {target}")
        ax.legend(fontsize=8, loc="lower right")
    ax.invert_yaxis()
    lo = values.min()
    ax.set(
        xlabel=metric,
        xlim=(lo * 0.9 if lower_is_better else 0, values.max() * 1.08),
        title=f"{metric} by model",
    )
    return finish(fig)


def hit_rate_curves(curves: Mapping[str, Sequence[float]], ks: Sequence[int]) -> Figure:
    """HR@K against K for several models (``curves[name]: [len(ks)]``). Notebook 15."""
    ks = np.asarray(ks)
    if not curves:
        raise ValueError("curves is empty: pass {model name: [HR@K for K in ks]}.")
    fig, ax = new_figure(width=5.5, height=3.6)
    curves_by_name(ax, ks, curves, what="curve", x_name="K")
    ax.set(
        xlabel="K (list length)", ylabel="HR@K", title="hit rate of the held-out item", ylim=(0, 1)
    )
    ax.legend(fontsize=8)
    return finish(fig)
