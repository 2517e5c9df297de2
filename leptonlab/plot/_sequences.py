"""Figures for recurrent networks and text (notebooks 10-13)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, finish, new_figure


def gradient_vs_distance(
    norms: Mapping[str, object], *, title: str = "gradient through time"
) -> Figure:
    """Gradient norm against distance, one curve per name -> ``norms: [T]`` (entry t is step t of T).

    The x axis is the distance ``T - 1 - t`` from the last step; the y axis is logarithmic,
    so a geometric decay (vanishing gradients) is a straight line. Notebook 10.
    """
    if not norms:
        raise ValueError("gradient_vs_distance needs at least one curve: {name: norms [T]}.")
    fig, ax = new_figure(width=6, height=3.8)
    for color, (name, values) in zip(COLORS, norms.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 1 or values.size < 2:
            raise ValueError(
                f"{name!r}: expected one norm per time step [T] with T >= 2, got shape {values.shape}."
            )
        distance = np.arange(values.size)[::-1]  # step t is T - 1 - t steps before the end
        ax.plot(distance, np.maximum(values, 1e-30), "-", color=color, lw=2, label=name)
    ax.set_yscale("log")
    ax.set(
        xlabel="distance from the last step (steps)",
        ylabel=r"$\|\partial \Sigma h_T / \partial x_t\|$",
        title=title,
    )
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    return finish(fig)


def gate_activations(
    gates: Mapping[str, object], *, units: int = 16, xlabels: Sequence[str] | None = None
) -> Figure:
    """One heatmap per gate, name -> ``[T, H]`` values in [0, 1] (or [-1, 1]), first ``units`` units shown."""
    if not gates:
        raise ValueError("gate_activations needs at least one gate: {name: values [T, H]}.")
    fig, axes = new_figure(len(gates), width=3.6, height=3.2)
    axes = np.atleast_1d(axes)
    for ax, (name, values) in zip(axes, gates.items()):
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"gate {name!r}: expected [T, H] values, got shape {values.shape}.")
        low = -1.0 if values.min() < 0 else 0.0
        im = ax.imshow(values[:, :units].T, aspect="auto", cmap="viridis", vmin=low, vmax=1.0)
        ax.set(title=name, xlabel="time step", ylabel="unit")
        if xlabels is not None:
            ax.set_xticks(range(len(xlabels)), list(xlabels), fontsize=7)
        fig.colorbar(im, ax=ax, shrink=0.8)
    return finish(fig)


def token_distributions(
    probs: Mapping[str, object],
    labels: Sequence[str],
    *,
    top: int = 15,
    title: str = "next-character distribution",
) -> Figure:
    """Bars of several distributions over the same tokens, name -> ``[V]`` probabilities.

    The ``top`` tokens most likely under the first distribution are shown, in that
    order (notebook 11 compares temperatures this way).
    """
    if not probs:
        raise ValueError("token_distributions needs at least one distribution: {name: probs [V]}.")
    arrays = {name: np.asarray(p, dtype=np.float64) for name, p in probs.items()}
    first = next(iter(arrays.values()))
    if (
        any(a.shape != first.shape or a.ndim != 1 for a in arrays.values())
        or len(labels) != first.size
    ):
        raise ValueError("every distribution must be [V] with V = len(labels).")
    order = np.argsort(-first)[:top]
    fig, ax = new_figure(width=7, height=3.6)
    width = 0.8 / len(arrays)
    for i, (color, (name, p)) in enumerate(zip(COLORS, arrays.items())):
        ax.bar(np.arange(order.size) + i * width, p[order], width=width, color=color, label=name)
    ax.set_xticks(np.arange(order.size) + 0.4 - width / 2, [repr(labels[j])[1:-1] for j in order])
    ax.set(ylabel="probability", title=title)
    ax.legend()
    ax.grid(alpha=0.3, axis="y")
    return finish(fig)


def word_scores(
    words: Sequence[str], scores, *, k: int = 12, title: str = "words by the model's score"
) -> Figure:
    """The ``k`` highest- and ``k`` lowest-scoring words as horizontal bars (notebook 13)."""
    scores = np.asarray(scores, dtype=np.float64)
    if scores.ndim != 1 or len(words) != scores.size or scores.size < 2:
        raise ValueError(
            f"need one score per word, got {len(words)} words and scores of shape {scores.shape}."
        )
    order = np.argsort(scores)
    k = min(k, scores.size // 2)
    pick = np.concatenate([order[:k], order[-k:]])
    fig, ax = new_figure(width=6, height=0.25 * 2 * k + 1.2)
    ax.barh(
        np.arange(pick.size),
        scores[pick],
        color=[COLORS[1] if s < 0 else COLORS[0] for s in scores[pick]],
    )
    ax.set_yticks(np.arange(pick.size), [words[i] for i in pick], fontsize=8)
    ax.axvline(0.0, color="0.3", lw=0.8)
    ax.set(xlabel="score (positive minus negative logit)", title=title)
    return finish(fig)


def length_histogram(
    lengths, *, max_length: int | None = None, title: str = "sentence lengths"
) -> Figure:
    """Histogram of sequence lengths ``[N]``, with the cut-off ``max_length`` marked."""
    lengths = np.asarray(lengths)
    if lengths.ndim != 1 or lengths.size == 0:
        raise ValueError(
            f"length_histogram expects lengths [N] with N >= 1, got shape {lengths.shape}."
        )
    fig, ax = new_figure(width=6, height=3.4)
    ax.hist(lengths, bins=np.arange(lengths.max() + 2) - 0.5, color=COLORS[0])
    if max_length is not None:
        cut = float(np.mean(lengths > max_length))
        ax.axvline(
            max_length + 0.5,
            color=COLORS[1],
            ls="--",
            label=f"max_length = {max_length} ({cut:.1%} cut)",
        )
        ax.legend()
    ax.set(xlabel="tokens", ylabel="sentences", title=title)
    return finish(fig)


def attention_maps(
    weights,
    tokens: Sequence[str],
    *,
    titles: Sequence[str] | None = None,
    title: str = "attention weights",
) -> Figure:
    """Heat maps of attention weights ``[N, T, T]`` (e.g. the heads of one block), one panel each.

    Row i is the query at position i, column j the key at position j; ``tokens`` (T labels)
    name the positions. With a causal mask everything above the diagonal is 0. Notebook 12.
    """
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim == 2:
        w = w[None]
    if w.ndim != 3 or w.shape[1] != w.shape[2] or w.shape[0] < 1:
        raise ValueError(
            f"attention_maps expects weights [N, T, T] (or [T, T]), got shape {np.shape(weights)}."
        )
    if len(tokens) != w.shape[1]:
        raise ValueError(f"need one label per position: {len(tokens)} tokens for T = {w.shape[1]}.")
    if titles is not None and len(titles) != w.shape[0]:
        raise ValueError(f"need one title per map: {len(titles)} titles for {w.shape[0]} maps.")
    labels = [repr(t)[1:-1] if t != " " else "␣" for t in tokens]
    side = max(2.6, 0.16 * w.shape[1] + 1.0)
    fig, axes = new_figure(ncols=w.shape[0], width=side, height=side)
    axes = np.atleast_1d(axes)
    for k, ax in enumerate(axes):
        ax.imshow(w[k], cmap="viridis", vmin=0.0, vmax=1.0)
        ax.set_xticks(np.arange(len(labels)), labels, fontsize=7)
        ax.set_yticks(np.arange(len(labels)), labels, fontsize=7)
        ax.set_xlabel("key (attended to)", fontsize=8)
        if k == 0:
            ax.set_ylabel("query (position reading)", fontsize=8)
        ax.set_title(titles[k] if titles is not None else f"map {k}", fontsize=9)
    fig.suptitle(title)
    return finish(fig)
