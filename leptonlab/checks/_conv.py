"""Checks for notebook 07 (convolution from scratch)."""

from __future__ import annotations

import numpy as np

from leptonlab.checks._core import CheckFailed, as_array, call, exercise, expect_close, passed

# (n, kernel_size, padding, stride) -> expected output size; chosen so that each usual
# mistake (no +1, p instead of 2p, true division, stride ignored) gives a different number.
_SIZE_CASES = (
    ((28, 3, 0, 1), 26),
    ((28, 3, 1, 1), 28),
    ((28, 5, 2, 2), 14),
    ((5, 2, 0, 2), 2),
    ((7, 3, 0, 2), 3),
    ((32, 4, 1, 2), 16),
    ((10, 3, 2, 3), 4),
)


_SIZE_MISTAKES = (  # (wrong formula, hint)
    (
        lambda n, k, p, s: (n + 2 * p - k) // s,
        (
            "count the first window too: you are one short.",
            "the number of strides that fit counts the gaps between windows; there is one more window than gaps.",
        ),
    ),
    (
        lambda n, k, p, s: (n + p - k) // s + 1,
        (
            "padding p adds p pixels on EACH side.",
            "the padded length counts the padding twice, once per side.",
        ),
    ),
    (
        lambda n, k, p, s: n + 2 * p - k + 1,
        (
            "with stride s the window moves s pixels at a time, so fewer windows fit.",
            "count how many steps of s fit into the room the window has to move, rounding down.",
        ),
    ),
    (
        lambda n, k, p, s: (n - 2 * p - k) // s + 1,
        ("padding makes the input longer, not shorter.", "check the sign of the padding term."),
    ),
)


@exercise
def output_size(fn) -> None:
    """Check ``fn(n, kernel_size, padding, stride) -> int``: ``(n + 2p - k) // s + 1``."""
    name = "output_size"
    results = []
    for (n, k, p, s), _want in _SIZE_CASES:
        got = call(name, fn, n, k, p, s)
        case = f"n={n}, kernel_size={k}, padding={p}, stride={s}"
        value = as_array(name, got, "the output size")
        if value.shape != ():
            raise CheckFailed(
                name,
                f"for {case} you returned shape {value.shape}; the size is one number.",
                "return a single int.",
            )
        value = float(value)
        if value != int(value):
            raise CheckFailed(
                name,
                f"for {case} you returned {value:g}, not a whole number.",
                "a window either fits or it does not: use floor division // (not /).",
            )
        if isinstance(got, (float, np.floating)):
            raise CheckFailed(
                name,
                f"for {case} you returned the float {got!r}; a size is an int.",
                "use floor division //, which keeps ints (and rounds down when a window "
                "does not fit).",
            )
        results.append(int(value))
    wants = [want for _, want in _SIZE_CASES]
    if results == wants:
        return passed(name)
    for wrong, mistake_hint in _SIZE_MISTAKES:
        if results == [wrong(*args) for args, _ in _SIZE_CASES]:
            hint = mistake_hint
            break
    else:
        hint = (
            "work one case by hand: pad the input, then count the positions where a whole window fits.",
            "the window's first position is 0, then s, 2s, ...; the last must still end inside the "
            "padded input.",
        )
    i = next(i for i, (got, want) in enumerate(zip(results, wants)) if got != want)
    (n, k, p, s), want = _SIZE_CASES[i]
    raise CheckFailed(
        name,
        f"for n={n}, kernel_size={k}, padding={p}, stride={s} you returned "
        f"{results[i]}; expected {want}.",
        hint,
    )


