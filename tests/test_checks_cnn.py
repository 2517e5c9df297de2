"""leptonlab.checks._cnn (notebook 08): pass on the reference, fail helpfully on stubs and typical
mistakes."""

import math

import jax.numpy as jnp
import pytest
from _check_helpers import stub

from leptonlab import checks, metrics, models
from leptonlab.checks import CheckFailed


def ref_flatten_size(image_size, channels, kernel=3, padding=1, pool=2):
    side = image_size
    for _ in channels:
        side = side + 2 * padding - kernel + 1  # conv, stride 1
        side = side // pool  # max-pool, stride = window
    return channels[-1] * side * side


def ref_confusion_matrix(y_true, y_pred, num_classes):
    return metrics.confusion_matrix(jnp.asarray(y_true), jnp.asarray(y_pred), num_classes)


REFERENCES = [
    (checks.flatten_size, ref_flatten_size),
    (checks.confusion_matrix, ref_confusion_matrix),
]


@pytest.mark.parametrize("check, reference", REFERENCES)
def test_passes_on_reference_and_fails_on_stub(check, reference, capsys):
    assert check(reference) is None
    assert "✓" in capsys.readouterr().out
    with pytest.raises(CheckFailed, match="not written yet"):
        check(stub)


def test_reference_flatten_size_agrees_with_the_model():
    assert ref_flatten_size(28, [32, 64]) == models.flatten_size(28, (32, 64)) == 3136


def _pool_only(image_size, channels, kernel=3, padding=1, pool=2):
    side = image_size
    for _ in channels:
        side //= pool
    return channels[-1] * side * side


def _ceil_pool(image_size, channels, kernel=3, padding=1, pool=2):
    side = image_size
    for _ in channels:
        side = math.ceil((side + 2 * padding - kernel + 1) / pool)
    return channels[-1] * side * side


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        (checks.flatten_size, lambda n, c, kernel=3, padding=1, pool=2: 64 * 8 * 8, "32x32"),
        (checks.flatten_size, _pool_only, "only applied the pooling"),
        (checks.flatten_size, _ceil_pool, "round down"),
        (
            checks.flatten_size,
            lambda n, c, kernel=3, padding=1, pool=2: (
                ref_flatten_size(n, c, kernel, padding, pool) // c[-1] * c[0]
            ),
            "last",
        ),
        (
            checks.flatten_size,
            lambda n, c, kernel=3, padding=1, pool=2: [
                ref_flatten_size(n, c, kernel, padding, pool)
            ],
            "one integer",
        ),
        (checks.confusion_matrix, lambda t, p, c: ref_confusion_matrix(p, t, c), "transpose"),
        (
            checks.confusion_matrix,
            lambda t, p, c: ref_confusion_matrix(t, p, c) / len(t),
            "fractions",
        ),
        (
            checks.confusion_matrix,
            lambda t, p, c: ref_confusion_matrix(t, p, int(max(max(t), max(p))) + 1),
            "num_classes",
        ),
    ],
)
def test_fails_with_a_specific_message(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)


def test_not_a_function():
    with pytest.raises(CheckFailed, match="expected a function"):
        checks.flatten_size(3136)
