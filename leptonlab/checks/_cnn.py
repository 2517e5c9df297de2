"""Checks for notebook 08 (a CNN on MNIST and Fashion-MNIST)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed


def _final_side(
    image_size: int,
    blocks: int,
    kernel: int,
    padding: int,
    pool: int,
    *,
    conv: bool = True,
    ceil: bool = False,
) -> int:
    side = image_size
    for _ in range(blocks):
        if conv:
            side = side + 2 * padding - kernel + 1  # conv, stride 1
        side = -(-side // pool) if ceil else side // pool  # pool window = stride = pool
    return side


@exercise
def flatten_size(fn) -> None:
    """Check ``fn(image_size, channels, kernel=3, padding=1, pool=2) -> int``.

    The features after ``len(channels)`` blocks of [conv kernel x kernel, stride 1,
    ``padding`` zeros on each side -> ``pool`` x ``pool`` max-pool with stride ``pool``].
    """
    name = "flatten_size"
    cases = [  # (image_size, channels, kernel, padding, pool)
        (28, (32, 64), 3, 1, 2),  # the notebook's CNN: 64 * 7 * 7
        (
            32,
            (32, 64),
            3,
            1,
            2,
        ),  # 32x32 images: 64 * 8 * 8, the number notebook 08's source types for 28x28 ones
        (28, (16, 32, 64), 3, 1, 2),  # 28 -> 14 -> 7 -> 3: pooling rounds down
        (28, (6, 16), 5, 0, 2),  # LeNet-style, no padding: 28 -> 24 -> 12 -> 8 -> 4
        (30, (8,), 3, 0, 3),  # 30 -> 28 -> 9 (a 3x3 pool)
    ]
    for image_size, channels, kernel, padding, pool in cases:
        blocks, c_last = len(channels), channels[-1]
        side = _final_side(image_size, blocks, kernel, padding, pool)
        want = c_last * side * side
        got = as_array(
            name,
            call(name, fn, image_size, list(channels), kernel=kernel, padding=padding, pool=pool),
            "the flatten size",
        )
        if got.shape != ():
            raise CheckFailed(
                name,
                f"the result has shape {got.shape}; the flatten size is one integer.",
                "the flattened size is one number: features per position times positions.",
            )
        value = float(got)
        if value == want:
            continue
        mistakes = [  # (what a typical mistake returns, its hint)
            (
                c_last * _final_side(image_size, blocks, kernel, padding, pool, ceil=True) ** 2,
                "max-pooling drops a leftover row and column: round down (//), not up.",
            ),
            (
                c_last * _final_side(image_size, blocks, kernel, padding, pool, conv=False) ** 2,
                "you only applied the pooling: each convolution changes the side too (padding and kernel size).",
            ),
            (channels[0] * side * side, "the features come from the *last* block's channels."),
            (c_last * side, "the feature map is side x side: square the side."),
            (
                64 * 8 * 8,
                "64 * 8 * 8 is the size for 32x32 inputs through these blocks, not for every image: "
                "follow the side length block by block.",
            ),
        ]
        hint = next(
            (h for wrong, h in mistakes if value == wrong),
            (
                "follow the side length block by block: each convolution, then each pooling, changes it.",
                "after the last block, the flattened size counts every channel of every position of the "
                "square feature map.",
            ),
        )
        case = f"image_size={image_size}, channels={list(channels)}, kernel={kernel}, padding={padding}, pool={pool}"
        raise CheckFailed(name, f"for {case} you returned {value:g}; expected {want}.", hint)
    return passed(name)


@exercise
def confusion_matrix(fn) -> None:
    """Check ``fn(y_true: [N], y_pred: [N], num_classes) -> [C, C]`` counts, row = true, column = predicted."""
    name = "confusion_matrix"
    y_true = np.array([0, 0, 1, 1, 1, 2, 2, 0])
    y_pred = np.array([0, 1, 1, 1, 0, 2, 1, 0])
    want = np.zeros((3, 3), np.int64)
    for t, p in zip(y_true, y_pred):
        want[t, p] += 1
    got = as_array(name, call(name, fn, y_true, y_pred, 3), "the confusion matrix")
    if got.shape == want.shape and np.array_equal(got, want.T) and not np.array_equal(got, want):
        raise CheckFailed(
            name,
            "your matrix is the transpose of the expected one.",
            (
                "rows are the true classes and columns the predictions.",
                "each example adds 1 at (its true class, its predicted class), in that order.",
            ),
        )
    if got.shape == want.shape and np.allclose(got, want / len(y_true)):
        raise CheckFailed(
            name,
            "your matrix holds fractions; a confusion matrix counts examples.",
            "do not divide by the number of examples.",
        )
    expect_close(
        name,
        got,
        want,
        what="the confusion matrix of 8 hand-made labels",
        hint=(
            "entry (i, j) counts the examples of true class i predicted as class j.",
            "count integers, one per example; every example lands in exactly one entry.",
        ),
    )
    # A class that never occurs still gets its row and column.
    got = as_array(
        name, call(name, fn, np.array([0, 1, 1]), np.array([1, 1, 0]), 4), "the confusion matrix"
    )
    if got.shape != (4, 4):
        raise CheckFailed(
            name,
            f"with num_classes=4 and labels only from 0..1 the matrix has shape {got.shape}.",
            "the matrix's size comes from num_classes, not from the largest label seen.",
        )
    want = np.zeros((4, 4))
    want[0, 1], want[1, 1], want[1, 0] = 1, 1, 1
    expect_close(name, got, want, what="the confusion matrix with classes 2 and 3 absent")
    return passed(name)
