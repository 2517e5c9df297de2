"""leptonlab.checks._data (notebook 06): pass on the reference, fail helpfully on stubs and typical
mistakes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _check_helpers import stub

from leptonlab import checks
from leptonlab.checks import CheckFailed


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


@pytest.mark.parametrize(
    "check, reference",
    [
        (checks.min_max_scale, ref_min_max),
        (checks.standardize, ref_standardize),
        (checks.random_flip, ref_flip),
    ],
)
def test_passes_on_reference_and_fails_on_stub(check, reference, capsys):
    assert check(reference) is None
    assert "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not written yet"):
        check(stub)


def _numpy_flip(x, key):
    flip = np.random.default_rng().random(x.shape[0]) < 0.5
    return np.where(flip[:, None, None], np.asarray(x)[:, :, ::-1], x)


def _python_if_flip(x, key):
    coin = jax.random.bernoulli(key, 0.5, (x.shape[0],))
    return jnp.stack([img[:, ::-1] if c else img for img, c in zip(x, coin)])


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
    ],
)
def test_fails_with_a_specific_message(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)
