"""leptonlab.checks._cifar (notebook 16): channel statistics, label smoothing and test-time
augmentation pass on the references and name the typical mistakes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from _check_helpers import stub

from leptonlab import checks, losses
from leptonlab.checks import CheckFailed


def ref_channel_stats(images):
    x = images.astype(np.float32) / 255
    return x.mean(axis=(0, 1, 2)), x.std(axis=(0, 1, 2))


def ref_smooth_labels(y, num_classes, smoothing):
    return np.eye(num_classes)[y] * (1 - smoothing) + smoothing / num_classes


def ref_tta_probs(logits_fn, x):
    return (
        jax.nn.softmax(logits_fn(x), axis=-1) + jax.nn.softmax(logits_fn(x[:, :, ::-1]), axis=-1)
    ) / 2


def test_checks_pass_on_the_references(capsys):
    checks.channel_stats(ref_channel_stats)
    checks.channel_stats(
        lambda im: (im.mean(axis=(0, 1, 2)) / 255, (im / 255).std(axis=(0, 1, 2), ddof=1))
    )
    checks.smooth_labels(ref_smooth_labels)
    checks.smooth_labels(lambda y, c, e: losses.smooth_labels(jnp.asarray(y), c, e))
    checks.tta_probs(ref_tta_probs)
    assert capsys.readouterr().out.count("✓") == 5


@pytest.mark.parametrize("check", [checks.channel_stats, checks.smooth_labels, checks.tta_probs])
def test_checks_fail_on_a_stub(check):
    with pytest.raises(CheckFailed, match="not written yet"):
        check(stub)


@pytest.mark.parametrize(
    "check, wrong, message",
    [
        (checks.channel_stats, lambda im: (im.mean() / 255, im.std() / 255), "one per channel"),
        (
            checks.channel_stats,
            lambda im: (im.mean(axis=0) / 255, im.std(axis=0) / 255),
            "reduce over axes",
        ),
        (
            checks.channel_stats,
            lambda im: (im.mean(axis=(0, 1, 2)), im.std(axis=(0, 1, 2))),
            "0..255 scale",
        ),
        (checks.smooth_labels, lambda y, c, e: np.eye(c)[y] + e / c, "sum to more than 1"),
        (
            checks.smooth_labels,
            lambda y, c, e: np.eye(c)[y] * (1 - e) + (1 - np.eye(c)[y]) * e / (c - 1),
            "C - 1",
        ),
        (checks.smooth_labels, lambda y, c, e: np.eye(c)[y] * (1 - e), "not spread"),
        (
            checks.tta_probs,
            lambda f, x: (jax.nn.softmax(f(x), -1) + jax.nn.softmax(f(x[:, ::-1]), -1)) / 2,
            "upside down",
        ),
        (
            checks.tta_probs,
            lambda f, x: jax.nn.softmax((f(x) + f(x[:, :, ::-1])) / 2, -1),
            "averaged the logits",
        ),
        (checks.tta_probs, lambda f, x: jax.nn.softmax(f(x), -1), "mirrored images are missing"),
    ],
)
def test_checks_catch_typical_mistakes(check, wrong, message):
    with pytest.raises(CheckFailed, match=message):
        check(wrong)
