"""Checks of notebooks 06 and 07: pass on the reference, fail helpfully on stubs and typical mistakes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import checks
from leptonlab.checks import CheckFailed


def _stub(*args):
    raise NotImplementedError()


# ------------------------------------------------------------------ references (notebook solutions)
def ref_min_max(x):
    x = np.asarray(x, np.float32)
    return (x - x.min()) / (x.max() - x.min())


def ref_standardize(train, test):
    mean, std = train.mean(), train.std()
    return (train - mean) / std, (test - mean) / std


def ref_flip(x, key):
    flip = jax.random.bernoulli(key, 0.5, (x.shape[0], 1, 1))  # [B, 1, 1]
    return jnp.where(flip, x[:, :, ::-1], x)


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
        (checks.min_max_scale, ref_min_max),
        (checks.standardize, ref_standardize),
        (checks.random_flip, ref_flip),
        (checks.output_size, ref_output_size),
        (checks.conv2d_single_channel, ref_conv),
        (checks.max_pool_2x2, ref_pool),
    ],
)
def test_passes_on_reference_and_fails_on_stub(check, reference, capsys):
    assert check(reference) is None
    assert "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not written yet"):
        check(_stub)


def _numpy_flip(x, key):
    flip = np.random.default_rng().random(x.shape[0]) < 0.5
    return np.where(flip[:, None, None], np.asarray(x)[:, :, ::-1], x)


def _python_if_flip(x, key):
    coin = jax.random.bernoulli(key, 0.5, (x.shape[0],))
    return jnp.stack([img[:, ::-1] if c else img for img, c in zip(x, coin)])


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
        (checks.min_max_scale, lambda x: np.asarray(x) / 255.0, "divided by 255"),
        (
            checks.min_max_scale,
            lambda x: np.asarray(x) / np.asarray(x).max(),
            "without subtracting the minimum",
        ),
        (checks.min_max_scale, lambda x: (x - x.min()) // (x.max() - x.min()), "integer division"),
        (
            checks.min_max_scale,
            lambda x: (
                (x - x.min(axis=(1, 2), keepdims=True)) / np.ptp(x, axis=(1, 2), keepdims=True)
            ),
            "each image by its own",
        ),
        (
            checks.standardize,
            lambda tr, te: ((tr - tr.mean()) / tr.std(), (te - te.mean()) / te.std()),
            "its own mean",
        ),
        (
            checks.standardize,
            lambda tr, te: ((tr - tr.mean(0)) / tr.std(0), (te - tr.mean(0)) / tr.std(0)),
            "per pixel",
        ),
        (
            checks.standardize,
            lambda tr, te: ((tr - tr.mean()) / tr.var(), (te - tr.mean()) / tr.var()),
            "variance",
        ),
        (checks.standardize, lambda tr, te: (tr - tr.mean()) / tr.std(), "pair"),
        (
            checks.random_flip,
            lambda x, k: jnp.where(
                jax.random.bernoulli(k, 0.5, (x.shape[0], 1, 1)), x[:, ::-1, :], x
            ),
            "upside down",
        ),
        (checks.random_flip, lambda x, k: x[:, :, ::-1], "all of the 64"),
        (
            checks.random_flip,
            lambda x, k: jnp.where(jax.random.bernoulli(k, 0.5), x[:, :, ::-1], x),
            "one coin per image",
        ),
        (checks.random_flip, _numpy_flip, "same key gave different"),
        (checks.random_flip, _python_if_flip, "under jax.jit"),
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
