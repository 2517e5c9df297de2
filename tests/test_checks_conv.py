"""leptonlab.checks._conv (notebook 07): pass on the reference, fail helpfully on stubs and typical
mistakes."""

import numpy as np
import pytest
from _check_helpers import stub

from leptonlab import checks
from leptonlab.checks import CheckFailed


# ------------------------------------------------------------------ references (notebook solutions)
def ref_output_size(n, k, p, s):
    return (n + 2 * p - k) // s + 1


def ref_conv(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(image[i : i + kh, j : j + kw] * kernel)
    return out


def ref_pool(x):
    h, w = x.shape
    return x.reshape(h // 2, 2, w // 2, 2).max(axis=(1, 3))


@pytest.mark.parametrize(
    "check, reference",
    [
        (checks.output_size, ref_output_size),
        (checks.conv2d_single_channel, ref_conv),
        (checks.max_pool_2x2, ref_pool),
    ],
)
def test_passes_on_reference_and_fails_on_stub(check, reference, capsys):
    assert check(reference) is None
    assert "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not written yet"):
        check(stub)


def _swapped_ij_conv(image, kernel):
    kh, kw = kernel.shape
    out = np.zeros((image.shape[0] - kh + 1, image.shape[1] - kw + 1))
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = np.sum(
                image[j : j + kh, i : i + kw] * kernel
            )  # rows indexed by j: a typical slip
    return out


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        (checks.output_size, lambda n, k, p, s: (n + 2 * p - k) // s, "one short"),
        (checks.output_size, lambda n, k, p, s: (n + p - k) // s + 1, "EACH side"),
        (checks.output_size, lambda n, k, p, s: (n + 2 * p - k) / s + 1, "floor division"),
        (checks.output_size, lambda n, k, p, s: n + 2 * p - k + 1, "fewer windows fit"),
        (
            checks.conv2d_single_channel,
            lambda im, k: ref_conv(im, k[::-1, ::-1]),
            "flipped the kernel",
        ),
        (checks.conv2d_single_channel, lambda im, k: ref_conv(im, k)[:-1, :-1], "H - KH \\+ 1"),
        (checks.conv2d_single_channel, _swapped_ij_conv, "out\\[i, j\\]"),
        (
            checks.max_pool_2x2,
            lambda x: x.reshape(x.shape[0] // 2, 2, x.shape[1] // 2, 2).mean(axis=(1, 3)),
            "averaged",
        ),
        (
            checks.max_pool_2x2,
            lambda x: x.reshape(x.shape[0] // 2, x.shape[1] // 2, 2, 2).max(axis=(2, 3)),
            "2x2 squares",
        ),
        (checks.max_pool_2x2, lambda x: x[::2, ::2], "block"),
    ],
)
def test_fails_with_a_specific_message(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)


def test_not_a_function():
    with pytest.raises(CheckFailed, match="expected a function"):
        checks.output_size(26)
