"""Checks of notebooks 00-02: pass on the reference, fail with the intended message on a stub
(NotImplementedError) and on the typical wrong answers."""

import jax
import jax.numpy as jnp
import pytest

from leptonlab import activations as A
from leptonlab import checks
from leptonlab import losses as L
from leptonlab.checks import CheckFailed, _core


def stub(*args, **kwargs):
    raise NotImplementedError()


def fails(check, fn, *patterns):
    """Run ``check(fn)`` as a first failure; it must raise CheckFailed whose text contains every pattern."""
    _core.reset_hints()  # each wrong answer here is judged as a first try (its first hint)
    with pytest.raises(CheckFailed) as info:
        check(fn)
    text = str(info.value)
    for p in patterns:
        assert p in text, f"{p!r} not in {text!r}"
    return text


ALL_CHECKS = [
    checks.sigmoid,
    checks.sigmoid_derivative,
    checks.softmax,
    checks.mse,
    checks.binary_cross_entropy_with_logits,
    checks.categorical_cross_entropy,
    checks.per_example_grads,
    checks.two_normal_samples,
]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_stub_says_not_written_yet(check):
    fails(check, stub, "not written yet", "NotImplementedError")


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_non_function_is_refused(check):
    fails(check, 0.5, "expected a function", "check(my_fn), not check(my_fn())")


# ------------------------------------------------------------------ 01 activations


def passes(check, fn, capsys):
    """``check(fn)`` prints one ✓ line naming the exercise and returns None."""
    assert check(fn) is None
    out = capsys.readouterr().out
    assert out.startswith(f"✓ {check.__name__}:") and out.count("\n") == 1, out


def test_sigmoid_reference_passes(capsys):
    passes(checks.sigmoid, A.sigmoid, capsys)


def test_sigmoid_overflowing_exp_over_one_plus_exp():
    fails(
        checks.sigmoid,
        lambda x: jnp.exp(x) / (1 + jnp.exp(x)),
        "not finite for large positive x",
        "overflows",
    )


def test_sigmoid_textbook_form_has_nan_gradient():
    fails(
        checks.sigmoid,
        lambda x: 1 / (1 + jnp.exp(-x)),
        "jax.grad of your sigmoid is not finite",
        "jnp.where computes BOTH branches",
    )


def test_sigmoid_naive_where_has_nan_gradient():
    def where_sigmoid(x):
        return jnp.where(x >= 0, 1 / (1 + jnp.exp(-x)), jnp.exp(x) / (1 + jnp.exp(x)))

    fails(checks.sigmoid, where_sigmoid, "not finite", "BOTH branches")


def test_sigmoid_sign_error():
    fails(
        checks.sigmoid,
        lambda x: 1 / (1 + jnp.exp(x)),
        "sigmoid(2) is 0.1192",
        "sign in the exponent",
    )


def test_sigmoid_numpy_cannot_be_differentiated():
    import numpy as np

    fails(
        checks.sigmoid,
        lambda x: A.sigmoid(np.asarray(x)),
        "jax.grad could not differentiate",
        "jax.numpy",
    )


def test_sigmoid_derivative_reference_and_mistakes(capsys):
    passes(checks.sigmoid_derivative, A.sigmoid_derivative, capsys)
    fails(checks.sigmoid_derivative, A.sigmoid, "returns sigma(x) itself")
    fails(checks.sigmoid_derivative, lambda x: A.sigmoid(x) * (1 + A.sigmoid(x)), "0.25")
    fails(
        checks.sigmoid_derivative,
        lambda x: jnp.exp(-x) / (1 + jnp.exp(-x)) ** 2,
        "large |x|",
        "inf / inf = nan",
    )


def test_softmax_reference_passes(capsys):
    passes(checks.softmax, A.softmax, capsys)


def test_softmax_naive_overflows():
    fails(
        checks.softmax,
        lambda x: jnp.exp(x) / jnp.sum(jnp.exp(x), axis=-1, keepdims=True),
        "softmax([1000, 1001, 1002])",
        "overflows to inf",
    )


def test_softmax_without_keepdims():
    def no_keepdims(x):
        e = jnp.exp(x - jnp.max(x))
        return e / jnp.sum(e, axis=-1)

    fails(checks.softmax, no_keepdims, "[2, 3] batch", "normalise over the last axis")


def test_softmax_wrong_axis():
    fails(checks.softmax, lambda x: A.softmax(x, axis=0), "[2, 3] batch", "last axis")


# ------------------------------------------------------------------ 02 losses


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


# ------------------------------------------------------------------ 00 JAX basics


def loss_one(w, x, y):
    return (x @ w - y) ** 2


def test_per_example_grads_reference_passes(capsys):
    def per_example_grads(w, xs, ys):
        return jax.vmap(jax.grad(loss_one), in_axes=(None, 0, 0))(w, xs, ys)

    passes(checks.per_example_grads, per_example_grads, capsys)


def test_per_example_grads_mistakes():
    def grad_of_mean(w, xs, ys):
        return jax.grad(lambda w: jnp.mean(jax.vmap(loss_one, (None, 0, 0))(w, xs, ys)))(w)

    fails(
        checks.per_example_grads,
        grad_of_mean,
        "one gradient of shape (3,)",
        "map it over the examples",
    )
    fails(
        checks.per_example_grads,
        lambda w, xs, ys: jax.vmap(jax.grad(loss_one))(w, xs, ys),
        "raised",
        "which arguments to map over",
    )


def two_samples_ref(key, shape):
    k1, k2 = jax.random.split(key)
    return jax.random.normal(k1, shape), jax.random.normal(k2, shape)


def test_two_normal_samples_reference_passes(capsys):
    passes(checks.two_normal_samples, two_samples_ref, capsys)


@pytest.mark.parametrize(
    "wrong, pattern",
    [
        (
            lambda key, shape: (jax.random.normal(key, shape), jax.random.normal(key, shape)),
            "same numbers",
        ),
        (
            lambda key, shape: (
                jax.random.normal(key, shape),
                jax.random.normal(jax.random.split(key)[0], shape),
            ),
            "the key you split",
        ),
        (
            lambda key, shape: two_samples_ref(jax.random.key(0), shape),
            "another key gave the same numbers",
        ),
        (
            lambda key, shape: tuple(jax.random.uniform(k, shape) for k in jax.random.split(key)),
            "standard deviation",
        ),
        (lambda key, shape: two_samples_ref(key, (3,)), "shape (3,)"),
        (lambda key, shape: jax.random.normal(key, shape), "expected a pair"),
    ],
)
def test_two_normal_samples_mistakes(wrong, pattern):
    fails(checks.two_normal_samples, wrong, pattern)


def test_two_normal_samples_hidden_state():
    import numpy as np

    rng = np.random.default_rng(0)
    fails(
        checks.two_normal_samples,
        lambda key, shape: (rng.normal(size=shape), rng.normal(size=shape)),
        "different numbers",
    )