def _reference_correlate(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    kh, kw = kernel.shape
    out_h, out_w = image.shape[0] - kh + 1, image.shape[1] - kw + 1
    out = np.zeros((out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


@exercise
def conv2d_single_channel(fn) -> None:
    """Check ``fn(image: [H, W], kernel: [KH, KW]) -> [H - KH + 1, W - KW + 1]`` ("VALID" cross-correlation)."""
    name = "conv2d_single_channel"
    rng = np.random.default_rng(7)
    image = rng.integers(-3, 4, size=(5, 6)).astype(
        np.float64
    )  # [5, 6]: not square, to catch i/j swaps
    kernel = np.array([[1.0, 2.0, 0.0], [0.0, -1.0, 3.0]])  # [2, 3]: not symmetric, to catch flips
    want = _reference_correlate(image, kernel)  # [4, 4]
    got = as_array(name, call(name, fn, image.copy(), kernel.copy()), "the output")
    if got.shape != want.shape:
        raise CheckFailed(
            name,
            f"for a 5x6 image and a 2x3 kernel the output has shape {got.shape}; "
            f"expected {want.shape}.",
            "with no padding and stride 1 there are H - KH + 1 rows and W - KW + 1 columns "
            "(range(H - KH + 1) visits each window once).",
        )
    if np.allclose(got, _reference_correlate(image, kernel[::-1, ::-1])):
        raise CheckFailed(
            name,
            "you flipped the kernel: that is the convolution of signal processing.",
            (
                "deep learning's conv is a cross-correlation: use the kernel as it is, not flipped.",
                "multiply each window entry by the kernel entry at the same position.",
            ),
        )
    expect_close(
        name,
        got,
        want,
        what="the output",
        hint=(
            "out[i, j] comes from the window whose top-left corner is (i, j), the size of the kernel.",
            "check your slices: rows move with i and span the kernel's height, columns with j and "
            "span its width.",
        ),
    )
    ones = call(name, fn, np.ones((3, 3)), np.ones((3, 3)))
    expect_close(
        name, ones, np.array([[9.0]]), what="a 3x3 image of ones under a 3x3 kernel of ones"
    )
    return passed(name)


@exercise
def max_pool_2x2(fn) -> None:
    """Check ``fn(x: [H, W]) -> [H // 2, W // 2]``: the maximum of each non-overlapping 2x2 block."""
    name = "max_pool_2x2"
    x = np.array(
        [
            [1.0, 3.0, 2.0, 0.0, 5.0, 1.0],
            [4.0, 2.0, 1.0, 1.0, 0.0, 2.0],
            [0.0, 1.0, 7.0, 8.0, 3.0, 3.0],
            [2.0, 6.0, 5.0, 9.0, 4.0, 3.0],
        ]
    )  # [4, 6]
    want = x.reshape(2, 2, 3, 2).max(axis=(1, 3))  # [[4, 2, 5], [6, 9, 4]]
    got = as_array(name, call(name, fn, x.copy()), "the pooled output")
    if got.shape != want.shape:
        raise CheckFailed(
            name,
            f"for a 4x6 input the output has shape {got.shape}; expected {want.shape}.",
            "each 2x2 block gives one value: H // 2 rows and W // 2 columns.",
        )
    if np.allclose(got, x.reshape(2, 2, 3, 2).mean(axis=(1, 3))):
        raise CheckFailed(
            name,
            "you averaged each block: that is average pooling.",
            "take the largest value of each block (max, not mean).",
        )
    if np.allclose(got, x.reshape(2, 3, 2, 2).max(axis=(2, 3))):
        raise CheckFailed(
            name,
            "the blocks are not the 2x2 squares of the image.",
            (
                "block (i, j) holds rows 2i, 2i+1 and columns 2j, 2j+1 of x.",
                "if you reshape, make sure the two axes of size 2 come from a row pair and a column "
                "pair; print one block to check.",
            ),
        )
    expect_close(
        name,
        got,
        want,
        what="the pooled output",
        hint=(
            "out[i, j] is the maximum of the 2x2 block whose top-left corner is (2i, 2j).",
            "take the maximum over the two entries of each block in both directions, not over a row.",
        ),
    )
    return passed(name)
