"""Figures of image data and of what convolutions do to it (notebooks 06 and 07).

Augmentation previews, class balance, pixel histograms (06); filters, feature maps and
receptive fields (07).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from leptonlab.plot._style import COLORS, finish, new_figure


def _as_mapping(value: Any, fn: str, what: str) -> dict[str, np.ndarray]:
    """A non-empty ``{label: array}``; a bare array becomes ``{"": array}``."""
    if isinstance(value, Mapping):
        if not value:
            raise ValueError(f"{fn}(): {what} is empty; give at least one entry {{label: array}}.")
        return {str(k): np.asarray(v) for k, v in value.items()}
    try:
        return {"": np.asarray(value)}
    except Exception:
        raise TypeError(
            f"{fn}(): {what} must be an array or a dict {{label: array}}, "
            f"got {type(value).__name__}."
        ) from None


def _check_image(image: Any, fn: str, what: str = "image") -> np.ndarray:
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[-1] == 1:
        image = image[..., 0]
    if image.ndim not in (2, 3) or min(image.shape) == 0:
        raise ValueError(
            f"{fn}(): {what} must be one image [H, W] or [H, W, C], got shape {image.shape}."
        )
    return image


def _show(ax, image: np.ndarray, **kwargs) -> None:
    if image.ndim == 2:
        kwargs.setdefault("cmap", "gray")
    ax.imshow(image, **kwargs)
    ax.set_xticks([])
    ax.set_yticks([])


def augmentation_preview(image: Any, variants: Mapping[str, Any], *, title: str = "") -> Figure:
    """One image and its augmented variants: a row per augmentation, the original first.

    ``image: [H, W]`` (or ``[H, W, C]``); ``variants`` maps an augmentation's name to its
    results ``[K, H, W(, C)]``. All panels share the original's intensity scale, so a
    change in brightness would show. Introduced in notebook 06.
    """
    fn = "augmentation_preview"
    image = _check_image(image, fn)
    if not isinstance(variants, Mapping) or not variants:
        raise TypeError(
            f"{fn}(): variants must be a non-empty dict {{name: images [K, H, W]}}, "
            f"got {type(variants).__name__}."
        )
    rows = {}
    for name, batch in variants.items():
        batch = np.asarray(batch)
        if batch.ndim == 4 and batch.shape[-1] == 1 and image.ndim == 2:
            batch = batch[..., 0]
        if batch.ndim != image.ndim + 1 or batch.shape[1:] != image.shape or len(batch) == 0:
            raise ValueError(
                f"{fn}(): variants[{name!r}] must be images [K, {', '.join(map(str, image.shape))}] "
                f"like the original, got shape {batch.shape}."
            )
        rows[name] = batch
    ncols = 1 + max(len(b) for b in rows.values())
    fig, axes = new_figure(ncols, len(rows), width=1.25, height=1.4)
    axes = np.asarray(axes).reshape(len(rows), ncols)
    vmin, vmax = float(image.min()), float(image.max())
    for r, (name, batch) in enumerate(rows.items()):
        for c, ax in enumerate(axes[r]):
            ax.axis("off")
            if c == 0:
                _show(ax, image, vmin=vmin, vmax=vmax)
                ax.set_title("original", fontsize=8)
            elif c - 1 < len(batch):
                _show(ax, batch[c - 1], vmin=vmin, vmax=vmax)
        axes[r, 1].set_title(name, fontsize=8, loc="left")
    if title:
        fig.suptitle(title)
    return finish(fig)


def class_balance(
    labels: Any, class_names: Sequence[str] | None = None, *, title: str = "class balance"
) -> Figure:
    """Fraction of examples in each class, one group of bars per split.

    ``labels`` is an int array ``[N]`` or a dict ``{split name: [N_split] ints}``; a
    dashed line marks the uniform share ``1 / num_classes``. Introduced in notebook 06.
    """
    fn = "class_balance"
    splits = _as_mapping(labels, fn, "labels")
    for name, y in splits.items():
        if y.ndim != 1 or len(y) == 0 or not np.issubdtype(y.dtype, np.integer) or y.min() < 0:
            raise ValueError(
                f"{fn}(): labels{f'[{name!r}]' if name else ''} must be non-negative ints [N] "
                f"with N >= 1, got {y.dtype} {y.shape}."
            )
    num_classes = max(int(y.max()) + 1 for y in splits.values())
    if class_names is not None:
        if len(class_names) < num_classes:
            raise ValueError(f"{fn}(): {len(class_names)} class names for {num_classes} classes.")
        num_classes = len(class_names)
    names = list(class_names) if class_names is not None else [str(c) for c in range(num_classes)]
    fig, ax = new_figure(width=max(5.0, 0.55 * num_classes + 1.5), height=3.2)
    width = 0.8 / len(splits)
    x = np.arange(num_classes)
    for i, (split, y) in enumerate(splits.items()):
        share = np.bincount(y, minlength=num_classes) / len(y)
        ax.bar(
            x - 0.4 + width * (i + 0.5),
            share,
            width,
            color=COLORS[i % len(COLORS)],
            label=f"{split} ({len(y):,})" if split else f"{len(y):,} examples",
        )
    ax.axhline(1 / num_classes, color="0.3", ls="--", lw=1, label="uniform")
    long_names = max(map(len, names)) > 3
    ax.set_xticks(
        x, names, rotation=30 if long_names else 0, ha="right" if long_names else "center"
    )
    ax.set(ylabel="fraction of examples", title=title)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    ax.grid(axis="y", alpha=0.3)
    return finish(fig)


def pixel_histogram(
    images: Any, *, bins: int = 64, log: bool = True, title: str = "pixel intensities"
) -> Figure:
    """Histogram of all pixel values of ``images`` (an array or ``{label: array}``), as fractions.

    A log count axis (``log=True``) shows both the huge background peak and the rare
    mid-grey pixels. Introduced in notebook 06.
    """
    fn = "pixel_histogram"
    sets = _as_mapping(images, fn, "images")
    if isinstance(bins, bool) or not isinstance(bins, (int, np.integer)) or bins < 2:
        raise ValueError(f"{fn}(): bins must be an int >= 2, got {bins!r}.")
    for name, x in sets.items():
        if x.size == 0 or not np.issubdtype(x.dtype, np.number):
            raise ValueError(
                f"{fn}(): images{f'[{name!r}]' if name else ''} must be a non-empty numeric array, "
                f"got {x.dtype} {x.shape}."
            )
    lo = min(float(x.min()) for x in sets.values())
    hi = max(float(x.max()) for x in sets.values())
    edges = np.linspace(lo, hi if hi > lo else lo + 1, bins + 1)
    fig, ax = new_figure(width=5.5, height=3.2)
    for i, (name, x) in enumerate(sets.items()):
        counts, _ = np.histogram(x.ravel(), bins=edges)
        ax.stairs(counts / x.size, edges, color=COLORS[i % len(COLORS)], lw=1.5, label=name or None)
    if log:
        ax.set_yscale("log")
    ax.set(xlabel="pixel value", ylabel="fraction of pixels", title=title)
    if any(sets):
        ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    return finish(fig)


def _filters_of(filters: Any, fn: str) -> dict[str, np.ndarray]:
    if isinstance(filters, Mapping):
        out = {str(k): np.asarray(v, np.float64) for k, v in filters.items()}
    else:
        arr = np.asarray(filters, np.float64)
        if arr.ndim == 4 and arr.shape[2] == 1:
            arr = arr[:, :, 0, :]  # [KH, KW, 1, F] -> [KH, KW, F]
        if arr.ndim == 2:
            arr = arr[:, :, None]
        if arr.ndim != 3:
            raise ValueError(
                f"{fn}(): filters must be [KH, KW], [KH, KW, F], [KH, KW, 1, F] or a dict "
                f"{{name: [KH, KW]}}, got shape {arr.shape}."
            )
        out = {f"filter {f}": arr[:, :, f] for f in range(arr.shape[2])}
    if not out or any(v.ndim != 2 or v.size == 0 for v in out.values()):
        raise ValueError(f"{fn}(): every filter must be a non-empty 2-D array [KH, KW].")
    return out


def filter_grid(filters: Any, *, annotate: bool = True, title: str = "") -> Figure:
    """Kernel weights as small images (red positive, blue negative), one panel per filter.

    ``filters``: a dict ``{name: [KH, KW]}``, or an array ``[KH, KW, F]`` / ``[KH, KW, 1, F]``.
    With ``annotate`` and kernels of at most 5x5, each weight is written in its cell.
    Introduced in notebook 07.
    """
    kernels = _filters_of(filters, "filter_grid")
    fig, axes = new_figure(len(kernels), width=1.9, height=2.1)
    axes = np.atleast_1d(axes)
    for ax, (name, k) in zip(axes, kernels.items()):
        scale = float(np.abs(k).max()) or 1.0
        _show(ax, k, cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(name, fontsize=9)
        if annotate and max(k.shape) <= 5:
            for (r, c), v in np.ndenumerate(k):
                ax.text(
                    c,
                    r,
                    f"{v:.2g}",
                    ha="center",
                    va="center",
                    fontsize=8,
                    color="white" if abs(v) > 0.6 * scale else "black",
                )
    if title:
        fig.suptitle(title)
    return finish(fig)


def feature_maps(
    image: Any, maps: Any, titles: Sequence[str] | None = None, *, title: str = ""
) -> Figure:
    """An input image and the feature maps a convolution made from it.

    ``image: [H, W]``; ``maps: [H', W', F]`` (one convolution's output for that image, or
    ``[1, H', W', F]``). Each map is drawn on a colour scale symmetric about 0 (red
    positive, blue negative), so the sign of a response shows. Introduced in notebook 07.
    """
    fn = "feature_maps"
    image = _check_image(image, fn)
    maps = np.asarray(maps, np.float64)
    if maps.ndim == 4 and maps.shape[0] == 1:
        maps = maps[0]
    if maps.ndim == 2:
        maps = maps[:, :, None]
    if maps.ndim != 3 or maps.shape[-1] == 0:
        raise ValueError(f"{fn}(): maps must be feature maps [H', W', F], got shape {maps.shape}.")
    n = maps.shape[-1]
    if titles is not None and len(titles) != n:
        raise ValueError(f"{fn}(): {len(titles)} titles for {n} feature maps.")
    titles = list(titles) if titles is not None else [f"map {f}" for f in range(n)]
    fig, axes = new_figure(n + 1, width=2.0, height=2.2)
    axes = np.atleast_1d(axes)
    _show(axes[0], image)
    axes[0].set_title("input", fontsize=9)
    for f, ax in enumerate(axes[1:]):
        scale = float(np.abs(maps[..., f]).max()) or 1.0
        _show(ax, maps[..., f], cmap="RdBu_r", vmin=-scale, vmax=scale)
        ax.set_title(titles[f], fontsize=9)
    if title:
        fig.suptitle(title)
    return finish(fig)


def receptive_field_maps(
    masks: Mapping[str, Any],
    image: Any | None = None,
    *,
    title: str = "receptive field of the centre output",
) -> Figure:
    """The input pixels that reach one output pixel, one panel per stack depth.

    ``masks`` maps a label (e.g. ``"2 convs: 5x5"``) to a ``[H, W] bool`` mask, such as
    :func:`leptonlab.conv.receptive_field_mask` returns; with ``image`` (same ``[H, W]``)
    the mask is drawn over it. Introduced in notebook 07.
    """
    fn = "receptive_field_maps"
    if not isinstance(masks, Mapping) or not masks:
        raise TypeError(
            f"{fn}(): masks must be a non-empty dict {{label: [H, W] bool}}, got {type(masks).__name__}."
        )
    arrays = {str(k): np.asarray(v, bool) for k, v in masks.items()}
    shapes = {a.shape for a in arrays.values()}
    if len(shapes) != 1 or len(next(iter(shapes))) != 2:
        raise ValueError(
            f"{fn}(): every mask must be [H, W] with the same shape, "
            f"got {[a.shape for a in arrays.values()]}."
        )
    if image is not None:
        image = _check_image(image, fn)
        if image.shape[:2] != next(iter(shapes)):
            raise ValueError(
                f"{fn}(): image {image.shape} and masks {next(iter(shapes))} differ in size."
            )
    fig, axes = new_figure(len(arrays), width=2.2, height=2.4)
    axes = np.atleast_1d(axes)
    for ax, (label, mask) in zip(axes, arrays.items()):
        if image is not None:
            _show(ax, image, alpha=0.6)
        overlay = np.zeros((*mask.shape, 4))
        overlay[mask] = (0.84, 0.15, 0.16, 0.45 if image is not None else 1.0)  # COLORS[1] as RGBA
        ax.imshow(overlay)
        ax.set_xticks([])
        ax.set_yticks([])
        side = int(mask.any(axis=0).sum())
        ax.set_title(
            f"{label}\n{side}x{int(mask.any(axis=1).sum())} pixels" if side else label, fontsize=8
        )
    fig.suptitle(title, fontsize=10)
    return finish(fig)
