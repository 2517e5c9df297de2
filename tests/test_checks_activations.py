"""leptonlab.checks._activations (notebook 01): pass on the reference, fail with the intended message
on a stub (NotImplementedError) and on the typical wrong answers."""

import jax.numpy as jnp
import pytest
from _check_helpers import fails, passes, stub

from leptonlab import activations as A
from leptonlab import checks

ALL_CHECKS = [checks.sigmoid, checks.sigmoid_derivative, checks.softmax]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_stub_says_not_written_yet(check):
    fails(check, stub, "not written yet", "NotImplementedError")


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_non_function_is_refused(check):
    fails(check, 0.5, "expected a function", "check(my_fn), not check(my_fn())")


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
