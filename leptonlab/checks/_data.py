"""Checks for notebook 06 (the data pipeline)."""

from __future__ import annotations

import jax
import numpy as np

from leptonlab.checks._core import (
    CheckFailed,
    Raised,
    as_array,
    attempt,
    call,
    exercise,
    expect_close,
    failure_from,
    passed,
    under_jit,
)


@exercise
def min_max_scale(fn) -> None:
    """Check ``fn(x) -> (x - x.min()) / (x.max() - x.min())`` as floats in [0, 1] (one min and max for all of x)."""
    name = "min_max_scale"
    rng = np.random.default_rng(6)
    x = rng.integers(10, 211, size=(4, 3, 3)).astype(np.uint8)  # [4, 3, 3], not starting at 0
    x[0, 0, 0], x[1, 2, 2] = 10, 210
    x[2] = np.clip(x[2], 60, 150)  # an image with a smaller range of its own
    xf = x.astype(np.float64)
    want = (xf - 10.0) / 200.0
    got = as_array(name, call(name, fn, x.copy()), "the scaled images")
    if got.shape != x.shape:
        raise CheckFailed(
            name,
            f"the result has shape {got.shape}; expected {x.shape}, the shape of x.",
            "scaling changes values, not shapes: use x.min() and x.max() over all of x.",
        )
    if np.allclose(got, xf / 255.0):
        raise CheckFailed(
            name,
            "you divided by 255: that scales pixels, but these values run from 10 to 210.",
            (
                "min-max scaling uses the data's own range, not the range a pixel could have.",
                "the smallest value of x should come out as 0 and the largest as 1.",
            ),
        )
    if np.allclose(got, xf / 210.0):
        raise CheckFailed(
            name,
            "you divided by the maximum without subtracting the minimum first.",
            (
                "the smallest value should come out as 0.",
                "shift first, so the minimum sits at 0, then divide by the range.",
            ),
        )
    if set(np.unique(got)) <= {0.0, 1.0}:
        raise CheckFailed(
            name,
            "every value came out as 0 or 1: an integer division.",
            (
                "integer pixels stay integers: convert them to a float type before dividing.",
                "check the dtype of x and of your result; divide with /, not //.",
            ),
        )
    per_image = (xf - xf.min(axis=(1, 2), keepdims=True)) / np.ptp(xf, axis=(1, 2), keepdims=True)
    if np.allclose(got, per_image):
        raise CheckFailed(
            name,
            "you scaled each image by its own minimum and maximum.",
            "use one minimum and one maximum for the whole array, so that all images share a scale.",
        )
    expect_close(
        name,
        got,
        want,
        what="the scaled images",
        hint=(
            "the smallest value of x should map to 0 and the largest to 1, in floating point.",
            "use the minimum and maximum over ALL of x, and a float division.",
        ),
    )
    return passed(name)


@exercise
def standardize(fn) -> None:
    """Check ``fn(train, test) -> (train_z, test_z)``, both standardised with the training mean and std."""
    name = "standardize"
    rng = np.random.default_rng(60)
    train = rng.normal(3.0, 2.0, size=(50, 4, 4))  # [50, 4, 4]
    train[:, 0, 0] += 5.0  # pixels with different statistics, so per-pixel and global differ
    test = rng.normal(4.0, 3.0, size=(20, 4, 4))  # [20, 4, 4]: a different mean and spread
    mean, std = train.mean(), train.std()
    out = call(name, fn, train.copy(), test.copy())
    if not (isinstance(out, (tuple, list)) and len(out) == 2):
        raise CheckFailed(
            name,
            f"expected a pair (train_z, test_z), got {type(out).__name__}.",
            "return train_z, test_z.",
        )
    train_z = as_array(name, out[0], "train_z")
    test_z = as_array(name, out[1], "test_z")
    if train_z.shape != train.shape or test_z.shape != test.shape:
        raise CheckFailed(
            name,
            f"shapes {train_z.shape}, {test_z.shape}; expected {train.shape}, {test.shape}.",
            "standardising changes values, not shapes.",
        )
    if np.allclose(test_z, (test - test.mean()) / test.std()):
        raise CheckFailed(
            name,
            "the test set was standardised with its own mean and std.",
            "fit on train only: compute mean and std of the training data and apply those same "
            "two numbers to both sets, as the model will see new data.",
        )
    both = np.concatenate([train.ravel(), test.ravel()])
    if np.allclose(test_z, (test - both.mean()) / both.std()):
        raise CheckFailed(
            name,
            "the mean and std were computed on train and test together.",
            "that lets the test set leak into preprocessing: use the training data only.",
        )
    per_pixel = (train - train.mean(axis=0)) / train.std(axis=0)
    if np.allclose(train_z, per_pixel):
        raise CheckFailed(
            name,
            "you computed one mean and std per pixel position (axis=0).",
            (
                "use one mean and one std over all training pixels, not one per position.",
                "a reduction without an axis argument covers every entry.",
            ),
        )
    if np.allclose(train_z, (train - mean) / std**2):
        raise CheckFailed(
            name,
            "you divided by the variance.",
            "divide by the standard deviation, the square root of the variance.",
        )
    expect_close(
        name,
        train_z,
        (train - mean) / std,
        what="train_z",
        hint=(
            "standardised training data has mean 0 and standard deviation 1: check yours.",
            "subtract the training mean and divide by the training standard deviation.",
        ),
    )
    expect_close(
        name,
        test_z,
        (test - mean) / std,
        what="test_z",
        hint="the test set uses the training mean and std, the same two numbers as train.",
    )
    return passed(name)


