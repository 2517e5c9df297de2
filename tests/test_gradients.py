"""Tests for leptonlab.gradients: finite differences, gradient comparison, the hand-written backward pass."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from leptonlab import gradients as G

SCALAR_FUNCS = [
    ("sin", np.sin, np.cos),
    ("cube", lambda t: t**3, lambda t: 3 * t**2),
    ("exp", np.exp, np.exp),
    ("log", np.log, lambda t: 1 / t),
]


@pytest.mark.parametrize("name,f,df", SCALAR_FUNCS, ids=[c[0] for c in SCALAR_FUNCS])
@pytest.mark.parametrize("x", [0.3, 1.7])
def test_central_difference_matches_the_derivative(name, f, df, x):
    assert G.central_difference(f, x, 1e-5) == pytest.approx(df(x), rel=1e-8)
    # the central difference beats the forward one at the same (large) step
    h = 1e-3
    assert abs(G.central_difference(f, x, h) - df(x)) < abs(G.forward_difference(f, x, h) - df(x))


def test_central_difference_is_exact_for_a_quadratic():
    # for f = x^2 the O(h^2) error term vanishes
    assert G.central_difference(lambda t: t * t, 3.0, 0.5) == pytest.approx(6.0, rel=1e-12)


@pytest.mark.parametrize("shape", [(), (3,), (2, 3), (2, 1, 2)])
def test_numerical_grad_matches_jax_grad_for_any_shape(shape):
    x = jax.random.normal(jax.random.key(1), shape)
    f = lambda a: jnp.sum(jnp.sin(a) * a**2) + jnp.prod(jnp.cos(a))
    num = G.numerical_grad(f, x)
    assert isinstance(num, np.ndarray) and num.dtype == np.float64 and num.shape == shape
    with jax.enable_x64(True):
        ref = jax.grad(f)(jnp.asarray(x, jnp.float64))
    assert G.max_relative_error(num, ref) < 1e-7


def test_numerical_grad_float32_is_coarser_but_close():
    x = jnp.array([0.5, -1.0, 2.0])
    f = lambda a: jnp.sum(jnp.tanh(a) ** 2)
    num32 = G.numerical_grad(f, x, float64=False)
    assert G.max_relative_error(num32, jax.grad(f)(x)) < 1e-2
    assert not jax.config.jax_enable_x64  # the float64 option leaves the global setting alone


def test_numerical_grad_of_a_pytree_keeps_its_structure(key):
    params = G.init_two_layer(3, 4, 2, key=key)
    x = jax.random.normal(jax.random.key(1), (5, 3))
    y = jax.random.normal(jax.random.key(2), (5, 2))
    num = G.numerical_grad(lambda p: G.two_layer_loss(p, x, y), params)
    assert set(num) == set(params)
    assert all(num[k].shape == params[k].shape for k in params)


def test_two_layer_grads_by_hand_match_jax_and_finite_differences(key):
    with jax.enable_x64(True):
        params = G.init_two_layer(3, 5, 2, key=key, dtype=jnp.float64)
        x = jax.random.normal(jax.random.key(1), (7, 3), jnp.float64)
        y = jax.random.normal(jax.random.key(2), (7, 2), jnp.float64)
        loss, hand = G.two_layer_grads(params, x, y)
        ref_loss, ref = jax.value_and_grad(G.two_layer_loss)(params, x, y)
        num = G.numerical_grad(lambda p: G.two_layer_loss(p, x, y), params)
    assert float(loss) == pytest.approx(float(ref_loss), rel=1e-12)
    assert G.max_relative_error(hand, ref) < 1e-10
    assert G.max_relative_error(hand, num) < 1e-5


def test_forward_shapes(key):
    params = G.init_two_layer(4, 6, 3, key=key)
    yhat, h = G.two_layer_forward(params, jnp.ones((2, 4)))
    assert yhat.shape == (2, 3) and h.shape == (2, 6)


def test_init_is_deterministic_given_the_key():
    a = G.init_two_layer(3, 4, key=jax.random.key(5))
    b = G.init_two_layer(3, 4, key=jax.random.key(5))
    c = G.init_two_layer(3, 4, key=jax.random.key(6))
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert not np.array_equal(a["W1"], c["W1"])


def test_max_relative_error_values():
    assert G.max_relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.2])) == pytest.approx(
        0.2 / 2.2
    )
    assert G.max_relative_error(np.zeros(3), np.zeros(3)) == 0.0
    assert G.max_relative_error({"a": np.ones(2)}, {"a": np.ones(2)}) == 0.0


def test_step_size_errors_show_the_v_shape():
    hs = np.logspace(-12, -1, 12)
    err = G.step_size_errors(np.sin, math.cos(1.0), 1.0, hs)
    assert err["central"].shape == err["forward"].shape == (12,)
    best = int(np.argmin(err["central"]))
    assert 0 < best < 11  # tiny h: rounding; large h: truncation
    assert err["central"][best] < 1e-9
    err32 = G.step_size_errors(np.sin, math.cos(1.0), 1.0, hs, dtype=np.float32)
    assert err32["central"].min() > err["central"].min()


# ------------------------------------------------------------------------- bad inputs
def test_bad_inputs_raise_clear_errors(key):
    params = G.init_two_layer(2, 3, key=key)
    x, y = jnp.ones((4, 2)), jnp.ones((4, 1))
    with pytest.raises(TypeError, match="function"):
        G.central_difference(3.0, 1.0)
    with pytest.raises(ValueError, match="positive"):
        G.central_difference(np.sin, 1.0, h=0.0)
    with pytest.raises(TypeError, match="real number"):
        G.forward_difference(np.sin, "1.0")
    with pytest.raises(TypeError, match="numerical_grad"):
        G.central_difference(np.sin, np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        G.numerical_grad(lambda a: a * 2, jnp.ones(3))
    with pytest.raises(ValueError, match="empty"):
        G.numerical_grad(jnp.sum, {})
    with pytest.raises(TypeError, match="numeric"):
        G.numerical_grad(lambda a: 0.0, "abc")
    with pytest.raises(TypeError, match="float64"):
        G.numerical_grad(jnp.sum, jnp.ones(2), float64="yes")
    with pytest.raises(ValueError, match="shapes differ"):
        G.max_relative_error(np.ones(2), np.ones(3))
    with pytest.raises(ValueError, match="structures"):
        G.max_relative_error({"a": 1.0}, {"b": 1.0})
    with pytest.raises(ValueError, match="floor"):
        G.max_relative_error(np.ones(2), np.ones(2), floor=0)
    with pytest.raises(ValueError, match="float32 or np.float64"):
        G.step_size_errors(np.sin, 1.0, 0.0, [1e-3], dtype=np.int32)
    with pytest.raises(ValueError, match="empty"):
        G.step_size_errors(np.sin, 1.0, 0.0, [])
    with pytest.raises(ValueError, match="at least 1"):
        G.init_two_layer(0, 3, key=key)
    with pytest.raises(TypeError, match="int"):
        G.init_two_layer(2.0, 3, key=key)
    with pytest.raises(TypeError, match="PRNG key"):
        G.init_two_layer(2, 3, key=0)
    with pytest.raises(TypeError, match="keys"):
        G.two_layer_loss({"W1": params["W1"]}, x, y)
    with pytest.raises(ValueError, match=r"x should have shape \[B, 2\]"):
        G.two_layer_forward(params, jnp.ones((4, 3)))
    with pytest.raises(ValueError, match="y should have shape"):
        G.two_layer_grads(params, x, jnp.ones((4,)))
    bad = dict(params, b1=jnp.zeros(5))
    with pytest.raises(ValueError, match="inconsistent"):
        G.two_layer_forward(bad, x)
