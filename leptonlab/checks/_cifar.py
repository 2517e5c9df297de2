"""Checks for notebook 16 (a CIFAR-10 classifier): channel statistics, label smoothing, TTA."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def _softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


@exercise
def channel_stats(fn) -> None:
    """Check ``fn(images: [N, H, W, 3] uint8) -> (mean [3], std [3])`` of the pixels scaled to [0, 1].

    One mean and one standard deviation per colour channel, over all images and positions.
    """
    name = "channel_stats"
    rng = np.random.default_rng(15)
    images = rng.integers(0, 256, (6, 4, 5, 3)).astype(np.uint8)
    images[..., 0] //= 2  # red darker, so the channels differ
    images[..., 2] = 255 - images[..., 2] // 4  # blue bright and low-contrast
    x = images.astype(np.float64) / 255.0
    want_mean, want_std = x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))
    out = call(name, fn, images.copy())
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        raise CheckFailed(
            name, f"expected a pair (mean, std), got {type(out).__name__}.", "return mean, std"
        )
    mean = as_array(name, out[0], "the mean")
    std = as_array(name, out[1], "the std")
    if mean.shape == ():
        raise CheckFailed(
            name,
            "the mean is one number; expected one per channel, shape (3,).",
            "average over the images, rows and columns (axes 0, 1, 2), not over the channels.",
        )
    if mean.shape == (4, 5, 3) or mean.shape == (5, 3):
        raise CheckFailed(
            name,
            f"the mean has shape {mean.shape}; expected (3,).",
            "reduce over axes (0, 1, 2): images, rows and columns.",
        )
    if mean.shape == (3,) and np.allclose(mean, want_mean * 255, rtol=1e-4):
        raise CheckFailed(
            name,
            "the mean is on the 0..255 scale; expected pixels scaled to [0, 1].",
            "convert to float and divide by 255 first.",
        )
    expect_close(
        name,
        mean,
        want_mean,
        what="the per-channel mean",
        rtol=1e-4,
        atol=1e-5,
        hint=(
            "one mean per channel: average over every axis except the channel axis.",
            "scale the pixels to [0, 1] first, and reduce over images, rows and columns.",
        ),
    )
    if std.shape == (3,) and np.allclose(std, x.std(axis=(0, 1, 2), ddof=1), rtol=1e-4):
        want_std = x.std(axis=(0, 1, 2), ddof=1)  # the sample std is as good for normalising
    if std.shape == (3,) and np.allclose(std, want_std * 255, rtol=1e-3):
        raise CheckFailed(
            name,
            "the std is on the 0..255 scale; expected pixels scaled to [0, 1].",
            "convert to float and divide by 255 first.",
        )
    expect_close(
        name,
        std,
        want_std,
        what="the per-channel std",
        rtol=1e-3,
        atol=1e-4,
        hint=(
            "one standard deviation per channel, of the pixels scaled to [0, 1].",
            "reduce over images, rows and columns together, not one after the other.",
        ),
    )
    return passed(name, "one mean and one std per colour channel, on the [0, 1] scale.")


@exercise
def smooth_labels(fn) -> None:
    """Check ``fn(y: [B] int, num_classes, smoothing) -> [B, num_classes]`` smoothed one-hot targets.

    The convention of the notebook: the true class gets ``1 - smoothing + smoothing / C`` and
    every class (the true one included) gets ``smoothing / C`` from the spread mass.
    """
    name = "smooth_labels"
    cases = [
        (np.array([2, 0, 1]), 4, 0.1),
        (np.array([0, 9, 9, 3]), 10, 0.2),
        (np.array([1, 0]), 2, 0.0),
    ]
    for y, c, eps in cases:
        want = np.eye(c)[y] * (1 - eps) + eps / c
        got = as_array(name, call(name, fn, y.copy(), c, eps), "the targets")
        if got.shape != want.shape:
            raise CheckFailed(
                name,
                f"for {len(y)} labels and {c} classes the targets have shape {got.shape}; "
                f"expected {want.shape}.",
                "one row per label, one column per class.",
            )
        if eps and np.allclose(got, np.eye(c)[y] * (1 - eps) + (1 - np.eye(c)[y]) * eps / (c - 1)):
            raise CheckFailed(
                name,
                "you spread the mass over the C - 1 wrong classes only.",
                "that is a valid variant, but the notebook's (and optax's) convention spreads "
                "smoothing / C over all C classes, the true one included.",
            )
        if eps and np.allclose(got, np.eye(c)[y] + eps / c):
            raise CheckFailed(
                name,
                "the rows sum to more than 1: the true class kept its full 1.",
                (
                    "the true class gives up a share of its mass before the spread is added.",
                    "scale the one-hot part down by the share you spread, so each row still sums to 1.",
                ),
            )
        if eps and np.allclose(got, np.eye(c)[y] * (1 - eps)):
            raise CheckFailed(
                name,
                "the rows sum to 1 - smoothing: the removed mass was not spread out.",
                (
                    "spread the removed mass evenly over every class, the true one included.",
                    "each of the C entries gets an equal part of the smoothing mass.",
                ),
            )
        expect_close(
            name,
            got,
            want,
            what=f"the targets for y={y.tolist()}, C={c}, smoothing={eps}",
            hint=(
                "the true class keeps 1 - smoothing of its mass, and the smoothing mass is shared "
                "by ALL C classes.",
                "check one row by hand: with C = 4 and smoothing 0.1 the true class gets 0.925, "
                "the others 0.025.",
            ),
        )
    return passed(name, "every row sums to 1, with 1 - eps + eps/C on the true class.")


@exercise
def tta_probs(fn) -> None:
    """Check ``fn(logits_fn, x: [N, H, W, C]) -> [N, classes]``: softmax averaged over x and its mirror.

    ``logits_fn(x) -> [N, classes]`` is the model; the mirror image flips the width axis
    (axis 2, left-right).
    """
    name = "tta_probs"
    rng = np.random.default_rng(3)
    x = rng.normal(size=(5, 3, 4, 2))
    w = rng.normal(size=(3 * 4 * 2, 6))

    def logits_fn(images):
        images = np.asarray(images, dtype=np.float64)
        return 3.0 * images.reshape(images.shape[0], -1) @ w  # [N, 6]; not flip-invariant

    p, p_lr, p_ud = (
        _softmax(logits_fn(x)),
        _softmax(logits_fn(x[:, :, ::-1])),
        _softmax(logits_fn(x[:, ::-1])),
    )
    want = (p + p_lr) / 2
    got = as_array(name, call(name, fn, logits_fn, x.copy()), "the probabilities")
    if got.shape != want.shape:
        raise CheckFailed(
            name,
            f"the result has shape {got.shape}; expected {want.shape} (examples x classes).",
            "average two [N, classes] probability arrays; do not reduce over the examples.",
        )
    mistakes = [
        (
            (p + p_ud) / 2,
            "you flipped upside down (axis 1). A left-right mirror flips the width axis instead.",
        ),
        (
            _softmax((logits_fn(x) + logits_fn(x[:, :, ::-1])) / 2),
            "you averaged the logits; the notebook averages the probabilities: softmax each, then take the mean.",
        ),
        (
            (logits_fn(x) + logits_fn(x[:, :, ::-1])) / 2,
            "these are averaged logits: apply softmax to each first.",
        ),
        (
            p,
            "the mirrored images are missing: average the predictions on the images and on their mirrors.",
        ),
    ]
    for wrong, hint in mistakes:
        if np.allclose(got, wrong, rtol=1e-5, atol=1e-7) and not np.allclose(wrong, want):
            raise CheckFailed(name, "the probabilities differ from the reference.", hint)
    expect_close(
        name,
        got,
        want,
        what="the averaged probabilities",
        rtol=1e-5,
        atol=1e-6,
        hint=(
            "average two sets of probabilities: on the images and on their left-right mirrors.",
            "softmax over the classes (the last axis) for each view, then the mean of the two.",
        ),
    )
    return passed(name, "softmax of the image and of its mirror image, averaged.")
