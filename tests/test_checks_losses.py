"""leptonlab.checks._losses (notebook 02): pass on the reference, fail with the intended message on a
stub (NotImplementedError) and on the typical wrong answers."""

import jax
import jax.numpy as jnp
import pytest
from _check_helpers import fails, passes, stub

from leptonlab import checks
from leptonlab import losses as L

ALL_CHECKS = [
    checks.mse,
    checks.binary_cross_entropy_with_logits,
    checks.categorical_cross_entropy,
]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_stub_says_not_written_yet(check):
    fails(check, stub, "not written yet", "NotImplementedError")


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_non_function_is_refused(check):
    fails(check, 0.5, "expected a function", "check(my_fn), not check(my_fn())")


def test_mse_reference_passes(capsys):
    passes(checks.mse, L.mse, capsys)


@pytest.mark.parametrize(
    "wrong, patterns",
    [
        (lambda p, t: 0.5 * jnp.mean((p - t) ** 2), ["0.055", "0.5 * MSE", "factor 1/2"]),
        (lambda p, t: jnp.sum((p - t) ** 2), ["the sum", "a mean divides the total"]),
        (lambda p, t: jnp.sqrt(jnp.mean((p - t) ** 2)), ["RMSE"]),
        (lambda p, t: jnp.mean(jnp.abs(p - t)), ["MAE"]),
        (
            lambda p, t: jnp.mean((p - t) ** 2, axis=0, keepdims=True),
            ["shape (1,)", "single number"],
        ),
    ],
)
def test_mse_typical_mistakes(wrong, patterns):
    fails(checks.mse, wrong, *patterns)


def test_bce_with_logits_reference_passes(capsys):
    passes(checks.binary_cross_entropy_with_logits, L.binary_cross_entropy_with_logits, capsys)


def test_bce_with_logits_probability_form_fails():
    def naive(z, y):
        p = jax.nn.sigmoid(z)
        return jnp.mean(-(y * jnp.log(p) + (1 - y) * jnp.log(1 - p)))

    fails(checks.binary_cross_entropy_with_logits, naive, "inf", "work with the logits")


def test_bce_with_logits_clipped_probability_form_fails():
    fails(
        checks.binary_cross_entropy_with_logits,
        lambda z, y: L.binary_cross_entropy(jax.nn.sigmoid(z), y),
        "large logits",
        "clipped probability",
    )


def test_bce_with_logits_where_form_has_nan_gradient():
    def where_form(z, y):
        per = jnp.where(
            z >= 0, (1 - y) * z + jnp.log1p(jnp.exp(-z)), -y * z + jnp.log1p(jnp.exp(z))
        )
        return jnp.mean(per)

    fails(checks.binary_cross_entropy_with_logits, where_form, "gradient", "BOTH branches")


def test_categorical_ce_reference_passes(capsys):
    passes(checks.categorical_cross_entropy, L.categorical_cross_entropy, capsys)


def test_categorical_ce_naive_log_softmax_fails():
    def naive(logits, labels):
        p = jnp.exp(logits) / jnp.sum(jnp.exp(logits), axis=-1, keepdims=True)
        return jnp.mean(-jnp.log(p[jnp.arange(labels.shape[0]), labels]))

    fails(checks.categorical_cross_entropy, naive, "logits like 1000", "log-sum-exp")


def test_categorical_ce_sign_and_sum_mistakes():
    fails(
        checks.categorical_cross_entropy, lambda z, y: -L.categorical_cross_entropy(z, y), "MINUS"
    )
    fails(
        checks.categorical_cross_entropy,
        lambda z, y: L.categorical_cross_entropy(z, y, reduction="sum"),
        "the sum over the batch",
        "average of the per-example losses",
    )