@exercise
def random_flip(fn) -> None:
    """Check ``fn(x: [B, H, W], key) -> [B, H, W]``: each image mirrored left-right with probability 1/2.

    It must decide per image, use only ``key`` for randomness, and work under ``jax.jit``.
    """
    name = "random_flip"
    rng = np.random.default_rng(61)
    x = rng.normal(size=(64, 5, 7)).astype(np.float32)  # [64, 5, 7]: distinct, not square
    key = jax.random.key(2024)
    got = as_array(name, call(name, fn, x.copy(), key), "the augmented batch")
    if got.shape != x.shape:
        raise CheckFailed(
            name,
            f"the result has shape {got.shape}; expected {x.shape}.",
            "flip the width axis of each image; keep the batch whole.",
        )
    same = np.all(np.isclose(got, x), axis=(1, 2))  # [B]
    mirrored = np.all(np.isclose(got, x[:, :, ::-1]), axis=(1, 2))  # [B]
    upside_down = np.all(np.isclose(got, x[:, ::-1, :]), axis=(1, 2))  # [B]
    if np.any(upside_down & ~same) and not np.any(mirrored & ~same):
        raise CheckFailed(
            name,
            "some images were turned upside down, not mirrored left-right.",
            (
                "x has axes [B, H, W]: a left-right mirror reverses the width axis.",
                "reverse the last axis of x, not the middle one.",
            ),
        )
    if not np.all(same | mirrored):
        bad = int(np.flatnonzero(~(same | mirrored))[0])
        raise CheckFailed(
            name,
            f"image {bad} came out neither unchanged nor mirrored.",
            (
                "each image is either unchanged or mirrored left-right, chosen per image.",
                "jnp.where picks per entry: give it one decision per image, broadcastable to [B, H, W].",
            ),
        )
    n_flipped = int(mirrored.sum())
    if n_flipped in (0, len(x)):
        raise CheckFailed(
            name,
            f"{'all' if n_flipped else 'none'} of the 64 images were flipped.",
            (
                "draw one coin per image, not one for the whole batch.",
                "jax.random.bernoulli can draw a whole array of coins: one per image.",
            ),
        )
    if not 12 <= n_flipped <= 52:
        raise CheckFailed(
            name,
            f"{n_flipped} of 64 images were flipped; with probability 1/2 about 32 should be.",
            "each image is flipped with probability 1/2, independently of the others.",
        )
    again = as_array(name, call(name, fn, x.copy(), key), "the augmented batch")
    if not np.array_equal(again, got):
        raise CheckFailed(
            name,
            "the same key gave different flips.",
            "take all randomness from key (jax.random), not from np.random or random.",
        )
    other = as_array(name, call(name, fn, x.copy(), jax.random.key(7)), "the augmented batch")
    if np.array_equal(other, got):
        raise CheckFailed(
            name,
            "a different key gave exactly the same flips.",
            "draw the coins from the key you are given, not from a fixed one.",
        )
    jitted = attempt(name, fn, x, key, probe=under_jit)
    if isinstance(jitted, Raised) and jitted.isa("NotImplementedError"):
        raise failure_from(name, jitted)
    if isinstance(jitted, Raised):
        raise CheckFailed(
            name,
            f"under jax.jit your function raised {jitted.type_name}.",
            "inside jit the coins are traced values: choose with jnp.where, not a Python if "
            "or a loop over images.",
        )
    expect_close(
        name,
        jitted,
        got,
        what="the result under jax.jit",
        hint="the function should compute the same under jax.jit as without it.",
    )
    return passed(name)
