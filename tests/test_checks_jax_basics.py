"""leptonlab.checks._jax_basics (notebook 00): pass on the reference, fail with the intended message
on a stub (NotImplementedError) and on the typical wrong answers."""

import jax
import jax.numpy as jnp
import pytest
from _check_helpers import fails, passes, stub

from leptonlab import checks

ALL_CHECKS = [checks.per_example_grads, checks.two_normal_samples]


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_stub_says_not_written_yet(check):
    fails(check, stub, "not written yet", "NotImplementedError")


@pytest.mark.parametrize("check", ALL_CHECKS, ids=lambda c: c.__name__)
def test_non_function_is_refused(check):
    fails(check, 0.5, "expected a function", "check(my_fn), not check(my_fn())")


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
